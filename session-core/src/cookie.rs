//! The cookie codec: finds our cookie in `Cookie` headers, signs and verifies session ids,
//! encrypts and decrypts cookie-store records, and renders `Set-Cookie` values. Encryption is
//! the `cookie` crate's private jar (AES-256-GCM). Signed ids use the `cookie` crate's signed-jar
//! format (base64 of an HMAC-SHA256 of the value, then the value) with its signing key, computed
//! here directly so that the keyed HMAC state is prepared once rather than on every request.

use std::fmt;
use std::sync::Arc;

use ::cookie::{Cookie, CookieJar};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::Duration;

use crate::config::{SameSite, SessionConfig};
use crate::id::SessionId;
use crate::keys::KeyRing;

/// Cookie values longer than this are ignored unread: no browser sends one.
const MAX_VALUE_LEN: usize = 8192;
/// At most this many cookies with our name are tried per request, bounding the work a hostile
/// header can cause.
const MAX_CANDIDATES: usize = 4;
/// Length of the base64 (padded) HMAC-SHA256 tag in front of a signed value.
const TAG_B64_LEN: usize = 44;
/// Length of the raw HMAC-SHA256 tag.
const TAG_LEN: usize = 32;
/// The `Max-Age` attribute as [`CookieCodec::render`] appends it.
const MAX_AGE: &str = "; Max-Age=";
/// The `Max-Age` attribute the size check of cookie-store cookies allows for: ten digits of
/// seconds, over 300 years.
const LONGEST_MAX_AGE: &str = "; Max-Age=9999999999";
/// The largest `Set-Cookie` value browsers are required to keep (RFC 6265, section 6.1).
#[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
pub(crate) const MAX_COOKIE_LEN: usize = 4096;

/// A `Set-Cookie` header value produced by the engine.
///
/// It carries a session token, so `Debug` does not print it; write it into the response with
/// [`as_str`](Self::as_str).
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie {
    value: String,
    removal: bool,
}

impl SetCookie {
    /// The header value, e.g. `session=…; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=86400`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The header value, owned.
    pub fn into_string(self) -> String {
        self.value
    }

    /// Whether this cookie tells the browser to delete the session cookie.
    pub fn is_removal(&self) -> bool {
        self.removal
    }
}

impl fmt::Debug for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetCookie")
            .field("value", &"<redacted>")
            .field("removal", &self.removal)
            .finish()
    }
}

/// Encodes and decodes our cookie under one configuration and key ring.
#[derive(Clone, Debug)]
pub(crate) struct CookieCodec {
    name: String,
    keys: KeyRing,
    /// One keyed HMAC per key of the ring, current first.
    signers: Signers,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    /// The attributes before `Max-Age` (`; HttpOnly; SameSite=Lax; …; Path=/`), as the `cookie`
    /// crate renders them, computed once: a `Set-Cookie` is then a few appends.
    attributes: String,
}

/// The keyed HMAC-SHA256 states of a key ring. They hold key material, so `Debug` shows only
/// how many there are.
#[derive(Clone)]
struct Signers(Arc<[Hmac<Sha256>]>);

impl fmt::Debug for Signers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signers({})", self.0.len())
    }
}

/// The values of the cookies named ours in a request, unverified, in header order: kept in one
/// string, each value followed by `;` (which never occurs inside a value, since it separates the
/// pairs of a `Cookie` header), so a request costs one allocation however many it sends.
#[derive(Default)]
pub(crate) struct Candidates {
    joined: String,
    count: usize,
}

impl Candidates {
    fn push(&mut self, value: &str) {
        // One allocation for the usual single value (`push_str` then `push` would take two).
        self.joined.reserve(value.len() + 1);
        self.joined.push_str(value);
        self.joined.push(';');
        self.count += 1;
    }

    /// How many values there are.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Whether the request sent no cookie named ours.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The values, in the order the request sent them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.joined.split_terminator(';')
    }
}

impl CookieCodec {
    pub(crate) fn new(config: &SessionConfig, keys: KeyRing) -> Self {
        let signers = Signers(
            keys.all()
                .map(|(_, key)| Hmac::<Sha256>::new_from_slice(key.signing()))
                // HMAC takes a key of any length, so this never fails.
                .filter_map(std::result::Result::ok)
                .collect(),
        );
        let mut codec = Self {
            name: config.cookie_name(),
            keys,
            signers,
            path: config.path.clone(),
            domain: config.domain.clone(),
            secure: config.secure,
            http_only: config.http_only,
            same_site: config.same_site,
            attributes: String::new(),
        };
        let template = codec.build(String::new()).to_string();
        codec.attributes = template[codec.name.len() + 1..].to_owned();
        codec
    }

    /// The values of every cookie named ours in the given `Cookie` header values, unverified.
    /// Malformed pairs, non-UTF-8 values and oversized values are skipped.
    pub(crate) fn candidates<'a>(&self, headers: impl IntoIterator<Item = &'a [u8]>) -> Candidates {
        let name = self.name.as_bytes();
        let mut found = Candidates::default();
        for header in headers {
            // memchr finds the separators; only pairs that start with our name are looked at
            // further, so long values of other cookies are scanned once, for `;` only.
            let mut start = 0;
            for end in memchr::memchr_iter(b';', header).chain([header.len()]) {
                let pair = header[start..end].trim_ascii_start();
                start = end + 1;
                let Some(rest) = pair.strip_prefix(name) else {
                    continue;
                };
                let Some(value) = rest.trim_ascii_start().strip_prefix(b"=") else {
                    continue;
                };
                let mut value = value.trim_ascii();
                if let [b'"', inner @ .., b'"'] = value {
                    value = inner;
                }
                if value.is_empty() || value.len() > MAX_VALUE_LEN {
                    continue;
                }
                if let Ok(value) = std::str::from_utf8(value) {
                    found.push(value);
                    if found.count == MAX_CANDIDATES {
                        return found;
                    }
                }
            }
        }
        found
    }

    /// Verifies a signed id cookie value. Returns the id and whether it was signed by an older
    /// key (so the cookie should be re-issued under the current one).
    pub(crate) fn verify_id(&self, value: &str) -> Option<(SessionId, bool)> {
        if !value.is_char_boundary(TAG_B64_LEN) {
            return None;
        }
        let (tag_b64, id) = value.split_at(TAG_B64_LEN);
        // Room for the decoder's worst-case estimate (33 bytes for 44 characters).
        let mut tag = [0u8; TAG_LEN + 1];
        if STANDARD.decode_slice(tag_b64, &mut tag) != Ok(TAG_LEN) {
            return None;
        }
        let index = self.signers.0.iter().position(|signer| {
            let mut mac = signer.clone();
            mac.update(id.as_bytes());
            mac.verify_slice(&tag[..TAG_LEN]).is_ok()
        })?;
        Some((SessionId::decode(id)?, index > 0))
    }

    /// The signed cookie value for `id`, under the current key.
    pub(crate) fn sign_id(&self, id: &SessionId) -> String {
        let id = id.encode();
        let mut value = String::with_capacity(TAG_B64_LEN + id.len());
        if let Some(signer) = self.signers.0.first() {
            let mut mac = signer.clone();
            mac.update(id.as_bytes());
            STANDARD.encode_string(mac.finalize().into_bytes(), &mut value);
        }
        value.push_str(&id);
        value
    }

    /// Decrypts a cookie-store value. Returns the plaintext and whether an older key was used.
    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    pub(crate) fn decrypt(&self, value: &str) -> Option<(String, bool)> {
        let jar = CookieJar::new();
        self.keys.all().find_map(|(index, key)| {
            let cookie = Cookie::new(self.name.clone(), value.to_owned());
            let plain = jar.private(key).decrypt(cookie)?;
            Some((plain.value().to_owned(), index > 0))
        })
    }

    /// Encrypts `plaintext` under the current key; the cookie name is authenticated with it, so
    /// a value cannot be moved to another cookie.
    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    pub(crate) fn encrypt(&self, plaintext: String) -> String {
        let mut jar = CookieJar::new();
        jar.private_mut(self.keys.current())
            .add(Cookie::new(self.name.clone(), plaintext));
        self.take_value(jar)
    }

    fn take_value(&self, jar: CookieJar) -> String {
        jar.get(&self.name)
            .map(|c| c.value().to_owned())
            .unwrap_or_default()
    }

    /// The `Set-Cookie` value carrying `value`; `max_age` is `None` for a browser-session cookie.
    pub(crate) fn set_cookie(&self, value: String, max_age: Option<Duration>) -> SetCookie {
        SetCookie {
            value: self.render(value, max_age),
            removal: false,
        }
    }

    /// The `Set-Cookie` value that makes the browser delete the session cookie.
    pub(crate) fn removal(&self) -> SetCookie {
        let mut cookie = self.build(String::new());
        cookie.make_removal();
        SetCookie {
            value: cookie.to_string(),
            removal: true,
        }
    }

    /// The full `Set-Cookie` length for a cookie-store plaintext of `plain_len` bytes: the
    /// private jar stores base64 (with padding) of nonce (12) + ciphertext + tag (16).
    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    pub(crate) fn encrypted_cookie_len(&self, plain_len: usize) -> usize {
        let sealed = 12 + plain_len + 16;
        self.name.len() + 1 + sealed.div_ceil(3) * 4 + self.attributes.len() + LONGEST_MAX_AGE.len()
    }

    fn build(&self, value: String) -> Cookie<'static> {
        let mut cookie = Cookie::new(self.name.clone(), value);
        cookie.set_path(self.path.clone());
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie.set_secure(self.secure);
        cookie.set_http_only(self.http_only);
        cookie.set_same_site(match self.same_site {
            SameSite::Strict => ::cookie::SameSite::Strict,
            SameSite::Lax => ::cookie::SameSite::Lax,
            SameSite::None => ::cookie::SameSite::None,
        });
        cookie
    }

    /// `name=value` and the attributes, exactly as the `cookie` crate renders
    /// [`build`](Self::build) plus `Max-Age` (which it puts after `Domain`; a test holds the two
    /// equal).
    fn render(&self, value: String, max_age: Option<Duration>) -> String {
        let mut out = String::with_capacity(
            self.name.len() + 1 + value.len() + self.attributes.len() + MAX_AGE.len() + 20,
        );
        out.push_str(&self.name);
        out.push('=');
        out.push_str(&value);
        out.push_str(&self.attributes);
        if let Some(max_age) = max_age {
            out.push_str(MAX_AGE);
            out.push_str(&max_age.max(Duration::ZERO).whole_seconds().to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(config: SessionConfig) -> CookieCodec {
        CookieCodec::new(&config, KeyRing::generate())
    }

    #[test]
    fn finds_our_cookie_among_others_and_across_headers() {
        let c = codec(SessionConfig::default());
        let headers: [&[u8]; 2] = [b"a=1; session=abc ; b=2", b"x=\xff\xfe; session=\"def\""];
        let found = c.candidates(headers);
        assert_eq!(found.iter().collect::<Vec<_>>(), ["abc", "def"]);
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn skips_malformed_empty_non_utf8_and_oversized_values() {
        let c = codec(SessionConfig::default());
        let long = format!("session={}", "a".repeat(MAX_VALUE_LEN + 1));
        let headers: [&[u8]; 5] = [
            b";;;=;session",
            b"session=",
            b"session=\xff\xfe",
            long.as_bytes(),
            b"sessionx=1; xsession=2",
        ];
        let found = c.candidates(headers);
        assert!(found.is_empty());
        assert_eq!(found.iter().count(), 0);
    }

    #[test]
    fn caps_the_number_of_candidates() {
        let c = codec(SessionConfig::default());
        let header = "session=x; ".repeat(100);
        let found = c.candidates([header.as_bytes()]);
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert_eq!(found.iter().collect::<Vec<_>>(), ["x"; MAX_CANDIDATES]);
    }

    #[test]
    fn signed_ids_verify_and_tampering_is_rejected() {
        let c = codec(SessionConfig::default());
        let id = SessionId::generate().unwrap();
        let signed = c.sign_id(&id);
        assert_eq!(c.verify_id(&signed), Some((id.clone(), false)));

        let mut tampered = signed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(c.verify_id(std::str::from_utf8(&tampered).unwrap()), None);
        assert_eq!(c.verify_id(&signed[..40]), None);
        assert_eq!(c.verify_id(&id.encode()), None, "an unsigned id is refused");
        assert_eq!(c.verify_id("é".repeat(30).as_str()), None);
    }

    #[test]
    fn signed_ids_are_the_cookie_crates_signed_jar_format() {
        // Cookies issued before the codec computed the HMAC itself must still verify, and the
        // other way round.
        let keys = KeyRing::generate();
        let c = CookieCodec::new(&SessionConfig::default(), keys.clone());
        let id = SessionId::generate().unwrap();
        let mut jar = CookieJar::new();
        jar.signed_mut(keys.current())
            .add(Cookie::new("session", id.encode()));
        let by_jar = jar.get("session").unwrap().value().to_owned();
        assert_eq!(c.sign_id(&id), by_jar);
        assert_eq!(c.verify_id(&by_jar), Some((id.clone(), false)));
        let verified = CookieJar::new()
            .signed(keys.current())
            .verify(Cookie::new("session", c.sign_id(&id)))
            .unwrap();
        assert_eq!(verified.value(), id.encode());
    }

    #[test]
    fn ids_signed_by_an_unknown_key_are_rejected() {
        let ours = codec(SessionConfig::default());
        let theirs = codec(SessionConfig::default());
        let id = SessionId::generate().unwrap();
        assert_eq!(ours.verify_id(&theirs.sign_id(&id)), None);
    }

    #[test]
    fn older_keys_verify_and_ask_for_reissue() {
        let old = KeyRing::from_secret(&[1; 32]).unwrap();
        let new = KeyRing::from_secret(&[2; 32])
            .unwrap()
            .with_previous(&[1; 32])
            .unwrap();
        let config = SessionConfig::default();
        let id = SessionId::generate().unwrap();
        let signed_old = CookieCodec::new(&config, old).sign_id(&id);
        let rotated = CookieCodec::new(&config, new);
        assert_eq!(rotated.verify_id(&signed_old), Some((id.clone(), true)));
        assert_eq!(rotated.verify_id(&rotated.sign_id(&id)), Some((id, false)));
    }

    #[test]
    fn private_values_round_trip_and_are_bound_to_the_cookie_name() {
        let keys = KeyRing::generate();
        let a = CookieCodec::new(&SessionConfig::default(), keys.clone());
        let b = CookieCodec::new(&SessionConfig::default().with_cookie_name("other"), keys);
        let sealed = a.encrypt("hello".into());
        assert!(!sealed.contains("hello"));
        assert_eq!(a.decrypt(&sealed), Some(("hello".into(), false)));
        assert_eq!(b.decrypt(&sealed), None);
        assert_eq!(a.decrypt("not base64!"), None);
        assert_eq!(a.decrypt("AAAA"), None);
    }

    #[test]
    fn set_cookie_renders_as_the_cookie_crate_does() {
        let configs = [
            SessionConfig::default(),
            SessionConfig::default()
                .with_secure(false)
                .with_same_site(SameSite::Strict),
            SessionConfig::default()
                .with_http_only(false)
                .with_same_site(SameSite::None)
                .with_domain("example.com")
                .with_path("/app"),
            SessionConfig::default()
                .with_secure(false)
                .with_same_site(SameSite::None)
                .with_cookie_name("__sid"),
        ];
        for config in configs {
            let c = codec(config);
            for max_age in [
                None,
                Some(Duration::ZERO),
                Some(Duration::seconds(-5)),
                Some(Duration::days(400)),
            ] {
                let mut expected = c.build("value.x-_".into());
                if let Some(max_age) = max_age {
                    expected.set_max_age(max_age.max(Duration::ZERO));
                }
                assert_eq!(
                    c.set_cookie("value.x-_".into(), max_age).into_string(),
                    expected.to_string()
                );
            }
        }
    }

    #[test]
    fn set_cookie_has_the_default_attributes() {
        let c = codec(SessionConfig::default());
        let header = c
            .set_cookie("v".into(), Some(Duration::seconds(60)))
            .into_string();
        for part in [
            "session=v",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(header.contains(part), "{header} lacks {part}");
        }
        assert!(!header.contains("Domain"));
        let browser = c.set_cookie("v".into(), None).into_string();
        assert!(!browser.contains("Max-Age") && !browser.contains("Expires"));
    }

    #[test]
    fn removal_cookie_expires_at_once() {
        let c = codec(
            SessionConfig::default()
                .with_domain("example.com")
                .with_path("/app"),
        );
        let removal = c.removal();
        assert!(removal.is_removal());
        let header = removal.as_str();
        for part in ["session=;", "Max-Age=0", "Path=/app", "Domain=example.com"] {
            assert!(header.contains(part), "{header} lacks {part}");
        }
    }

    #[test]
    fn predicted_size_matches_the_real_cookie() {
        let c = codec(SessionConfig::default());
        for len in [0, 1, 2, 3, 100, 1000] {
            let value = c.encrypt("x".repeat(len));
            let header = c.set_cookie(value, Some(Duration::seconds(9_999_999_999)));
            assert_eq!(c.encrypted_cookie_len(len), header.as_str().len(), "{len}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let c = codec(SessionConfig::default());
        let cookie = c.set_cookie("secret-token".into(), None);
        assert!(!format!("{cookie:?}").contains("secret-token"));
    }
}
