//! The engine: [`SessionManager`] turns a request's `Cookie` headers into a lazy [`Session`],
//! and a finished session plus the response status into store writes and a `Set-Cookie` value.
//! Adapters for web frameworks only translate between their types and these two calls.

use std::fmt;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::config::{CookieLifetime, SessionConfig};
use crate::cookie::{CookieCodec, SetCookie};
use crate::error::{ConfigError, Error, Result};
use crate::id::SessionId;
use crate::keys::KeyRing;
use crate::record::{Changes, Record, whole_seconds};
use crate::session::{Origin, Session, State};
use crate::store::{SessionStore, Storage};

/// A source of the current time; see [`SessionManager::with_clock`].
type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// How many fresh ids are tried before giving up on a store whose `create` keeps refusing.
const CREATE_ATTEMPTS: u32 = 8;

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
    touch_interval: Duration,
    clock: Option<Clock>,
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
        let shared = Shared {
            codec: CookieCodec::new(&config, keys),
            storage: storage.into(),
            idle: config.idle_timeout().map(to_time).transpose()?,
            absolute: config.absolute_timeout().map(to_time).transpose()?,
            touch_interval: to_time(config.touch_interval)?,
            clock: None,
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
    pub fn session<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Session {
        let candidates = self.shared.codec.candidates(cookie_headers);
        Session::new(self.shared.clone(), candidates)
    }

    /// Ends a request: writes what the handler changed and returns the `Set-Cookie` value to
    /// send, if any. Call it once per request; later calls do nothing.
    ///
    /// An untouched session costs nothing and returns `None`. For a response status of 500 or
    /// above nothing is saved unless
    /// [`with_persist_on_server_error`](SessionConfig::with_persist_on_server_error) says so. A
    /// destroyed session gets a removal cookie. An error here means the changes may not have
    /// been saved: answer with an opaque 500 and log the error.
    pub async fn finish(&self, session: &Session, status: u16) -> Result<Option<SetCookie>> {
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
                Storage::Server(store) => (store, Snapshot::take(&state)),
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
    to_delete: Option<crate::IdDigest>,
    /// The whole data for a new session; for a stored one only the keys this request set.
    data: serde_json::Map<String, serde_json::Value>,
    cleared: bool,
    removed: Vec<String>,
}

impl Snapshot {
    fn take(state: &State) -> Self {
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
            to_delete: state.to_delete,
            data,
            cleared: state.cleared,
            removed,
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

    /// Verifies the request's cookie and loads its session; anything invalid, unknown or
    /// expired yields a new, empty session.
    pub(crate) async fn load(&self, candidates: &[String]) -> Result<State> {
        let now = self.now();
        let had_cookie = !candidates.is_empty();
        match &self.storage {
            #[cfg(feature = "cookie-store")]
            Storage::Cookie => {
                for value in candidates {
                    if let Some((record, old_key)) =
                        crate::stores::cookie::decode(&self.codec, value, now)
                    {
                        return Ok(State::loaded(Origin::Cookie, record, old_key));
                    }
                }
                if had_cookie {
                    tracing::debug!(
                        "session cookie was forged, corrupt, from another key ring or expired; \
                         starting a new session"
                    );
                }
            }
            Storage::Server(store) => {
                for value in candidates {
                    let Some((id, old_key)) = self.codec.verify_id(value) else {
                        tracing::debug!("session cookie failed signature verification; ignored");
                        continue;
                    };
                    let digest = id.digest();
                    if let Some(record) = store.load(&digest).await?
                        && !record.is_expired_at(now)
                    {
                        return Ok(State::loaded(
                            Origin::Stored { id, digest },
                            record,
                            old_key,
                        ));
                    }
                    tracing::debug!(session = %digest, "session unknown or expired; not adopted");
                }
            }
        }
        Ok(State::new(now, self.deadline(now, now), had_cookie))
    }

    /// With the cookie store, fails if the session would no longer fit in a cookie.
    #[cfg_attr(not(feature = "cookie-store"), allow(unused_variables))]
    pub(crate) fn check_size(&self, state: &State) -> Result<()> {
        match self.storage {
            #[cfg(feature = "cookie-store")]
            Storage::Cookie => {
                let plain = crate::stores::cookie::encoded_len(
                    &state.data,
                    state.created_at,
                    state.expires_at,
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

    fn max_age(&self, expires_at: OffsetDateTime, now: OffsetDateTime) -> Option<Duration> {
        match self.config.lifetime {
            CookieLifetime::Persistent => Some(expires_at - now),
            CookieLifetime::BrowserSession => None,
        }
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
    ) -> SetCookie {
        self.codec
            .set_cookie(self.codec.sign_id(id), self.max_age(expires_at, now))
    }

    /// The cookie to send after the expiry of an existing session moved: a persistent cookie's
    /// `Max-Age` must follow, and one accepted under an old key must be re-signed.
    fn refreshed_cookie(
        &self,
        id: &SessionId,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        reissue: bool,
    ) -> Option<SetCookie> {
        let persistent = self.config.lifetime == CookieLifetime::Persistent;
        (persistent || reissue).then(|| self.id_cookie(id, expires_at, now))
    }

    /// Inserts `record` under a freshly minted id, retrying on the (astronomically unlikely)
    /// collision.
    async fn create(&self, store: &dyn SessionStore, record: &Record) -> Result<SessionId> {
        for _ in 0..CREATE_ATTEMPTS {
            let id = SessionId::generate()?;
            if store.create(&id.digest(), record).await? {
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
        if let Some(old) = &snapshot.to_delete {
            store.delete(old).await?;
        }
        match snapshot.origin.clone() {
            Origin::Stored { id, digest } => {
                let expires_at = self.deadline(snapshot.created_at, now);
                if snapshot.cycle {
                    // Re-read so keys written by concurrent requests move to the new id too.
                    let Some(mut record) = store.load(&digest).await? else {
                        tracing::debug!(session = %digest, "session vanished before its id was cycled");
                        return Ok(None);
                    };
                    record.apply(&snapshot.changes(expires_at));
                    let new_id = self.create(store, &record).await?;
                    store.delete(&digest).await?;
                    return Ok(Some(self.id_cookie(&new_id, expires_at, now)));
                }
                let reissue = snapshot.reissue;
                if snapshot.changed() {
                    if !store.apply(&digest, &snapshot.changes(expires_at)).await? {
                        // Deleted or cycled by a concurrent request: do not bring it back.
                        tracing::debug!(session = %digest, "session deleted concurrently; changes dropped");
                        return Ok(None);
                    }
                    return Ok(self.refreshed_cookie(&id, expires_at, now, reissue));
                }
                if self.touch_due(snapshot.expires_at, expires_at) {
                    if !store.touch(&digest, expires_at).await? {
                        return Ok(None);
                    }
                    return Ok(self.refreshed_cookie(&id, expires_at, now, reissue));
                }
                Ok(reissue.then(|| self.id_cookie(&id, snapshot.expires_at, now)))
            }
            Origin::New | Origin::Cookie => {
                if snapshot.data.is_empty() {
                    let removal = snapshot.destroyed && snapshot.had_cookie;
                    return Ok(removal.then(|| self.codec.removal()));
                }
                let record = Record::new(snapshot.data, now, self.deadline(now, now));
                let id = self.create(store, &record).await?;
                Ok(Some(self.id_cookie(&id, record.expires_at, now)))
            }
        }
    }

    #[cfg(feature = "cookie-store")]
    fn commit_cookie(&self, state: &State, now: OffsetDateTime) -> Result<Option<SetCookie>> {
        let changed = state.changed() || state.cycle || state.destroyed;
        if state.data.is_empty() {
            // Nothing left to keep: drop the browser's cookie if this request emptied it.
            let removal = state.had_cookie && changed;
            return Ok(removal.then(|| self.codec.removal()));
        }
        let created_at = match state.origin {
            Origin::New => now,
            Origin::Stored { .. } | Origin::Cookie => state.created_at,
        };
        let expires_at = self.deadline(created_at, now);
        if !(changed || state.reissue || self.touch_due(state.expires_at, expires_at)) {
            return Ok(None);
        }
        let plain = crate::stores::cookie::encode(&state.data, created_at, expires_at);
        let cookie = self
            .codec
            .set_cookie(self.codec.encrypt(plain), self.max_age(expires_at, now));
        self.check_cookie_len(cookie.as_str().len())?;
        Ok(Some(cookie))
    }
}
