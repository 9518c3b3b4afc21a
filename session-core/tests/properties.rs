//! Property tests of everything that parses client input, in the normal test run.
//!
//! Each property is checked through the public API (what a user sees: a loaded session or a
//! fresh one, the `Set-Cookie` sent back) and, where it helps, through the entry points the fuzz
//! targets in `fuzz/` call (`session_core::__fuzzing`), which assert the parsers' own invariants.
//! Inputs that a fuzzer once crashed on are kept at the bottom as named regression tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Map, Value};
use session_core::__fuzzing::{self as fuzzing, Loaded, block_on};
use session_core::{
    Expiry, IdDigest, KeyRing, MemoryStore, Session, SessionConfig, SessionManager, Storage,
};
use time::OffsetDateTime;

/// Cases per property: enough to explore, few enough for the file to run in a few seconds.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The idle timeout of the managers below.
const IDLE: Duration = Duration::from_secs(3600);

/// A clock the test moves by hand, shared with the manager.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    /// Starts at the real time: the memory store keeps its own (real) clock for expiry.
    fn new() -> Self {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Self(Arc::new(AtomicI64::new(now)))
    }

    fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

/// A memory-store or cookie-store manager with a fresh key ring, plain-HTTP cookies, a one-hour
/// idle timeout and a hand-moved clock.
fn manager(cookie_store: bool, clock: &Clock) -> SessionManager {
    let storage = if cookie_store {
        Storage::Cookie
    } else {
        MemoryStore::new().into()
    };
    let config = SessionConfig::default()
        .with_secure(false)
        .with_expiry(Expiry::Idle(IDLE));
    let clock = clock.clone();
    SessionManager::new(storage, KeyRing::generate(), config)
        .unwrap()
        .with_clock(move || clock.now())
}

/// The `name=value` pair of what the server sent, as a browser sends it back.
fn issue(manager: &SessionManager, data: &Map<String, Value>) -> String {
    let session = manager.session(Vec::<&[u8]>::new());
    for (key, value) in data {
        block_on(session.set_value(key, value.clone())).unwrap();
    }
    let set_cookie = block_on(manager.finish(&session, 200)).unwrap().unwrap();
    set_cookie.as_str().split(';').next().unwrap().to_owned()
}

/// What a request with these `Cookie` headers sees: its entries and whether it is new.
fn load(manager: &SessionManager, headers: &[&[u8]]) -> (Map<String, Value>, bool, Session) {
    let session = manager.session(headers.iter().copied());
    let entries = block_on(session.entries()).unwrap();
    let is_new = block_on(session.is_new()).unwrap();
    (entries, is_new, session)
}

/// A byte to put in place of one of a cookie value: mostly base64 characters, which get past
/// the decoding to the MAC check, sometimes any byte.
fn replacement_byte() -> impl Strategy<Value = u8> {
    let base64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_";
    prop_oneof![3 => prop::sample::select(base64.to_vec()), 1 => any::<u8>()]
}

/// The cookie value spelled the way the server sends it: the standard-base64 spelling issued
/// before (`+`, `/`, `=`) is still accepted, as our `-`, `_`, `.`, so it is the same cookie.
fn respelled(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .map(|byte| match byte {
            b'+' => b'-',
            b'/' => b'_',
            b'=' => b'.',
            other => *other,
        })
        .collect()
}

/// Replaces each byte of the value of `pair` in turn by `byte` (or, where it already is
/// `byte`, by the next base64 character): every such cookie must give a fresh session, unless
/// the change only respells it in the standard-base64 alphabet issued before (`.` to `=` in a
/// tag without `-` or `_`, say): such a value is the same cookie, and gives the same session
/// if it is wholly in the old alphabet (else it mixes the two and is refused), never another.
fn assert_every_change_is_rejected(
    manager: &SessionManager,
    pair: &str,
    byte: u8,
) -> Result<(), TestCaseError> {
    let value_start = pair.find('=').unwrap() + 1;
    let original = respelled(&pair.as_bytes()[value_start..]);
    let (same_session, _, _) = load(manager, &[pair.as_bytes()]);
    for at in value_start..pair.len() {
        let mut bad = pair.as_bytes().to_vec();
        bad[at] = match (bad[at] == byte, byte) {
            (false, _) => byte,
            (true, b'A') => b'B',
            (true, _) => b'A',
        };
        let (entries, is_new, _) = load(manager, &[&bad]);
        if respelled(&bad[value_start..]) == original {
            prop_assert!(
                (!is_new && entries == same_session) || (is_new && entries.is_empty()),
                "a respelling of the cookie gave another session: {}",
                String::from_utf8_lossy(&bad)
            );
            continue;
        }
        prop_assert!(
            is_new && entries.is_empty(),
            "accepted with byte {} changed: {}",
            at,
            String::from_utf8_lossy(&bad)
        );
    }
    Ok(())
}

/// JSON values: strings, integers, floats, booleans, null, nested arrays and objects.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO)
            .prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    // Small enough that any generated session fits in a 4096-byte cookie.
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Session data: a map of arbitrary keys to JSON values, small enough for a cookie.
fn json_map() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(".{0,6}", json_value(), 1..4)
        .prop_map(|map| map.into_iter().collect())
}

/// `Cookie` header bytes: pure noise, or pairs that look like ours around noise.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let noise = prop::collection::vec(any::<u8>(), 0..300);
    let pairs = prop::collection::vec(
        (
            prop_oneof![
                Just("session".to_owned()),
                Just(" session ".to_owned()),
                Just("sessionx".to_owned()),
                ".{0,4}",
            ],
            prop_oneof![
                "[A-Za-z0-9+/=_-]{0,120}",
                "\"[A-Za-z0-9+/=]{40,90}\"",
                ".{0,40}"
            ],
        ),
        0..6,
    )
    .prop_map(|pairs| {
        let pairs: Vec<String> = pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.join("; ").into_bytes()
    });
    prop_oneof![noise, pairs]
}

/// Characters that matter to the MongoDB key escaping, plus ordinary and multi-byte ones.
fn mongo_key() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '.', '$', '~', '%', '\0', '2', 'E', 'e', '4', '5', '0', 'é', '🔑',
    ]);
    prop::collection::vec(prop_oneof![special, any::<char>()], 0..16)
        .prop_map(|chars| chars.into_iter().collect())
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// Arbitrary `Cookie` headers never panic and never yield a session: a request with them
    /// sees an empty new session, and a read-only one sends no cookie.
    #[test]
    fn arbitrary_headers_never_yield_a_session(
        headers in prop::collection::vec(header_bytes(), 0..3),
    ) {
        let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        let clock = Clock::new();
        for cookie_store in [false, true] {
            let manager = manager(cookie_store, &clock);
            let (entries, is_new, session) = load(&manager, &headers);
            prop_assert!(entries.is_empty() && is_new);
            prop_assert!(block_on(manager.finish(&session, 200)).unwrap().is_none());
        }
        let joined = headers.join(&b'\n');
        fuzzing::cookie_header(&joined);
        let nothing = Loaded { memory: false, cookie: false };
        prop_assert_eq!(fuzzing::session_load(&joined), nothing);
    }

    /// A real cookie hidden among arbitrary other cookies is still found (positive control for
    /// the property above).
    #[test]
    fn a_minted_cookie_is_found_among_junk(
        before in header_bytes(),
        after in header_bytes(),
        cookie_store in any::<bool>(),
    ) {
        // A `;` or newline around the real pair keeps it a pair of its own.
        let clock = Clock::new();
        let manager = manager(cookie_store, &clock);
        let data: Map<String, Value> = serde_json::from_str(r#"{"k":"v"}"#).unwrap();
        let pair = issue(&manager, &data);
        let mut header = before;
        header.extend_from_slice(format!(";{pair};").as_bytes());
        header.extend_from_slice(&after);
        let (entries, is_new, _) = load(&manager, &[&header]);
        // At most 4 distinct cookies named ours are tried, and a request with more gets a
        // fresh session (cookie tossing): junk may hide the real one only that way.
        let ours = String::from_utf8_lossy(&header)
            .split(['\n', ';'])
            .filter(|p| p.split('=').next().is_some_and(|n| n.trim() == "session"))
            .count();
        if ours <= 4 {
            prop_assert!(!is_new);
            prop_assert_eq!(entries, data);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signed ids and private values
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(64))]

    /// A signed id round-trips, and changing any single byte of the cookie value gives a fresh
    /// session.
    #[test]
    fn signed_ids_round_trip_and_any_byte_change_is_rejected(
        byte in replacement_byte(),
        edits in prop::collection::vec(any::<u8>(), 0..30),
    ) {
        let clock = Clock::new();
        let manager = manager(false, &clock);
        let data: Map<String, Value> = serde_json::from_str(r#"{"user":7}"#).unwrap();
        let pair = issue(&manager, &data);
        let (entries, is_new, _) = load(&manager, &[pair.as_bytes()]);
        prop_assert!(!is_new);
        prop_assert_eq!(entries, data);

        assert_every_change_is_rejected(&manager, &pair, byte)?;
        fuzzing::signed_id(&edits);
    }

    /// A cookie-store value round-trips, and changing any single byte of it gives a fresh
    /// session.
    #[test]
    fn private_values_round_trip_and_any_byte_change_is_rejected(
        data in json_map(),
        byte in replacement_byte(),
    ) {
        let clock = Clock::new();
        let manager = manager(true, &clock);
        let pair = issue(&manager, &data);
        let (entries, is_new, _) = load(&manager, &[pair.as_bytes()]);
        prop_assert!(!is_new);
        prop_assert_eq!(entries, data);

        assert_every_change_is_rejected(&manager, &pair, byte)?;
    }

    /// The private-cookie entry point: arbitrary plaintexts seal and open, and edits of the
    /// sealed value are refused.
    #[test]
    fn private_cookie_entry_point_holds(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzzing::private_cookie(&bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Cookie-store records
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(128))]

    /// Arbitrary session data round-trips through the cookie store, and the cookie stops
    /// working when the session's idle time is up, whatever the browser does with it.
    #[test]
    fn cookie_store_records_round_trip_and_expire(data in json_map(), idle_used in 0..3600i64) {
        let clock = Clock::new();
        let manager = manager(true, &clock);
        let pair = issue(&manager, &data);

        clock.advance(idle_used);
        let (entries, is_new, _) = load(&manager, &[pair.as_bytes()]);
        prop_assert!(!is_new);
        prop_assert_eq!(&entries, &data);

        clock.advance(3600 - idle_used);
        let (entries, is_new, _) = load(&manager, &[pair.as_bytes()]);
        prop_assert!(is_new && entries.is_empty(), "replayed after its expiry");
    }

    /// The record decoder on payloads close to real ones: whatever it accepts re-encodes to
    /// the same record (checked inside the entry point).
    #[test]
    fn cookie_store_record_entry_point_holds(
        data in json_map(),
        created in -10_000_000_000i64..10_000_000_000,
        expires in -10_000_000_000i64..10_000_000_000,
        version in 0u8..3,
    ) {
        let payload = serde_json::json!({"v": version, "c": created, "e": expires, "d": data});
        fuzzing::cookie_store_record(payload.to_string().as_bytes());
    }

    /// The record decoder on arbitrary bytes.
    #[test]
    fn cookie_store_record_entry_point_survives_noise(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        fuzzing::cookie_store_record(&bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// MongoDB keys and digests
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(512))]

    /// Every session key escapes to a field name MongoDB accepts in `$set`/`$unset` paths and
    /// unescapes back to itself.
    #[test]
    fn mongo_keys_round_trip(key in mongo_key()) {
        let field = fuzzing::escape_mongo_key(&key);
        prop_assert!(!field.contains('.'), "{:?}", field);
        prop_assert!(!field.starts_with('$'), "{:?}", field);
        prop_assert!(!field.contains('\0'), "{:?}", field);
        prop_assert_eq!(fuzzing::unescape_mongo_key(&field), Some(key.clone()));
        fuzzing::mongo_key(key.as_bytes());
    }

    /// Unescaping accepts only what escaping produces: no two field names hold one key.
    #[test]
    fn mongo_field_names_are_canonical(field in mongo_key()) {
        for field in [format!("~{field}"), field] {
            if let Some(key) = fuzzing::unescape_mongo_key(&field) {
                prop_assert_eq!(fuzzing::escape_mongo_key(&key), field);
            }
        }
    }

    /// `IdDigest::from_hex` accepts exactly 64 hex digits (either case, as documented) and
    /// prints back the lowercase form.
    #[test]
    fn digest_from_hex_accepts_exactly_64_hex_digits(
        text in prop_oneof![
            "[0-9a-f]{64}",
            "[0-9a-fA-F]{64}",
            "[0-9a-f]{63}|[0-9a-f]{65}",
            "[0-9a-f]{30}[^0-9a-fA-F][0-9a-f]{33}",
            ".{0,70}",
        ],
    ) {
        let well_formed = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        let parsed = IdDigest::from_hex(&text);
        prop_assert_eq!(parsed.is_some(), well_formed, "{:?}", text);
        if let Some(digest) = parsed {
            prop_assert_eq!(digest.to_hex(), text.to_ascii_lowercase());
        }
        fuzzing::digest_hex(text.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// The seed corpus and the fuzz entry points
// ---------------------------------------------------------------------------------------------

/// Every seed runs through its target's entry point: the seeds and the assertions agree.
#[test]
fn every_seed_passes_its_entry_point() {
    let seeds = fuzzing::seeds();
    for target in fuzzing::TARGETS {
        assert!(
            seeds.iter().any(|seed| seed.target == target),
            "{target} has no seed"
        );
    }
    for seed in &seeds {
        run(seed.target, &seed.bytes);
    }
}

/// The seeds for `session_load` reach past the signatures: each loads the minted session it
/// was made for, in the store it was made for, and nothing else.
#[test]
fn session_load_seeds_load_minted_sessions() {
    let seeds = fuzzing::seeds();
    let seed = |name: &str| {
        let found = seeds
            .iter()
            .find(|seed| seed.target == "session_load" && seed.name == name);
        found.unwrap().bytes.as_slice()
    };
    let loaded = |memory, cookie| Loaded { memory, cookie };
    for (name, expected) in [
        ("memory-current-key", loaded(true, false)),
        ("memory-previous-key-among-junk", loaded(true, false)),
        ("cookie-current-key", loaded(false, true)),
        ("cookie-previous-key", loaded(false, true)),
        // The expired cookie-store record is skipped; the signed id after it is used.
        ("expired-then-live", loaded(true, false)),
        ("oversized", loaded(false, false)),
        // Cookie tossing: two different known sessions are ambiguous; one cookie sent twice
        // is still one session.
        ("two-known-sessions", loaded(false, false)),
        ("one-cookie-twice", loaded(true, false)),
    ] {
        assert_eq!(fuzzing::session_load(seed(name)), expected, "{name}");
    }
    let mut tampered = seed("cookie-current-key").to_vec();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    assert_eq!(fuzzing::session_load(&tampered), loaded(false, false));
}

/// Runs `bytes` through the entry point of fuzz target `target`.
fn run(target: &str, bytes: &[u8]) {
    match target {
        "cookie_header" => fuzzing::cookie_header(bytes),
        "signed_id" => fuzzing::signed_id(bytes),
        "private_cookie" => fuzzing::private_cookie(bytes),
        "cookie_store_record" => fuzzing::cookie_store_record(bytes),
        "mongo_key" => fuzzing::mongo_key(bytes),
        "digest_hex" => fuzzing::digest_hex(bytes),
        "session_load" => {
            fuzzing::session_load(bytes);
        }
        other => panic!("unknown fuzz target {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: inputs the fuzzers found, kept as they were found
// ---------------------------------------------------------------------------------------------
