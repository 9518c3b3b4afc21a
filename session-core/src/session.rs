//! [`Session`]: the handle a request handler uses. Loaded lazily on first use; records which
//! keys the request changed so that only those are written back.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::config::Lifetime;
use crate::cookie::Candidates;
use crate::error::{Error, Result};
use crate::id::{IdDigest, SessionId};
use crate::manager::{Shared, YieldNow};
use crate::record::Swap;
use crate::store::SessionStore;

/// The session key [`Session::mark_fresh`] keeps the time of the user's last proof of identity
/// under, as Unix seconds. Keep it out of reach of raw writes a client controls (the example's
/// `/kv` routes refuse it), or a client could claim a fresh login.
pub const FRESH_AT_KEY: &str = "__fresh_at";

/// The session key [`Session::set_lifetime`] keeps the session's [`Lifetime`] under: the
/// seconds of a [`Lifetime::Remember`] as a number, or `"browser-session"`; absent for
/// [`Lifetime::Configured`]. Keep it out of reach of raw writes a client controls (the example's
/// `/kv` routes refuse it). Whatever it holds, the engine never keeps a session longer than
/// [`SessionConfig::with_max_lifetime`](crate::SessionConfig::with_max_lifetime) allows, and
/// reads a value it does not understand as [`Lifetime::Configured`].
pub const LIFETIME_KEY: &str = "__lifetime";

/// The session key [`Session::set_owner`] keeps the session's owner under (a string). Keep it
/// out of reach of raw writes a client controls (the example's `/kv` routes refuse every key
/// that starts with `__`): a client that could set it would put its session in another user's
/// list, and list theirs.
pub const OWNER_KEY: &str = "__owner";

/// The session key the engine keeps the time an owned session was last used under, as Unix
/// seconds, for [`SessionInfo::last_seen`](crate::SessionInfo::last_seen); updated when the
/// expiry moves (at most once per touch interval).
pub const SEEN_AT_KEY: &str = "__seen_at";

/// The longest owner name [`Session::set_owner`] accepts, in bytes.
pub const MAX_OWNER_LEN: usize = 256;

/// The value under [`LIFETIME_KEY`] for [`Lifetime::BrowserSession`].
const BROWSER_SESSION: &str = "browser-session";

/// The [`Lifetime`] `data` asks for under [`LIFETIME_KEY`], as stored (not yet capped): a
/// value that is not one the engine writes reads as [`Lifetime::Configured`].
pub(crate) fn stored_lifetime(data: &Map<String, Value>) -> Lifetime {
    match data.get(LIFETIME_KEY) {
        Some(Value::Number(secs)) => secs.as_u64().map_or(Lifetime::Configured, |secs| {
            Lifetime::Remember(std::time::Duration::from_secs(secs))
        }),
        Some(Value::String(text)) if text == BROWSER_SESSION => Lifetime::BrowserSession,
        _ => Lifetime::Configured,
    }
}

/// The owner `data` names under [`OWNER_KEY`], if it holds a string there.
pub(crate) fn owner_of(data: &Map<String, Value>) -> Option<&str> {
    data.get(OWNER_KEY).and_then(Value::as_str)
}

/// How long [`Session::update`] keeps retrying a key that concurrent updates keep changing.
const UPDATE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest pause between two attempts of a contended [`Session::update`].
const UPDATE_MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// The longest session key accepted by [`Session::set`], in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// How deeply a value may nest arrays and objects: stores that keep JSON text read it back with
/// serde_json, which refuses more than 128 levels, and the cookie store wraps the data in two
/// more. Deeper values are refused with [`Error::TooDeep`].
pub const MAX_VALUE_DEPTH: usize = 100;

/// One request's view of its session.
///
/// A cheap handle (`Clone + Send + Sync`): clones share the same state. Nothing is loaded until
/// the first method call, so a request that never touches its session costs no store I/O and
/// works while the store is down. Values are any serde type, kept as JSON values; a request reads
/// its own writes. Writes are sent to the store once, when the engine finishes the request, and
/// only for the keys this request changed; a change attempted after that (say, from a task the
/// handler spawned) fails with [`Error::Finished`] rather than being silently lost.
///
/// ```
/// # async fn demo(session: session_core::Session) -> session_core::Result<()> {
/// session.set("visits", &1u32).await?;
/// let visits: Option<u32> = session.get("visits").await?;
/// assert_eq!(visits, Some(1));
/// assert!(session.has("visits").await?);
/// session.delete("visits").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// Values of the cookies named ours, not yet verified.
    candidates: Candidates,
    state: OnceCell<Mutex<State>>,
    /// Set when the engine finished the request; later changes could not be saved.
    finished: AtomicBool,
}

/// Where the loaded session came from.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// No valid session came with the request; an id is minted only if something is stored.
    New,
    /// A live session of a server-side store.
    Stored { id: SessionId, digest: IdDigest },
    /// A valid cookie-store cookie.
    #[cfg_attr(not(feature = "cookie-store"), allow(dead_code))]
    Cookie,
}

/// The loaded session and what this request did to it.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) origin: Origin,
    /// The request carried a cookie with our name (valid or not).
    pub(crate) had_cookie: bool,
    /// The cookie was accepted under an older key and must be re-issued under the current one.
    pub(crate) reissue: bool,
    /// The session's keys and values. Written only through [`put`](Self::put),
    /// [`take`](Self::take) and [`clear`](Self::clear), which keep `data_len` true.
    pub(crate) data: Map<String, Value>,
    /// The compact JSON length of `data`: measured when a write first needs it (the size
    /// limits), then kept up to date per key, so a request's writes cost the size of what they
    /// change rather than of the whole session each.
    data_len: Option<usize>,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
    /// Keys this request set or deleted; their final state is what `data` holds.
    pub(crate) dirty: BTreeSet<String>,
    /// The request cleared every key (before any later writes in `dirty`).
    pub(crate) cleared: bool,
    /// The request asked for a new id.
    pub(crate) cycle: bool,
    /// The request destroyed the session it came with.
    pub(crate) destroyed: bool,
    /// The stored session to delete at the end of the request (after `destroy`), with
    /// whatever a concurrent `cycle_id` of it made, and its owner (whose index names it).
    pub(crate) to_delete: Option<(SessionId, Option<String>)>,
    /// The owner the session was loaded with ([`OWNER_KEY`]), whose index names it.
    pub(crate) loaded_owner: Option<String>,
}

impl State {
    pub(crate) fn new(now: OffsetDateTime, expires_at: OffsetDateTime, had_cookie: bool) -> Self {
        Self {
            origin: Origin::New,
            had_cookie,
            reissue: false,
            data: Map::new(),
            data_len: None,
            created_at: now,
            expires_at,
            dirty: BTreeSet::new(),
            cleared: false,
            cycle: false,
            destroyed: false,
            to_delete: None,
            loaded_owner: None,
        }
    }

    pub(crate) fn loaded(origin: Origin, record: crate::Record, reissue: bool) -> Self {
        Self {
            origin,
            reissue,
            loaded_owner: owner_of(&record.data).map(str::to_owned),
            data: record.data,
            ..Self::new(record.created_at, record.expires_at, true)
        }
    }

    /// Whether this request changed `key` itself (set, deleted or cleared it): then its value
    /// is this request's own until the end of the request, and no other request sees it.
    pub(crate) fn changed_here(&self, key: &str) -> bool {
        self.cleared || self.dirty.contains(key)
    }

    /// The id of the stored session whose `key` other requests may be writing: `None` for a
    /// session not stored (yet), a cookie-store session, or a key this request changed itself.
    fn shared_key(&self, key: &str) -> Option<(&SessionId, &IdDigest)> {
        match &self.origin {
            Origin::Stored { id, digest } if !self.changed_here(key) => Some((id, digest)),
            _ => None,
        }
    }

    /// Whether the request changed any key.
    pub(crate) fn changed(&self) -> bool {
        self.cleared || !self.dirty.is_empty()
    }

    /// The compact JSON length of the session's data (`{"key":value,…}`).
    pub(crate) fn data_len(&mut self) -> usize {
        *self
            .data_len
            .get_or_insert_with(|| crate::record::json_len(&self.data))
    }

    /// Stores `value` under `key`; returns the value it replaced.
    pub(crate) fn put(&mut self, key: &str, value: Value) -> Option<Value> {
        let len = self.data_len() + entry_len(key, &value);
        let previous = self.data.insert(key.to_owned(), value);
        self.data_len = Some(match &previous {
            Some(old) => len - entry_len(key, old),
            // A comma before every entry but the first.
            None => len + usize::from(self.data.len() > 1),
        });
        previous
    }

    /// Removes `key`; returns its value if it was there.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        let removed = self.data.remove(key)?;
        if let Some(len) = self.data_len {
            let comma = usize::from(!self.data.is_empty());
            self.data_len = Some(len - entry_len(key, &removed) - comma);
        }
        Some(removed)
    }

    /// Replaces the data with `data`, as loaded from the store.
    fn replace(&mut self, data: Map<String, Value>) {
        self.data = data;
        self.data_len = None;
    }

    /// Removes every key.
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.data_len = Some(EMPTY_OBJECT_LEN);
    }
}

/// `value`, stored under `key`, as a `T`; [`Error::WrongType`] naming the key if it is not one.
fn typed<T: DeserializeOwned>(key: &str, value: &Value) -> Result<T> {
    T::deserialize(value).map_err(|source| Error::WrongType {
        key: key.to_owned(),
        source,
    })
}

/// The length of `{}`.
const EMPTY_OBJECT_LEN: usize = 2;

/// The compact JSON length of one entry of an object: `"key":value`.
fn entry_len(key: &str, value: &Value) -> usize {
    crate::record::json_len(key) + 1 + crate::record::json_len(value)
}

impl Session {
    pub(crate) fn new(shared: Arc<Shared>, candidates: Candidates) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                candidates,
                state: OnceCell::new(),
                finished: AtomicBool::new(false),
            }),
        }
    }

    /// The state, loading it on first use.
    async fn state(&self) -> Result<MutexGuard<'_, State>> {
        let inner = &*self.inner;
        let cell = inner
            .state
            .get_or_try_init(|| async {
                inner.shared.load(&inner.candidates).await.map(Mutex::new)
            })
            .await?;
        Ok(cell.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The state, for a change: fails once the request has finished, since the change could
    /// no longer be saved.
    async fn state_mut(&self) -> Result<MutexGuard<'_, State>> {
        let state = self.state().await?;
        // Checked under the state lock, which `finish` takes after setting the flag: a change
        // either makes it into the snapshot or is refused.
        if self.inner.finished.load(Ordering::Acquire) {
            return Err(Error::Finished);
        }
        Ok(state)
    }

    /// Marks the request finished; returns `false` if it already was.
    pub(crate) fn mark_finished(&self) -> bool {
        !self.inner.finished.swap(true, Ordering::AcqRel)
    }

    /// Whether the handler used the session (read, wrote, cycled or destroyed it), so that the
    /// response depends on the request's cookie. The adapters then add `Vary: Cookie`, so a
    /// shared cache never serves one user's page to another.
    pub fn is_accessed(&self) -> bool {
        self.inner.state.get().is_some()
    }

    /// The state if something already loaded it; `None` for an untouched session.
    pub(crate) fn loaded_state(&self) -> Option<MutexGuard<'_, State>> {
        let cell = self.inner.state.get()?;
        Some(cell.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether the request carried the token header, so the response goes in it too.
    pub(crate) fn via_header(&self) -> bool {
        self.inner.candidates.via_header()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The value under `key`, deserialized as `T`; `None` if the key is absent.
    ///
    /// A value that is not a `T` is an [`Error::WrongType`] naming the key.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let state = self.state().await?;
        state
            .data
            .get(key)
            .map(|value| typed(key, value))
            .transpose()
    }

    /// The raw JSON value under `key`, if any.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>> {
        Ok(self.state().await?.data.get(key).cloned())
    }

    /// Stores `value` under `key`, replacing what was there.
    ///
    /// Fails with [`Error::KeyTooLong`] for keys over [`MAX_KEY_LEN`] bytes, with
    /// [`Error::SessionTooLarge`] or [`Error::TooManyKeys`] if the session would outgrow the
    /// configured limits ([`SessionConfig::with_max_session_bytes`](crate::SessionConfig::with_max_session_bytes),
    /// [`with_max_keys`](crate::SessionConfig::with_max_keys)), and, with the cookie store,
    /// with [`Error::CookieTooLarge`] if the cookie would outgrow what browsers keep; a failed
    /// `set` changes nothing.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        check_key(key)?;
        self.insert(key, to_value(key, value)?).await
    }

    /// Stores a value [`to_value`] already serialized (or reports why it could not be): lets
    /// [`Key::set`](crate::Key::set) serialize before it returns, so its future borrows nothing
    /// but the session.
    pub(crate) async fn set_serialized(&self, key: &str, value: Result<Value>) -> Result<()> {
        check_key(key)?;
        self.insert(key, value?).await
    }

    /// Stores a raw JSON value under `key`; see [`set`](Self::set).
    pub async fn set_value(&self, key: &str, value: Value) -> Result<()> {
        check_key(key)?;
        self.insert(key, value).await
    }

    /// Stores `value` under an already checked `key`.
    async fn insert(&self, key: &str, value: Value) -> Result<()> {
        check_depth(key, &value)?;
        let mut state = self.state_mut().await?;
        self.put_within_limits(&mut state, key, value)?;
        state.dirty.insert(key.to_owned());
        Ok(())
    }

    /// Puts `value` under `key` in `state` if the session stays within its limits (see
    /// [`set`](Self::set)); returns the value it replaced. A refused value changes nothing.
    fn put_within_limits(
        &self,
        state: &mut State,
        key: &str,
        value: Value,
    ) -> Result<Option<Value>> {
        let previous = state.put(key, value);
        if let Err(error) = self.inner.shared.check_size(state, previous.is_none()) {
            restore(state, key, previous);
            return Err(error);
        }
        Ok(previous)
    }

    /// Whether a value is stored under `key`.
    pub async fn has(&self, key: &str) -> Result<bool> {
        Ok(self.state().await?.data.contains_key(key))
    }

    /// Deletes `key`; returns whether it was present.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let mut state = self.state_mut().await?;
        let present = state.take(key).is_some();
        if present {
            state.dirty.insert(key.to_owned());
        }
        Ok(present)
    }

    /// The value under `key`, deserialized as `T`, and deleted from the session: it is returned
    /// once. This is what a flash message is: set it with [`set`](Self::set) (say, before a
    /// redirect after login), and the next request that takes it shows it and removes it.
    ///
    /// With a server-side store the key is deleted in the store at once, with a
    /// [`compare_and_set`](crate::SessionStore::compare_and_set): of two requests of one session
    /// that take the value at the same time, one gets it and the other `None`, and the removal
    /// stands even if the response is later a server error. On a session not stored yet, on a
    /// key this request set, and with the cookie store, the removal is saved with the request
    /// like any change. A value that is not a `T` is an [`Error::WrongType`] naming the key, and
    /// stays in the session; a session destroyed meanwhile is an [`Error::SessionGone`].
    ///
    /// ```
    /// # async fn show(session: &session_core::Session) -> session_core::Result<()> {
    /// session.set("flash", "Welcome back, Ada").await?;
    /// // On the next request:
    /// let message: Option<String> = session.take("flash").await?;
    /// assert_eq!(message.as_deref(), Some("Welcome back, Ada"));
    /// assert_eq!(session.take::<String>("flash").await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn take<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let store = self.inner.shared.server_store();
        let mut cycled_to: Option<IdDigest> = None;
        let mut retry = Retry::new(key);
        loop {
            retry.begin();
            let (store, id, digest, expected, value) = {
                let mut state = self.state_mut().await?;
                let Some(current) = state.data.get(key) else {
                    return Ok(None);
                };
                let value: T = typed(key, current)?;
                let (Some(store), Some((id, digest))) = (store, state.shared_key(key)) else {
                    // No other request can see this key's value: an ordinary change.
                    state.take(key);
                    state.dirty.insert(key.to_owned());
                    return Ok(Some(value));
                };
                (store, id.clone(), *digest, current.clone(), value)
            };
            let swap = self.swap(
                store,
                &id,
                &digest,
                &mut cycled_to,
                key,
                Some(&expected),
                None,
            );
            match swap.await? {
                // Found cycled: take it at the new id.
                None => continue,
                Some((true, _)) => return Ok(Some(value)),
                // A concurrent request took it first.
                Some((false, false)) => return Ok(None),
                // Replaced meanwhile (a newer flash): take that one instead.
                Some((false, true)) => retry.conflicted().await?,
            }
        }
    }

    /// Replaces the value under `key` with `f(old)` (`old` is `None` if the key is absent) and
    /// returns the new value, without losing a concurrent update of the same key.
    ///
    /// With a server-side store the new value goes to the store at once, as a
    /// [`compare_and_set`](crate::SessionStore::compare_and_set): if another request changed
    /// the key since this one read it, `f` runs again on the value the store holds, until the
    /// write lands. So fifty concurrent `update(|n| n.unwrap_or(0) + 1)` calls on one session
    /// leave exactly fifty, where `get` then `set` keeps whichever write came last. `f` may run
    /// several times; keep it free of side effects. The update is saved even if the response
    /// is later a server error, and it follows the session to its new id if a concurrent
    /// request cycles it (a login).
    ///
    /// Where no other request can see the key yet, the update is an ordinary change saved with
    /// the request: on a session that is not stored yet, on a key this request has already set
    /// or deleted (or after [`clear`](Self::clear)), and with the cookie store, whose record
    /// lives in the browser (there the last response to arrive wins, as for every key).
    ///
    /// Fails with [`Error::WrongType`] if the stored value is not a `T`, with the errors of
    /// [`set`](Self::set) for a value that is too large, with [`Error::SessionGone`] if the
    /// session was destroyed or expired while updating, and with [`Error::UpdateConflict`] if
    /// the key kept changing for ten seconds.
    ///
    /// ```
    /// # async fn count(session: &session_core::Session) -> session_core::Result<()> {
    /// let views = session.update("views", |n: Option<u64>| n.unwrap_or(0) + 1).await?;
    /// assert_eq!(views, 1);
    /// let cart = session
    ///     .update("cart", |items: Option<Vec<String>>| {
    ///         let mut items = items.unwrap_or_default();
    ///         items.push("book".to_owned());
    ///         items
    ///     })
    ///     .await?;
    /// assert_eq!(cart, ["book"]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn update<T, F>(&self, key: &str, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        self.try_update(key, |old| Ok(f(old))).await
    }

    /// Adds `by` to the integer under `key` (absent: 0) and returns the new value: an
    /// [`update`](Self::update) that never loses a concurrent increment. A sum outside the range
    /// of `i64` is an [`Error::Overflow`], and changes nothing.
    ///
    /// ```
    /// # async fn count(session: &session_core::Session) -> session_core::Result<()> {
    /// assert_eq!(session.incr("attempts", 1).await?, 1);
    /// assert_eq!(session.incr("attempts", 2).await?, 3);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn incr(&self, key: &str, by: i64) -> Result<i64> {
        self.try_update(key, |old: Option<i64>| {
            old.unwrap_or(0)
                .checked_add(by)
                .ok_or_else(|| Error::Overflow {
                    key: key.to_owned(),
                })
        })
        .await
    }

    /// [`update`](Self::update) with an `f` that may refuse, failing the update with its error.
    async fn try_update<T, F>(&self, key: &str, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> Result<T>,
    {
        check_key(key)?;
        let store = self.inner.shared.server_store();
        // Once the stored session turns out to have a new id, updates go there.
        let mut cycled_to: Option<IdDigest> = None;
        let mut retry = Retry::new(key);
        loop {
            retry.begin();
            let (store, id, digest, expected, value, new) = {
                let mut state = self.state_mut().await?;
                let old = state
                    .data
                    .get(key)
                    .map(|value| typed(key, value))
                    .transpose()?;
                let new = f(old)?;
                let value = to_value(key, &new)?;
                check_depth(key, &value)?;
                let (Some(store), Some((id, digest))) = (store, state.shared_key(key)) else {
                    // No other request can see this key's value: an ordinary change.
                    self.put_within_limits(&mut state, key, value)?;
                    state.dirty.insert(key.to_owned());
                    return Ok(new);
                };
                let (id, digest) = (id.clone(), *digest);
                // The limits hold for the session as it will be once the update lands.
                let expected = state.data.get(key).cloned();
                let previous = self.put_within_limits(&mut state, key, value.clone())?;
                restore(&mut state, key, previous);
                (store, id, digest, expected, value, new)
            };
            let swap = self.swap(
                store,
                &id,
                &digest,
                &mut cycled_to,
                key,
                expected.as_ref(),
                Some(&value),
            );
            match swap.await? {
                // Found cycled: update it at the new id.
                None => continue,
                Some((true, _)) => return Ok(new),
                Some((false, _)) => retry.conflicted().await?,
            }
        }
    }

    /// One compare-and-set of `key` for [`take`](Self::take) or [`update`](Self::update) of the
    /// stored session `id`, at its new id once a concurrent cycle moved it (`cycled_to`). What
    /// the store holds afterwards becomes what this request reads, unless the request changed
    /// the key itself meanwhile (from a clone of this handle). Returns whether it wrote and
    /// whether the key has a value now; `None` if the session was just found cycled (try again:
    /// `cycled_to` is set), and [`Error::SessionGone`] if it was destroyed or has expired.
    #[allow(clippy::too_many_arguments)]
    async fn swap(
        &self,
        store: &Arc<dyn SessionStore>,
        id: &SessionId,
        digest: &IdDigest,
        cycled_to: &mut Option<IdDigest>,
        key: &str,
        expected: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<Option<(bool, bool)>> {
        let at = cycled_to.unwrap_or(*digest);
        let (swapped, current) = match store.compare_and_set(&at, key, expected, new).await? {
            Swap::Swapped => (true, new.cloned()),
            Swap::Conflict(current) => (false, current),
            Swap::Missing => {
                if cycled_to.is_none()
                    && let Some(target) = self.inner.shared.follow(&**store, id, digest).await?
                {
                    *cycled_to = Some(target);
                    return Ok(None);
                }
                return Err(Error::SessionGone {
                    key: key.to_owned(),
                });
            }
        };
        let present = current.is_some();
        let mut state = self.state().await?;
        if !state.changed_here(key) {
            restore(&mut state, key, current);
        }
        Ok(Some((swapped, present)))
    }

    /// Reads the stored session again, mid-request, to see what concurrent requests wrote to it
    /// since this one loaded it. Keys this request changed keep this request's values (they are
    /// still saved at its end); every other key, the expiry and the creation time take what
    /// the store holds now.
    ///
    /// Returns `true` if a stored session was read again. Returns `false`, changing nothing, if
    /// there is nothing newer to read: a session not stored yet, a cookie-store session (its
    /// record is the cookie this request carried), or a stored session that is gone (destroyed,
    /// expired, or given a new id by a concurrent login).
    ///
    /// ```
    /// # async fn wait_for_payment(session: &session_core::Session) -> session_core::Result<()> {
    /// // A long operation, during which the payment callback's request marks the order paid:
    /// if session.reload().await? && session.get::<bool>("paid").await? == Some(true) {
    ///     // …
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reload(&self) -> Result<bool> {
        let Some(store) = self.inner.shared.server_store() else {
            return Ok(false);
        };
        let digest = match &self.state().await?.origin {
            Origin::Stored { digest, .. } => *digest,
            Origin::New | Origin::Cookie => return Ok(false),
        };
        let now = self.inner.shared.now();
        let Some(record) = store
            .load(&digest)
            .await?
            .filter(|record| !record.is_expired_at(now))
        else {
            return Ok(false);
        };
        let mut state = self.state().await?;
        // A clone of this handle may have destroyed the session meanwhile.
        if !matches!(&state.origin, Origin::Stored { digest: current, .. } if *current == digest) {
            return Ok(false);
        }
        if !state.cleared {
            let own: Vec<(String, Option<Value>)> = state
                .dirty
                .iter()
                .map(|key| (key.clone(), state.data.get(key).cloned()))
                .collect();
            state.replace(record.data);
            for (key, value) in own {
                restore(&mut state, &key, value);
            }
        }
        state.created_at = record.created_at;
        state.expires_at = record.expires_at;
        Ok(true)
    }

    /// Records that the user has just proved who they are (logged in, or typed their password
    /// again): the time, in whole seconds, under [`FRESH_AT_KEY`]. Check it with
    /// [`is_fresh_within`](Self::is_fresh_within) before a sensitive action (changing the
    /// password or the e-mail address, a payment), and ask for the password again when it is
    /// stale: "sudo mode". The key moves with the session when its id is cycled, and is saved
    /// like any change (not on a server error).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # async fn demo(session: &session_core::Session) -> session_core::Result<()> {
    /// // On login, after checking the password:
    /// session.mark_fresh().await?;
    /// session.cycle_id().await?;
    /// // Later, before changing the password:
    /// if !session.is_fresh_within(Duration::from_secs(5 * 60)).await? {
    ///     // Ask for the password again.
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn mark_fresh(&self) -> Result<()> {
        let now = self.inner.shared.now();
        self.insert(FRESH_AT_KEY, Value::from(now.unix_timestamp()))
            .await
    }

    /// When the user last proved who they are ([`mark_fresh`](Self::mark_fresh)); `None` if
    /// they never did in this session. A value under [`FRESH_AT_KEY`] that is not a Unix time
    /// in seconds is an [`Error::WrongType`].
    pub async fn fresh_at(&self) -> Result<Option<OffsetDateTime>> {
        let Some(seconds) = self.get::<i64>(FRESH_AT_KEY).await? else {
            return Ok(None);
        };
        OffsetDateTime::from_unix_timestamp(seconds)
            .map(Some)
            .map_err(|_| Error::WrongType {
                key: FRESH_AT_KEY.to_owned(),
                source: serde::de::Error::custom(format!("{seconds} is not a Unix time in range")),
            })
    }

    /// Whether the user proved who they are ([`mark_fresh`](Self::mark_fresh)) less than
    /// `window` ago; `false` if they never did in this session.
    pub async fn is_fresh_within(&self, window: std::time::Duration) -> Result<bool> {
        let Some(at) = self.fresh_at().await? else {
            return Ok(false);
        };
        let now = self.inner.shared.now();
        Ok(
            now < at
                .saturating_add(time::Duration::try_from(window).unwrap_or(time::Duration::MAX)),
        )
    }

    /// Gives this session its own lifetime: "remember me" ([`Lifetime::Remember`]), "forget me
    /// when the browser closes" ([`Lifetime::BrowserSession`]), or back to the configured one
    /// ([`Lifetime::Configured`]). The store's expiry and the cookie's `Max-Age` follow at the end
    /// of the request.
    ///
    /// A change of lifetime gives the session a new id, as [`cycle_id`](Self::cycle_id) does
    /// (it belongs with a login, which cycles the id anyway), and the remembered session's
    /// absolute lifetime counts from there. That also keeps it safe from requests that loaded
    /// the session before: they cannot put the old expiry back. Setting the lifetime the
    /// session already has changes nothing.
    ///
    /// A [`Lifetime::Remember`] must be longer than the
    /// [touch interval](crate::SessionConfig::with_touch_interval) and at most the
    /// [maximum lifetime](crate::SessionConfig::with_max_lifetime) (30 days unless configured);
    /// otherwise this fails with [`Error::LifetimeOutOfRange`] and changes nothing. Only whole
    /// seconds count.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::Lifetime;
    ///
    /// # async fn demo(session: &session_core::Session) -> session_core::Result<()> {
    /// // On login, when the user ticked "remember me":
    /// session.set_lifetime(Lifetime::Remember(Duration::from_secs(30 * 24 * 60 * 60))).await?;
    /// // On a shared computer, when they did not:
    /// session.set_lifetime(Lifetime::BrowserSession).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_lifetime(&self, lifetime: Lifetime) -> Result<()> {
        let shared = &self.inner.shared;
        let value = match lifetime {
            Lifetime::Configured => None,
            Lifetime::Remember(duration) => {
                let requested_secs = duration.as_secs();
                let min_secs = shared.config().touch_interval().as_secs();
                let max_secs = shared.config().max_lifetime().as_secs();
                if requested_secs <= min_secs || requested_secs > max_secs {
                    return Err(Error::LifetimeOutOfRange {
                        requested_secs,
                        min_secs,
                        max_secs,
                    });
                }
                Some(Value::from(requested_secs))
            }
            Lifetime::BrowserSession => Some(Value::from(BROWSER_SESSION)),
        };
        let mut state = self.state_mut().await?;
        if state.data.get(LIFETIME_KEY) == value.as_ref() {
            return Ok(());
        }
        match value {
            Some(value) => {
                self.put_within_limits(&mut state, LIFETIME_KEY, value)?;
            }
            None => {
                state.take(LIFETIME_KEY);
            }
        }
        state.dirty.insert(LIFETIME_KEY.to_owned());
        state.cycle = true;
        if matches!(state.origin, Origin::New) {
            let now = shared.now();
            state.expires_at = shared.deadline_for(now, now, shared.lifetime_of(&state.data));
        }
        Ok(())
    }

    /// The lifetime the engine gives this session (see [`set_lifetime`](Self::set_lifetime)):
    /// a remembered one capped at the configured maximum.
    pub async fn lifetime(&self) -> Result<Lifetime> {
        Ok(self.inner.shared.lifetime_of(&self.state().await?.data))
    }

    /// Marks the session as belonging to `owner` (a user id; call it on login), so that it is
    /// listed by [`sessions`](Self::sessions) and
    /// [`SessionManager::sessions_of`](crate::SessionManager::sessions_of), and revoked with the
    /// owner's other sessions ("log out other devices", "log out everywhere"). The owner is
    /// kept under [`OWNER_KEY`] and moves with the session when its id is cycled; the index
    /// entry is written at the end of the request, with the session. With the cookie store it
    /// is kept, but nothing can be listed or revoked.
    ///
    /// Fails with [`Error::BadOwner`] for an empty owner or one over [`MAX_OWNER_LEN`] bytes.
    ///
    /// ```
    /// # async fn demo(session: &session_core::Session) -> session_core::Result<()> {
    /// // On login, after checking the password:
    /// session.set_owner("user-42").await?;
    /// session.cycle_id().await?;
    /// // On a "your devices" page:
    /// for other in session.sessions().await? {
    ///     println!("{} since {}, last seen {}", other.handle, other.created_at, other.last_seen);
    /// }
    /// // "Log out other devices", e.g. after a password change:
    /// session.revoke_other_sessions().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set_owner(&self, owner: &str) -> Result<()> {
        if owner.is_empty() || owner.len() > MAX_OWNER_LEN {
            return Err(Error::BadOwner {
                len: owner.len(),
                max: MAX_OWNER_LEN,
            });
        }
        let now = self.inner.shared.now().unix_timestamp();
        let mut state = self.state_mut().await?;
        if owner_of(&state.data) == Some(owner) {
            return Ok(());
        }
        let previous = self.put_within_limits(&mut state, OWNER_KEY, Value::from(owner))?;
        if let Err(error) = self.put_within_limits(&mut state, SEEN_AT_KEY, Value::from(now)) {
            restore(&mut state, OWNER_KEY, previous);
            return Err(error);
        }
        state.dirty.insert(OWNER_KEY.to_owned());
        state.dirty.insert(SEEN_AT_KEY.to_owned());
        Ok(())
    }

    /// Takes the session out of its owner's sessions (call it on logout, if the session
    /// lives on); returns whether it had an owner.
    pub async fn remove_owner(&self) -> Result<bool> {
        let mut state = self.state_mut().await?;
        let had = state.take(OWNER_KEY).is_some();
        if had {
            state.dirty.insert(OWNER_KEY.to_owned());
            if state.take(SEEN_AT_KEY).is_some() {
                state.dirty.insert(SEEN_AT_KEY.to_owned());
            }
        }
        Ok(had)
    }

    /// The session's owner ([`set_owner`](Self::set_owner)), if it has one.
    pub async fn owner(&self) -> Result<Option<String>> {
        Ok(owner_of(&self.state().await?.data).map(str::to_owned))
    }

    /// The live sessions of this session's owner, oldest first, this one marked
    /// [`current`](crate::SessionInfo::current); empty without an owner. An owner set by this
    /// request is listed from the end of the request on.
    ///
    /// Fails with [`Error::NeedsServerStore`] on the cookie store.
    pub async fn sessions(&self) -> Result<Vec<crate::SessionInfo>> {
        let listed = self.owned_sessions("listing a user's sessions").await?;
        Ok(listed.map(|(_, _, sessions)| sessions).unwrap_or_default())
    }

    /// Revokes every other session of this session's owner ("log out other devices"), at once:
    /// their records are deleted, so their cookies lead nowhere. Returns how many were revoked.
    ///
    /// Fails with [`Error::NeedsServerStore`] on the cookie store.
    pub async fn revoke_other_sessions(&self) -> Result<u64> {
        let Some((store, owner, sessions)) =
            self.owned_sessions("revoking a user's sessions").await?
        else {
            return Ok(0);
        };
        let others = sessions.into_iter().filter(|info| !info.current);
        crate::owners::revoke_listed(&**store, &owner, others, self.inner.shared.now()).await
    }

    /// The server-side store, this session's owner and the owner's live sessions (this one
    /// marked current), for [`sessions`](Self::sessions) and
    /// [`revoke_other_sessions`](Self::revoke_other_sessions); `None` without an owner. `what`
    /// names the call the cookie store refuses.
    async fn owned_sessions(
        &self,
        what: &'static str,
    ) -> Result<Option<(&Arc<dyn SessionStore>, String, Vec<crate::SessionInfo>)>> {
        let shared = &self.inner.shared;
        let store = shared
            .server_store()
            .ok_or(Error::NeedsServerStore { what })?;
        let (owner, own) = {
            let state = self.state().await?;
            let own = match &state.origin {
                Origin::Stored { digest, .. } => Some(*digest),
                Origin::New | Origin::Cookie => None,
            };
            (owner_of(&state.data).map(str::to_owned), own)
        };
        let Some(owner) = owner else {
            return Ok(None);
        };
        let mut sessions = crate::owners::list(&**store, &owner, shared.now()).await?;
        for info in &mut sessions {
            info.current = Some(info.digest) == own;
        }
        Ok(Some((store, owner, sessions)))
    }

    /// Every key and value of the session (a snapshot).
    pub async fn entries(&self) -> Result<Map<String, Value>> {
        Ok(self.state().await?.data.clone())
    }

    /// Every key of the session, in sorted order.
    pub async fn keys(&self) -> Result<Vec<String>> {
        Ok(self.state().await?.data.keys().cloned().collect())
    }

    /// Deletes every key, the session's own [lifetime](Self::set_lifetime) too. The session
    /// itself (and its id) stays.
    pub async fn clear(&self) -> Result<()> {
        let mut state = self.state_mut().await?;
        state.clear();
        state.dirty.clear();
        state.cleared = true;
        Ok(())
    }

    /// Gives the session a new id at the end of the request, keeping its data; the old id stops
    /// working. Call it when privileges change, above all on login, to prevent session fixation.
    ///
    /// With a server-side store, requests that loaded the session before the cycle and finish
    /// within a minute of it have their changes applied to the new id, and send no cookie (the
    /// cycling response carries the new one), so no write racing a login is lost. A request
    /// that arrives later with the old cookie gets a fresh, empty session.
    pub async fn cycle_id(&self) -> Result<()> {
        self.state_mut().await?.cycle = true;
        Ok(())
    }

    /// Deletes the session everywhere: its record is removed from the store and the browser is
    /// told to drop the cookie. Values set afterwards start a new session with a new id.
    pub async fn destroy(&self) -> Result<()> {
        let shared = &self.inner.shared;
        let mut state = self.state_mut().await?;
        let to_delete = match &state.origin {
            Origin::Stored { id, .. } => Some((id.clone(), state.loaded_owner.take())),
            Origin::New | Origin::Cookie => state.to_delete.take(),
        };
        let now = shared.now();
        *state = State {
            destroyed: true,
            to_delete,
            ..State::new(now, shared.deadline(now, now), state.had_cookie)
        };
        Ok(())
    }

    /// Whether this session has not been saved yet (no valid session came with the request,
    /// or it was destroyed).
    pub async fn is_new(&self) -> Result<bool> {
        Ok(matches!(self.state().await?.origin, Origin::New))
    }

    /// When the session was created; the absolute lifetime counts from here.
    pub async fn created_at(&self) -> Result<OffsetDateTime> {
        Ok(self.state().await?.created_at)
    }

    /// When the session expires if no later request uses it: for a stored session, the expiry
    /// it was loaded with; for a new one, the expiry it will be saved with.
    pub async fn expires_at(&self) -> Result<OffsetDateTime> {
        Ok(self.state().await?.expires_at)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Session");
        match self.loaded_state() {
            None => out.field("loaded", &false),
            Some(state) => out
                .field("loaded", &true)
                .field("new", &matches!(state.origin, Origin::New))
                .field("keys", &state.data.len())
                .field("changed", &state.changed()),
        }
        .finish_non_exhaustive()
    }
}

/// `value` as JSON, or an [`Error::Serialize`] naming `key`.
pub(crate) fn to_value<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|source| Error::Serialize {
        key: key.to_owned(),
        source,
    })
}

/// How many levels of arrays and objects `value` nests (a scalar is 0), without recursion, so a
/// hostile value cannot overflow the stack here. Scalars, the common case, allocate nothing.
fn depth(value: &Value) -> usize {
    if !matches!(value, Value::Array(_) | Value::Object(_)) {
        return 0;
    }
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, level)) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|item| (item, level + 1))),
            Value::Object(map) => pending.extend(map.values().map(|item| (item, level + 1))),
            _ => continue,
        }
        deepest = deepest.max(level);
    }
    deepest
}

/// The attempts of a [`Session::take`] or [`Session::update`] whose compare-and-set concurrent
/// writes of the key keep defeating.
struct Retry<'k> {
    key: &'k str,
    started: tokio::time::Instant,
    /// The bound of the next random wait.
    pause: std::time::Duration,
    attempts: u32,
}

impl<'k> Retry<'k> {
    fn new(key: &'k str) -> Self {
        Self {
            key,
            started: tokio::time::Instant::now(),
            pause: std::time::Duration::from_millis(4),
            attempts: 0,
        }
    }

    /// Counts an attempt.
    fn begin(&mut self) {
        self.attempts += 1;
    }

    /// Waits before the attempt after one that conflicted, or fails with
    /// [`Error::UpdateConflict`] once the key has kept changing for [`UPDATE_WAIT`].
    ///
    /// The value a conflict reports is fresh, so the first retry goes at once. After that,
    /// many writers of one key are fighting: each waits a random time up to a doubling bound
    /// ("full jitter"), which spreads them out so most retries land.
    async fn conflicted(&mut self) -> Result<()> {
        if self.started.elapsed() >= UPDATE_WAIT {
            tracing::warn!(
                key = self.key,
                attempts = self.attempts,
                "a session update kept conflicting with concurrent updates of the key; gave up"
            );
            return Err(Error::UpdateConflict {
                key: self.key.to_owned(),
                attempts: self.attempts,
            });
        }
        if self.attempts > 1 {
            let fraction =
                f64::from(getrandom::u32().unwrap_or(u32::MAX / 2)) / f64::from(u32::MAX);
            tokio::time::sleep(self.pause.mul_f64(fraction)).await;
            self.pause = (self.pause * 2).min(UPDATE_MAX_PAUSE);
        } else {
            YieldNow::default().await;
        }
        Ok(())
    }
}

/// Puts back the value `key` had before a `put` (`None`: it was absent).
fn restore(state: &mut State, key: &str, previous: Option<Value>) {
    match previous {
        Some(previous) => drop(state.put(key, previous)),
        None => drop(state.take(key)),
    }
}

/// [`Error::TooDeep`] if `value` nests deeper than [`MAX_VALUE_DEPTH`].
fn check_depth(key: &str, value: &Value) -> Result<()> {
    if depth(value) > MAX_VALUE_DEPTH {
        return Err(Error::TooDeep {
            key: key.to_owned(),
            max: MAX_VALUE_DEPTH,
        });
    }
    Ok(())
}

fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLong {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// Compile-time proof that the handle can cross threads and tasks.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Session>();
};

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_kept_data_length_is_the_json_length(
            start in proptest::collection::btree_map("[a-c\"\\\\é]{0,3}", 0u32..2000, 0..4),
            ops in proptest::collection::vec(
                (0u8..3, "[a-c\"\\\\é]{0,3}", proptest::option::of("[x\"\u{1}]{0,5}")),
                0..24,
            ),
        ) {
            let now = OffsetDateTime::UNIX_EPOCH;
            let mut state = State::new(now, now, false);
            for (key, n) in start {
                state.data.insert(key, n.into());
            }
            // Starts unmeasured, as a loaded session does.
            for (op, key, text) in ops {
                match (op, text) {
                    (0, _) => drop(state.take(&key)),
                    (1, _) if key.is_empty() => state.clear(),
                    (_, Some(text)) => drop(state.put(&key, text.into())),
                    (_, None) => drop(state.put(&key, Value::Null)),
                }
                let measured = crate::record::json_len(&state.data);
                proptest::prop_assert_eq!(state.data_len(), measured);
            }
        }
    }
    use crate::{KeyRing, MemoryStore, SessionConfig, SessionManager};

    fn assert_send<T: Send>(_: T) {}

    /// Handlers of multi-threaded frameworks (axum, Rocket) need every future to be `Send`.
    #[test]
    fn session_and_engine_futures_are_send() {
        let manager = SessionManager::new(
            MemoryStore::new(),
            KeyRing::generate(),
            SessionConfig::default(),
        )
        .unwrap();
        let session = manager.session(std::iter::empty::<&[u8]>());
        assert_send(session.get::<u32>("k"));
        assert_send(session.get_value("k"));
        assert_send(session.set("k", &1));
        assert_send(session.has("k"));
        assert_send(session.delete("k"));
        assert_send(session.entries());
        assert_send(session.clear());
        assert_send(session.cycle_id());
        assert_send(session.destroy());
        assert_send(session.expires_at());
        assert_send(manager.finish(&session, 200));
    }
}
