//! Bad client input yields a fresh session or a typed error, never a panic.
//!
//! Everything a client controls is attacked here, on both the server-side memory store and the
//! encrypted cookie store: malformed, huge and non-UTF-8 `Cookie` headers; real cookies that are
//! truncated, tampered with, signed by another key ring or issued by the other kind of store;
//! oversized values; values of the wrong type; empty, maximal, over-long and unicode keys; and,
//! for the cookie store, writes that would push the cookie past the 4096 bytes browsers keep.
//!
//! A "fresh session" is checked the way a user sees it (see [`assert_fresh`]): an untouched or
//! read-only request sets no cookie, the session reads as empty and new, and a write produces a
//! brand-new cookie (nothing the client sent is adopted or echoed) that works on the next
//! request. Positive controls (a real cookie hidden among junk, a rotated key ring) show that
//! the parser and the verification are not simply rejecting everything.

use serde_json::json;
use session_core::{
    Error, KeyRing, MAX_KEY_LEN, MAX_VALUE_DEPTH, MemoryStore, Session, SessionConfig,
    SessionManager, SetCookie, Storage,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The two kinds of storage every case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A server-side store: the cookie holds a signed id.
    Memory,
    /// The cookie store: the cookie holds the encrypted record.
    Cookie,
}

/// Every kind, for tests that run each case on both stores.
const KINDS: [Kind; 2] = [Kind::Memory, Kind::Cookie];

/// The largest `Set-Cookie` value browsers are required to keep (RFC 6265, section 6.1).
const BROWSER_COOKIE_LIMIT: usize = 4096;

/// The settings used throughout: the defaults, without `Secure` (plain-HTTP tests).
fn config() -> SessionConfig {
    SessionConfig::default().with_secure(false)
}

/// A manager of `kind` with its own fresh random key ring (and its own store).
fn manager(kind: Kind) -> SessionManager {
    manager_with(kind, KeyRing::generate())
}

/// A manager of `kind` with the given key ring (and, for `Memory`, a store of its own).
fn manager_with(kind: Kind, keys: KeyRing) -> SessionManager {
    match kind {
        Kind::Memory => memory_manager_on(MemoryStore::new(), keys),
        Kind::Cookie => SessionManager::new(Storage::Cookie, keys, config())
            .expect("the test settings are valid"),
    }
}

/// A memory-store manager over `store`, which other managers may share.
fn memory_manager_on(store: MemoryStore, keys: KeyRing) -> SessionManager {
    SessionManager::new(store, keys, config()).expect("the test settings are valid")
}

/// The `name=value` pair a browser sends back for a `Set-Cookie` value.
fn pair(set_cookie: &SetCookie) -> String {
    let pair = set_cookie.as_str().split(';').next().unwrap_or_default();
    assert!(pair.starts_with("session="), "unexpected cookie {pair:?}");
    pair.to_owned()
}

/// The value of a `session=value` pair.
fn value(pair: &str) -> &str {
    pair.strip_prefix("session=")
        .expect("our cookie is named `session`")
}

/// Runs a request without a cookie that stores `k = "issued"`, and returns the cookie pair the
/// browser would send back: a real, valid cookie to mangle.
async fn issue(manager: &SessionManager) -> String {
    let session = manager.session(std::iter::empty::<&[u8]>());
    session.set("k", "issued").await.unwrap();
    let set_cookie = manager
        .finish(&session, 200)
        .await
        .unwrap()
        .expect("a new session with data sets a cookie");
    pair(&set_cookie)
}

/// What a request sending `headers` reads: the value of `k` and whether its session is new.
async fn read_k(manager: &SessionManager, headers: &[&[u8]]) -> (Option<String>, bool) {
    let session = manager.session(headers.iter().copied());
    let k = session.get::<String>("k").await.unwrap();
    (k, session.is_new().await.unwrap())
}

/// Asserts that a request sending these `Cookie` header values gets a fresh session, as a user
/// sees it:
///
/// - an untouched session's `finish` is `Ok(None)`;
/// - `get::<String>("k")` is `Ok(None)`, `is_new()` is true, there are no keys, and a read-only
///   request's `finish` is `Ok(None)` too;
/// - setting a value and finishing gives a new cookie (not a removal) whose value appears in no
///   header the client sent, and that cookie carries the value to the next request.
async fn assert_fresh(kind: Kind, manager: &SessionManager, label: &str, headers: &[&[u8]]) {
    let ctx = format!("{kind:?} store, {label}");

    let untouched = manager.session(headers.iter().copied());
    assert!(
        matches!(manager.finish(&untouched, 200).await, Ok(None)),
        "{ctx}: an untouched session must set no cookie"
    );

    let read_only = manager.session(headers.iter().copied());
    assert_eq!(
        read_only.get::<String>("k").await.unwrap(),
        None,
        "{ctx}: the session must be empty"
    );
    assert!(read_only.is_new().await.unwrap(), "{ctx}: must be new");
    assert!(read_only.keys().await.unwrap().is_empty(), "{ctx}: no keys");
    assert!(
        matches!(manager.finish(&read_only, 200).await, Ok(None)),
        "{ctx}: a read-only fresh session must set no cookie"
    );

    let written = manager.session(headers.iter().copied());
    written.set("k", "fresh").await.unwrap();
    let set_cookie = manager
        .finish(&written, 200)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{ctx}: a write must set a cookie"));
    assert!(!set_cookie.is_removal(), "{ctx}: got a removal cookie");
    let new_pair = pair(&set_cookie);
    let new_value = value(&new_pair);
    for header in headers {
        assert!(
            !String::from_utf8_lossy(header).contains(new_value),
            "{ctx}: the new cookie repeats what the client sent"
        );
    }
    assert_eq!(
        read_k(manager, &[new_pair.as_bytes()]).await,
        (Some("fresh".to_owned()), false),
        "{ctx}: the new cookie must carry the new session"
    );
}

/// Asserts that a request sending these headers loads the session `issue` created.
async fn assert_loads_issued(kind: Kind, manager: &SessionManager, label: &str, headers: &[&[u8]]) {
    assert_eq!(
        read_k(manager, headers).await,
        (Some("issued".to_owned()), false),
        "{kind:?} store, {label}: the valid cookie must be found"
    );
}

/// A cookie jar holding our one cookie, updated from `Set-Cookie` values as a browser does.
#[derive(Default)]
struct Browser {
    cookie: Option<String>,
}

impl Browser {
    /// The session of the browser's next request.
    fn session(&self, manager: &SessionManager) -> Session {
        manager.session(self.cookie.as_deref().map(str::as_bytes))
    }

    /// Finishes `session` with status 200, stores what the response set and returns it.
    async fn finish(&mut self, manager: &SessionManager, session: &Session) -> Option<SetCookie> {
        let set_cookie = manager.finish(session, 200).await.unwrap();
        match &set_cookie {
            Some(c) if c.is_removal() => self.cookie = None,
            Some(c) => self.cookie = Some(pair(c)),
            None => {}
        }
        set_cookie
    }
}

/// `len` deterministic pseudo-random bytes (every byte value, `;`, `=`, NUL and invalid UTF-8
/// included).
fn noise(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state.to_be_bytes()[0]
        })
        .collect()
}

/// `s` with the character at `index` replaced by `with`.
fn replace_at(s: &str, index: usize, with: char) -> String {
    s.char_indices()
        .map(|(i, c)| if i == index { with } else { c })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Malformed Cookie headers
// ---------------------------------------------------------------------------------------------

/// Headers that are syntactically broken, empty, non-UTF-8 or carry NUL bytes.
#[tokio::test]
async fn malformed_cookie_headers_yield_a_fresh_session() {
    let cases: &[(&str, &[&[u8]])] = &[
        ("an empty header", &[b""]),
        ("only `;`", &[b";"]),
        ("only separators and blanks", &[b" ;; ; \t;"]),
        ("a name without `=`", &[b"session"]),
        ("a pair without `=`", &[b"a=1; session; b=2"]),
        ("our name with an empty value", &[b"session="]),
        ("our name, empty value, `;`", &[b"session=;"]),
        ("our name, blank value", &[b"session =   "]),
        ("an empty name", &[b"=abc"]),
        ("only `=`", &[b"="]),
        ("a value of `=`", &[b"session=="]),
        ("an empty quoted value", &[b"session=\"\""]),
        ("a lone quote", &[b"session=\""]),
        ("a quoted garbage value", &[b"session=\"garbage\""]),
        ("nested quotes", &[b"session=\"\"\"\""]),
        ("a value with `=` inside", &[b"session=abc=def"]),
        ("non-UTF-8 value", &[b"session=\xff\xfe"]),
        ("non-UTF-8 name and value", &[b"\xff\xfe=\xff"]),
        (
            "non-UTF-8 everywhere",
            &[b"\xc3\x28; session=\xe2\x82; \x80"],
        ),
        ("a NUL value", &[b"session=\0"]),
        ("NUL bytes in the value", &[b"session=abc\0def"]),
        ("NUL bytes in the name", &[b"se\0ssion=abc"]),
        ("only NUL bytes", &[b"\0\0\0\0"]),
        (
            "multi-byte UTF-8 across the 44-byte MAC boundary",
            &["session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAé".as_bytes()],
        ),
        (
            "only multi-byte UTF-8",
            &["session=éééééééééééééééééééééééééééééééééééééééééééééééé".as_bytes()],
        ),
        (
            "a header injection attempt",
            &[b"session=x\r\nSet-Cookie: y=z"],
        ),
        (
            "several bad Cookie headers",
            &[b"", b";", b"session=a", b"session=\xff", b"session=\"b\""],
        ),
        ("our name twice, both garbage", &[b"session=a; session=b"]),
    ];
    for kind in KINDS {
        let manager = manager(kind);
        for (label, headers) in cases {
            assert_fresh(kind, &manager, label, headers).await;
        }
    }
}

/// A real cookie made invalid by what surrounds it: wrong name, extra bytes, broken quoting.
#[tokio::test]
async fn real_cookies_in_malformed_pairs_yield_a_fresh_session() {
    for kind in KINDS {
        let manager = manager(kind);
        let real = issue(&manager).await;
        let v = value(&real);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("another case of our name", format!("SESSION={v}").into()),
            ("a longer name", format!("sessionx={v}").into()),
            ("a prefixed name", format!("xsession={v}").into()),
            ("`:` instead of `=`", format!("session:{v}").into()),
            ("a trailing NUL", format!("session={v}\0").into()),
            ("a leading NUL", format!("\0session={v}").into()),
            ("an unbalanced quote", format!("session=\"{v}").into()),
            ("the value twice", format!("session={v}{v}").into()),
            (
                "a trailing invalid byte",
                [real.as_bytes(), b"\xff"].concat(),
            ),
        ];
        for (label, header) in &cases {
            assert_fresh(kind, &manager, label, &[header]).await;
        }
    }
}

/// Positive controls: the real cookie is still found among junk, so the fresh sessions above
/// come from rejecting the bad input, not from a parser that rejects everything.
#[tokio::test]
async fn real_cookies_are_found_among_junk() {
    for kind in KINDS {
        let manager = manager(kind);
        let real = issue(&manager).await;
        let v = value(&real);
        let others: String = (0..1000).map(|i| format!("c{i}=v{i}; ")).collect();
        let big_junk = format!("junk={}", "a".repeat(100 * 1024));
        let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
            ("the plain pair", vec![real.clone().into()]),
            (
                "among other cookies",
                vec![format!("a=1; {real}; b=2").into()],
            ),
            (
                "padded with blanks",
                vec![format!("  session =  {v}  ").into()],
            ),
            (
                "in RFC 6265 quotes",
                vec![format!("session=\"{v}\"").into()],
            ),
            (
                "after 1000 other cookies",
                vec![format!("{others}{real}").into()],
            ),
            (
                "after a 100 KB cookie",
                vec![format!("{big_junk}; {real}").into()],
            ),
            (
                "in a second header after a non-UTF-8 one",
                vec![b"x=\xff\xfe; session=\xff".to_vec(), real.clone().into()],
            ),
            (
                "after a garbage cookie of our name",
                vec![b"session=garbage".to_vec(), real.clone().into()],
            ),
        ];
        for (label, headers) in &cases {
            let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
            assert_loads_issued(kind, &manager, label, &headers).await;
        }
    }
}

/// Many cookies, and headers of 100 KB: bounded work, a fresh session, no panic.
#[tokio::test]
async fn many_cookies_and_huge_headers_yield_a_fresh_session() {
    for kind in KINDS {
        let manager = manager(kind);
        let real = issue(&manager).await;
        let others: String = (0..1000).map(|i| format!("c{i}=v{i}; ")).collect();
        let ours: String = (0..1000).map(|i| format!("session=junk{i}; ")).collect();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("1000 other cookies", others.into()),
            ("1000 garbage cookies of our name", ours.clone().into()),
            (
                // At most a few cookies of our name are tried, bounding the work per request.
                "a real cookie after 1000 garbage cookies of our name",
                format!("{ours}{real}").into(),
            ),
            (
                "a 100 KB value of our name",
                format!("session={}", "QUFB".repeat(25 * 1024)).into(),
            ),
            ("100 KB of `;`", vec![b';'; 100 * 1024]),
            ("100 KB of `=`", vec![b'='; 100 * 1024]),
            ("100 KB of noise", noise(100 * 1024)),
            (
                "100 KB of noise after our name",
                [b"session=".as_slice(), &noise(100 * 1024)].concat(),
            ),
        ];
        for (label, header) in &cases {
            assert_fresh(kind, &manager, label, &[header]).await;
        }
        let many: Vec<Vec<u8>> = (0..1000).map(|i| format!("session=h{i}").into()).collect();
        let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        assert_fresh(kind, &manager, "1000 Cookie headers", &many).await;
    }
}

/// Values longer than any cookie a browser keeps are ignored, whatever they hold.
#[tokio::test]
async fn oversized_cookie_values_yield_a_fresh_session() {
    for kind in KINDS {
        let manager = manager(kind);
        let real = issue(&manager).await;
        let cases: Vec<(&str, String)> = vec![
            ("5 KB of base64", format!("session={}", "QUJD".repeat(1250))),
            (
                "10 KB of base64",
                format!("session={}", "QUJD".repeat(2560)),
            ),
            (
                "10 KB of base64url",
                format!("session={}", "a-_Z".repeat(2560)),
            ),
            (
                "a real cookie with 10 KB appended",
                format!("{real}{}", "A".repeat(10 * 1024)),
            ),
            (
                "10 KB prepended to a real cookie",
                format!("session={}{}", "A".repeat(10 * 1024), value(&real)),
            ),
        ];
        for (label, header) in &cases {
            assert_fresh(kind, &manager, label, &[header.as_bytes()]).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Damaged real cookies
// ---------------------------------------------------------------------------------------------

/// A real cookie cut short (or with its start cut off) is refused.
#[tokio::test]
async fn truncated_cookies_yield_a_fresh_session() {
    for kind in KINDS {
        let manager = manager(kind);
        let real = issue(&manager).await;
        let v = value(&real);
        let len = v.len();
        let mut cuts = vec![1, 2, 10, 43, 44, 45, len / 2, len - 2, len - 1];
        cuts.retain(|&cut| cut < len);
        cuts.dedup();
        for cut in cuts {
            let prefix = format!("session={}", &v[..cut]);
            assert_fresh(
                kind,
                &manager,
                &format!("the first {cut} of {len} chars"),
                &[prefix.as_bytes()],
            )
            .await;
            // For a signed id, dropping the first 44 characters (the MAC) leaves the bare id of a
            // live session: it must be refused without its signature.
            let suffix = format!("session={}", &v[cut..]);
            assert_fresh(
                kind,
                &manager,
                &format!("the last {} of {len} chars", len - cut),
                &[suffix.as_bytes()],
            )
            .await;
        }
        // The original cookie still works: the refused requests did not touch its session.
        assert_loads_issued(
            kind,
            &manager,
            "the original after truncations",
            &[real.as_bytes()],
        )
        .await;
    }
}

/// A real cookie with one character changed is refused, wherever the change is.
#[tokio::test]
async fn tampered_cookies_yield_a_fresh_session() {
    for kind in KINDS {
        let manager = manager(kind);
        let real = issue(&manager).await;
        let v = value(&real);
        let len = v.len();
        let mut positions = vec![0, 1, 10, 42, 43, 44, 45, len / 2, len - 2, len - 1];
        positions.retain(|&p| p < len);
        positions.dedup();
        for position in positions {
            let original = v.as_bytes()[position] as char;
            let flipped = if original == 'A' { 'B' } else { 'A' };
            for with in [flipped, '*', '~', 'é'] {
                let tampered = replace_at(v, position, with);
                assert_ne!(tampered, v);
                let header = format!("session={tampered}");
                let label = format!("{original:?} -> {with:?} at {position} of {len}");
                assert_fresh(kind, &manager, &label, &[header.as_bytes()]).await;
            }
        }
        // The writes made under tampered cookies did not land in the original session.
        assert_loads_issued(
            kind,
            &manager,
            "the original after tampering",
            &[real.as_bytes()],
        )
        .await;
    }
}

/// A cookie signed (memory store) or sealed (cookie store) by another key ring is refused, even
/// when, for the memory store, the id it carries is live in the very same store.
#[tokio::test]
async fn cookies_from_an_unknown_key_ring_yield_a_fresh_session() {
    // Memory store: two managers over one store, each with its own key ring.
    let store = MemoryStore::new();
    let ours = memory_manager_on(store.clone(), KeyRing::generate());
    let theirs = memory_manager_on(store, KeyRing::generate());
    let foreign = issue(&theirs).await;
    assert_loads_issued(
        Kind::Memory,
        &theirs,
        "its own manager",
        &[foreign.as_bytes()],
    )
    .await;
    assert_fresh(
        Kind::Memory,
        &ours,
        "an id signed by another key ring",
        &[foreign.as_bytes()],
    )
    .await;

    // Cookie store: a record sealed under another key ring.
    let ours = manager(Kind::Cookie);
    let theirs = manager(Kind::Cookie);
    let foreign = issue(&theirs).await;
    assert_loads_issued(
        Kind::Cookie,
        &theirs,
        "its own manager",
        &[foreign.as_bytes()],
    )
    .await;
    assert_fresh(
        Kind::Cookie,
        &ours,
        "a record sealed by another key ring",
        &[foreign.as_bytes()],
    )
    .await;
}

/// Positive control for the test above: a ring that holds the other key as a previous secret
/// does accept its cookies (key rotation), so the refusal really comes from the unknown key.
#[tokio::test]
async fn cookies_under_a_previous_key_are_still_accepted() {
    let old = b"an-old-secret-that-is-at-least-32-bytes-long";
    let new = b"a-new-secret-that-is-also-at-least-32-bytes!";
    let rotated = || {
        KeyRing::from_secret(new)
            .unwrap()
            .with_previous(old)
            .unwrap()
    };
    let store = MemoryStore::new();
    let before = memory_manager_on(store.clone(), KeyRing::from_secret(old).unwrap());
    let after = memory_manager_on(store, rotated());
    let cookie = issue(&before).await;
    assert_loads_issued(
        Kind::Memory,
        &after,
        "an id under a previous key",
        &[cookie.as_bytes()],
    )
    .await;

    let before = manager_with(Kind::Cookie, KeyRing::from_secret(old).unwrap());
    let after = manager_with(Kind::Cookie, rotated());
    let cookie = issue(&before).await;
    assert_loads_issued(
        Kind::Cookie,
        &after,
        "a record under a previous key",
        &[cookie.as_bytes()],
    )
    .await;
}

/// A valid cookie of the other kind of store is refused, with the same key ring or another.
#[tokio::test]
async fn cookies_from_the_other_kind_of_store_yield_a_fresh_session() {
    let shared = KeyRing::generate();
    for same_keys in [true, false] {
        // One shared ring, or a ring of its own for each manager.
        let keys = || {
            if same_keys {
                shared.clone()
            } else {
                KeyRing::generate()
            }
        };
        let memory = manager_with(Kind::Memory, keys());
        let cookie = manager_with(Kind::Cookie, keys());
        let rings = if same_keys {
            "the same key ring"
        } else {
            "another key ring"
        };

        let from_cookie_store = issue(&cookie).await;
        let label = format!("a cookie-store cookie, {rings}");
        assert_fresh(
            Kind::Memory,
            &memory,
            &label,
            &[from_cookie_store.as_bytes()],
        )
        .await;

        let from_memory_store = issue(&memory).await;
        let label = format!("a memory-store cookie, {rings}");
        assert_fresh(
            Kind::Cookie,
            &cookie,
            &label,
            &[from_memory_store.as_bytes()],
        )
        .await;
    }
}

/// Memory store, strict mode: a correctly signed id that the store does not know (another
/// store's session, or one that was destroyed) is never adopted.
#[tokio::test]
async fn signed_ids_the_store_does_not_know_are_not_adopted() {
    let keys = KeyRing::generate();
    let ours = manager_with(Kind::Memory, keys.clone());
    let elsewhere = manager_with(Kind::Memory, keys);
    let unknown = issue(&elsewhere).await;
    assert_fresh(
        Kind::Memory,
        &ours,
        "an id from another store",
        &[unknown.as_bytes()],
    )
    .await;

    let destroyed = issue(&ours).await;
    let session = ours.session([destroyed.as_bytes()]);
    session.destroy().await.unwrap();
    let removal = ours
        .finish(&session, 200)
        .await
        .unwrap()
        .expect("a removal cookie");
    assert!(removal.is_removal());
    assert_fresh(
        Kind::Memory,
        &ours,
        "a destroyed session's id",
        &[destroyed.as_bytes()],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Values of the wrong type
// ---------------------------------------------------------------------------------------------

/// Reading a value as the wrong type is `Error::WrongType` naming the key, in the request that
/// wrote it and after a round trip; the session keeps working afterwards.
#[tokio::test]
async fn wrong_type_is_a_typed_error_naming_the_key() {
    for kind in KINDS {
        let manager = manager(kind);
        let mut browser = Browser::default();

        let session = browser.session(&manager);
        session.set("n", "not a number").await.unwrap();
        let err = session.get::<u32>("n").await.unwrap_err();
        assert!(
            matches!(&err, Error::WrongType { key, .. } if key == "n"),
            "{kind:?}: {err:?}"
        );
        assert!(err.to_string().contains("`n`"), "{kind:?}: {err}");
        assert!(
            std::error::Error::source(&err).is_some(),
            "{kind:?}: serde's error is kept"
        );
        // The failed read changed nothing and the session still works.
        assert_eq!(
            session.get::<String>("n").await.unwrap().as_deref(),
            Some("not a number")
        );
        session.set("m", &7u32).await.unwrap();
        assert_eq!(session.get::<u32>("m").await.unwrap(), Some(7));
        browser
            .finish(&manager, &session)
            .await
            .expect("a new session sets a cookie");

        // The same after a round trip through the store or the cookie.
        let session = browser.session(&manager);
        let err = session.get::<u32>("n").await.unwrap_err();
        assert!(
            matches!(&err, Error::WrongType { key, .. } if key == "n"),
            "{kind:?}: {err:?}"
        );
        assert_eq!(
            session.get::<String>("n").await.unwrap().as_deref(),
            Some("not a number")
        );
        assert_eq!(session.get::<u32>("m").await.unwrap(), Some(7));
        assert!(session.has("n").await.unwrap());
        assert!(
            matches!(manager.finish(&session, 200).await, Ok(None)),
            "{kind:?}: failed reads are not writes"
        );
    }
}

/// Other shapes of mismatch (negative or out-of-range numbers, objects, arrays) are the same
/// typed error, each naming its own key.
#[tokio::test]
async fn every_kind_of_mismatch_is_a_wrong_type_error() {
    for kind in KINDS {
        let manager = manager(kind);
        let session = manager.session(std::iter::empty::<&[u8]>());
        session.set("negative", &-1i64).await.unwrap();
        session.set("big", &300u32).await.unwrap();
        session.set("object", &json!({"a": 1})).await.unwrap();
        session.set("array", &json!([1, "two"])).await.unwrap();
        session.set("flag", &true).await.unwrap();
        session.set("null", &json!(null)).await.unwrap();

        let errors = [
            ("negative", session.get::<u32>("negative").await.err()),
            ("big", session.get::<u8>("big").await.err()),
            ("object", session.get::<Vec<u32>>("object").await.err()),
            ("array", session.get::<Vec<u32>>("array").await.err()),
            ("flag", session.get::<String>("flag").await.err()),
            ("null", session.get::<u32>("null").await.err()),
        ];
        for (expected, err) in errors {
            let err = err.unwrap_or_else(|| panic!("{kind:?}: reading {expected:?} must fail"));
            assert!(
                matches!(&err, Error::WrongType { key, .. } if key == expected),
                "{kind:?}: {err:?}"
            );
            assert!(
                err.to_string().contains(&format!("`{expected}`")),
                "{kind:?}: {err}"
            );
        }
        // A null read as an Option is a value, not an error.
        assert_eq!(
            session.get::<Option<u32>>("null").await.unwrap(),
            Some(None)
        );
    }
}

/// A value that cannot become JSON is `Error::Serialize` naming the key, and changes nothing.
#[tokio::test]
async fn unserializable_values_are_a_typed_error() {
    for kind in KINDS {
        let manager = manager(kind);
        let session = manager.session(std::iter::empty::<&[u8]>());
        let tuple_keys = std::collections::BTreeMap::from([((1u8, 2u8), 3u8)]);
        let err = session.set("map", &tuple_keys).await.unwrap_err();
        assert!(
            matches!(&err, Error::Serialize { key, .. } if key == "map"),
            "{kind:?}: {err:?}"
        );
        assert!(err.to_string().contains("`map`"), "{kind:?}: {err}");
        assert!(!session.has("map").await.unwrap());
        assert!(
            matches!(manager.finish(&session, 200).await, Ok(None)),
            "{kind:?}"
        );
    }
}

/// `[[[...1...]]]`, nesting `levels` arrays.
fn nested(levels: usize) -> serde_json::Value {
    (0..levels).fold(serde_json::json!(1), |inner, _| serde_json::json!([inner]))
}

/// Values nested deeper than stores can read back are refused when set, rather than saved and
/// then losing the whole session on the next request (serde_json stops reading at 128 levels).
#[tokio::test]
async fn values_nested_too_deep_are_refused_and_the_deepest_allowed_round_trips() {
    for kind in KINDS {
        let manager = manager(kind);
        let mut browser = Browser::default();
        let session = browser.session(&manager);
        session.set("keep", &1u8).await.unwrap();
        session
            .set_value("deep", nested(MAX_VALUE_DEPTH))
            .await
            .unwrap();
        let err = session
            .set_value("deeper", nested(MAX_VALUE_DEPTH + 1))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::TooDeep { key, max } if key == "deeper" && *max == MAX_VALUE_DEPTH),
            "{kind:?}: {err:?}"
        );
        let err = session.set("deeper", &nested(1_000)).await.unwrap_err();
        assert!(matches!(err, Error::TooDeep { .. }), "{kind:?}: {err:?}");
        assert!(!session.has("deeper").await.unwrap());
        browser.finish(&manager, &session).await.expect("a cookie");

        let session = browser.session(&manager);
        assert!(
            !session.is_new().await.unwrap(),
            "{kind:?}: the session survives"
        );
        assert_eq!(
            session.get_value("deep").await.unwrap(),
            Some(nested(MAX_VALUE_DEPTH)),
            "{kind:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// The empty key is an ordinary key: set, get, has, delete, and a round trip.
#[tokio::test]
async fn the_empty_key_works() {
    for kind in KINDS {
        let manager = manager(kind);
        let mut browser = Browser::default();

        let session = browser.session(&manager);
        assert!(!session.has("").await.unwrap());
        session.set("", "empty").await.unwrap();
        session.set("keep", &1u8).await.unwrap();
        assert!(session.has("").await.unwrap());
        assert_eq!(
            session.get::<String>("").await.unwrap().as_deref(),
            Some("empty")
        );
        browser.finish(&manager, &session).await.expect("a cookie");

        let session = browser.session(&manager);
        assert_eq!(
            session.get::<String>("").await.unwrap().as_deref(),
            Some("empty"),
            "{kind:?}"
        );
        assert!(session.delete("").await.unwrap());
        assert!(!session.has("").await.unwrap());
        assert!(
            !session.delete("").await.unwrap(),
            "a second delete finds nothing"
        );
        browser.finish(&manager, &session).await;

        let session = browser.session(&manager);
        assert!(
            !session.has("").await.unwrap(),
            "{kind:?}: the delete was saved"
        );
        assert_eq!(
            session.get::<u8>("keep").await.unwrap(),
            Some(1),
            "{kind:?}"
        );
    }
}

/// A key of exactly `MAX_KEY_LEN` bytes works; one byte more is `Error::KeyTooLong` and changes
/// nothing, neither in the request nor in what is saved.
#[tokio::test]
async fn keys_up_to_max_key_len_work_and_longer_ones_are_refused() {
    let longest = "k".repeat(MAX_KEY_LEN);
    let too_long = "k".repeat(MAX_KEY_LEN + 1);
    for kind in KINDS {
        let manager = manager(kind);
        let mut browser = Browser::default();

        let session = browser.session(&manager);
        session.set(&longest, &1u32).await.unwrap();
        assert!(session.has(&longest).await.unwrap());
        assert_eq!(session.get::<u32>(&longest).await.unwrap(), Some(1));
        browser.finish(&manager, &session).await.expect("a cookie");

        let session = browser.session(&manager);
        assert_eq!(
            session.get::<u32>(&longest).await.unwrap(),
            Some(1),
            "{kind:?}: round trip"
        );
        let keys_before = session.keys().await.unwrap();
        let err = session.set(&too_long, &2u32).await.unwrap_err();
        assert!(
            matches!(err, Error::KeyTooLong { len, max } if len == MAX_KEY_LEN + 1 && max == MAX_KEY_LEN),
            "{kind:?}: {err:?}"
        );
        assert!(
            err.to_string().contains(&MAX_KEY_LEN.to_string()),
            "{kind:?}: {err}"
        );
        let err = session.set_value(&too_long, json!(2)).await.unwrap_err();
        assert!(matches!(err, Error::KeyTooLong { .. }), "{kind:?}: {err:?}");
        assert_eq!(
            session.keys().await.unwrap(),
            keys_before,
            "{kind:?}: nothing changed"
        );
        assert!(!session.has(&too_long).await.unwrap());
        assert!(
            matches!(manager.finish(&session, 200).await, Ok(None)),
            "{kind:?}: a refused set is not a write"
        );

        // Also on a fresh session: the refused set leaves it untouched.
        let fresh = manager.session(std::iter::empty::<&[u8]>());
        assert!(matches!(
            fresh.set(&too_long, "v").await,
            Err(Error::KeyTooLong { .. })
        ));
        assert!(
            matches!(manager.finish(&fresh, 200).await, Ok(None)),
            "{kind:?}"
        );
    }
}

/// Reading, testing and deleting an over-long key do not panic: they find nothing.
#[tokio::test]
async fn reads_and_deletes_of_over_long_keys_do_not_panic() {
    for kind in KINDS {
        let manager = manager(kind);
        let real = issue(&manager).await;
        for len in [MAX_KEY_LEN + 1, 100 * 1024] {
            let key = "x".repeat(len);
            let session = manager.session([real.as_bytes()]);
            assert_eq!(session.get::<String>(&key).await.unwrap(), None, "{kind:?}");
            assert_eq!(session.get_value(&key).await.unwrap(), None, "{kind:?}");
            assert!(!session.has(&key).await.unwrap(), "{kind:?}");
            assert!(!session.delete(&key).await.unwrap(), "{kind:?}");
            assert_eq!(
                session.get::<String>("k").await.unwrap().as_deref(),
                Some("issued")
            );
            assert!(
                matches!(manager.finish(&session, 200).await, Ok(None)),
                "{kind:?}: nothing changed"
            );
        }
    }
}

/// Unicode and punctuation keys work and survive a round trip; `MAX_KEY_LEN` counts bytes, not
/// characters; keys are compared byte for byte.
#[tokio::test]
async fn unicode_keys_work() {
    let keys = [
        "ключ",
        "鍵",
        "🔑",
        "e\u{301}",
        "\u{e9}",
        "a.b",
        "$where",
        "with spaces",
        "\"quoted\"",
        "semi;colon=equals",
        "line\nbreak",
        "nul\0byte",
    ];
    // 512 two-byte characters: exactly the limit in bytes.
    let longest = "é".repeat(MAX_KEY_LEN / 2);
    let too_long = format!("{longest}x");
    assert_eq!(longest.len(), MAX_KEY_LEN);
    for kind in KINDS {
        let manager = manager(kind);
        let mut browser = Browser::default();

        let session = browser.session(&manager);
        for (i, key) in keys.iter().enumerate() {
            session.set(key, &i).await.unwrap();
        }
        session.set(&longest, "longest").await.unwrap();
        let err = session.set(&too_long, "too long").await.unwrap_err();
        assert!(
            matches!(err, Error::KeyTooLong { len, .. } if len == MAX_KEY_LEN + 1),
            "{kind:?}: {err:?}"
        );
        browser.finish(&manager, &session).await.expect("a cookie");

        let session = browser.session(&manager);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                session.get::<usize>(key).await.unwrap(),
                Some(i),
                "{kind:?}: {key:?}"
            );
        }
        assert_eq!(
            session.get::<String>(&longest).await.unwrap().as_deref(),
            Some("longest")
        );
        assert!(!session.has(&too_long).await.unwrap());
        assert_eq!(
            session.keys().await.unwrap().len(),
            keys.len() + 1,
            "{kind:?}"
        );
        assert!(session.delete("🔑").await.unwrap());
        assert!(!session.has("🔑").await.unwrap());
        assert!(
            session.has("鍵").await.unwrap(),
            "{kind:?}: other keys stay"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Cookie size limit (cookie store)
// ---------------------------------------------------------------------------------------------

/// Asserts `result` is `Error::CookieTooLarge` against the browser limit.
fn assert_too_large(result: session_core::Result<()>, context: &str) {
    match result {
        Err(Error::CookieTooLarge { size, max }) => {
            assert_eq!(max, BROWSER_COOKIE_LIMIT, "{context}");
            assert!(size > max, "{context}: {size} <= {max}");
        }
        other => panic!("{context}: expected CookieTooLarge, got {other:?}"),
    }
}

/// A new key whose value would overflow the cookie is refused; earlier keys stay, later writes
/// that fit succeed, and the saved cookie fits in 4096 bytes.
#[tokio::test]
async fn cookie_store_refuses_a_new_key_that_overflows_the_cookie() {
    let manager = manager(Kind::Cookie);
    let mut browser = Browser::default();
    let session = browser.session(&manager);
    session.set("a", "small").await.unwrap();
    let err = session.set("big", &"x".repeat(5000)).await.unwrap_err();
    assert!(err.to_string().contains("4096"), "{err}");
    assert_too_large(Err(err), "one big value");
    assert!(!session.has("big").await.unwrap());
    assert_eq!(session.keys().await.unwrap(), ["a"]);

    // Fill the cookie key by key until it refuses one.
    let chunk = "y".repeat(600);
    let mut accepted = Vec::new();
    for i in 0.. {
        let key = format!("k{i}");
        match session.set(&key, &chunk).await {
            Ok(()) => accepted.push(key),
            result => {
                assert_too_large(result, &format!("key {key}"));
                assert!(!session.has(&key).await.unwrap(), "{key} was refused");
                break;
            }
        }
        assert!(
            i < 10,
            "600-byte values must overflow a 4096-byte cookie within 10 keys"
        );
    }
    assert!(!accepted.is_empty());
    session.set("c", "fits").await.unwrap();

    let set_cookie = browser.finish(&manager, &session).await.expect("a cookie");
    assert!(
        set_cookie.as_str().len() <= BROWSER_COOKIE_LIMIT,
        "{} bytes",
        set_cookie.as_str().len()
    );

    let session = browser.session(&manager);
    assert_eq!(
        session.get::<String>("a").await.unwrap().as_deref(),
        Some("small")
    );
    assert_eq!(
        session.get::<String>("c").await.unwrap().as_deref(),
        Some("fits")
    );
    assert!(!session.has("big").await.unwrap());
    for key in &accepted {
        assert_eq!(
            session.get::<String>(key).await.unwrap().as_ref(),
            Some(&chunk),
            "{key}"
        );
    }
    assert_eq!(session.keys().await.unwrap().len(), accepted.len() + 2);
}

/// Overwriting a key with a value that would overflow the cookie is refused and the previous
/// value is kept, whether it came from an earlier request or from this one.
#[tokio::test]
async fn cookie_store_keeps_the_old_value_when_an_overwrite_overflows() {
    let big = "x".repeat(5000);
    let manager = manager(Kind::Cookie);
    let mut browser = Browser::default();

    let session = browser.session(&manager);
    session.set("a", "small").await.unwrap();
    session.set("b", "other").await.unwrap();
    session.set("c", "v1").await.unwrap();
    assert_too_large(
        session.set("c", &big).await,
        "overwriting this request's write",
    );
    assert_eq!(
        session.get::<String>("c").await.unwrap().as_deref(),
        Some("v1")
    );
    browser.finish(&manager, &session).await.expect("a cookie");

    // A loaded key: the refused overwrite keeps it and is not a write.
    let session = browser.session(&manager);
    assert_too_large(session.set("a", &big).await, "overwriting a loaded key");
    assert_eq!(
        session.get::<String>("a").await.unwrap().as_deref(),
        Some("small")
    );
    assert!(
        matches!(manager.finish(&session, 200).await, Ok(None)),
        "a refused overwrite alone sets no cookie"
    );

    // A write that fits still succeeds afterwards, and the old value is what is saved.
    let session = browser.session(&manager);
    assert_too_large(session.set("a", &big).await, "overwriting again");
    session.set("b", "fits").await.unwrap();
    let set_cookie = browser.finish(&manager, &session).await.expect("a cookie");
    assert!(set_cookie.as_str().len() <= BROWSER_COOKIE_LIMIT);

    let session = browser.session(&manager);
    assert_eq!(
        session.get::<String>("a").await.unwrap().as_deref(),
        Some("small")
    );
    assert_eq!(
        session.get::<String>("b").await.unwrap().as_deref(),
        Some("fits")
    );
    assert_eq!(
        session.get::<String>("c").await.unwrap().as_deref(),
        Some("v1")
    );
}

/// The size check is exact enough: the largest value `set` accepts (for characters JSON stores
/// as 1, 2 or 6 bytes, and multi-byte UTF-8) yields a `Set-Cookie` of at most 4096 bytes that
/// `finish` does not refuse, and for plain ASCII little room is wasted.
#[tokio::test]
async fn cookie_store_largest_accepted_session_fits_in_4096_bytes() {
    let manager = manager(Kind::Cookie);
    for unit in ["x", "\"", "\u{1}", "é", "😀"] {
        let session = manager.session(std::iter::empty::<&[u8]>());
        // Binary search for the longest accepted value: `lo` fits, `hi` does not.
        let (mut lo, mut hi) = (0, BROWSER_COOKIE_LIMIT);
        assert_too_large(session.set("k", &unit.repeat(hi)).await, unit);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            match session.set("k", &unit.repeat(mid)).await {
                Ok(()) => lo = mid,
                result => {
                    assert_too_large(result, unit);
                    hi = mid;
                }
            }
        }
        let largest = unit.repeat(lo);
        session.set("k", &largest).await.unwrap();
        let set_cookie = manager
            .finish(&session, 200)
            .await
            .unwrap_or_else(|err| {
                panic!("{unit:?} x {lo}: set accepted it but finish refused: {err}")
            })
            .expect("a cookie");
        let size = set_cookie.as_str().len();
        assert!(
            size <= BROWSER_COOKIE_LIMIT,
            "{unit:?} x {lo}: {size} bytes"
        );
        if unit == "x" {
            assert!(
                size > BROWSER_COOKIE_LIMIT - 32,
                "only {size} bytes used of 4096"
            );
        }
        let pair = pair(&set_cookie);
        let next = manager.session([pair.as_bytes()]);
        assert_eq!(
            next.get::<String>("k").await.unwrap(),
            Some(largest),
            "{unit:?}"
        );
    }
}

/// The memory store has no cookie limit: the values the cookie store refuses are kept, and its
/// cookie stays small.
#[tokio::test]
async fn memory_store_keeps_values_the_cookie_store_refuses() {
    let manager = manager(Kind::Memory);
    let mut browser = Browser::default();
    let big = "x".repeat(60 * 1024);
    let session = browser.session(&manager);
    session.set("big", &big).await.unwrap();
    let set_cookie = browser.finish(&manager, &session).await.expect("a cookie");
    assert!(set_cookie.as_str().len() < 256);
    let session = browser.session(&manager);
    assert_eq!(session.get::<String>("big").await.unwrap(), Some(big));
}

// ---------------------------------------------------------------------------------------------
// Clients that percent-encode cookie values
// ---------------------------------------------------------------------------------------------

/// `value` with every byte written as `%XX` (upper- or lowercase hex), as an over-eager proxy
/// might send it.
fn percent_encode_all(value: &str, lowercase: bool) -> String {
    value
        .bytes()
        .map(|b| {
            if lowercase {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `Cookie` header a client sends that percent-encodes cookie values the way the `cookie`
/// crate's `Cookie::encoded` does: actix-web's `TestRequest::cookie`, awc, tower-cookies'
/// `encoded()`.
fn encoded_pair(value: &str) -> String {
    cookie::Cookie::new("session", value).encoded().to_string()
}

/// Sessions of varied sizes, so that cookie-store values of every length modulo 3 (every
/// amount of base64 padding) are among them.
async fn issue_varied(manager: &SessionManager) -> Vec<String> {
    let mut pairs = Vec::new();
    for len in 0..12 {
        let session = manager.session(std::iter::empty::<&[u8]>());
        session.set("k", "issued").await.unwrap();
        session.set("pad", &"p".repeat(len)).await.unwrap();
        let set_cookie = manager.finish(&session, 200).await.unwrap().unwrap();
        pairs.push(pair(&set_cookie));
    }
    pairs
}

/// A client that percent-encodes its cookies (`=` as `%3D`, `/` as `%2F`, `+` as `%2B`) keeps
/// its session, on both kinds of store: it used to get a fresh, empty session on every
/// request, with only a debug log line to show for it.
#[tokio::test]
async fn percent_encoded_cookies_still_load() {
    for kind in KINDS {
        let manager = manager(kind);
        for real in issue_varied(&manager).await {
            let v = value(&real);
            let cases = [
                ("as Cookie::encoded sends it", encoded_pair(v)),
                (
                    "every byte encoded",
                    format!("session={}", percent_encode_all(v, false)),
                ),
                (
                    "every byte encoded, lowercase hex",
                    format!("session={}", percent_encode_all(v, true)),
                ),
            ];
            for (label, header) in &cases {
                assert_loads_issued(kind, &manager, label, &[header.as_bytes()]).await;
            }
        }
    }
}

/// Every cookie value the server sends is made only of characters that no client or proxy
/// percent-encodes (`A-Z a-z 0-9 - _ .`), so encoding it changes nothing. A signed id is the
/// signed-jar format in URL-safe base64: 43 characters of HMAC tag, `.`, the 43-character id.
#[tokio::test]
async fn set_cookie_values_need_no_percent_encoding() {
    let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    for kind in KINDS {
        let manager = manager(kind);
        for real in issue_varied(&manager).await {
            let v = value(&real);
            assert!(v.bytes().all(safe), "{kind:?} store: {v}");
            assert_eq!(encoded_pair(v), real, "{kind:?} store: encoding changed it");
            if kind == Kind::Memory {
                assert_eq!(v.len(), 87, "{v}");
                assert_eq!(&v[43..44], ".", "{v}");
            }
        }
    }
}

/// The value in the format issued before URL-safe base64: the `cookie` crate's standard
/// base64 (`+`, `/`, `=` padding). For a signed id only its tag was standard base64; the id
/// after it was always URL-safe.
fn old_format(kind: Kind, value: &str) -> String {
    let standard = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                '.' => '=',
                c => c,
            })
            .collect()
    };
    match kind {
        Kind::Memory => format!("{}{}", standard(&value[..44]), &value[44..]),
        Kind::Cookie => standard(value),
    }
}

/// Cookies issued before the change (standard base64) still load, sent as they were issued
/// and percent-encoded, so no one is logged out by the upgrade; and a value that mixes the two
/// alphabets is neither.
#[tokio::test]
async fn cookies_in_the_old_standard_base64_format_still_load() {
    for kind in KINDS {
        let manager = manager(kind);
        let mut checked_a_changed_value = false;
        for real in issue_varied(&manager).await {
            let old = old_format(kind, value(&real));
            checked_a_changed_value |= old != value(&real);
            let plain = format!("session={old}");
            assert_loads_issued(kind, &manager, "the old format", &[plain.as_bytes()]).await;
            let encoded = encoded_pair(&old);
            assert_loads_issued(
                kind,
                &manager,
                "the old format, encoded",
                &[encoded.as_bytes()],
            )
            .await;
        }
        assert!(
            checked_a_changed_value,
            "{kind:?}: no value differed in the old format"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// NUL characters
// ---------------------------------------------------------------------------------------------

/// NUL in keys and values, nested too, comes back exactly through a request round trip on both
/// kinds of store (the server-side stores each run the same check in the store contract suite).
#[tokio::test]
async fn nul_in_keys_and_values_round_trips() {
    let value = json!({"in\0ner": ["a\0b", {"\0": "\0\0"}]});
    for kind in KINDS {
        let manager = manager(kind);
        let mut browser = Browser::default();
        let session = browser.session(&manager);
        session.set("nul\0key", "nul\0value").await.unwrap();
        session.set("\0", &value).await.unwrap();
        browser.finish(&manager, &session).await.expect("a cookie");

        let session = browser.session(&manager);
        assert_eq!(
            session.get::<String>("nul\0key").await.unwrap().as_deref(),
            Some("nul\0value"),
            "{kind:?}"
        );
        assert_eq!(
            session.get::<serde_json::Value>("\0").await.unwrap(),
            Some(value.clone())
        );
        assert!(
            !session.has("nul").await.unwrap(),
            "{kind:?}: the key was cut at the NUL"
        );
    }
}
