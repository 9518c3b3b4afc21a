//! Entry points for the fuzz targets in `fuzz/` and for `tests/properties.rs`, behind the
//! `fuzzing` feature. Not public API: anything here may change in any release.
//!
//! Every function takes bytes a client controls and runs them through one parser of the crate.
//! Each one *asserts* the properties that must hold (round trips, canonical forms, "only what
//! the server minted is accepted"), so a fuzzer finds logic bugs, not only panics: unlike the
//! rest of the crate, this module panics on purpose, and only when a property is broken.
//!
//! Everything runs under one fixed key ring ([`CURRENT_SECRET`] signs and encrypts,
//! [`PREVIOUS_SECRET`] is accepted for reading), so cookies minted by one process (the seed
//! corpus) are accepted by another (the fuzzer).

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, Wake, Waker};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::config::SessionConfig;
use crate::cookie::CookieCodec;
use crate::id::{IdDigest, SessionId};
use crate::keys::KeyRing;
use crate::manager::SessionManager;
use crate::record::Record;
use crate::store::{SessionStore, Storage};
use crate::stores::cookie::{decode, encode, encoded_len};
use crate::stores::memory::MemoryStore;

/// The secret of the current key: it signs and encrypts.
pub const CURRENT_SECRET: &[u8] = b"fuzzing: the current secret, not for production use";
/// The secret of the previous key: cookies it made are accepted and re-issued.
pub const PREVIOUS_SECRET: &[u8] = b"fuzzing: the previous secret, not for production use";

/// The clock [`cookie_store_record`] decodes at (2025-06-15).
pub const NOW: i64 = 1_750_000_000;
/// When the live cookie-store records the seeds carry were created.
const LIVE_CREATED: i64 = 1_700_000_000;
/// When they expire (2100-01-01): after [`NOW`] and after the real clock.
const LIVE_EXPIRES: i64 = 4_102_444_800;
/// When the expired seed record expired (2020): before [`NOW`] and the real clock.
const EXPIRED: (i64, i64) = (1_600_000_000, 1_600_086_400);

/// Mirrors `cookie.rs`: at most this many cookies with our name are tried per request.
const MAX_CANDIDATES: usize = 4;
/// Mirrors `cookie.rs`: longer cookie values are ignored unread.
const MAX_VALUE_LEN: usize = 8192;

/// The fuzz targets, each named for the function here that it calls.
pub const TARGETS: [&str; 7] = [
    "cookie_header",
    "signed_id",
    "private_cookie",
    "cookie_store_record",
    "mongo_key",
    "digest_hex",
    "session_load",
];

/// One input of a seed corpus.
#[derive(Clone, Debug)]
pub struct Seed {
    /// The fuzz target it is for (one of [`TARGETS`]).
    pub target: &'static str,
    /// A file name for it, unique within its target.
    pub name: &'static str,
    /// The input.
    pub bytes: Vec<u8>,
}

/// The sessions the fixture knows: the only ones a fuzzer may ever see loaded.
struct Known {
    /// The server-side sessions of the memory store: id and data.
    stored: Vec<(SessionId, Map<String, Value>)>,
    /// The plaintexts of live cookie-store cookies, and their data.
    live: Vec<(String, Map<String, Value>)>,
    /// The plaintext of an expired cookie-store cookie.
    expired: String,
}

/// What every entry point shares, built once per process.
struct Fixture {
    /// Current and previous key.
    codec: CookieCodec,
    /// The previous key alone: mints what an older deployment minted.
    old_codec: CookieCodec,
    /// The full ring under another cookie name.
    other_name: CookieCodec,
    memory: SessionManager,
    cookie: SessionManager,
    known: Known,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(Fixture::new);

fn ring() -> KeyRing {
    KeyRing::from_secret(CURRENT_SECRET)
        .and_then(|ring| ring.with_previous(PREVIOUS_SECRET))
        .expect("the fuzzing secrets are long enough")
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).expect("the fuzzing timestamps are in range")
}

/// `plain` sealed by `codec`, as the cookie store seals a record.
fn seal(codec: &CookieCodec, plain: &str) -> String {
    codec
        .encrypt(plain)
        .expect("the operating system's random number generator works while fuzzing")
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("the fixture's data are objects"),
    }
}

/// The server-side session ids the fixture's memory store holds: fixed, so that signed cookies
/// written into the seed corpus by one process name sessions the fuzzing process knows.
fn known_id(byte: u8) -> SessionId {
    SessionId::decode(&URL_SAFE_NO_PAD.encode([byte; 32])).expect("32 bytes encode to an id")
}

impl Fixture {
    fn new() -> Self {
        // The seeds and dictionaries name the cookie plainly `session`.
        let config = SessionConfig::default().with_host_prefix(false);
        let ring = ring();
        let old_ring = KeyRing::from_secret(PREVIOUS_SECRET).expect("long enough");
        let data = [
            object(
                json!({"user": {"id": 7, "name": "Ada"}, "cart": ["apple", "pear"], "visits": 3}),
            ),
            object(json!({"theme": "dark", "ratio": 0.25, "flags": [true, null, -1], "": "empty"})),
        ];
        let known = Known {
            stored: vec![
                (known_id(0x11), data[0].clone()),
                (known_id(0x22), data[1].clone()),
            ],
            live: data
                .iter()
                .map(|d| (encode(d, at(LIVE_CREATED), at(LIVE_EXPIRES), 0), d.clone()))
                .collect(),
            expired: encode(&data[0], at(EXPIRED.0), at(EXPIRED.1), 0),
        };
        let store = MemoryStore::new();
        let now = crate::record::whole_seconds(OffsetDateTime::now_utc());
        for (id, data) in &known.stored {
            let record = Record::new(data.clone(), now, now + time::Duration::days(1));
            let created = block_on(store.create(&id.digest(), &record));
            assert!(
                matches!(created, Ok(true)),
                "the fixture's store takes its sessions"
            );
        }
        Self {
            codec: CookieCodec::new(&config, ring.clone()),
            old_codec: CookieCodec::new(&config, old_ring),
            other_name: CookieCodec::new(&config.clone().with_cookie_name("other"), ring.clone()),
            memory: SessionManager::new(store, ring.clone(), config.clone())
                .expect("the default settings are valid"),
            // The seed cookies were created in 2023: a lifetime long enough that they are still
            // live (the default seven days from creation would have ended them).
            cookie: SessionManager::new(
                Storage::Cookie,
                ring,
                config.with_cookie_store_lifetime(std::time::Duration::from_secs(
                    80 * 365 * 24 * 60 * 60,
                )),
            )
            .expect("the default settings are valid"),
            known,
        }
    }
}

/// Runs a future to completion on the current thread. The memory and cookie stores never wait,
/// so this is all the fuzz targets need.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// Fuzz bytes as text: invalid UTF-8 becomes U+FFFD, so every input reaches the parser.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fuzz bytes as the values of several `Cookie` headers, one per line.
fn headers(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == b'\n').collect()
}

/// `value` with `edits` applied: each 3-byte chunk is a position (2 bytes, little-endian,
/// wrapping around) and the byte to put there.
fn tamper(value: &str, edits: &[u8]) -> Vec<u8> {
    let mut bytes = value.as_bytes().to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    for edit in edits.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % bytes.len();
        bytes[at] = edit[2];
    }
    bytes
}

/// `value` with its `%XX` escapes decoded; `None` for a malformed escape. The oracle's own
/// decoder, so that the fuzz targets do not check `cookie.rs` against itself.
fn unescaped(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.iter().copied();
    while let Some(byte) = bytes.next() {
        out.push(if byte == b'%' {
            let hex = |digit: Option<u8>| char::from(digit?).to_digit(16);
            u8::try_from(hex(bytes.next())? * 16 + hex(bytes.next())?).ok()?
        } else {
            byte
        });
    }
    Some(out)
}

/// The one spelling the server sends of a cookie value that may arrive percent-encoded or in
/// the standard-base64 spelling issued before (`+`, `/`, `=` for our `-`, `_`, `.`); `None` for
/// a malformed `%` escape. Mirrors `cookie.rs`: every accepted value has exactly this spelling
/// once respelled, so accepting it is not a second cookie.
fn respelled(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = unescaped(value)?;
    for byte in &mut out {
        *byte = match *byte {
            b'+' => b'-',
            b'/' => b'_',
            b'=' => b'.',
            other => other,
        };
    }
    Some(out)
}

/// Whether `value` is one of the spellings of the signed id `minted` that the codec accepts:
/// once percent-decoded, either `minted` itself or `minted` with its tag (the part before the
/// id) wholly in the standard alphabet issued before. A tag that mixes the two alphabets, or
/// any change to the id part, is not a spelling of it.
fn is_a_spelling_of(value: &[u8], minted: &str) -> bool {
    let Some(decoded) = unescaped(value) else {
        return false;
    };
    if decoded == minted.as_bytes() {
        return true;
    }
    let tag_len = crate::cookie::TAG_B64_LEN;
    let (Some((tag, id)), Some((minted_tag, minted_id))) = (
        decoded.split_at_checked(tag_len),
        minted.as_bytes().split_at_checked(tag_len),
    ) else {
        return false;
    };
    let old = minted_tag.iter().map(|byte| match byte {
        b'-' => b'+',
        b'_' => b'/',
        b'.' => b'=',
        other => *other,
    });
    id == minted_id && tag.iter().copied().eq(old)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// A signed-id value the ring accepts must be, once [respelled], exactly what the accepting key
/// mints for that id: no second cookie for an id exists, only the spellings of the one.
fn check_signed(fixture: &Fixture, value: &str) -> Option<(SessionId, bool)> {
    let verified = fixture.codec.verify_id(value);
    if let Some((id, old_key)) = &verified {
        let minter = if *old_key {
            &fixture.old_codec
        } else {
            &fixture.codec
        };
        assert_eq!(
            respelled(value.as_bytes()),
            Some(minter.sign_id(id).into_bytes()),
            "an accepted signed id is not the one the server mints for it"
        );
    }
    verified
}

/// A private value the ring opens must be, once [respelled], canonical base64 in the alphabet
/// the server sends (no second cookie, only spellings of the one), and what it holds must seal
/// and open again.
fn check_private(fixture: &Fixture, value: &str) -> Option<(String, bool)> {
    let opened = fixture.codec.decrypt(value);
    if let Some((plain, _)) = &opened {
        let ours = respelled(value.as_bytes()).and_then(|ours| String::from_utf8(ours).ok());
        let canonical = ours.as_deref().and_then(|ours| {
            let raw = URL_SAFE.decode(ours.replace('.', "=")).ok()?;
            Some(URL_SAFE.encode(raw).replace('=', "."))
        });
        assert_eq!(
            canonical, ours,
            "an accepted private cookie is not canonical base64"
        );
        let resealed = seal(&fixture.codec, plain);
        assert_eq!(
            fixture.codec.decrypt(&resealed),
            Some((plain.clone(), false))
        );
    }
    opened
}

/// Raw `Cookie` header values (one per line of `bytes`): finds our cookie with the codec's
/// parser, then verifies each candidate as a signed id and opens it as a private value.
///
/// Checks: at most 4 candidates, each non-empty, at most 8192 bytes, free of `;` and a slice of
/// the input; anything accepted is in its one canonical form.
pub fn cookie_header(bytes: &[u8]) {
    let fixture = &*FIXTURE;
    let found = fixture.codec.candidates(headers(bytes));
    assert!(found.len() <= MAX_CANDIDATES, "{} candidates", found.len());
    for value in found.iter() {
        assert!(!value.is_empty() && value.len() <= MAX_VALUE_LEN);
        assert!(!value.contains(';'), "a candidate spans two cookie pairs");
        assert!(
            contains(bytes, value.as_bytes()),
            "a candidate is not a slice of the header"
        );
        check_signed(fixture, value);
        check_private(fixture, value);
    }
}

/// A signed session-id cookie value: `bytes` as text is verified as is, then used as edits
/// (see `tamper`) on a real signed cookie, which must then be refused unless the edits changed
/// nothing.
pub fn signed_id(bytes: &[u8]) {
    let fixture = &*FIXTURE;
    check_signed(fixture, &text(bytes));

    let (id, _) = &fixture.known.stored[0];
    let minted = fixture.codec.sign_id(id);
    let edited = tamper(&minted, bytes);
    if is_a_spelling_of(&edited, &minted) {
        // Unchanged, percent-encoded, or the spelling issued before of the same cookie.
        let edited = String::from_utf8_lossy(&edited);
        assert_eq!(fixture.codec.verify_id(&edited), Some((id.clone(), false)));
    } else if let Ok(edited) = std::str::from_utf8(&edited) {
        assert_eq!(
            fixture.codec.verify_id(edited),
            None,
            "a tampered signed id was accepted"
        );
    }
}

/// A private (AES-GCM) cookie value: `bytes` as text is opened as is; then sealed as a
/// plaintext, which must open to itself (also under the previous key, and not under another
/// cookie name); then used as edits on the sealed value, which must then be refused.
pub fn private_cookie(bytes: &[u8]) {
    let fixture = &*FIXTURE;
    let plain = text(bytes);
    check_private(fixture, &plain);

    let sealed = seal(&fixture.codec, &plain);
    assert_eq!(fixture.codec.decrypt(&sealed), Some((plain.clone(), false)));
    assert_eq!(
        fixture.other_name.decrypt(&sealed),
        None,
        "moved to another cookie name"
    );
    let old = seal(&fixture.old_codec, &plain);
    assert_eq!(fixture.codec.decrypt(&old), Some((plain, true)));

    let edited = tamper(&sealed, bytes);
    if respelled(&edited) != Some(sealed.clone().into_bytes())
        && let Ok(edited) = std::str::from_utf8(&edited)
    {
        assert_eq!(
            fixture.codec.decrypt(edited),
            None,
            "a tampered private cookie was opened"
        );
    }
}

/// The cookie store's record parser, at the fixed clock [`NOW`]: `bytes` as text is decoded as
/// a cookie value, then sealed and decoded, so the JSON payload parser sees the input itself.
///
/// Checks: an accepted record is live at `NOW` and expired at its own expiry; encoding it again
/// gives the length `encoded_len` predicts and decodes to the same record.
pub fn cookie_store_record(bytes: &[u8]) {
    let fixture = &*FIXTURE;
    let now = at(NOW);
    let value = text(bytes);
    if let Some((record, _)) = decode(&fixture.codec, &value, now, 0) {
        check_record(fixture, &value, &record, now);
    }
    let sealed = seal(&fixture.codec, &value);
    if let Some((record, old_key)) = decode(&fixture.codec, &sealed, now, 0) {
        assert!(!old_key);
        check_record(fixture, &sealed, &record, now);
    }
}

fn check_record(fixture: &Fixture, sealed: &str, record: &Record, now: OffsetDateTime) {
    assert!(!record.is_expired_at(now), "an expired record was accepted");
    assert!(
        decode(&fixture.codec, sealed, record.expires_at, 0).is_none(),
        "a record was accepted at its expiry"
    );
    let plain = encode(&record.data, record.created_at, record.expires_at, 0);
    assert_eq!(
        encoded_len(
            crate::record::json_len(&record.data),
            record.created_at,
            record.expires_at,
            0
        ),
        plain.len()
    );
    let again = decode(&fixture.codec, &seal(&fixture.codec, &plain), now, 0);
    assert_eq!(
        again,
        Some((record.clone(), false)),
        "a record changed on its way through encode and decode: {plain}"
    );
}

/// A session key as a MongoDB field name: escaping must give a safe field name that unescapes
/// to the key, and a field name that unescapes must be the escaping of what it unescapes to.
#[cfg(feature = "mongodb-store")]
pub fn mongo_key(bytes: &[u8]) {
    let key = text(bytes);
    let field = escape_mongo_key(&key);
    assert!(field.starts_with('~'), "{field:?}");
    assert!(!field.contains(['.', '$', '\0']), "{field:?}");
    assert_eq!(unescape_mongo_key(&field).as_deref(), Some(&*key));
    if let Some(unescaped) = unescape_mongo_key(&key) {
        assert_eq!(
            escape_mongo_key(&unescaped),
            key,
            "{key:?} is not canonical"
        );
    }
}

/// The MongoDB field name the session key `key` is stored under.
#[cfg(feature = "mongodb-store")]
pub fn escape_mongo_key(key: &str) -> String {
    crate::stores::mongodb::escape_key(key)
}

/// The session key a MongoDB field name holds, if it is one the store writes.
#[cfg(feature = "mongodb-store")]
pub fn unescape_mongo_key(field: &str) -> Option<String> {
    crate::stores::mongodb::unescape_key(field)
}

/// `IdDigest::from_hex`: it accepts exactly 64 hex digits (either case, as documented), and what
/// it accepts prints back as the lowercase input.
pub fn digest_hex(bytes: &[u8]) {
    let hex = text(bytes);
    let parsed = IdDigest::from_hex(&hex);
    let well_formed = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    assert_eq!(parsed.is_some(), well_formed, "{hex:?}");
    if let Some(digest) = parsed {
        assert_eq!(digest.to_hex(), hex.to_ascii_lowercase());
        assert_eq!(IdDigest::from_hex(&digest.to_hex()), Some(digest));
    }
}

/// The whole path from `Cookie` headers (one per line of `bytes`) to a loaded session, on a
/// memory store and on the cookie store, then the end of a read-only request.
///
/// Checks: a session loads only from a cookie the fixture minted (a known signed id, or a
/// known live plaintext sealed under the ring), and then holds exactly that session's data; a
/// wrong-type read is an error; a new session sends no cookie; a cookie that is sent back
/// carries the same session under the current key.
pub fn session_load(bytes: &[u8]) -> Loaded {
    let fixture = &*FIXTURE;
    let headers = headers(bytes);
    let found = fixture.codec.candidates(headers.iter().copied());

    // Memory store: the one stored id the candidates verify to (the first spelling of it
    // decides whether it is under the old key); none when they name two stored ids or there
    // were more candidates than are tried (ambiguous: a fresh session).
    let mut verified: Vec<(SessionId, &Map<String, Value>, bool)> = Vec::new();
    for value in found.iter() {
        let Some((id, old_key)) = check_signed(fixture, value) else {
            continue;
        };
        if let Some((_, data)) = fixture.known.stored.iter().find(|(known, _)| *known == id)
            && !verified.iter().any(|(seen, _, _)| *seen == id)
        {
            verified.push((id, data, old_key));
        }
    }
    let expected = if found.overflowed() || verified.len() != 1 {
        None
    } else {
        verified.pop()
    };
    let session = fixture.memory.session(headers.iter().copied());
    let entries = block_on(session.entries()).expect("the memory store does not fail");
    let set_cookie = read_and_finish(&fixture.memory, &session, &entries);
    let memory = expected.is_some();
    match expected {
        None => {
            assert!(
                entries.is_empty(),
                "a session was loaded from an unknown cookie"
            );
            assert!(
                set_cookie.is_none(),
                "a new read-only session sent a cookie"
            );
        }
        Some((id, data, old_key)) => {
            assert_eq!(&entries, data);
            assert!(
                set_cookie.is_some() || !old_key,
                "not re-issued under the current key"
            );
            if let Some(value) = set_cookie {
                assert_eq!(fixture.codec.verify_id(&value), Some((id, false)));
            }
        }
    }

    // Cookie store: the one live minted record the candidates hold, as for the memory store.
    let mut opened: Vec<(String, &Map<String, Value>, bool)> = Vec::new();
    for value in found.iter() {
        let Some((plain, old_key)) = check_private(fixture, value) else {
            continue;
        };
        if plain == fixture.known.expired {
            continue;
        }
        let Some((_, data)) = fixture.known.live.iter().find(|(live, _)| *live == plain) else {
            panic!("the ring opened a cookie the fixture never sealed: {plain:?}")
        };
        if !opened.iter().any(|(seen, _, _)| *seen == plain) {
            opened.push((plain, data, old_key));
        }
    }
    let expected = if found.overflowed() || opened.len() != 1 {
        None
    } else {
        opened.pop().map(|(_, data, old_key)| (data, old_key))
    };
    let session = fixture.cookie.session(headers.iter().copied());
    let entries = block_on(session.entries()).expect("the cookie store does not fail");
    let set_cookie = read_and_finish(&fixture.cookie, &session, &entries);
    let cookie = expected.is_some();
    match expected {
        None => {
            assert!(
                entries.is_empty(),
                "a session was loaded from an unknown cookie"
            );
            assert!(
                set_cookie.is_none(),
                "a new read-only session sent a cookie"
            );
        }
        Some((data, old_key)) => {
            assert_eq!(&entries, data);
            assert!(
                set_cookie.is_some() || !old_key,
                "not re-issued under the current key"
            );
            if let Some(value) = set_cookie {
                let reissued = decode(&fixture.codec, &value, OffsetDateTime::now_utc(), 0);
                assert!(reissued.is_some_and(|(record, old)| !old && &record.data == data));
            }
        }
    }
    Loaded { memory, cookie }
}

/// Which stores loaded a session in [`session_load`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The memory store loaded one of its known sessions.
    pub memory: bool,
    /// The cookie store loaded a live minted cookie.
    pub cookie: bool,
}

/// Reads the session as a handler might, finishes the request, and returns the cookie value
/// sent, if any.
fn read_and_finish(
    manager: &SessionManager,
    session: &crate::Session,
    entries: &Map<String, Value>,
) -> Option<String> {
    let is_new = block_on(session.is_new()).expect("loaded already");
    assert_eq!(
        is_new,
        entries.is_empty(),
        "the known sessions all hold data"
    );
    for (key, value) in entries {
        let read = block_on(session.get::<Value>(key)).expect("any value reads as a Value");
        assert_eq!(read.as_ref(), Some(value));
        if !value.is_string() {
            let wrong = block_on(session.get::<String>(key));
            assert!(wrong.is_err(), "{value} read as a String");
        }
    }
    assert_eq!(block_on(session.get::<u64>("absent")).ok(), Some(None));
    let set_cookie = block_on(manager.finish(session, 200)).expect("these stores do not fail")?;
    let pair = set_cookie.as_str().split(';').next().unwrap_or_default();
    Some(pair.strip_prefix("session=").unwrap_or_default().to_owned())
}

/// Realistic inputs for every target: real cookies minted under the fixture's keys (so the
/// fuzzer starts past the signatures it cannot forge), real payloads, and the edge cases each
/// parser has.
pub fn seeds() -> Vec<Seed> {
    let fixture = &*FIXTURE;
    let known = &fixture.known;
    let signed = fixture.codec.sign_id(&known.stored[0].0);
    let signed_old = fixture.old_codec.sign_id(&known.stored[1].0);
    let sealed = seal(&fixture.codec, &known.live[0].0);
    let sealed_old = seal(&fixture.old_codec, &known.live[1].0);
    let sealed_expired = seal(&fixture.codec, &known.expired);
    let unsigned = known.stored[0].0.encode();
    let oversized = format!("session={}", "A".repeat(MAX_VALUE_LEN + 1));
    let digest = known.stored[0].0.digest().to_hex();
    let nested = json!({"v": 1, "c": LIVE_CREATED, "e": LIVE_EXPIRES, "d": {
        "a": {"b": [1, -2, 3.5, 1e300, "x", null, true, {"c": {}}]},
        "big": u64::MAX, "neg": i64::MIN, "tiny": 5e-324, "ключ 🔑": "\u{0}\"\\",
    }})
    .to_string();

    let seed = |target, name, bytes: &[u8]| Seed {
        target,
        name,
        bytes: bytes.to_vec(),
    };
    let pair = |value: &str| format!("session={value}");
    vec![
        seed("cookie_header", "signed", pair(&signed).as_bytes()),
        seed(
            "cookie_header",
            "among-others",
            format!("theme=dark; session={signed_old}; _ga=GA1.2.3.4").as_bytes(),
        ),
        seed(
            "cookie_header",
            "quoted-private",
            format!("session=\"{sealed}\"").as_bytes(),
        ),
        seed(
            "cookie_header",
            "two-headers",
            format!("a=1; session=junk\nsession={sealed_old}; b=2").as_bytes(),
        ),
        seed(
            "cookie_header",
            "malformed",
            b";;=;session; session=; =x; session=\xff\xfe",
        ),
        seed("cookie_header", "oversized", oversized.as_bytes()),
        seed("signed_id", "current-key", signed.as_bytes()),
        seed("signed_id", "previous-key", signed_old.as_bytes()),
        seed("signed_id", "unsigned", unsigned.as_bytes()),
        seed("signed_id", "truncated", &signed.as_bytes()[..50]),
        seed("private_cookie", "current-key", sealed.as_bytes()),
        seed("private_cookie", "previous-key", sealed_old.as_bytes()),
        seed("private_cookie", "plaintext", known.live[0].0.as_bytes()),
        seed("private_cookie", "short", b"AAAA"),
        seed("cookie_store_record", "sealed", sealed.as_bytes()),
        seed(
            "cookie_store_record",
            "sealed-expired",
            sealed_expired.as_bytes(),
        ),
        seed("cookie_store_record", "payload", known.live[1].0.as_bytes()),
        seed(
            "cookie_store_record",
            "payload-expired",
            known.expired.as_bytes(),
        ),
        seed("cookie_store_record", "payload-nested", nested.as_bytes()),
        seed(
            "cookie_store_record",
            "payload-other-version",
            br#"{"v":2,"c":1700000000,"e":4102444800,"d":{}}"#,
        ),
        seed("mongo_key", "dotted", b"user.name"),
        seed("mongo_key", "operator", b"$set"),
        seed("mongo_key", "escaped", b"~100%25 %2E%24%00"),
        seed("mongo_key", "nul-unicode", "nul\0 ключ 🔑 ~%".as_bytes()),
        seed("digest_hex", "real", digest.as_bytes()),
        seed(
            "digest_hex",
            "upper",
            digest.to_ascii_uppercase().as_bytes(),
        ),
        seed("digest_hex", "short", &digest.as_bytes()[..63]),
        seed(
            "session_load",
            "memory-current-key",
            pair(&signed).as_bytes(),
        ),
        seed(
            "session_load",
            "memory-previous-key-among-junk",
            format!("session=junk; x=1\nsession={signed_old}").as_bytes(),
        ),
        seed(
            "session_load",
            "cookie-current-key",
            pair(&sealed).as_bytes(),
        ),
        seed(
            "session_load",
            "cookie-previous-key",
            pair(&sealed_old).as_bytes(),
        ),
        seed(
            "session_load",
            "expired-then-live",
            format!("session={sealed_expired}; session={signed}").as_bytes(),
        ),
        seed("session_load", "oversized", oversized.as_bytes()),
        seed(
            "session_load",
            "two-known-sessions",
            format!("session={signed}; session={signed_old}").as_bytes(),
        ),
        seed(
            "session_load",
            "one-cookie-twice",
            format!("session={signed}\nsession={signed}").as_bytes(),
        ),
    ]
}
