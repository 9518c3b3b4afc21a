//! The cookie codec: finds our cookie in `Cookie` headers, signs and verifies session ids,
//! encrypts and decrypts cookie-store records, and renders `Set-Cookie` values. Both formats are
//! the `cookie` crate's, under its keys: signed ids are its signed jar's (base64 of an
//! HMAC-SHA256 of the value, then the value), and sealed records its private jar's (base64 of a
//! 12-byte nonce, the AES-256-GCM ciphertext and its tag, with the cookie name as associated
//! data). Both are computed here directly, so that each key's HMAC state and AES key schedule
//! are prepared once rather than on every request; the tests check every value against the
//! jars themselves.
//!
//! **Spelling.** Both jars write standard base64 (`+`, `/`, `=`), which many clients and
//! proxies percent-encode (actix-web's test requests, awc, tower-cookies' `encoded()`): `%2B`,
//! `%2F`, `%3D`. So the values we send are the jars' output with the base64 transcoded to
//! `-`, `_` and `.`, characters nobody encodes: a signed id is `<43-character tag>.<id>`. A value
//! is read back percent-decoded (if it holds a `%`) and in either alphabet, so cookies issued in
//! the jars' own spelling before this change still work; a value mixing the alphabets is
//! refused. The cryptography is untouched: the bytes the jars produce and check are the same.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use ::cookie::Cookie;
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::Duration;

use crate::config::{SameSite, SessionConfig};
use crate::error::Error;
use crate::id::SessionId;
use crate::keys::KeyRing;

/// Cookie values longer than this are ignored unread: no browser sends one.
const MAX_VALUE_LEN: usize = 8192;
/// At most this many distinct cookies with our name are tried per request, bounding the work a
/// hostile header can cause; a request with more gets a fresh session (see
/// `Shared::load`: it cannot tell which one is the browser's own).
const MAX_CANDIDATES: usize = 4;
/// Length of the base64 (padded) HMAC-SHA256 tag in front of a signed value: 43 characters and
/// one of padding (`=`, which we send as `.`).
pub(crate) const TAG_B64_LEN: usize = 44;
/// Length of the raw HMAC-SHA256 tag.
const TAG_LEN: usize = 32;
/// Length of the AES-GCM nonce in front of a private-jar value.
const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag behind its ciphertext.
const GCM_TAG_LEN: usize = 16;
/// The `Max-Age` attribute as [`CookieCodec::render`] appends it.
const MAX_AGE: &str = "; Max-Age=";
/// The `Max-Age` attribute the size check of cookie-store cookies allows for: ten digits of
/// seconds, over 300 years.
const LONGEST_MAX_AGE: &str = "; Max-Age=9999999999";
/// The largest `Set-Cookie` value browsers are required to keep (RFC 6265, section 6.1).
#[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
pub(crate) const MAX_COOKIE_LEN: usize = 4096;

/// The response header the engine sends the session in: a `Set-Cookie` value, or, for a
/// request that came with a [token header](crate::SessionConfig::with_token_header), the bare
/// token in the configured response header.
///
/// It carries a session token, so `Debug` does not print it; write it into the response under
/// [`header_name`](Self::header_name) with [`as_str`](Self::as_str).
#[derive(Clone, PartialEq, Eq)]
pub struct SetCookie {
    value: String,
    /// Where the cookie's value (the token) stands in `value`; empty for a removal.
    token: std::ops::Range<usize>,
    removal: bool,
    /// The token header's response name; `None` for `Set-Cookie`.
    header: Option<String>,
}

impl SetCookie {
    /// The header value, e.g. `session=…; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=86400`,
    /// or the bare token (empty when the session ended) in a token header.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The name of the response header to send the value in, in lower case: `set-cookie`, or
    /// the token header's [response header](crate::TokenHeader::response_header).
    pub fn header_name(&self) -> &str {
        self.header.as_deref().unwrap_or("set-cookie")
    }

    /// Whether this goes in the token header rather than in `Set-Cookie`.
    pub fn is_token_header(&self) -> bool {
        self.header.is_some()
    }

    /// The same session in the token response header `name`: the cookie's value alone, or
    /// empty for a removal.
    pub(crate) fn into_token_header(mut self, name: &str) -> Self {
        self.value.truncate(self.token.end);
        self.value.drain(..self.token.start);
        Self {
            token: 0..self.value.len(),
            header: Some(name.to_owned()),
            ..self
        }
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
            .field("header", &self.header_name())
            .field("value", &"<redacted>")
            .field("removal", &self.removal)
            .finish()
    }
}

/// Encodes and decodes our cookie under one configuration and key ring.
#[derive(Clone, Debug)]
pub(crate) struct CookieCodec {
    name: String,
    /// One keyed HMAC per key of the ring, current first.
    signers: PerKey<Hmac<Sha256>>,
    /// One AES-256-GCM cipher per key of the ring (its encryption half, as the private jar
    /// uses it), current first.
    sealers: PerKey<Aes256Gcm>,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    /// The attributes before `Max-Age` (`; HttpOnly; SameSite=Lax; …; Path=/`), as the `cookie`
    /// crate renders them, computed once: a `Set-Cookie` is then a few appends.
    attributes: String,
}

/// One prepared primitive per key of a ring, current first: the keyed HMAC-SHA256 states that
/// sign ids, or the AES-256-GCM ciphers that seal records. They hold key material, so `Debug`
/// shows only how many there are.
#[derive(Clone)]
struct PerKey<T>(Arc<[T]>);

impl<T> PerKey<T> {
    /// `prepare` applied to every key of `keys`; a key it refuses is left out.
    fn new<E>(keys: &KeyRing, prepare: impl Fn(&::cookie::Key) -> Result<T, E>) -> Self {
        Self(
            keys.all()
                .filter_map(|(_, key)| prepare(key).ok())
                .collect(),
        )
    }
}

impl<T> fmt::Debug for PerKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PerKey({})", self.0.len())
    }
}

/// The values of the cookies named ours in a request, unverified, in header order: kept in one
/// string, each value followed by `;` (which never occurs inside a value, since it separates the
/// pairs of a `Cookie` header), so a request costs one allocation however many it sends.
#[derive(Default)]
pub(crate) struct Candidates {
    joined: String,
    count: usize,
    /// The request sent more distinct values than are tried: the ones left out could hold
    /// another session, so none can be trusted to be the browser's own (cookie tossing).
    overflow: bool,
    /// The request carried the token header (with a token or not): answer in it.
    via_header: bool,
}

impl Candidates {
    /// Adds a value unless it is already there; `false` if the candidates are full.
    fn add(&mut self, value: &str) -> bool {
        if self.iter().any(|known| known == value) {
            return true;
        }
        if self.count == MAX_CANDIDATES {
            self.overflow = true;
            return false;
        }
        self.push(value);
        true
    }

    /// Whether the request carried the token header, so the response goes in it too.
    pub(crate) fn via_header(&self) -> bool {
        self.via_header
    }

    /// Adds the tokens of the request's token header values (raw bytes, as received): the
    /// bare token, or with `bearer` the token after the `Bearer` scheme (RFC 6750). A value of
    /// another scheme is not ours and is ignored; an empty one (or `Bearer` alone) only asks for
    /// an answer in the header.
    pub(crate) fn add_tokens<'a>(
        &mut self,
        values: impl IntoIterator<Item = &'a [u8]>,
        bearer: bool,
    ) {
        for value in values {
            let mut token = value.trim_ascii();
            if bearer {
                let scheme = token.len().min(6);
                if !token[..scheme].eq_ignore_ascii_case(b"bearer")
                    || token.get(6).is_some_and(|b| !b.is_ascii_whitespace())
                {
                    continue;
                }
                token = token[scheme..].trim_ascii();
            }
            self.via_header = true;
            // `;` separates the joined values, and no token holds one.
            if token.is_empty() || token.len() > MAX_VALUE_LEN || token.contains(&b';') {
                continue;
            }
            if let Ok(token) = std::str::from_utf8(token)
                && !self.add(token)
            {
                return;
            }
        }
    }

    /// Whether the request sent more distinct values than are tried.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflow
    }

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
        // HMAC takes a key of any length, and the encryption half of a `cookie::Key` is always
        // 32 bytes, so neither leaves a key out.
        let signers = PerKey::new(&keys, |key| {
            <Hmac<Sha256> as Mac>::new_from_slice(key.signing())
        });
        let sealers = PerKey::new(&keys, |key| Aes256Gcm::new_from_slice(key.encryption()));
        let mut codec = Self {
            name: config.cookie_name(),
            signers,
            sealers,
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
                if let Ok(value) = std::str::from_utf8(value)
                    && !found.add(value)
                {
                    return found;
                }
            }
        }
        found
    }

    /// Verifies a signed id cookie value, in either spelling, percent-encoded or not. Returns
    /// the id and whether it was signed by an older key (so the cookie should be re-issued
    /// under the current one).
    pub(crate) fn verify_id(&self, value: &str) -> Option<(SessionId, bool)> {
        let value = percent_decoded(value)?;
        if !value.is_char_boundary(TAG_B64_LEN) {
            return None;
        }
        let (tag_b64, id) = value.split_at(TAG_B64_LEN);
        let (decoder, tag_b64) = base64_decoder(tag_b64.as_bytes())?;
        // On the stack, with room for the decoder's worst-case estimate (33 bytes for 44
        // characters).
        let mut tag = [0u8; TAG_LEN + 1];
        if decoder.decode_slice(tag_b64, &mut tag) != Ok(TAG_LEN) {
            return None;
        }
        let index = self.signers.0.iter().position(|signer| {
            let mut mac = signer.clone();
            mac.update(id.as_bytes());
            mac.verify_slice(&tag[..TAG_LEN]).is_ok()
        })?;
        Some((SessionId::decode(id)?, index > 0))
    }

    /// The signed cookie value for `id`, under the current key: the signed-jar format, URL-safe
    /// (`<tag>.<id>`, see the module docs).
    pub(crate) fn sign_id(&self, id: &SessionId) -> String {
        let id = id.encode();
        let mut value = String::with_capacity(TAG_B64_LEN + id.len());
        if let Some(signer) = self.signers.0.first() {
            let mut mac = signer.clone();
            mac.update(id.as_bytes());
            // What the jar writes (standard base64, padded), transcoded: `+/=` as `-_.`.
            URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut value);
            value.push('.');
        }
        value.push_str(&id);
        value
    }

    /// Decrypts a cookie-store value, in either spelling, percent-encoded or not. Returns the
    /// plaintext and whether an older key was used.
    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    pub(crate) fn decrypt(&self, value: &str) -> Option<(String, bool)> {
        let value = percent_decoded(value)?;
        // The private jar's format: standard base64 of nonce, ciphertext and tag, the cookie
        // name as associated data. Opened here with each key's prepared cipher, where the jar
        // would expand the key again for every cookie.
        let mut sealed = Vec::with_capacity(value.len() / 4 * 3 + 3);
        decode_base64(value.as_bytes(), &mut sealed)?;
        if sealed.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::from_slice(nonce);
        self.sealers
            .0
            .iter()
            .enumerate()
            .find_map(|(index, cipher)| {
                let payload = Payload {
                    msg: ciphertext,
                    aad: self.name.as_bytes(),
                };
                let plain = cipher.decrypt(nonce, payload).ok()?;
                Some((String::from_utf8(plain).ok()?, index > 0))
            })
    }

    /// Encrypts `plaintext` under the current key; the cookie name is authenticated with it, so
    /// a value cannot be moved to another cookie. The private jar's format (base64 of nonce,
    /// ciphertext and tag), URL-safe (see the module docs), sealed with the prepared cipher and
    /// a nonce from the session-id generator. Fails only if the operating system's random
    /// number generator does.
    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    pub(crate) fn encrypt(&self, plaintext: &str) -> Result<String, Error> {
        let nonce = SessionId::nonce()?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + GCM_TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext.as_bytes());
        let Some(cipher) = self.sealers.0.first() else {
            return Err(Error::Encrypt);
        };
        let tag = cipher
            .encrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                self.name.as_bytes(),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| Error::Encrypt)?;
        sealed.extend_from_slice(&tag);
        // The jars' padded standard base64, in our alphabet: `-`, `_`, and `.` for padding.
        let mut value = URL_SAFE_NO_PAD.encode(&sealed);
        while !value.len().is_multiple_of(4) {
            value.push('.');
        }
        Ok(value)
    }

    /// The `Set-Cookie` value carrying `value`; `max_age` is `None` for a browser-session cookie.
    pub(crate) fn set_cookie(&self, value: String, max_age: Option<Duration>) -> SetCookie {
        let start = self.name.len() + 1;
        SetCookie {
            token: start..start + value.len(),
            value: self.render(value, max_age),
            removal: false,
            header: None,
        }
    }

    /// The `Set-Cookie` value that makes the browser delete the session cookie.
    pub(crate) fn removal(&self) -> SetCookie {
        let mut cookie = self.build(String::new());
        cookie.make_removal();
        SetCookie {
            value: cookie.to_string(),
            token: 0..0,
            removal: true,
            header: None,
        }
    }

    /// The full `Set-Cookie` length for a cookie-store plaintext of `plain_len` bytes: the
    /// private jar stores base64 (with padding, which we send as `.`) of nonce (12) +
    /// ciphertext + tag (16).
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

/// `value` with its `%XX` escapes decoded, if it has any; `None` if an escape is malformed or
/// the result is not UTF-8. No value we send holds a `%`, so a `%` can only come from a client
/// that percent-encoded the value.
fn percent_decoded(value: &str) -> Option<Cow<'_, str>> {
    if !value.contains('%') {
        return Some(Cow::Borrowed(value));
    }
    let mut bytes = value.bytes();
    let mut out = Vec::with_capacity(value.len());
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let hex = |digit: Option<u8>| char::from(digit?).to_digit(16);
            let high = hex(bytes.next())?;
            let low = hex(bytes.next())?;
            // Two hex digits make at most 255.
            out.push(u8::try_from(high * 16 + low).ok()?);
        } else {
            out.push(byte);
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// The decoder for base64 as we send it (`-`, `_`, `.` for padding) or as the jars write it
/// (`+`, `/`, `=`), padded canonically either way, and the part of `text` it decodes; `None` if
/// `text` cannot be ours. The decoder refuses the rest: text that mixes the two alphabets
/// (which neither we nor the jars ever wrote), misplaced padding, stray characters. One
/// vectorised scan picks the alphabet, so a 4 KiB cookie is not copied or rewritten first.
fn base64_decoder(text: &[u8]) -> Option<(&'static GeneralPurpose, &[u8])> {
    if memchr::memchr3(b'-', b'_', b'.', text).is_none() {
        return Some((&STANDARD, text));
    }
    // Ours: the padding is up to two `.` at the end, and the whole is whole quads, as the
    // jars' padded output is. The URL-safe decoder without padding refuses `+`, `/`, `=` and
    // a `.` anywhere else.
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let body = text.strip_suffix(b"..").or_else(|| text.strip_suffix(b"."));
    Some((&URL_SAFE_NO_PAD, body.unwrap_or(text)))
}

/// `text` decoded as [`base64_decoder`] reads it, appended to `out`.
fn decode_base64(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let (decoder, body) = base64_decoder(text)?;
    decoder.decode_vec(body, out).ok()
}

#[cfg(test)]
mod tests {
    use ::cookie::CookieJar;

    use super::*;

    /// Turns the jars' standard base64 into the spelling we send, in place: `+`, `/` and the `=`
    /// padding become `-`, `_` and `.`, which no client percent-encodes.
    fn to_url_safe(base64: &mut [u8]) {
        for byte in base64 {
            *byte = match *byte {
                b'+' => b'-',
                b'/' => b'_',
                b'=' => b'.',
                other => other,
            };
        }
    }

    /// A codec for `config`, with the cookie named plainly `session` unless the test asks for
    /// the `__Host-` prefix itself.
    fn codec(mut config: SessionConfig) -> CookieCodec {
        config.host_prefix.get_or_insert(false);
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
    fn caps_the_number_of_candidates_and_flags_the_overflow() {
        let c = codec(SessionConfig::default());
        let name = c.name.clone();
        let header: String = (0..100).map(|i| format!("{name}=v{i}; ")).collect();
        let found = c.candidates([header.as_bytes()]);
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert_eq!(found.iter().collect::<Vec<_>>(), ["v0", "v1", "v2", "v3"]);
        assert!(found.overflowed());

        let exactly: String = (0..MAX_CANDIDATES)
            .map(|i| format!("{name}=v{i}; "))
            .collect();
        assert!(!c.candidates([exactly.as_bytes()]).overflowed());
    }

    #[test]
    fn repeated_values_count_once() {
        let c = codec(SessionConfig::default());
        let header = format!("{}=x; ", c.name).repeat(100);
        let found = c.candidates([header.as_bytes()]);
        assert_eq!(found.iter().collect::<Vec<_>>(), ["x"]);
        assert!(!found.overflowed());
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

    /// `value` as the jars spell it: our `-`, `_`, `.` back to `+`, `/`, `=`.
    fn jar_spelling(value: &str) -> String {
        value.replace('-', "+").replace('_', "/").replace('.', "=")
    }

    #[test]
    fn signed_ids_are_the_cookie_crates_signed_jar_format_spelled_url_safe() {
        // What the signed jar writes, with its base64 tag transcoded: `<tag>.<id>`. Cookies the
        // jar wrote (as we sent them before) still verify, and what we send, spelled back, is
        // what the jar verifies.
        let keys = KeyRing::generate();
        let c = CookieCodec::new(&SessionConfig::default(), keys.clone());
        for _ in 0..64 {
            let id = SessionId::generate().unwrap();
            let mut jar = CookieJar::new();
            jar.signed_mut(keys.current())
                .add(Cookie::new("session", id.encode()));
            let by_jar = jar.get("session").unwrap().value().to_owned();
            let signed = c.sign_id(&id);
            assert_eq!(signed.len(), by_jar.len());
            assert_eq!(&signed[TAG_B64_LEN - 1..TAG_B64_LEN], ".", "{signed}");
            assert_eq!(&signed[TAG_B64_LEN..], id.encode());
            let mut tag = by_jar.as_bytes()[..TAG_B64_LEN].to_vec();
            to_url_safe(&mut tag);
            assert_eq!(
                &signed.as_bytes()[..TAG_B64_LEN],
                tag,
                "the jar's tag, transcoded"
            );
            assert_eq!(
                c.verify_id(&by_jar),
                Some((id.clone(), false)),
                "the old spelling"
            );
            assert_eq!(c.verify_id(&signed), Some((id.clone(), false)));
            let tag_back = jar_spelling(&signed[..TAG_B64_LEN]);
            let verified = CookieJar::new()
                .signed(keys.current())
                .verify(Cookie::new("session", format!("{tag_back}{}", id.encode())))
                .unwrap();
            assert_eq!(verified.value(), id.encode());
        }
    }

    #[test]
    fn private_values_are_the_private_jars_spelled_url_safe() {
        let keys = KeyRing::generate();
        let c = CookieCodec::new(&SessionConfig::default(), keys.clone());
        let name = c.name.clone();
        let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        for len in 0..48 {
            let plain = "x".repeat(len);
            let sealed = c.encrypt(&plain).unwrap();
            assert!(sealed.bytes().all(safe), "{sealed}");
            let opened = CookieJar::new()
                .private(keys.current())
                .decrypt(Cookie::new(name.clone(), jar_spelling(&sealed)))
                .unwrap();
            assert_eq!(opened.value(), plain, "the jar opens it, spelled back");

            // As the private jar seals it (and as we sent it before).
            let mut jar = CookieJar::new();
            jar.private_mut(keys.current())
                .add(Cookie::new(name.clone(), plain.clone()));
            let by_jar = jar.get(&name).unwrap().value().to_owned();
            assert_eq!(c.decrypt(&by_jar), Some((plain, false)), "the old spelling");
        }
    }

    #[test]
    fn percent_encoded_values_are_read_and_malformed_escapes_refused() {
        let keys = KeyRing::generate();
        let config = SessionConfig::default().with_host_prefix(false);
        let c = CookieCodec::new(&config, keys.clone());
        let id = SessionId::generate().unwrap();
        let signed = c.sign_id(&id);
        let sealed = c.encrypt("hello").unwrap();
        let mut jar = CookieJar::new();
        jar.signed_mut(keys.current())
            .add(Cookie::new("session", id.encode()));
        let old_signed = jar.get("session").unwrap().value().to_owned();
        let all = |value: &str| {
            value
                .bytes()
                .map(|b| format!("%{b:02x}"))
                .collect::<String>()
        };
        let encoded = |value: &str| {
            Cookie::new("session", value).encoded().to_string()["session=".len()..].to_owned()
        };
        assert!(encoded(&old_signed).contains("%3D"), "{old_signed}");
        for value in [all(&signed), encoded(&old_signed), all(&old_signed)] {
            assert_eq!(c.verify_id(&value), Some((id.clone(), false)), "{value}");
        }
        assert_eq!(c.decrypt(&all(&sealed)), Some(("hello".into(), false)));
        assert_eq!(
            c.decrypt(&encoded(&jar_spelling(&sealed))),
            Some(("hello".into(), false))
        );

        for bad in ["%", "%4", "%zz", "%g0", "a%", "%C3"] {
            assert_eq!(percent_decoded(bad), None, "{bad:?}");
        }
        assert_eq!(percent_decoded("a%2Fb%2fc%25").as_deref(), Some("a/b/c%"));
        assert!(matches!(
            percent_decoded("plain"),
            Some(Cow::Borrowed("plain"))
        ));
        let truncated = &all(&signed)[..all(&signed).len() - 1];
        assert_eq!(c.verify_id(truncated), None);
    }

    #[test]
    fn values_mixing_the_two_alphabets_are_refused() {
        let c = codec(SessionConfig::default());
        let ours = |text: &str| text.matches(['-', '_', '.']).count();
        // A signed id with `-` or `_` in its tag, and a sealed value with two characters of
        // our alphabet: one of them swapped for its standard twin leaves a mix.
        let signed = std::iter::repeat_with(|| c.sign_id(&SessionId::generate().unwrap()))
            .find(|signed| ours(&signed[..TAG_B64_LEN]) >= 2)
            .unwrap();
        let sealed = std::iter::repeat_with(|| c.encrypt("hello").unwrap())
            .find(|sealed| ours(sealed) >= 2)
            .unwrap();
        for (value, tag_len) in [(&signed, TAG_B64_LEN), (&sealed, sealed.len())] {
            let standard = jar_spelling(&value[..tag_len]);
            let at = value.find(['-', '_', '.']).unwrap();
            let mut mixed = value.clone().into_bytes();
            mixed[at] = standard.as_bytes()[at];
            let mixed = String::from_utf8(mixed).unwrap();
            assert_eq!(c.verify_id(&mixed), None, "{mixed}");
            assert_eq!(c.decrypt(&mixed), None, "{mixed}");
        }
        assert!(c.verify_id(&signed).is_some());
        assert!(c.decrypt(&sealed).is_some());
    }

    /// The reference the one-scan decoder must equal: transcode our alphabet to the standard
    /// one unless the text mixes them, then decode standard, canonically padded, base64.
    fn decode_by_transcoding(text: &[u8]) -> Option<Vec<u8>> {
        let ours = text.iter().any(|b| matches!(b, b'-' | b'_' | b'.'));
        let theirs = text.iter().any(|b| matches!(b, b'+' | b'/' | b'='));
        if ours && theirs {
            return None;
        }
        let standard: Vec<u8> = text
            .iter()
            .map(|b| match b {
                b'-' => b'+',
                b'_' => b'/',
                b'.' => b'=',
                other => *other,
            })
            .collect();
        STANDARD.decode(standard).ok()
    }

    proptest::proptest! {
        #[test]
        fn base64_in_either_alphabet_decodes_as_transcoding_would(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            edits in proptest::collection::vec((0usize..64, "[-_.+/=A-Za-z0-9]"), 0..3),
            url_safe: bool,
        ) {
            // Valid text in either spelling, then a few characters replaced, so padding in the
            // middle, a stray `=`, a missing `.` and mixed alphabets all come up.
            let mut text = STANDARD.encode(&bytes).into_bytes();
            if url_safe {
                to_url_safe(&mut text);
            }
            for (at, with) in &edits {
                if !text.is_empty() {
                    let at = at % text.len();
                    text[at] = with.as_bytes()[0];
                }
            }
            let mut decoded = Vec::new();
            let ours = decode_base64(&text, &mut decoded).map(|()| decoded);
            proptest::prop_assert_eq!(ours, decode_by_transcoding(&text));
            if edits.is_empty() {
                proptest::prop_assert_eq!(decode_by_transcoding(&text), Some(bytes));
            }
        }
    }

    #[test]
    fn truncated_padding_is_refused_in_both_alphabets() {
        let mut out = Vec::new();
        assert_eq!(decode_base64(b"QQ==", &mut out), Some(()));
        assert_eq!(out, b"A");
        for bad in [
            &b"QQ="[..],
            b"QQ",
            b"QQ.",
            b"QQ=.",
            b"Q.Q.",
            b"QQ...",
            b"QQ.A",
        ] {
            assert_eq!(decode_base64(bad, &mut Vec::new()), None, "{bad:?}");
        }
        let mut out = Vec::new();
        assert_eq!(decode_base64(b"-_8.", &mut out), Some(()));
        assert_eq!(out, STANDARD.decode("+/8=").unwrap());
    }

    #[test]
    fn every_seal_has_a_fresh_nonce() {
        // GCM under one key is broken by a repeated nonce, so a thousand seals of the same
        // record must carry a thousand distinct nonces (and so differ), and all open.
        let c = codec(SessionConfig::default());
        let mut nonces = std::collections::HashSet::new();
        for _ in 0..1000 {
            let sealed = c.encrypt("the same record").unwrap();
            let mut raw = Vec::new();
            decode_base64(sealed.as_bytes(), &mut raw).unwrap();
            assert!(nonces.insert(raw[..NONCE_LEN].to_vec()), "a nonce repeated");
            assert_eq!(c.decrypt(&sealed), Some(("the same record".into(), false)));
        }
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
        let sealed = a.encrypt("hello").unwrap();
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
    fn the_default_cookie_has_the_host_prefix() {
        let c = CookieCodec::new(&SessionConfig::default(), KeyRing::generate());
        let header = c.set_cookie("v".into(), None).into_string();
        assert!(header.starts_with("__Host-session=v; "), "{header}");
        assert!(c.removal().as_str().starts_with("__Host-session=; "));
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
            let value = c.encrypt(&"x".repeat(len)).unwrap();
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
