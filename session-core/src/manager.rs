//! The engine: [`SessionManager`] turns a request's `Cookie` headers into a lazy [`Session`],
//! and a finished session plus the response status into store writes and a `Set-Cookie` value.
//! Adapters for web frameworks only translate between their types and these two calls.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use time::{Duration, OffsetDateTime};

use crate::config::{CookieLifetime, Lifetime, SessionConfig, TokenHeader};
use crate::cookie::{Candidates, CookieCodec, SetCookie};
use crate::error::{ConfigError, Error, Result};
use crate::id::{IdDigest, SessionId};
use crate::keys::KeyRing;
use crate::record::{Changes, Record, whole_seconds};
use crate::revocation::RevocationEpoch;
use crate::session::{Origin, Session, State};
use crate::store::{SessionStore, Storage};

/// A source of the current time; see [`SessionManager::with_clock`].
type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// How many fresh ids are tried before giving up on a store whose `create` keeps refusing.
const CREATE_ATTEMPTS: u32 = 8;

/// How long the forwarding pointer of a cycled id lives: requests that loaded the session
/// before the cycle and finish within this time deliver their changes to the new id.
const FORWARD_GRACE: Duration = Duration::seconds(60);

/// How long a write that raced an id cycle waits for the cycling request to name the new id
/// before it fails with [`Error::CycleRace`]: well inside the grace period, and long enough for
/// a slow store to do the cycle's three round trips.
const FORWARD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How many times a forwarded write only yields before it starts sleeping between reads of the
/// forwarding pointer (a fast store finishes the cycle within a few yields).
const FORWARD_YIELDS: u32 = 8;

/// The longest sleep between two reads of the forwarding pointer.
const FORWARD_MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// The key of a forwarding pointer's record that holds the new digest, as hex.
const FORWARD_TO: &str = "to";

/// The key every forwarding pointer's record holds (with the value `true`), so a store's
/// records of sessions and of the short-lived forwarding pointers that [`Session::cycle_id`]
/// leaves can be told apart: in SQL, count sessions with
/// `WHERE NOT data ? '__forwarding_pointer'` (PostgreSQL) or
/// `WHERE json_extract(data, '$.__forwarding_pointer') IS NULL` (SQLite).
///
/// A pointer lives at most a minute after its cycle and is never loaded as a session: it is
/// stored under a digest no cookie can name.
///
/// [`Session::cycle_id`]: crate::Session::cycle_id
pub const FORWARDING_POINTER_KEY: &str = "__forwarding_pointer";

/// The key of a forwarding pointer's record that says the session was destroyed: a cycle that
/// raced the destroy deletes the record it made, and racing writes are dropped.
const FORWARD_DESTROYED: &str = "destroyed";

/// The framework-agnostic session engine. Cheap to clone; build one per application.
///
/// ```
/// use session_core::{KeyRing, MemoryStore, SessionConfig, SessionManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), SessionConfig::default())?;
///
/// // A request without a cookie: the handler stores something...
/// let session = manager.session(std::iter::empty::<&[u8]>());
/// session.set("user_id", &42).await?;
/// // ...and the response carries the new session's cookie.
/// let set_cookie = manager.finish(&session, 200).await?.expect("a new session sets a cookie");
/// let pair = set_cookie.as_str().split(';').next().unwrap().to_owned();
///
/// // The next request sends the cookie back and sees the value.
/// let session = manager.session([pair.as_bytes()]);
/// assert_eq!(session.get::<u64>("user_id").await?, Some(42));
/// assert!(manager.finish(&session, 200).await?.is_none(), "nothing changed, no Set-Cookie");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SessionManager {
    shared: Arc<Shared>,
}

/// What every session of one manager shares.
#[derive(Clone)]
pub(crate) struct Shared {
    config: SessionConfig,
    codec: CookieCodec,
    storage: Storage,
    idle: Option<Duration>,
    absolute: Option<Duration>,
    /// The cap of a [`Lifetime::Remember`], and a remembered session's absolute lifetime.
    max_lifetime: Duration,
    touch_interval: Duration,
    clock: Option<Clock>,
    revocation: Option<RevocationEpoch>,
}

impl SessionManager {
    /// Builds the engine over `storage` (a [`SessionStore`] or [`Storage::Cookie`]), signing and
    /// encrypting with `keys`. Fails if the settings contradict each other.
    pub fn new(
        storage: impl Into<Storage>,
        keys: KeyRing,
        config: SessionConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let to_time = |d: std::time::Duration| {
            Duration::try_from(d).map_err(|_| ConfigError::Expiry("duration out of range"))
        };
        let storage = storage.into();
        let idle = config.idle_timeout().map(to_time).transpose()?;
        let absolute = config.absolute_timeout().map(to_time).transpose()?;
        // A cookie-store cookie cannot be revoked: with idle expiry alone a copy that is used
        // now and then would live forever, so it gets a fixed end.
        #[cfg(feature = "cookie-store")]
        let absolute = match absolute {
            None if matches!(storage, Storage::Cookie) => {
                let lifetime = to_time(config.cookie_store_lifetime)?;
                Some(idle.map_or(lifetime, |idle| idle.max(lifetime)))
            }
            absolute => absolute,
        };
        let shared = Shared {
            codec: CookieCodec::new(&config, keys),
            storage,
            idle,
            absolute,
            max_lifetime: to_time(config.max_lifetime)?,
            touch_interval: to_time(config.touch_interval)?,
            clock: None,
            revocation: None,
            config,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Replaces the system clock, so tests can move time forward to check expiry. Stores keep
    /// their own clocks; the engine's expiry check on every load uses this one.
    #[must_use]
    pub fn with_clock(self, clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        let mut shared = (*self.shared).clone();
        shared.clock = Some(Arc::new(clock));
        Self {
            shared: Arc::new(shared),
        }
    }

    /// With the cookie store, refuses every cookie issued under an epoch lower than `epoch`'s
    /// current value, and issues new cookies under it; see [`RevocationEpoch`]. Server-side
    /// stores ignore it.
    #[must_use]
    pub fn with_revocation_epoch(self, epoch: RevocationEpoch) -> Self {
        let mut shared = (*self.shared).clone();
        shared.revocation = Some(epoch);
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The live sessions of `owner` (see [`Session::set_owner`]), oldest first, with when each
    /// was created and last used: for a "your devices" page, or an admin tool. Entries of
    /// sessions that expired or were destroyed are dropped on the way.
    ///
    /// Fails with [`Error::NeedsServerStore`] on the cookie store.
    ///
    /// ```
    /// use session_core::{KeyRing, MemoryStore, SessionConfig, SessionManager};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), SessionConfig::default())?;
    /// for _device in 0..2 {
    ///     let login = manager.session(std::iter::empty::<&[u8]>());
    ///     login.set_owner("ada").await?;
    ///     manager.finish(&login, 200).await?;
    /// }
    /// let sessions = manager.sessions_of("ada").await?;
    /// assert_eq!(sessions.len(), 2);
    /// // "Log out everywhere", e.g. after a password reset:
    /// assert_eq!(manager.revoke_all("ada").await?, 2);
    /// assert!(manager.sessions_of("ada").await?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sessions_of(&self, owner: &str) -> Result<Vec<crate::SessionInfo>> {
        let store = self.owners_store("listing a user's sessions")?;
        crate::owners::list(&**store, owner, self.shared.now()).await
    }

    /// Revokes the session of `owner` whose [handle](crate::SessionInfo::handle) is `handle`, at
    /// once: its record is deleted, so its cookie leads nowhere. Returns `false`, changing
    /// nothing, if `owner` has no such session (a handle of someone else's session included).
    ///
    /// Fails with [`Error::NeedsServerStore`] on the cookie store.
    pub async fn revoke(&self, owner: &str, handle: &str) -> Result<bool> {
        let store = self.owners_store("revoking a user's sessions")?;
        let Some(digest) = IdDigest::from_hex(handle) else {
            return Ok(false);
        };
        crate::owners::revoke(&**store, owner, &digest, self.shared.now()).await
    }

    /// Revokes every session of `owner` ("log out everywhere", on a password change), at once.
    /// Returns how many were revoked.
    ///
    /// Fails with [`Error::NeedsServerStore`] on the cookie store.
    pub async fn revoke_all(&self, owner: &str) -> Result<u64> {
        let store = self.owners_store("revoking a user's sessions")?;
        let now = self.shared.now();
        let sessions = crate::owners::list(&**store, owner, now).await?;
        crate::owners::revoke_listed(&**store, owner, sessions, now).await
    }

    /// The server-side store, for the owner indexes; `what` names the refused call otherwise.
    fn owners_store(&self, what: &'static str) -> Result<&Arc<dyn SessionStore>> {
        self.shared
            .server_store()
            .ok_or(Error::NeedsServerStore { what })
    }

    /// The settings this manager was built with.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// Where sessions live.
    pub fn storage(&self) -> &Storage {
        &self.shared.storage
    }

    /// The session for a request, from the values of its `Cookie` headers (raw bytes, as
    /// received). Nothing is verified or loaded until the handler first uses the session.
    ///
    /// With a [token header](SessionConfig::with_token_header) configured, use
    /// [`session_from_headers`](Self::session_from_headers), as the adapters do, or
    /// [`session_with_tokens`](Self::session_with_tokens).
    pub fn session<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Session {
        self.session_with_tokens(cookie_headers, std::iter::empty())
    }

    /// The session for a request, from the values of its `Cookie` headers and of its
    /// [token header](SessionConfig::with_token_header) (the request header named by
    /// [`token_request_header`](Self::token_request_header); raw bytes, as received). Without a
    /// token header configured the second list is ignored, and with the
    /// [cookie transport](SessionConfig::with_cookie_transport) off the first one is.
    ///
    /// ```
    /// use session_core::{KeyRing, MemoryStore, SessionConfig, SessionManager, TokenHeader};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = SessionConfig::default().with_token_header(TokenHeader::bearer());
    /// let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), config)?;
    /// assert_eq!(manager.token_request_header(), Some("authorization"));
    ///
    /// // An API client without a token yet sends `Authorization: Bearer`…
    /// let session = manager.session_with_tokens(std::iter::empty::<&[u8]>(), [b"Bearer".as_slice()]);
    /// session.set("user_id", &42).await?;
    /// // …and gets its token in the response header `Session-Token`, not in a cookie.
    /// let sent = manager.finish(&session, 200).await?.expect("a new session");
    /// assert_eq!(sent.header_name(), "session-token");
    /// let header = format!("Bearer {}", sent.as_str());
    ///
    /// let session = manager.session_with_tokens(std::iter::empty::<&[u8]>(), [header.as_bytes()]);
    /// assert_eq!(session.get::<u64>("user_id").await?, Some(42));
    /// # Ok(())
    /// # }
    /// ```
    pub fn session_with_tokens<'a, 'b>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        token_headers: impl IntoIterator<Item = &'b [u8]>,
    ) -> Session {
        let config = &self.shared.config;
        let mut candidates = if config.cookie_transport {
            self.shared.codec.candidates(cookie_headers)
        } else {
            self.shared.codec.candidates(std::iter::empty())
        };
        if let Some(header) = &config.token_header {
            candidates.add_tokens(token_headers, header.is_bearer());
        }
        Session::new(self.shared.clone(), candidates)
    }

    /// The session for a request whose headers `headers` looks up by (lower-case) name, as
    /// the adapters call it: it reads the `Cookie` headers and, if one is configured, the
    /// [token header](SessionConfig::with_token_header), so an adapter need not know which
    /// headers carry sessions. Same as [`session_with_tokens`](Self::session_with_tokens).
    ///
    /// ```
    /// use session_core::{KeyRing, MemoryStore, SessionConfig, SessionManager};
    ///
    /// # fn main() -> Result<(), session_core::ConfigError> {
    /// let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), SessionConfig::default())?;
    /// // A request whose only header is `Cookie: theme=dark`.
    /// let session = manager.session_from_headers(|name| (name == "cookie").then_some(b"theme=dark".as_slice()));
    /// assert!(!session.is_accessed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn session_from_headers<'a, F, I>(&self, mut headers: F) -> Session
    where
        F: FnMut(&str) -> I,
        I: IntoIterator<Item = &'a [u8]>,
    {
        let cookies = headers("cookie");
        let tokens = self.token_request_header().map(headers);
        self.session_with_tokens(cookies, tokens.into_iter().flatten())
    }

    /// The request header whose values go to [`session_with_tokens`](Self::session_with_tokens)
    /// as tokens, in lower case; `None` without a [token header](SessionConfig::with_token_header).
    pub fn token_request_header(&self) -> Option<&str> {
        self.shared
            .config
            .token_header
            .as_ref()
            .map(TokenHeader::request_header)
    }

    /// Ends a request: writes what the handler changed and returns the `Set-Cookie` value to
    /// send, if any. Call it once per request; later calls do nothing.
    ///
    /// An untouched session costs nothing and returns `None`. For a response status of 500 or
    /// above nothing is saved unless
    /// [`with_persist_on_server_error`](SessionConfig::with_persist_on_server_error) says so. A
    /// destroyed session gets a removal cookie. An error here means the changes may not have
    /// been saved: answer with an opaque 500 and log the error.
    ///
    /// With a server-side store, a request that changed an existing session gets a `Set-Cookie`
    /// only when the session's expiry moved (at most once per
    /// [touch interval](SessionConfig::with_touch_interval)) or the cookie must be re-signed
    /// under a newer key; a request that cycled the id gets the new id's cookie. A request that
    /// loaded the session before another request cycled it gets no cookie: its changes are
    /// applied to the new id (if it finishes within a minute of the cycle), and the browser
    /// keeps the new id.
    ///
    /// With a [token header](SessionConfig::with_token_header), a request that carried it (and
    /// every request, with the cookie transport off) gets the same answers in the token
    /// response header instead: send the returned value under
    /// [`SetCookie::header_name`].
    pub async fn finish(&self, session: &Session, status: u16) -> Result<Option<SetCookie>> {
        let sent = self.finish_cookie(session, status).await?;
        let config = &session.shared().config;
        Ok(match &config.token_header {
            Some(header) if session.via_header() || !config.cookie_transport => {
                sent.map(|cookie| cookie.into_token_header(header.response_header()))
            }
            _ => sent,
        })
    }

    /// [`finish`](Self::finish), with the session in its cookie.
    async fn finish_cookie(&self, session: &Session, status: u16) -> Result<Option<SetCookie>> {
        let shared = session.shared();
        if !session.mark_finished() {
            tracing::debug!("finish called twice for one session; the second call does nothing");
            return Ok(None);
        }
        if status >= 500 && !shared.config.persist_on_server_error {
            return Ok(None);
        }
        // The lock guard lives in this block only: no lock is held across store calls.
        let (store, snapshot) = {
            let Some(state) = session.loaded_state() else {
                return Ok(None);
            };
            match &shared.storage {
                // Encoding never waits, so it reads the state in place, under its lock.
                #[cfg(feature = "cookie-store")]
                Storage::Cookie => return shared.commit_cookie(&state, shared.now()),
                Storage::Server(store) => (store, Snapshot::take(shared, &state)),
            }
        };
        shared.commit_server(&**store, snapshot, shared.now()).await
    }
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("config", &self.shared.config)
            .field("storage", &self.shared.storage)
            .finish_non_exhaustive()
    }
}

/// What `finish` needs from the session state of a server-side store, copied out so that no
/// lock is held across store calls.
struct Snapshot {
    origin: Origin,
    had_cookie: bool,
    reissue: bool,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    cycle: bool,
    destroyed: bool,
    to_delete: Option<(SessionId, Option<String>)>,
    /// The owner the session was loaded with, and the one this request leaves it with.
    loaded_owner: Option<String>,
    owner: Option<String>,
    /// The whole data for a new session; for a stored one only the keys this request set.
    data: serde_json::Map<String, serde_json::Value>,
    cleared: bool,
    removed: Vec<String>,
    /// The session's own lifetime, as this request leaves it.
    lifetime: Lifetime,
}

impl Snapshot {
    fn take(shared: &Shared, state: &State) -> Self {
        // A stored session, cycled or not, is written as per-key changes on top of what the
        // store holds, so keys written by concurrent requests survive.
        let whole = !matches!(state.origin, Origin::Stored { .. });
        let mut data = serde_json::Map::new();
        let mut removed = Vec::new();
        if whole {
            data = state.data.clone();
        } else {
            for key in &state.dirty {
                match state.data.get(key) {
                    Some(value) => {
                        data.insert(key.clone(), value.clone());
                    }
                    None => removed.push(key.clone()),
                }
            }
        }
        Self {
            origin: state.origin.clone(),
            had_cookie: state.had_cookie,
            reissue: state.reissue,
            created_at: state.created_at,
            expires_at: state.expires_at,
            cycle: state.cycle,
            destroyed: state.destroyed,
            to_delete: state.to_delete.clone(),
            loaded_owner: state.loaded_owner.clone(),
            owner: crate::session::owner_of(&state.data).map(str::to_owned),
            data,
            cleared: state.cleared,
            removed,
            lifetime: shared.lifetime_of(&state.data),
        }
    }

    /// Records that an owned session is used `now` ([`SEEN_AT_KEY`](crate::SEEN_AT_KEY)), for
    /// its owner's list of sessions.
    fn mark_seen(&mut self, now: OffsetDateTime) {
        if self.owner.is_some() {
            self.data
                .insert(crate::SEEN_AT_KEY.to_owned(), now.unix_timestamp().into());
            self.removed.retain(|key| key != crate::SEEN_AT_KEY);
        }
    }

    /// Whether a stored session has key changes to apply.
    fn changed(&self) -> bool {
        self.cleared || !self.data.is_empty() || !self.removed.is_empty()
    }

    fn changes(self, expires_at: OffsetDateTime) -> Changes {
        Changes {
            clear: self.cleared,
            set: self.data,
            remove: self.removed,
            expires_at,
        }
    }
}

impl Shared {
    /// The server-side store, or `None` with the cookie store.
    pub(crate) fn server_store(&self) -> Option<&Arc<dyn SessionStore>> {
        match &self.storage {
            Storage::Server(store) => Some(store),
            #[cfg(feature = "cookie-store")]
            Storage::Cookie => None,
        }
    }

    /// The settings.
    pub(crate) fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current time in whole seconds.
    pub(crate) fn now(&self) -> OffsetDateTime {
        whole_seconds(match &self.clock {
            Some(clock) => clock(),
            None => OffsetDateTime::now_utc(),
        })
    }

    /// The expiry of a session created at `created` and used at `now`.
    pub(crate) fn deadline(&self, created: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
        let idle = self.idle.map(|idle| now.saturating_add(idle));
        let absolute = self.absolute.map(|abs| created.saturating_add(abs));
        idle.into_iter().chain(absolute).min().unwrap_or(now)
    }

    /// The expiry of a session with its own `lifetime`, created (or last cycled) at `created`
    /// and used at `now`.
    pub(crate) fn deadline_for(
        &self,
        created: OffsetDateTime,
        now: OffsetDateTime,
        lifetime: Lifetime,
    ) -> OffsetDateTime {
        match lifetime {
            Lifetime::Remember(idle) => {
                let idle = Duration::try_from(idle)
                    .map_or(self.max_lifetime, |idle| idle.min(self.max_lifetime));
                now.saturating_add(idle)
                    .min(created.saturating_add(self.max_lifetime))
            }
            Lifetime::Configured | Lifetime::BrowserSession => self.deadline(created, now),
        }
    }

    /// The lifetime the engine gives a session holding `data`: what it stored under
    /// [`LIFETIME_KEY`](crate::LIFETIME_KEY), a remembered one capped at the maximum.
    pub(crate) fn lifetime_of(
        &self,
        data: &serde_json::Map<String, serde_json::Value>,
    ) -> Lifetime {
        match crate::session::stored_lifetime(data) {
            Lifetime::Remember(idle) => Lifetime::Remember(idle.min(self.config.max_lifetime)),
            lifetime => lifetime,
        }
    }

    /// Verifies the request's cookie and loads its session; anything invalid, unknown or
    /// expired yields a new, empty session.
    pub(crate) async fn load(&self, candidates: &Candidates) -> Result<State> {
        let now = self.now();
        let had_cookie = !candidates.is_empty();
        if candidates.overflowed() {
            return Ok(self.ambiguous(now));
        }
        match &self.storage {
            #[cfg(feature = "cookie-store")]
            Storage::Cookie => {
                let min_epoch = self.revocation.as_ref().map_or(0, RevocationEpoch::current);
                let mut found: Option<(Record, bool)> = None;
                for value in candidates.iter() {
                    if let Some((record, old_key)) =
                        crate::stores::cookie::decode(&self.codec, value, now, min_epoch)
                    {
                        match &found {
                            // The same cookie again (spelled percent-encoded or the old way),
                            // or one holding exactly the same session: nothing to choose.
                            Some((known, _)) if *known == record => continue,
                            Some(_) => return Ok(self.ambiguous(now)),
                            None => found = Some((record, old_key)),
                        }
                    }
                }
                if let Some((record, old_key)) = found {
                    return Ok(State::loaded(Origin::Cookie, record, old_key));
                }
                if had_cookie {
                    tracing::debug!(
                        "session cookie was forged, corrupt, from another key ring, revoked or \
                         expired; starting a new session"
                    );
                }
            }
            Storage::Server(store) => {
                let mut found: Option<State> = None;
                for value in candidates.iter() {
                    let Some((id, old_key)) = self.codec.verify_id(value) else {
                        tracing::debug!("session cookie failed signature verification; ignored");
                        continue;
                    };
                    let same = |state: &State| matches!(&state.origin, Origin::Stored { id: known, .. } if *known == id);
                    if found.as_ref().is_some_and(same) {
                        continue; // the same id, signed again under another key
                    }
                    let digest = id.digest();
                    if let Some(record) = store.load(&digest).await?
                        && !record.is_expired_at(now)
                    {
                        if found.is_some() {
                            return Ok(self.ambiguous(now));
                        }
                        found = Some(State::loaded(
                            Origin::Stored { id, digest },
                            record,
                            old_key,
                        ));
                        continue;
                    }
                    tracing::debug!(session = %digest, "session unknown or expired; not adopted");
                }
                if let Some(state) = found {
                    return Ok(state);
                }
            }
        }
        Ok(State::new(now, self.deadline(now, now), had_cookie))
    }

    /// The session for a request that carries two valid, different session cookies, or more
    /// cookies with our name than are tried: one may have been planted by an attacker (cookie
    /// tossing, from a sibling subdomain or a plain-HTTP page), and nothing tells which is the
    /// browser's own, so neither is used. The request gets a fresh session.
    fn ambiguous(&self, now: OffsetDateTime) -> State {
        tracing::warn!(
            "a request carried several valid session cookies (or more than are tried); none \
             was used and it gets a fresh session: another site may be planting session \
             cookies (cookie tossing); keep the `__Host-` prefix on to stop that"
        );
        State::new(now, self.deadline(now, now), true)
    }

    /// Fails if the session, as `state` now holds it, is over the configured limits: more
    /// keys than allowed after adding a `new_key`, more bytes than allowed, or (with the
    /// cookie store) too large for a cookie.
    pub(crate) fn check_size(&self, state: &mut State, new_key: bool) -> Result<()> {
        let max_keys = self.config.max_keys;
        if new_key && state.data.len() > max_keys {
            return Err(Error::TooManyKeys { max: max_keys });
        }
        let size = state.data_len();
        let max = self.config.max_session_bytes;
        if size > max {
            return Err(Error::SessionTooLarge { size, max });
        }
        match self.storage {
            #[cfg(feature = "cookie-store")]
            Storage::Cookie => {
                let plain = crate::stores::cookie::encoded_len(
                    size,
                    state.created_at,
                    state.expires_at,
                    self.epoch(),
                );
                self.check_cookie_len(self.codec.encrypted_cookie_len(plain))
            }
            Storage::Server(_) => Ok(()),
        }
    }

    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    fn check_cookie_len(&self, size: usize) -> Result<()> {
        let max = crate::cookie::MAX_COOKIE_LEN;
        if size > max {
            return Err(Error::CookieTooLarge { size, max });
        }
        Ok(())
    }

    /// The revocation epoch new cookie-store cookies are issued under.
    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    fn epoch(&self) -> u64 {
        self.revocation.as_ref().map_or(0, RevocationEpoch::current)
    }

    /// Whether a session with this `lifetime` gets a persistent cookie.
    fn persistent(&self, lifetime: Lifetime) -> bool {
        match lifetime {
            Lifetime::Remember(_) => true,
            Lifetime::BrowserSession => false,
            Lifetime::Configured => self.config.lifetime == CookieLifetime::Persistent,
        }
    }

    fn max_age(
        &self,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        lifetime: Lifetime,
    ) -> Option<Duration> {
        self.persistent(lifetime).then(|| expires_at - now)
    }

    /// Whether a read-only request should push the expiry from `current` to `next`.
    fn touch_due(&self, current: OffsetDateTime, next: OffsetDateTime) -> bool {
        next > current && next - current >= self.touch_interval
    }

    fn id_cookie(
        &self,
        id: &SessionId,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        lifetime: Lifetime,
    ) -> SetCookie {
        self.codec.set_cookie(
            self.codec.sign_id(id),
            self.max_age(expires_at, now, lifetime),
        )
    }

    /// The cookie to send after a request on an existing session: a persistent cookie's
    /// `Max-Age` follows the expiry when the expiry `moved` (at most once per touch interval),
    /// and a cookie accepted under an old key is re-signed. Otherwise nothing is sent, so a
    /// response that arrives late never puts an id back into the browser that a concurrent
    /// request has just replaced.
    fn refreshed_cookie(
        &self,
        id: &SessionId,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        moved: bool,
        reissue: bool,
        lifetime: Lifetime,
    ) -> Option<SetCookie> {
        ((self.persistent(lifetime) && moved) || reissue)
            .then(|| self.id_cookie(id, expires_at, now, lifetime))
    }

    /// Inserts `record` under a freshly minted id, retrying on the (astronomically unlikely)
    /// collision.
    async fn create(&self, store: &dyn SessionStore, record: &Record) -> Result<SessionId> {
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            if store.create(&id.digest(), record).await? {
                tracing::debug!(session = %id.digest(), "session created");
                return Ok(id);
            }
            tracing::warn!("a freshly minted session id collided with an existing one; retrying");
        }
        Err(Error::IdCollision {
            attempts: CREATE_ATTEMPTS,
        })
    }

    async fn commit_server(
        &self,
        store: &dyn SessionStore,
        snapshot: Snapshot,
        now: OffsetDateTime,
    ) -> Result<Option<SetCookie>> {
        if let Some((old, owner)) = &snapshot.to_delete {
            self.destroy(store, old, now).await?;
            if let Some(owner) = owner {
                crate::owners::remove(store, owner, &old.digest(), now).await?;
            }
        }
        let mut snapshot = snapshot;
        match snapshot.origin.clone() {
            Origin::Stored { id, digest } => {
                if snapshot.cycle {
                    // A new id starts a new absolute lifetime: a login late in an anonymous
                    // session's life must not be cut short by it.
                    let deadline = self.deadline_for(now, now, snapshot.lifetime);
                    snapshot.mark_seen(now);
                    return self.cycle(store, &id, snapshot, deadline, now).await;
                }
                let lifetime = snapshot.lifetime;
                let deadline = self.deadline_for(snapshot.created_at, now, lifetime);
                // Writes move the expiry (and re-send the cookie) only as often as reads do,
                // so that the stored expiry and the browser's cookie move together.
                let moved = self.touch_due(snapshot.expires_at, deadline);
                let expires_at = if moved {
                    deadline
                } else {
                    snapshot.expires_at.min(deadline)
                };
                if moved {
                    snapshot.mark_seen(now);
                }
                let reissue = snapshot.reissue;
                // Only a request that gave the session another owner (or none) moves its entry.
                let owners = (snapshot.loaded_owner != snapshot.owner)
                    .then(|| (snapshot.loaded_owner.clone(), snapshot.owner.clone()));
                if snapshot.changed() {
                    let changes = snapshot.changes(expires_at);
                    if !store.apply(&digest, &changes).await? {
                        self.forward(store, &id, &digest, changes).await?;
                        return Ok(None);
                    }
                    if let Some(owners) = owners {
                        self.reindex(store, owners, Some(&digest), Some(&digest), now)
                            .await?;
                    }
                    return Ok(
                        self.refreshed_cookie(&id, expires_at, now, moved, reissue, lifetime)
                    );
                }
                if moved {
                    if !store.touch(&digest, expires_at).await? {
                        return Ok(None);
                    }
                    return Ok(self.refreshed_cookie(&id, expires_at, now, true, reissue, lifetime));
                }
                Ok(reissue.then(|| self.id_cookie(&id, snapshot.expires_at, now, lifetime)))
            }
            Origin::New | Origin::Cookie => {
                if snapshot.data.is_empty() {
                    let removal = snapshot.destroyed && snapshot.had_cookie;
                    return Ok(removal.then(|| self.codec.removal()));
                }
                let lifetime = snapshot.lifetime;
                let owner = snapshot.owner.clone();
                let record = Record::new(snapshot.data, now, self.deadline_for(now, now, lifetime));
                let id = self.create(store, &record).await?;
                self.reindex(store, (None, owner), None, Some(&id.digest()), now)
                    .await?;
                Ok(Some(self.id_cookie(&id, record.expires_at, now, lifetime)))
            }
        }
    }

    /// Keeps the owner indexes in step with a session that was stored as `from` under owner
    /// `owners.0` and is now stored as `to` under owner `owners.1` (`None`: not stored).
    async fn reindex(
        &self,
        store: &dyn SessionStore,
        owners: (Option<String>, Option<String>),
        from: Option<&IdDigest>,
        to: Option<&IdDigest>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let (before, after) = owners;
        if before == after && from == to {
            return Ok(());
        }
        if let (Some(owner), Some(from)) = (&before, from) {
            crate::owners::remove(store, owner, from, now).await?;
        }
        if let (Some(owner), Some(to)) = (&after, to) {
            crate::owners::add(store, owner, to, now).await?;
        }
        Ok(())
    }

    /// Moves the stored session `id` to a new id, with this request's changes, and returns the
    /// new id's cookie.
    ///
    /// In order: a forwarding pointer for the old id is created (empty: "a cycle is under
    /// way"), the old record is taken (atomically with concurrent applies), it is created under
    /// a new id, and the pointer is set to name that id. A request whose apply to the old id
    /// fails follows the pointer (see [`forward`](Self::forward)). Whoever's `take` returns the
    /// record owns the cycle, so a pointer left by a request that failed or was cancelled
    /// before its take never stops a later cycle from giving the session a new id.
    async fn cycle(
        &self,
        store: &dyn SessionStore,
        id: &SessionId,
        snapshot: Snapshot,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<SetCookie>> {
        let digest = id.digest();
        let forward = id.forward_digest();
        let changed = snapshot.changed();
        let lifetime = snapshot.lifetime;
        let owners = (snapshot.loaded_owner.clone(), snapshot.owner.clone());
        let changes = snapshot.changes(expires_at);
        let pointer_expiry = expires_at.min(now.saturating_add(FORWARD_GRACE));
        let mark = serde_json::Map::from_iter([(FORWARDING_POINTER_KEY.to_owned(), true.into())]);
        let pointer = Record::new(mark, now, pointer_expiry);
        // `false`: another request made the pointer, and is cycling now, failed or is done;
        // the take below decides.
        store.create(&forward, &pointer).await?;
        let Some(mut record) = store.take(&digest).await? else {
            // Cycled by another request (its response carries the new cookie), destroyed or
            // expired. The pointer stays: if another request owns the cycle, it is about to
            // name the new id, and concurrent writers need it.
            tracing::debug!(session = %digest, "session taken, destroyed or expired before this request could cycle it; its changes follow any new id");
            if changed {
                self.forward(store, id, &digest, changes).await?;
            }
            return Ok(None);
        };
        record.apply(&changes);
        record.created_at = now;
        let new_id = self.create(store, &record).await?;
        let mut target = Changes::expiry_only(pointer_expiry);
        target.set = pointer_data(&new_id.digest());
        if !store.apply(&forward, &target).await? {
            tracing::debug!(session = %digest, "the forwarding pointer expired before the cycle finished");
        }
        // A destroy of the old id that raced this cycle marks the pointer after deleting the
        // old record, then deletes whatever the pointer names. Either it saw the name set just
        // above and deletes the new record itself, or its mark is visible here: destroy wins.
        if let Some(pointer) = store.load(&forward).await?
            && pointer.data.contains_key(FORWARD_DESTROYED)
        {
            store.delete(&new_id.digest()).await?;
            tracing::debug!(session = %digest, "session destroyed while its id was being cycled; the new id was deleted too");
            return Ok(Some(self.codec.removal()));
        }
        tracing::debug!(session = %digest, to = %new_id.digest(), "session id cycled");
        self.reindex(store, owners, Some(&digest), Some(&new_id.digest()), now)
            .await?;
        Ok(Some(self.id_cookie(&new_id, expires_at, now, lifetime)))
    }

    /// Deletes the stored session `id` and anything a concurrent [`cycle`](Self::cycle) of it
    /// made: after the old record is gone, its forwarding pointer, if a cycle made one, is
    /// marked destroyed, and a new id the pointer already names is deleted too. A cycle that
    /// names its new id after the mark sees it and deletes the new record itself.
    async fn destroy(
        &self,
        store: &dyn SessionStore,
        id: &SessionId,
        now: OffsetDateTime,
    ) -> Result<()> {
        let digest = id.digest();
        store.delete(&digest).await?;
        let forward = id.forward_digest();
        let mut mark = Changes::expiry_only(now.saturating_add(FORWARD_GRACE));
        mark.set
            .insert(FORWARD_DESTROYED.to_owned(), serde_json::Value::Bool(true));
        // Only a cycle that took the old record before the delete above can bring the data
        // back, and such a cycle made its pointer before its take: no pointer now, no cycle
        // to stop (a later one finds no record to take), and nothing is left behind.
        if !store.apply(&forward, &mark).await? {
            tracing::debug!(session = %digest, "session destroyed");
            return Ok(());
        }
        if let Some(pointer) = store.load(&forward).await?
            && let Some(to) = pointer.data.get(FORWARD_TO)
            && let Some(target) = to.as_str().and_then(IdDigest::from_hex)
        {
            store.delete(&target).await?;
            tracing::debug!(session = %digest, to = %target, "session destroyed while its id was being cycled; the new id was deleted too");
        }
        tracing::debug!(session = %digest, "session destroyed");
        Ok(())
    }

    /// Delivers the `changes` of a request that loaded the session `id` (stored under `digest`)
    /// after `apply` to it returned `false`: if the session was cycled since, its forwarding
    /// pointer names the new id and the changes go there; if it was destroyed or has expired,
    /// they are dropped. Sends no cookie either way: the browser keeps whatever id the cycling
    /// request gave it.
    async fn forward(
        &self,
        store: &dyn SessionStore,
        id: &SessionId,
        digest: &IdDigest,
        mut changes: Changes,
    ) -> Result<()> {
        let Some(target) = self.follow(store, id, digest).await? else {
            return Ok(());
        };
        // The new record exists before the pointer names it, and `apply` never creates one:
        // no record, or `false`, means the new session was destroyed since. The cycle gave
        // the new record its expiry, from a lifetime this request may not know of (a "remember
        // me" login): the changes keep it rather than put this request's back.
        let kept = match store.load(&target).await? {
            Some(record) => {
                changes.expires_at = record.expires_at;
                store.apply(&target, &changes).await?
            }
            None => false,
        };
        if kept {
            tracing::debug!(session = %digest, to = %target, "session was cycled concurrently; changes applied to the new id");
        } else {
            tracing::debug!(session = %digest, to = %target, "session was cycled, then destroyed; changes dropped");
        }
        Ok(())
    }

    /// Where the changes of a request that loaded the session `id` (stored under `digest`) go
    /// when its record is gone: the new id's digest if a concurrent request cycled it (waiting
    /// for that request to name the new id), `None` if the session was destroyed, has expired
    /// or its pointer is damaged (logged). Fails with [`Error::CycleRace`] if the new id is not
    /// named in time.
    pub(crate) async fn follow(
        &self,
        store: &dyn SessionStore,
        id: &SessionId,
        digest: &IdDigest,
    ) -> Result<Option<IdDigest>> {
        let forward = id.forward_digest();
        let started = tokio::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(1);
        for attempt in 0.. {
            let Some(pointer) = store.load(&forward).await? else {
                tracing::debug!(session = %digest, "session deleted concurrently; changes dropped");
                return Ok(None);
            };
            if pointer.data.contains_key(FORWARD_DESTROYED) {
                tracing::debug!(session = %digest, "session destroyed concurrently; changes dropped");
                return Ok(None);
            }
            match pointer.data.get(FORWARD_TO) {
                // The cycling request has taken the old record and not yet named the new id
                // (one or two store round trips): wait for it, first by yielding (a fast store
                // is done within a few), then with growing sleeps, up to a deadline.
                None => {
                    if started.elapsed() >= FORWARD_WAIT {
                        break;
                    }
                    if attempt < FORWARD_YIELDS {
                        YieldNow::default().await;
                    } else {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(FORWARD_MAX_PAUSE);
                    }
                }
                Some(to) => {
                    let target = to.as_str().and_then(IdDigest::from_hex);
                    if target.is_none() {
                        tracing::warn!(session = %digest, "the forwarding pointer of a cycled session is damaged; changes dropped");
                    }
                    return Ok(target);
                }
            }
        }
        let waited = started.elapsed();
        tracing::warn!(
            session = %digest,
            waited_ms = waited.as_millis() as u64,
            "changes of a request that raced an id cycle could not be saved: the cycle did not \
             name the new id in time (the cycling request failed, or the store is very slow)"
        );
        Err(Error::CycleRace {
            waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
        })
    }

    #[cfg(feature = "cookie-store")]
    fn commit_cookie(&self, state: &State, now: OffsetDateTime) -> Result<Option<SetCookie>> {
        let changed = state.changed() || state.cycle || state.destroyed;
        if state.data.is_empty() {
            // Nothing left to keep: drop the browser's cookie if this request emptied it.
            let removal = state.had_cookie && changed;
            return Ok(removal.then(|| self.codec.removal()));
        }
        // A new id (login) starts a new absolute lifetime, as with server-side stores.
        let created_at = match state.origin {
            Origin::New => now,
            Origin::Stored { .. } | Origin::Cookie if state.cycle => now,
            Origin::Stored { .. } | Origin::Cookie => state.created_at,
        };
        let lifetime = self.lifetime_of(&state.data);
        let expires_at = self.deadline_for(created_at, now, lifetime);
        if !(changed || state.reissue || self.touch_due(state.expires_at, expires_at)) {
            return Ok(None);
        }
        let plain =
            crate::stores::cookie::encode(&state.data, created_at, expires_at, self.epoch());
        let cookie = self.codec.set_cookie(
            self.codec.encrypt(&plain)?,
            self.max_age(expires_at, now, lifetime),
        );
        self.check_cookie_len(cookie.as_str().len())?;
        Ok(Some(cookie))
    }
}

/// The data of a forwarding pointer to `target`.
fn pointer_data(target: &IdDigest) -> serde_json::Map<String, serde_json::Value> {
    let mut data = serde_json::Map::new();
    data.insert(FORWARD_TO.to_owned(), target.to_hex().into());
    data
}

/// Lets the runtime run other tasks once, whatever the runtime: wakes itself and returns
/// `Pending` on the first poll, `Ready` on the second.
#[derive(Default)]
pub(crate) struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(all(test, feature = "memory-store"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::MemoryStore;

    /// The engine over `store`, a session id without a record (as a late writer finds it after
    /// a cycle or a destroy), and the engine's time.
    fn setup(store: &MemoryStore) -> (SessionManager, SessionId, OffsetDateTime) {
        let manager =
            SessionManager::new(store.clone(), KeyRing::generate(), SessionConfig::default())
                .unwrap();
        let now = manager.shared.now();
        (manager, SessionId::generate().unwrap(), now)
    }

    fn late_write(now: OffsetDateTime) -> Changes {
        let mut changes = Changes::expiry_only(now + Duration::hours(1));
        changes.set.insert("late".to_owned(), json!(1));
        changes
    }

    /// A forwarding pointer holding `data` for `id`.
    async fn pointer(
        store: &MemoryStore,
        id: &SessionId,
        data: serde_json::Value,
        now: OffsetDateTime,
    ) {
        let serde_json::Value::Object(data) = data else {
            panic!("pointer data is an object")
        };
        let record = Record::new(data, now, now + FORWARD_GRACE);
        assert!(store.create(&id.forward_digest(), &record).await.unwrap());
    }

    fn empty(now: OffsetDateTime) -> Record {
        Record::new(serde_json::Map::new(), now, now + Duration::hours(1))
    }

    #[tokio::test]
    async fn a_damaged_forwarding_pointer_drops_the_changes_and_creates_nothing() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        for damaged in [json!("not a digest"), json!(7), json!(null)] {
            store.delete(&id.forward_digest()).await.unwrap();
            pointer(&store, &id, json!({ FORWARD_TO: damaged }), now).await;
            let stored = store.load(&id.forward_digest()).await.unwrap().unwrap();
            assert!(
                stored.data.contains_key("to"),
                "the pointer names something"
            );
            manager
                .shared
                .forward(&store, &id, &id.digest(), late_write(now))
                .await
                .unwrap();
            assert_eq!(store.len(), 1, "only the pointer is stored");
            assert_eq!(store.load(&id.digest()).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn a_forwarded_write_waits_until_the_pointer_names_the_new_id() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        let target = SessionId::generate().unwrap().digest();
        pointer(&store, &id, json!({}), now).await;
        let (changes, digest) = (late_write(now), id.digest());
        // The cycle finishes only after the write has found the pointer empty and yielded.
        let (forwarded, ()) = tokio::join!(
            manager.shared.forward(&store, &id, &digest, changes),
            async {
                YieldNow::default().await;
                assert!(store.create(&target, &empty(now)).await.unwrap());
                let mut name = Changes::expiry_only(now + FORWARD_GRACE);
                name.set = pointer_data(&target);
                assert!(store.apply(&id.forward_digest(), &name).await.unwrap());
            }
        );
        forwarded.unwrap();
        let landed = store.load(&target).await.unwrap().unwrap();
        assert_eq!(landed.data.get("late"), Some(&json!(1)));
    }

    /// Time is paused, so the ten seconds of waiting pass at once.
    #[tokio::test(start_paused = true)]
    async fn a_forwarded_write_fails_if_the_pointer_never_names_a_new_id() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        pointer(&store, &id, json!({}), now).await;
        let result = manager
            .shared
            .forward(&store, &id, &id.digest(), late_write(now))
            .await;
        assert!(
            matches!(result, Err(Error::CycleRace { waited_ms }) if waited_ms >= 10_000),
            "{result:?}"
        );
        assert_eq!(store.len(), 1, "only the pointer is stored");
    }

    /// A slow cycle (here: a second and a half between taking the old record and naming the
    /// new one) no longer outlasts the write's patience.
    #[tokio::test(start_paused = true)]
    async fn a_forwarded_write_waits_for_a_slow_cycle() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        let target = SessionId::generate().unwrap().digest();
        pointer(&store, &id, json!({}), now).await;
        let (changes, digest) = (late_write(now), id.digest());
        let (forwarded, ()) = tokio::join!(
            manager.shared.forward(&store, &id, &digest, changes),
            async {
                tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
                assert!(store.create(&target, &empty(now)).await.unwrap());
                let mut name = Changes::expiry_only(now + FORWARD_GRACE);
                name.set = pointer_data(&target);
                assert!(store.apply(&id.forward_digest(), &name).await.unwrap());
            }
        );
        forwarded.unwrap();
        let landed = store.load(&target).await.unwrap().unwrap();
        assert_eq!(landed.data.get("late"), Some(&json!(1)));
    }

    #[tokio::test]
    async fn a_forwarded_write_to_a_destroyed_session_is_dropped_at_once() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        pointer(&store, &id, json!({ FORWARD_DESTROYED: true }), now).await;
        manager
            .shared
            .forward(&store, &id, &id.digest(), late_write(now))
            .await
            .unwrap();
        assert_eq!(store.len(), 1, "only the pointer is stored");
    }

    #[tokio::test]
    async fn a_forwarded_write_to_a_destroyed_new_session_creates_nothing() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        let gone = SessionId::generate().unwrap().digest();
        pointer(&store, &id, json!({ FORWARD_TO: gone.to_hex() }), now).await;
        manager
            .shared
            .forward(&store, &id, &id.digest(), late_write(now))
            .await
            .unwrap();
        assert_eq!(store.load(&gone).await.unwrap(), None);
        assert_eq!(store.len(), 1, "only the pointer is stored");
    }

    #[tokio::test]
    async fn without_a_pointer_the_changes_are_dropped() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        manager
            .shared
            .forward(&store, &id, &id.digest(), late_write(now))
            .await
            .unwrap();
        assert!(store.is_empty());
    }

    #[test]
    fn yield_now_is_pending_once_then_ready() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut future = YieldNow::default();
        assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Pending);
        assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Ready(()));
    }
}
