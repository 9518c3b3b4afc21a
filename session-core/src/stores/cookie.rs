//! The cookie store's payload: the whole record as compact JSON, sealed in a private cookie.
//! See [`Storage::Cookie`](crate::Storage::Cookie) for its trade-offs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::cookie::CookieCodec;
use crate::record::Record;

/// Bumped if the payload layout ever changes; cookies of another version are ignored.
const VERSION: u8 = 1;

/// The payload as written: `r`, the revocation epoch it was issued under, is left out while it
/// is 0, so cookies of apps that never revoke stay as small as before it existed.
#[derive(Serialize)]
struct PayloadRef<'a> {
    v: u8,
    c: i64,
    e: i64,
    #[serde(skip_serializing_if = "is_zero")]
    r: u64,
    d: &'a Map<String, Value>,
}

#[derive(Deserialize)]
struct Payload {
    v: u8,
    c: i64,
    e: i64,
    #[serde(default)]
    r: u64,
    d: Map<String, Value>,
}

fn is_zero(epoch: &u64) -> bool {
    *epoch == 0
}

fn payload(
    data: &Map<String, Value>,
    created: OffsetDateTime,
    expires: OffsetDateTime,
    epoch: u64,
) -> PayloadRef<'_> {
    PayloadRef {
        v: VERSION,
        c: created.unix_timestamp(),
        e: expires.unix_timestamp(),
        r: epoch,
        d: data,
    }
}

/// The plaintext for a cookie-store cookie issued under the revocation `epoch`.
pub(crate) fn encode(
    data: &Map<String, Value>,
    created: OffsetDateTime,
    expires: OffsetDateTime,
    epoch: u64,
) -> String {
    // Serializing a map with string keys into a String cannot fail.
    serde_json::to_string(&payload(data, created, expires, epoch)).unwrap_or_default()
}

/// The length `encode` would produce for data whose compact JSON is `data_len` bytes long,
/// without building the string: the payload around an empty object, plus the data.
pub(crate) fn encoded_len(
    data_len: usize,
    created: OffsetDateTime,
    expires: OffsetDateTime,
    epoch: u64,
) -> usize {
    let empty = Map::new();
    crate::record::json_len(&payload(&empty, created, expires, epoch)) - "{}".len() + data_len
}

/// Decrypts and parses a cookie-store cookie value. Returns the record and whether it was sealed
/// under an older key; `None` for anything forged, corrupt, of another version, expired, or
/// issued under a revocation epoch below `min_epoch`.
pub(crate) fn decode(
    codec: &CookieCodec,
    value: &str,
    now: OffsetDateTime,
    min_epoch: u64,
) -> Option<(Record, bool)> {
    let (plain, old_key) = codec.decrypt(value)?;
    let payload: Payload = serde_json::from_str(&plain).ok()?;
    if payload.v != VERSION || payload.r < min_epoch {
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
        let plain = encode(&data, at(1_000), at(2_000), 0);
        assert_eq!(
            plain.len(),
            encoded_len(crate::record::json_len(&data), at(1_000), at(2_000), 0)
        );
        assert!(!plain.contains("\"r\""), "epoch 0 is not written: {plain}");
        let sealed = codec.encrypt(&plain).unwrap();

        let (record, old) = decode(&codec, &sealed, at(1_500), 0).unwrap();
        assert!(!old);
        assert_eq!(record, Record::new(data, at(1_000), at(2_000)));
        assert!(
            decode(&codec, &sealed, at(2_000), 0).is_none(),
            "expired at its deadline"
        );
    }

    #[test]
    fn cookies_from_an_older_revocation_epoch_are_refused() {
        let codec = CookieCodec::new(&SessionConfig::default(), KeyRing::generate());
        let data = json!({"user": 7}).as_object().unwrap().clone();
        let plain = encode(&data, at(1_000), at(2_000), 3);
        assert_eq!(
            plain.len(),
            encoded_len(crate::record::json_len(&data), at(1_000), at(2_000), 3)
        );
        let sealed = codec.encrypt(&plain).unwrap();
        for (min_epoch, accepted) in [(0, true), (3, true), (4, false)] {
            let opened = decode(&codec, &sealed, at(1_500), min_epoch);
            assert_eq!(opened.is_some(), accepted, "epoch 3 against {min_epoch}");
        }
        let unrevocable = codec
            .encrypt(&encode(&data, at(1_000), at(2_000), 0))
            .unwrap();
        assert!(decode(&codec, &unrevocable, at(1_500), 1).is_none());
    }

    #[test]
    fn refuses_other_rings_and_foreign_payloads() {
        let codec = CookieCodec::new(&SessionConfig::default(), KeyRing::generate());
        let other = CookieCodec::new(&SessionConfig::default(), KeyRing::generate());
        let sealed = other
            .encrypt(&encode(&Map::new(), at(1), at(9_999_999_999), 0))
            .unwrap();
        assert!(decode(&codec, &sealed, at(2), 0).is_none());

        for plain in ["not json", "{}", r#"{"v":2,"c":1,"e":99999999999,"d":{}}"#] {
            let sealed = codec.encrypt(plain).unwrap();
            assert!(decode(&codec, &sealed, at(2), 0).is_none(), "{plain}");
        }
    }
}
