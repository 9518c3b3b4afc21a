//! Helpers shared by the server-side stores' tests (`*_store.rs`): ids, records, an exact
//! comparison, and the bad input every store must give back unchanged.

#![allow(dead_code)] // each test crate uses a different subset

pub mod counting;

use serde_json::{Map, Value, json};
use session_core::{IdDigest, Record};
use time::OffsetDateTime;

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn fresh_id() -> IdDigest {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    IdDigest::from_bytes(bytes)
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

pub fn record(data: Map<String, Value>) -> Record {
    let now = now();
    Record::new(data, now, now + time::Duration::hours(1))
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Asserts `got` is `want`, down to the JSON text of every value (so `-0.0` stays `-0.0` and a
/// float stays a float).
pub fn assert_exact(got: &Record, want: &Record) {
    assert_eq!(got, want);
    assert_eq!(
        serde_json::to_string(&got.data).unwrap(),
        serde_json::to_string(&want.data).unwrap(),
        "the values do not round-trip to the same JSON text"
    );
}

/// Keys and values a store must give back exactly (see the common brief).
pub fn bad_input() -> Map<String, Value> {
    let mut data = Map::new();
    for key in [
        "a.b",
        "$set",
        "$",
        "quote\"'`key",
        "nul\0key",
        "\0",
        "",
        "ключ 🔑",
        "back\\slash",
        "\\0",
    ] {
        data.insert(key.to_owned(), json!(key));
    }
    data.insert("k".repeat(10 * 1024), json!("a 10 KB key"));
    data.insert("one MB".to_owned(), json!("v".repeat(1 << 20)));
    data.insert("u64::MAX".to_owned(), json!(u64::MAX));
    data.insert("i64::MIN".to_owned(), json!(i64::MIN));
    data.insert(
        "floats".to_owned(),
        json!([
            1.0,
            0.1,
            -0.0,
            1e19,
            1e300,
            -1.5e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            123456789.125
        ]),
    );
    data.insert(
        "nested".to_owned(),
        json!({"a.b": {"$c": {"x.y": [1, {"$": null}], "nul\0": "value\0with NUL"}}}),
    );
    data.insert("null".to_owned(), Value::Null);
    data
}

/// An error and its causes, as `error: cause: cause`, the way a log that walks the chain shows
/// it: each layer says only its own part, so a test looks for text anywhere in the chain.
#[allow(dead_code)]
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// Stores a session (`user = "ada"`) in `storage` through the engine, then logs it in: a second
/// request adds `role = "admin"` and cycles the id. The store then holds the session under its
/// new id and the old id's forwarding pointer.
pub async fn store_and_cycle_a_session(storage: impl Into<session_core::Storage>) {
    use session_core::{KeyRing, SessionConfig, SessionManager};
    let manager =
        SessionManager::new(storage, KeyRing::generate(), SessionConfig::default()).unwrap();
    let session = manager.session(std::iter::empty::<&[u8]>());
    session.set("user", "ada").await.unwrap();
    let cookie = manager.finish(&session, 200).await.unwrap().unwrap();
    let pair = cookie.as_str().split(';').next().unwrap().to_owned();
    let session = manager.session([pair.as_bytes()]);
    session.set("role", "admin").await.unwrap();
    session.cycle_id().await.unwrap();
    manager.finish(&session, 200).await.unwrap().unwrap();
}
