//! Session settings: the cookie's name and attributes, expiry, the touch interval, and what
//! happens on server errors.

use std::time::Duration;

use crate::error::ConfigError;

/// When a session expires. The server enforces this on every load, whatever the store does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// Expires after this long without a request that uses it (rolling).
    Idle(Duration),
    /// Expires this long after it was created, however active it is.
    Absolute(Duration),
    /// Whichever comes first: `idle` without use, or `absolute` after creation.
    IdleAndAbsolute {
        /// The inactivity timeout.
        idle: Duration,
        /// The lifetime from creation.
        absolute: Duration,
    },
}

impl Expiry {
    fn idle(self) -> Option<Duration> {
        match self {
            Self::Idle(idle) | Self::IdleAndAbsolute { idle, .. } => Some(idle),
            Self::Absolute(_) => None,
        }
    }

    fn absolute(self) -> Option<Duration> {
        match self {
            Self::Absolute(absolute) | Self::IdleAndAbsolute { absolute, .. } => Some(absolute),
            Self::Idle(_) => None,
        }
    }
}

/// How long the browser keeps the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieLifetime {
    /// A persistent cookie whose `Max-Age` follows the session's expiry (the default).
    Persistent,
    /// A cookie without `Max-Age`, dropped when the browser closes. The server still enforces
    /// the configured [`Expiry`].
    BrowserSession,
}

/// How long one session lives, chosen by a handler with
/// [`Session::set_lifetime`](crate::Session::set_lifetime): "remember me" on a login form.
///
/// The choice is kept with the session (under [`LIFETIME_KEY`](crate::LIFETIME_KEY)), moves with
/// it when its id is cycled, and is dropped by [`Session::clear`](crate::Session::clear).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifetime {
    /// The configured [`Expiry`] and [`CookieLifetime`] (the default). Not named `Default`:
    /// a variant of that name would make the compiler spell the `Default` trait
    /// `std::default::Default` in the errors of every crate that depends on this one.
    #[default]
    Configured,
    /// "Remember me": the session expires after this long without use (rolling), and in any
    /// case [`max_lifetime`](SessionConfig::with_max_lifetime) after it was created or last
    /// cycled its id (login); the configured [`Expiry`] does not apply. The cookie is
    /// persistent, its `Max-Age` following the session's expiry.
    Remember(Duration),
    /// "Forget me when the browser closes": a cookie without `Max-Age`. The server keeps the
    /// configured [`Expiry`].
    BrowserSession,
}

/// The longest a remembered session lives by default: see [`SessionConfig::with_max_lifetime`].
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A request header that carries the session token instead of, or besides, the cookie, for
/// API and mobile clients, and the response header a new token is sent back in; see
/// [`SessionConfig::with_token_header`].
///
/// The token is what the cookie would hold, with the same signing, encryption, expiry and key
/// rotation: the signed id with a server-side store, the encrypted session with the cookie
/// store.
///
/// ```
/// use session_core::TokenHeader;
///
/// // `Authorization: Bearer <token>` in, `Session-Token: <token>` out.
/// let bearer = TokenHeader::bearer();
/// assert_eq!((bearer.request_header(), bearer.response_header()), ("authorization", "session-token"));
/// // `X-Session: <token>` both ways.
/// let named = TokenHeader::named("X-Session");
/// assert_eq!((named.request_header(), named.response_header()), ("x-session", "x-session"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHeader {
    request: String,
    response: String,
    bearer: bool,
}

impl TokenHeader {
    /// `Authorization: Bearer <token>` in requests (RFC 6750); the new token in the response
    /// header `Session-Token` (change it with
    /// [`with_response_header`](Self::with_response_header)).
    pub fn bearer() -> Self {
        Self {
            request: "authorization".to_owned(),
            response: DEFAULT_TOKEN_RESPONSE_HEADER.to_owned(),
            bearer: true,
        }
    }

    /// `name: <token>` in requests, and the new token in the same header of the response.
    /// Header names are case-insensitive; they are kept in lower case.
    pub fn named(name: impl Into<String>) -> Self {
        let name = name.into().to_ascii_lowercase();
        Self {
            response: name.clone(),
            request: name,
            bearer: false,
        }
    }

    /// Sends new tokens in the response header `name` instead.
    #[must_use]
    pub fn with_response_header(mut self, name: impl Into<String>) -> Self {
        self.response = name.into().to_ascii_lowercase();
        self
    }

    /// The request header the token is read from, in lower case.
    pub fn request_header(&self) -> &str {
        &self.request
    }

    /// The response header a new token is sent in, in lower case.
    pub fn response_header(&self) -> &str {
        &self.response
    }

    /// Whether the request header holds `Bearer <token>` (the `Authorization` scheme) rather
    /// than the bare token.
    pub fn is_bearer(&self) -> bool {
        self.bearer
    }
}

/// The response header [`TokenHeader::bearer`] sends new tokens in.
pub const DEFAULT_TOKEN_RESPONSE_HEADER: &str = "session-token";

/// The cookie's `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent only on same-site requests.
    Strict,
    /// Sent on same-site requests and top-level cross-site navigations (the default).
    Lax,
    /// Sent on every request; requires `Secure`.
    None,
}

/// The largest session accepted by default, in bytes of its keys and JSON values: see
/// [`SessionConfig::with_max_session_bytes`].
pub const DEFAULT_MAX_SESSION_BYTES: usize = 64 * 1024;

/// The most keys a session holds by default: see [`SessionConfig::with_max_keys`].
pub const DEFAULT_MAX_KEYS: usize = 1024;

/// The longest a cookie-store session lives by default when the expiry has no absolute
/// lifetime: see [`SessionConfig::with_cookie_store_lifetime`].
pub const DEFAULT_COOKIE_STORE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Session settings, built with consuming `with_*` methods from secure defaults.
///
/// Defaults: cookie `session`, sent as `__Host-session` (the `__Host-` prefix is on whenever the
/// cookie is `Secure` with `Path=/` and no `Domain`), `Secure`, `HttpOnly`, `SameSite=Lax`,
/// `Path=/`, no `Domain`; a persistent cookie; one day of inactivity ([`Expiry::Idle`]), and
/// for the cookie store also at most seven days from login; a touch interval of one minute;
/// sessions of at most 64 KiB and 1024 keys; nothing persisted for 5xx responses.
///
/// ```
/// use std::time::Duration;
/// use session_core::{Expiry, SameSite, SessionConfig};
///
/// let config = SessionConfig::default()
///     .with_cookie_name("id")
///     .with_same_site(SameSite::Strict)
///     .with_host_prefix(true)
///     .with_expiry(Expiry::IdleAndAbsolute {
///         idle: Duration::from_secs(30 * 60),
///         absolute: Duration::from_secs(12 * 60 * 60),
///     });
/// assert_eq!(config.cookie_name(), "__Host-id");
/// ```
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    /// `None`: on exactly when the cookie is `Secure` with `Path=/` and no `Domain`.
    pub(crate) host_prefix: Option<bool>,
    pub(crate) expiry: Expiry,
    pub(crate) lifetime: CookieLifetime,
    pub(crate) touch_interval: Duration,
    pub(crate) persist_on_server_error: bool,
    pub(crate) max_session_bytes: usize,
    pub(crate) max_keys: usize,
    pub(crate) cookie_store_lifetime: Duration,
    pub(crate) max_lifetime: Duration,
    pub(crate) token_header: Option<TokenHeader>,
    pub(crate) cookie_transport: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            name: "session".to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            host_prefix: None,
            expiry: Expiry::Idle(Duration::from_secs(24 * 60 * 60)),
            lifetime: CookieLifetime::Persistent,
            touch_interval: Duration::from_secs(60),
            persist_on_server_error: false,
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
            max_keys: DEFAULT_MAX_KEYS,
            cookie_store_lifetime: DEFAULT_COOKIE_STORE_LIFETIME,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            token_header: None,
            cookie_transport: true,
        }
    }
}

impl SessionConfig {
    /// The cookie's name (default `session`). With [`with_host_prefix`](Self::with_host_prefix)
    /// the cookie is sent as `__Host-` followed by this name.
    #[must_use]
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The cookie's `Path` (default `/`).
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The cookie's `Domain` (default: none, so the cookie goes to this host only).
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Whether the cookie is `Secure`, sent over HTTPS only (default `true`). Turn it off only
    /// for plain-HTTP development on localhost.
    #[must_use]
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Whether the cookie is `HttpOnly`, hidden from scripts (default `true`).
    #[must_use]
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// The cookie's `SameSite` attribute (default [`SameSite::Lax`]).
    #[must_use]
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Whether the cookie is sent with the `__Host-` prefix, which browsers accept only with
    /// `Secure`, `Path=/` and no `Domain`, and which no other host (a sibling subdomain, a
    /// plain-HTTP page) can set: it stops "cookie tossing", where an attacker plants a session
    /// cookie of their own for the victim's browser to send.
    ///
    /// Default: on whenever the cookie is `Secure` with `Path=/` and no `Domain`, off
    /// otherwise. `true` with settings the prefix cannot have is a configuration error;
    /// `false` turns it off (cookies then have only the name itself).
    #[must_use]
    pub fn with_host_prefix(mut self, host_prefix: bool) -> Self {
        self.host_prefix = Some(host_prefix);
        self
    }

    /// When sessions expire (default: one day of inactivity).
    #[must_use]
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// A persistent or a browser-session cookie (default persistent).
    #[must_use]
    pub fn with_cookie_lifetime(mut self, lifetime: CookieLifetime) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The idle expiry of a session is pushed back (in the store, and in a persistent cookie's
    /// `Max-Age`) at most once per this interval (default one minute): a request that only
    /// reads costs one store write per interval, and a request that writes re-sends the id
    /// cookie only then (or when the cookie must be re-signed under a newer key).
    ///
    /// The trade-off: a session may expire up to one interval before its idle timeout has fully
    /// elapsed, and the browser's cookie may expire up to one interval before the server's
    /// record (the server record is the authority). In exchange, a write no longer answers every
    /// request with a `Set-Cookie`, so a slow response to a request that started before
    /// [`cycle_id`](crate::Session::cycle_id) cannot put the old id back into the browser.
    #[must_use]
    pub fn with_touch_interval(mut self, interval: Duration) -> Self {
        self.touch_interval = interval;
        self
    }

    /// Whether changes made by a request that ends in a 5xx response are saved (default
    /// `false`: a failed request leaves the session as it was).
    #[must_use]
    pub fn with_persist_on_server_error(mut self, persist: bool) -> Self {
        self.persist_on_server_error = persist;
        self
    }

    /// The largest session accepted, in bytes of its keys and their JSON values (default
    /// [`DEFAULT_MAX_SESSION_BYTES`], 64 KiB). A [`Session::set`](crate::Session::set) that
    /// would make the session larger fails with
    /// [`Error::SessionTooLarge`](crate::Error::SessionTooLarge) and changes nothing, on every
    /// store; deleting keys always works. Concurrent requests each check the session as they
    /// loaded it, so their merged writes can exceed the limit by at most what they add
    /// together; later writes are then refused until keys are deleted.
    #[must_use]
    pub fn with_max_session_bytes(mut self, bytes: usize) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// The most keys a session holds (default [`DEFAULT_MAX_KEYS`], 1024). A `set` of a new
    /// key beyond it fails with [`Error::TooManyKeys`](crate::Error::TooManyKeys).
    #[must_use]
    pub fn with_max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// With the cookie store, the absolute lifetime used when the [`Expiry`] has none (default
    /// [`DEFAULT_COOKIE_STORE_LIFETIME`], seven days, or the idle timeout if that is longer).
    ///
    /// A cookie-store session lives only in the browser, so the server cannot revoke a copy of
    /// the cookie taken earlier (after logout, say); with idle expiry alone, a copy that is
    /// used now and then would be re-issued forever. With this lifetime, every copy dies at a
    /// fixed time after the session was created or last cycled its id (login). An
    /// [`Expiry::Absolute`] or [`Expiry::IdleAndAbsolute`] setting takes precedence. Server-side
    /// stores ignore this setting.
    #[must_use]
    pub fn with_cookie_store_lifetime(mut self, lifetime: Duration) -> Self {
        self.cookie_store_lifetime = lifetime;
        self
    }

    /// The longest lifetime a handler may give its session with
    /// [`Lifetime::Remember`] (default [`DEFAULT_MAX_LIFETIME`], 30 days), and the absolute
    /// lifetime of a remembered session: it ends this long after it was created or last cycled
    /// its id (login), however active it is, so a stolen "remember me" cookie dies too.
    ///
    /// A longer [`Lifetime::Remember`] is refused with
    /// [`Error::LifetimeOutOfRange`](crate::Error::LifetimeOutOfRange); a longer one found in a
    /// stored session (written with the raw API) is cut to this.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::SessionConfig;
    ///
    /// let config = SessionConfig::default().with_max_lifetime(Duration::from_secs(90 * 24 * 60 * 60));
    /// assert_eq!(config.max_lifetime(), Duration::from_secs(7_776_000));
    /// ```
    #[must_use]
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Also reads the session token from a request header, for API and mobile clients that
    /// keep no cookies (default: none, the cookie only). A request that carries the header
    /// (even empty, for a client that has no token yet, or with a stale token) is answered in
    /// the response header: the new token whenever the cookie would have been sent (a new
    /// session, a new id after [`cycle_id`](crate::Session::cycle_id), a token re-signed under a
    /// newer key, an expiry moved on), and an empty value when the session ends (`destroy`). A
    /// request without it is answered with the cookie as before, so a browser's token stays in
    /// its `HttpOnly` cookie and never reaches page scripts through a response header.
    ///
    /// A request that carries two valid tokens of different sessions (a cookie and a header,
    /// say) gets a fresh session, as with two cookies. Turn the cookie off with
    /// [`with_cookie_transport(false)`](Self::with_cookie_transport) for an API that serves no
    /// browser.
    ///
    /// ```
    /// use session_core::{SessionConfig, TokenHeader};
    ///
    /// let api = SessionConfig::default()
    ///     .with_token_header(TokenHeader::bearer())
    ///     .with_cookie_transport(false);
    /// assert_eq!(api.token_header().map(TokenHeader::request_header), Some("authorization"));
    /// ```
    #[must_use]
    pub fn with_token_header(mut self, header: TokenHeader) -> Self {
        self.token_header = Some(header);
        self
    }

    /// Whether the session cookie is read and sent (default `true`). `false` needs a
    /// [token header](Self::with_token_header): sessions then travel in it only.
    #[must_use]
    pub fn with_cookie_transport(mut self, cookie: bool) -> Self {
        self.cookie_transport = cookie;
        self
    }

    /// The token header, if one is configured; see [`with_token_header`](Self::with_token_header).
    pub fn token_header(&self) -> Option<&TokenHeader> {
        self.token_header.as_ref()
    }

    /// Whether the session cookie is read and sent; see
    /// [`with_cookie_transport`](Self::with_cookie_transport).
    pub fn cookie_transport(&self) -> bool {
        self.cookie_transport
    }

    /// The longest lifetime a session may be given; see
    /// [`with_max_lifetime`](Self::with_max_lifetime).
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    /// The touch interval; see [`with_touch_interval`](Self::with_touch_interval).
    pub fn touch_interval(&self) -> Duration {
        self.touch_interval
    }

    /// The largest session accepted, in bytes.
    pub fn max_session_bytes(&self) -> usize {
        self.max_session_bytes
    }

    /// The most keys a session holds.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Whether the cookie is sent with the `__Host-` prefix.
    pub fn host_prefix(&self) -> bool {
        self.host_prefix
            .unwrap_or(self.secure && self.path == "/" && self.domain.is_none())
    }

    /// The name the cookie is sent under, including the `__Host-` prefix when enabled.
    pub fn cookie_name(&self) -> String {
        if self.host_prefix() {
            format!("__Host-{}", self.name)
        } else {
            self.name.clone()
        }
    }

    /// The expiry policy.
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }

    /// The idle timeout, if the expiry policy has one.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.expiry.idle()
    }

    /// The absolute lifetime, if the expiry policy has one.
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.expiry.absolute()
    }

    /// Checks that the settings are consistent; called when the session manager is built.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !is_http_token(&self.name) {
            return Err(ConfigError::InvalidCookieName {
                name: self.name.clone(),
            });
        }
        if self.host_prefix == Some(true)
            && (!self.secure || self.path != "/" || self.domain.is_some())
        {
            return Err(ConfigError::CookieAttributes(
                "the __Host- prefix needs Secure, Path=/ and no Domain",
            ));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(ConfigError::CookieAttributes(
                "SameSite=None needs Secure; browsers reject it otherwise",
            ));
        }
        let bad_attr = |v: &str| v.bytes().any(|b| b == b';' || b.is_ascii_control());
        if !self.path.starts_with('/') || bad_attr(&self.path) {
            return Err(ConfigError::CookieAttributes(
                "the cookie path must start with `/` and hold no `;` or control characters",
            ));
        }
        if self
            .domain
            .as_deref()
            .is_some_and(|d| d.is_empty() || bad_attr(d))
        {
            return Err(ConfigError::CookieAttributes(
                "the cookie domain must be non-empty and hold no `;` or control characters",
            ));
        }
        // Stores and cookies work in whole seconds; a timeout of zero seconds, or one so long
        // that adding it to the current time overflows, cannot be honoured.
        const HUNDRED_YEARS: u64 = 100 * 365 * 24 * 60 * 60;
        for timeout in [
            self.expiry.idle(),
            self.expiry.absolute(),
            Some(self.max_lifetime),
        ]
        .into_iter()
        .flatten()
        {
            if timeout.as_secs() == 0 || timeout.as_secs() > HUNDRED_YEARS {
                return Err(ConfigError::Expiry(
                    "session timeouts must be between one second and one hundred years",
                ));
            }
        }
        if let Expiry::IdleAndAbsolute { idle, absolute } = self.expiry
            && idle > absolute
        {
            return Err(ConfigError::Expiry(
                "the idle timeout is longer than the absolute lifetime, so it would never apply; \
                 make `idle` shorter than `absolute`, or use `Expiry::Absolute` alone",
            ));
        }
        if self
            .expiry
            .idle()
            .is_some_and(|idle| self.touch_interval >= idle)
        {
            return Err(ConfigError::Expiry(
                "the touch interval must be shorter than the idle timeout, or sessions that are \
                 only read would expire while in use",
            ));
        }
        if let Some(header) = &self.token_header {
            for name in [&header.request, &header.response] {
                if !is_http_token(name) {
                    return Err(ConfigError::TokenHeader(
                        "a token header name must be a non-empty HTTP header name: letters, \
                         digits and `-`, e.g. `X-Session`",
                    ));
                }
            }
            if ["cookie", "set-cookie"].contains(&header.request.as_str())
                || ["cookie", "set-cookie", "authorization"].contains(&header.response.as_str())
            {
                return Err(ConfigError::TokenHeader(
                    "the token header cannot be `Cookie` or `Set-Cookie`, and new tokens cannot be \
                     sent in `Authorization`; pick a header of its own, e.g. `Session-Token`",
                ));
            }
            if header.request == "authorization" && !header.bearer {
                return Err(ConfigError::TokenHeader(
                    "`Authorization` holds a scheme before the token; use TokenHeader::bearer()",
                ));
            }
        } else if !self.cookie_transport {
            return Err(ConfigError::TokenHeader(
                "with the cookie transport off, sessions need a token header: add \
                 `.with_token_header(TokenHeader::bearer())`, or leave the cookie on",
            ));
        }
        if self.touch_interval >= self.max_lifetime {
            return Err(ConfigError::Expiry(
                "the touch interval must be shorter than the maximum lifetime, or remembered \
                 sessions that are only read would expire while in use",
            ));
        }
        Ok(())
    }
}

/// Whether `name` is an HTTP token (RFC 9110, section 5.6.2): what a cookie name and a header
/// name must be.
fn is_http_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_secure() {
        let config = SessionConfig::default();
        assert_eq!(config.cookie_name(), "__Host-session");
        assert!(config.secure && config.http_only);
        assert_eq!(config.same_site, SameSite::Lax);
        assert_eq!(config.path, "/");
        assert_eq!(config.idle_timeout(), Some(Duration::from_secs(86_400)));
        assert_eq!(config.absolute_timeout(), None);
        config.validate().unwrap();
    }

    #[test]
    fn host_prefix_is_on_exactly_when_the_cookie_can_have_it() {
        let name = |config: SessionConfig| config.cookie_name();
        assert_eq!(name(SessionConfig::default()), "__Host-session");
        assert_eq!(name(SessionConfig::default().with_secure(false)), "session");
        assert_eq!(name(SessionConfig::default().with_path("/app")), "session");
        assert_eq!(
            name(SessionConfig::default().with_domain("example.com")),
            "session"
        );
        assert_eq!(
            name(SessionConfig::default().with_host_prefix(false)),
            "session"
        );
        for config in [
            SessionConfig::default().with_secure(false),
            SessionConfig::default().with_path("/app"),
            SessionConfig::default().with_host_prefix(false),
        ] {
            config.validate().unwrap();
        }
    }

    #[test]
    fn host_prefix_rejects_domain_and_insecure() {
        let with_domain = SessionConfig::default()
            .with_host_prefix(true)
            .with_domain("example.com");
        assert!(with_domain.validate().is_err());
        let insecure = SessionConfig::default()
            .with_host_prefix(true)
            .with_secure(false);
        assert!(insecure.validate().is_err());
        let ok = SessionConfig::default().with_host_prefix(true);
        ok.validate().unwrap();
        assert_eq!(ok.cookie_name(), "__Host-session");
    }

    #[test]
    fn bad_names_and_attributes_are_refused() {
        for name in ["", "a b", "a;b", "a=b", "é"] {
            assert!(
                SessionConfig::default()
                    .with_cookie_name(name)
                    .validate()
                    .is_err(),
                "{name:?}"
            );
        }
        assert!(
            SessionConfig::default()
                .with_path("/a;b")
                .validate()
                .is_err()
        );
        assert!(
            SessionConfig::default()
                .with_same_site(SameSite::None)
                .with_secure(false)
                .validate()
                .is_err()
        );
        assert!(
            SessionConfig::default()
                .with_expiry(Expiry::Idle(Duration::ZERO))
                .validate()
                .is_err()
        );
        let touch_too_slow = SessionConfig::default()
            .with_expiry(Expiry::Idle(Duration::from_secs(60)))
            .with_touch_interval(Duration::from_secs(60));
        assert!(touch_too_slow.validate().is_err());
        let absolute_only = SessionConfig::default()
            .with_expiry(Expiry::Absolute(Duration::from_secs(60)))
            .with_touch_interval(Duration::from_secs(600));
        absolute_only.validate().unwrap();
        for bad in [
            SessionConfig::default().with_cookie_transport(false),
            SessionConfig::default().with_token_header(TokenHeader::named("")),
            SessionConfig::default().with_token_header(TokenHeader::named("x session")),
            SessionConfig::default().with_token_header(TokenHeader::named("Cookie")),
            SessionConfig::default().with_token_header(TokenHeader::named("Authorization")),
            SessionConfig::default()
                .with_token_header(TokenHeader::bearer().with_response_header("Set-Cookie")),
        ] {
            let error = bad.validate().unwrap_err();
            assert!(
                error.to_string().starts_with("invalid token header"),
                "{error}"
            );
        }
        SessionConfig::default()
            .with_token_header(TokenHeader::named("X-Session"))
            .with_cookie_transport(false)
            .validate()
            .unwrap();
        for max in [Duration::ZERO, Duration::from_secs(30)] {
            let max_too_short = SessionConfig::default()
                .with_touch_interval(Duration::from_secs(30))
                .with_max_lifetime(max);
            assert!(max_too_short.validate().is_err(), "{max:?}");
        }
    }
}
