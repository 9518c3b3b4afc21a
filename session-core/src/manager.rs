//! The engine: [`SessionManager`] turns a request's `Cookie` headers into a lazy [`Session`],
//! and a finished session plus the response status into store writes and a `Set-Cookie` value.
//! Adapters for web frameworks only translate between their types and these two calls.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use time::{Duration, OffsetDateTime};

use crate::config::{CookieLifetime, SessionConfig};
use crate::cookie::{Candidates, CookieCodec, SetCookie};
use crate::error::{ConfigError, Error, Result};
use crate::id::{IdDigest, SessionId};
use crate::keys::KeyRing;
use crate::record::{Changes, Record, whole_seconds};
use crate::session::{Origin, Session, State};
use crate::store::{SessionStore, Storage};

/// A source of the current time; see [`SessionManager::with_clock`].
type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// How many fresh ids are tried before giving up on a store whose `create` keeps refusing.
const CREATE_ATTEMPTS: u32 = 8;

/// How long the forwarding pointer of a cycled id lives: requests that loaded the session
/// before the cycle and finish within this time deliver their changes to the new id.
const FORWARD_GRACE: Duration = Duration::seconds(60);

/// How many times a forwarded write reads the forwarding pointer while the cycle has not named
/// the new id yet.
const FORWARD_ATTEMPTS: u32 = 50;

/// The key of a forwarding pointer's record that holds the new digest, as hex.
const FORWARD_TO: &str = "to";

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
    ///
    /// With a server-side store, a request that changed an existing session gets a `Set-Cookie`
    /// only when the session's expiry moved (at most once per
    /// [touch interval](SessionConfig::with_touch_interval)) or the cookie must be re-signed
    /// under a newer key; a request that cycled the id gets the new id's cookie. A request that
    /// loaded the session before another request cycled it gets no cookie: its changes are
    /// applied to the new id (if it finishes within a minute of the cycle), and the browser
    /// keeps the new id.
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
    to_delete: Option<IdDigest>,
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
    pub(crate) async fn load(&self, candidates: &Candidates) -> Result<State> {
        let now = self.now();
        let had_cookie = !candidates.is_empty();
        match &self.storage {
            #[cfg(feature = "cookie-store")]
            Storage::Cookie => {
                for value in candidates.iter() {
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
                for value in candidates.iter() {
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
    ) -> Option<SetCookie> {
        let persistent = self.config.lifetime == CookieLifetime::Persistent;
        ((persistent && moved) || reissue).then(|| self.id_cookie(id, expires_at, now))
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
        if let Some(old) = &snapshot.to_delete {
            store.delete(old).await?;
            tracing::debug!(session = %old, "session destroyed");
        }
        match snapshot.origin.clone() {
            Origin::Stored { id, digest } => {
                let deadline = self.deadline(snapshot.created_at, now);
                if snapshot.cycle {
                    return self.cycle(store, &id, snapshot, deadline, now).await;
                }
                // Writes move the expiry (and re-send the cookie) only as often as reads do,
                // so that the stored expiry and the browser's cookie move together.
                let moved = self.touch_due(snapshot.expires_at, deadline);
                let expires_at = if moved {
                    deadline
                } else {
                    snapshot.expires_at.min(deadline)
                };
                let reissue = snapshot.reissue;
                if snapshot.changed() {
                    let changes = snapshot.changes(expires_at);
                    if !store.apply(&digest, &changes).await? {
                        self.forward(store, &id, &digest, &changes).await?;
                        return Ok(None);
                    }
                    return Ok(self.refreshed_cookie(&id, expires_at, now, moved, reissue));
                }
                if moved {
                    if !store.touch(&digest, expires_at).await? {
                        return Ok(None);
                    }
                    return Ok(self.refreshed_cookie(&id, expires_at, now, true, reissue));
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
        let changes = snapshot.changes(expires_at);
        let pointer_expiry = expires_at.min(now.saturating_add(FORWARD_GRACE));
        let pointer = Record::new(serde_json::Map::new(), now, pointer_expiry);
        // `false`: another request made the pointer, and is cycling now, failed or is done;
        // the take below decides.
        store.create(&forward, &pointer).await?;
        let Some(mut record) = store.take(&digest).await? else {
            // Cycled by another request (its response carries the new cookie), destroyed or
            // expired. The pointer stays: if another request owns the cycle, it is about to
            // name the new id, and concurrent writers need it.
            tracing::debug!(session = %digest, "session taken, destroyed or expired before this request could cycle it; its changes follow any new id");
            if changed {
                self.forward(store, id, &digest, &changes).await?;
            }
            return Ok(None);
        };
        record.apply(&changes);
        let new_id = self.create(store, &record).await?;
        let mut target = Changes::expiry_only(pointer_expiry);
        target.set = pointer_data(&new_id.digest());
        if !store.apply(&forward, &target).await? {
            tracing::debug!(session = %digest, "the forwarding pointer expired before the cycle finished");
        }
        tracing::debug!(session = %digest, to = %new_id.digest(), "session id cycled");
        Ok(Some(self.id_cookie(&new_id, expires_at, now)))
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
        changes: &Changes,
    ) -> Result<()> {
        let forward = id.forward_digest();
        for _ in 0..FORWARD_ATTEMPTS {
            let Some(pointer) = store.load(&forward).await? else {
                tracing::debug!(session = %digest, "session deleted concurrently; changes dropped");
                return Ok(());
            };
            match pointer.data.get(FORWARD_TO) {
                // The cycling request has taken the old record and not yet named the new id
                // (one or two store round trips).
                None => YieldNow::default().await,
                Some(to) => {
                    let Some(target) = to.as_str().and_then(IdDigest::from_hex) else {
                        tracing::warn!(session = %digest, "the forwarding pointer of a cycled session is damaged; changes dropped");
                        return Ok(());
                    };
                    // The new record exists before the pointer names it, and `apply` never
                    // creates one: `false` means the new session was destroyed since.
                    if store.apply(&target, changes).await? {
                        tracing::debug!(session = %digest, to = %target, "session was cycled concurrently; changes applied to the new id");
                    } else {
                        tracing::debug!(session = %digest, to = %target, "session was cycled, then destroyed; changes dropped");
                    }
                    return Ok(());
                }
            }
        }
        tracing::warn!(
            session = %digest,
            attempts = FORWARD_ATTEMPTS,
            "changes of a request that raced an id cycle were dropped: the cycle never named the \
             new id (the cycling request failed, or the session was destroyed meanwhile)"
        );
        Ok(())
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

/// The data of a forwarding pointer to `target`.
fn pointer_data(target: &IdDigest) -> serde_json::Map<String, serde_json::Value> {
    let mut data = serde_json::Map::new();
    data.insert(FORWARD_TO.to_owned(), target.to_hex().into());
    data
}

/// Lets the runtime run other tasks once, whatever the runtime: wakes itself and returns
/// `Pending` on the first poll, `Ready` on the second.
#[derive(Default)]
struct YieldNow {
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
                .forward(&store, &id, &id.digest(), &late_write(now))
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
            manager.shared.forward(&store, &id, &digest, &changes),
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

    #[tokio::test]
    async fn a_forwarded_write_gives_up_if_the_pointer_never_names_a_new_id() {
        let store = MemoryStore::new();
        let (manager, id, now) = setup(&store);
        pointer(&store, &id, json!({}), now).await;
        manager
            .shared
            .forward(&store, &id, &id.digest(), &late_write(now))
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
            .forward(&store, &id, &id.digest(), &late_write(now))
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
            .forward(&store, &id, &id.digest(), &late_write(now))
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
