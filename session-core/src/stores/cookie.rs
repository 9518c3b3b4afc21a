//! The cookie store's payload: the whole record as compact JSON, sealed in a private cookie.
//! See [`Storage::Cookie`](crate::Storage::Cookie) for its trade-offs.

use std::io;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::cookie::CookieCodec;
use crate::record::Record;

/// Bumped if the payload layout ever changes; cookies of another version are ignored.
const VERSION: u8 = 1;

#[derive(Serialize)]
struct PayloadRef<'a> {
    v: u8,
    c: i64,
    e: i64,
    d: &'a Map<String, Value>,
}

#[derive(Deserialize)]
struct Payload {
    v: u8,
    c: i64,
    e: i64,
    d: Map<String, Value>,
}

fn payload(
    data: &Map<String, Value>,
    created: OffsetDateTime,
    expires: OffsetDateTime,
) -> PayloadRef<'_> {
    PayloadRef {
        v: VERSION,
        c: created.unix_timestamp(),
        e: expires.unix_timestamp(),
        d: data,
    }
}

/// The plaintext for a cookie-store cookie.
pub(crate) fn encode(
    data: &Map<String, Value>,
    created: OffsetDateTime,
    expires: OffsetDateTime,
) -> String {
    // Serializing a map with string keys into a String cannot fail.
    serde_json::to_string(&payload(data, created, expires)).unwrap_or_default()
}

/// The length `encode` would produce, without building the string.
pub(crate) fn encoded_len(
    data: &Map<String, Value>,
    created: OffsetDateTime,
    expires: OffsetDateTime,
) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, &payload(data, created, expires));
    counter.0
}

/// Decrypts and parses a cookie-store cookie value. Returns the record and whether it was sealed
/// under an older key; `None` for anything forged, corrupt, of another version, or expired.
pub(crate) fn decode(
    codec: &CookieCodec,
    value: &str,
    now: OffsetDateTime,
) -> Option<(Record, bool)> {
    let (plain, old_key) = codec.decrypt(value)?;
    let payload: Payload = serde_json::from_str(&plain).ok()?;
    if payload.v != VERSION {
        return None;
    }
    let record = Record::new(
        payload.d,
        OffsetDateTime::from_unix_timestamp(payload.c).ok()?,
        OffsetDateTime::from_unix_timestamp(payload.e).ok()?,
    );
    if record.is_expired_at(now) {
        return None;
    }
    Some((record, old_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyRing, SessionConfig};
    use serde_json::json;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn round_trips_and_refuses_expired_records() {
        let codec = CookieCodec::new(&SessionConfig::default(), KeyRing::generate());
        let data = json!({"user": {"id": 7}, "n": [1, 2]})
            .as_object()
            .unwrap()
            .clone();
        let plain = encode(&data, at(1_000), at(2_000));
        assert_eq!(plain.len(), encoded_len(&data, at(1_000), at(2_000)));
        let sealed = codec.encrypt(plain);

        let (record, old) = decode(&codec, &sealed, at(1_500)).unwrap();
        assert!(!old);
        assert_eq!(record, Record::new(data, at(1_000), at(2_000)));
        assert!(
            decode(&codec, &sealed, at(2_000)).is_none(),
            "expired at its deadline"
        );
    }

    #[test]
    fn refuses_other_rings_and_foreign_payloads() {
        let codec = CookieCodec::new(&SessionConfig::default(), KeyRing::generate());
        let other = CookieCodec::new(&SessionConfig::default(), KeyRing::generate());
        let sealed = other.encrypt(encode(&Map::new(), at(1), at(9_999_999_999)));
        assert!(decode(&codec, &sealed, at(2)).is_none());

        for plain in ["not json", "{}", r#"{"v":2,"c":1,"e":99999999999,"d":{}}"#] {
            let sealed = codec.encrypt(plain.to_owned());
            assert!(decode(&codec, &sealed, at(2)).is_none(), "{plain}");
        }
    }
}
