//! Store metrics without wrapping seven methods by hand: [`ObservedStore`] delegates every
//! [`SessionStore`] call and reports it (operation, duration, outcome) to a [`StoreObserver`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::{ErrorChain, StoreError};
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};
use crate::store::{SessionStore, Storage};

/// Which [`SessionStore`] method was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreOperation {
    /// [`SessionStore::create`]: a new session, or a new id for one.
    Create,
    /// [`SessionStore::load`]: the first use of a session in a request.
    Load,
    /// [`SessionStore::apply`]: a request's changes written back.
    Apply,
    /// [`SessionStore::touch`]: a rolling expiry moved without other changes.
    Touch,
    /// [`SessionStore::compare_and_set`]: one attempt of an atomic
    /// [`Session::update`](crate::Session::update) or [`Session::take`](crate::Session::take).
    CompareAndSet,
    /// [`SessionStore::take`]: a record removed to give the session a new id.
    Take,
    /// [`SessionStore::delete`]: a destroyed session.
    Delete,
    /// [`SessionStore::delete_expired`]: a sweep (see [`Sweeper`](crate::Sweeper)).
    DeleteExpired,
}

impl StoreOperation {
    /// The method's name: `"create"`, `"load"`, `"apply"`, `"touch"`, `"compare_and_set"`,
    /// `"take"`, `"delete"` or `"delete_expired"`, for metric labels.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Load => "load",
            Self::Apply => "apply",
            Self::Touch => "touch",
            Self::CompareAndSet => "compare_and_set",
            Self::Take => "take",
            Self::Delete => "delete",
            Self::DeleteExpired => "delete_expired",
        }
    }
}

/// How a store call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreOutcome {
    /// The call did what it was asked.
    Ok,
    /// There was no live record: `load` or `take` gave `None`, `apply` or `touch` gave `false`,
    /// `compare_and_set` gave [`Swap::Missing`].
    NotFound,
    /// `create` gave `false`: a live record already has this digest (the engine tries another
    /// id).
    IdTaken,
    /// `compare_and_set` found another value than expected and wrote nothing (the update is
    /// retried).
    Conflict,
    /// The store failed; [`StoreCall::error`] says how.
    Error,
}

impl StoreOutcome {
    /// `"ok"`, `"not_found"`, `"id_taken"`, `"conflict"` or `"error"`, for metric labels.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NotFound => "not_found",
            Self::IdTaken => "id_taken",
            Self::Conflict => "conflict",
            Self::Error => "error",
        }
    }
}

/// One finished store call, as an [`ObservedStore`] reports it.
#[derive(Debug)]
#[non_exhaustive]
pub struct StoreCall<'a> {
    /// The method called.
    pub operation: StoreOperation,
    /// How it ended.
    pub outcome: StoreOutcome,
    /// How long it took, from the call until its future finished.
    pub duration: Duration,
    /// The digest of the session it was about (never the session id itself); `None` for
    /// [`StoreOperation::DeleteExpired`].
    pub id: Option<&'a IdDigest>,
    /// The error, when `outcome` is [`StoreOutcome::Error`].
    pub error: Option<&'a StoreError>,
    /// For a successful [`StoreOperation::DeleteExpired`], how many records it removed.
    pub removed: Option<u64>,
}

/// Receives every call an [`ObservedStore`] makes: count them, time them, export them.
///
/// The provided [`on_call`](Self::on_call) emits a `tracing` event at `debug` level on target
/// `session_core::store` (what [`TracingObserver`] does); implement it to feed your metrics.
/// It runs inline after each call, so keep it quick (update a counter, send on a channel).
/// An `Arc` of an observer is an observer too, so the application can keep a handle to it.
pub trait StoreObserver: Send + Sync + 'static {
    /// Called once per finished store call.
    fn on_call(&self, call: &StoreCall<'_>) {
        let duration_us = u64::try_from(call.duration.as_micros()).unwrap_or(u64::MAX);
        let digest = call.id.map(tracing::field::display);
        match call.error {
            Some(error) => tracing::debug!(
                target: "session_core::store",
                operation = call.operation.name(),
                outcome = call.outcome.name(),
                duration_us,
                digest,
                error = %ErrorChain::new(error),
                "session store call failed"
            ),
            None => tracing::debug!(
                target: "session_core::store",
                operation = call.operation.name(),
                outcome = call.outcome.name(),
                duration_us,
                digest,
                removed = call.removed,
                "session store call"
            ),
        }
    }
}

impl<O: StoreObserver + ?Sized> StoreObserver for Arc<O> {
    fn on_call(&self, call: &StoreCall<'_>) {
        (**self).on_call(call);
    }
}

/// The observer that only emits the default `tracing` events (see [`StoreObserver`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingObserver;

impl StoreObserver for TracingObserver {}

/// A [`SessionStore`] that delegates every call to the store it wraps and reports each one to a
/// [`StoreObserver`].
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use session_core::{
///     KeyRing, MemoryStore, ObservedStore, SessionConfig, SessionManager, StoreCall,
///     StoreObserver, StoreOperation, StoreOutcome,
/// };
///
/// /// Counts loads and failures; a real one would feed Prometheus or OpenTelemetry.
/// #[derive(Default)]
/// struct Metrics {
///     loads: AtomicU64,
///     errors: AtomicU64,
/// }
///
/// impl StoreObserver for Metrics {
///     fn on_call(&self, call: &StoreCall<'_>) {
///         if call.operation == StoreOperation::Load {
///             self.loads.fetch_add(1, Ordering::Relaxed);
///         }
///         if call.outcome == StoreOutcome::Error {
///             self.errors.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = Arc::new(Metrics::default());
/// let store = ObservedStore::new(MemoryStore::new(), Arc::clone(&metrics));
/// let manager = SessionManager::new(store, KeyRing::generate(), SessionConfig::default())?;
///
/// let session = manager.session(Vec::<&[u8]>::new());
/// session.set("theme", &"dark").await?;
/// manager.finish(&session, 200).await?; // one `create`
/// assert_eq!(metrics.errors.load(Ordering::Relaxed), 0);
/// # Ok(())
/// # }
/// ```
///
/// A store chosen at run time, as a [`Storage`], is wrapped with
/// [`wrap_storage`](Self::wrap_storage).
pub struct ObservedStore<S: ?Sized, O = TracingObserver> {
    store: Arc<S>,
    observer: O,
}

impl<S: SessionStore> ObservedStore<S, TracingObserver> {
    /// `store`, reporting each call as a `debug` event on target `session_core::store`.
    #[must_use]
    pub fn traced(store: S) -> Self {
        Self::new(store, TracingObserver)
    }
}

impl<S: SessionStore, O: StoreObserver> ObservedStore<S, O> {
    /// `store`, reporting each call to `observer`.
    #[must_use]
    pub fn new(store: S, observer: O) -> Self {
        Self::from_arc(Arc::new(store), observer)
    }
}

impl<S: SessionStore + ?Sized, O: StoreObserver> ObservedStore<S, O> {
    /// A shared store (such as an `Arc<dyn SessionStore>`), reporting each call to `observer`.
    #[must_use]
    pub fn from_arc(store: Arc<S>, observer: O) -> Self {
        Self { store, observer }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }
}

impl<O: StoreObserver> ObservedStore<dyn SessionStore, O> {
    /// Wraps the server-side store of `storage`; [`Storage::Cookie`] has no store and is
    /// returned as it is.
    ///
    /// ```
    /// use session_core::{MemoryStore, ObservedStore, Storage, TracingObserver};
    ///
    /// let storage = ObservedStore::wrap_storage(MemoryStore::new().into(), TracingObserver);
    /// assert!(matches!(storage, Storage::Server(_)));
    /// ```
    #[must_use]
    pub fn wrap_storage(storage: Storage, observer: O) -> Storage {
        #[cfg_attr(not(feature = "cookie-store"), allow(unreachable_patterns))]
        match storage {
            Storage::Server(store) => Storage::Server(Arc::new(Self::from_arc(store, observer))),
            other => other,
        }
    }
}

impl<S: SessionStore + ?Sized, O> fmt::Debug for ObservedStore<S, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedStore")
            .field("store", &self.store)
            .field("observer", &std::any::type_name::<O>())
            .finish()
    }
}

impl<S: SessionStore + ?Sized, O: StoreObserver> ObservedStore<S, O> {
    /// Reports one finished call; `outcome` classifies a successful result.
    fn report<T>(
        &self,
        operation: StoreOperation,
        id: Option<&IdDigest>,
        started: Instant,
        result: &Result<T, StoreError>,
        outcome: impl FnOnce(&T) -> StoreOutcome,
        removed: impl FnOnce(&T) -> Option<u64>,
    ) {
        let (outcome, error, removed) = match result {
            Ok(value) => (outcome(value), None, removed(value)),
            Err(error) => (StoreOutcome::Error, Some(error), None),
        };
        self.observer.on_call(&StoreCall {
            operation,
            outcome,
            duration: started.elapsed(),
            id,
            error,
            removed,
        });
    }
}

fn found<T>(value: &Option<T>) -> StoreOutcome {
    if value.is_some() {
        StoreOutcome::Ok
    } else {
        StoreOutcome::NotFound
    }
}

fn live(done: &bool) -> StoreOutcome {
    if *done {
        StoreOutcome::Ok
    } else {
        StoreOutcome::NotFound
    }
}

fn none<T>(_: &T) -> Option<u64> {
    None
}

#[async_trait]
impl<S: SessionStore + ?Sized, O: StoreObserver> SessionStore for ObservedStore<S, O> {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.store.create(id, record).await;
        let inserted = |inserted: &bool| {
            if *inserted {
                StoreOutcome::Ok
            } else {
                StoreOutcome::IdTaken
            }
        };
        let op = StoreOperation::Create;
        self.report(op, Some(id), started, &result, inserted, none);
        result
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let started = Instant::now();
        let result = self.store.load(id).await;
        let op = StoreOperation::Load;
        self.report(op, Some(id), started, &result, found, none);
        result
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.store.apply(id, changes).await;
        let op = StoreOperation::Apply;
        self.report(op, Some(id), started, &result, live, none);
        result
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = self.store.touch(id, expires_at).await;
        let op = StoreOperation::Touch;
        self.report(op, Some(id), started, &result, live, none);
        result
    }

    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&serde_json::Value>,
        new: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError> {
        let started = Instant::now();
        let result = self.store.compare_and_set(id, key, expected, new).await;
        let swapped = |swap: &Swap| match swap {
            Swap::Swapped => StoreOutcome::Ok,
            Swap::Conflict(_) => StoreOutcome::Conflict,
            Swap::Missing => StoreOutcome::NotFound,
        };
        let op = StoreOperation::CompareAndSet;
        self.report(op, Some(id), started, &result, swapped, none);
        result
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let started = Instant::now();
        let result = self.store.take(id).await;
        let op = StoreOperation::Take;
        self.report(op, Some(id), started, &result, found, none);
        result
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.store.delete(id).await;
        let op = StoreOperation::Delete;
        self.report(op, Some(id), started, &result, |()| StoreOutcome::Ok, none);
        result
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.store.delete_expired().await;
        let op = StoreOperation::DeleteExpired;
        self.report(
            op,
            None,
            started,
            &result,
            |_| StoreOutcome::Ok,
            |n| Some(*n),
        );
        result
    }
}

#[cfg(all(test, feature = "memory-store"))]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::{KeyRing, MemoryStore, SessionConfig, SessionManager};

    /// Counts calls per operation and outcome.
    #[derive(Default)]
    struct Counts(Mutex<HashMap<(StoreOperation, StoreOutcome), u32>>);

    impl Counts {
        fn of(&self, operation: StoreOperation, outcome: StoreOutcome) -> u32 {
            let counts = self.0.lock().unwrap();
            counts.get(&(operation, outcome)).copied().unwrap_or(0)
        }
    }

    impl StoreObserver for Counts {
        fn on_call(&self, call: &StoreCall<'_>) {
            assert_eq!(call.error.is_some(), call.outcome == StoreOutcome::Error);
            let mut counts = self.0.lock().unwrap();
            *counts.entry((call.operation, call.outcome)).or_default() += 1;
        }
    }

    /// A store whose every call fails.
    #[derive(Debug)]
    struct Down;

    fn down() -> StoreError {
        StoreError::backend(std::io::Error::other("connection refused"))
    }

    #[async_trait]
    impl SessionStore for Down {
        async fn create(&self, _: &IdDigest, _: &Record) -> Result<bool, StoreError> {
            Err(down())
        }
        async fn load(&self, _: &IdDigest) -> Result<Option<Record>, StoreError> {
            Err(down())
        }
        async fn apply(&self, _: &IdDigest, _: &Changes) -> Result<bool, StoreError> {
            Err(down())
        }
        async fn touch(&self, _: &IdDigest, _: OffsetDateTime) -> Result<bool, StoreError> {
            Err(down())
        }
        async fn compare_and_set(
            &self,
            _: &IdDigest,
            _: &str,
            _: Option<&serde_json::Value>,
            _: Option<&serde_json::Value>,
        ) -> Result<Swap, StoreError> {
            Err(down())
        }
        async fn take(&self, _: &IdDigest) -> Result<Option<Record>, StoreError> {
            Err(down())
        }
        async fn delete(&self, _: &IdDigest) -> Result<(), StoreError> {
            Err(down())
        }
        async fn delete_expired(&self) -> Result<u64, StoreError> {
            Err(down())
        }
    }

    fn manager(storage: Storage) -> SessionManager {
        SessionManager::new(storage, KeyRing::generate(), SessionConfig::default()).unwrap()
    }

    /// The `name=value` pair of a `Set-Cookie` value, as the browser sends it back.
    fn pair(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    #[tokio::test]
    async fn counts_creates_loads_writes_and_misses_through_the_engine() {
        let counts = Arc::new(Counts::default());
        let store = ObservedStore::new(MemoryStore::new(), Arc::clone(&counts));
        let manager = manager(store.into());

        let session = manager.session(Vec::<&[u8]>::new());
        session.set("n", &1).await.unwrap();
        let cookie = manager.finish(&session, 200).await.unwrap().unwrap();
        let cookie = pair(cookie.as_str());
        assert_eq!(counts.of(StoreOperation::Create, StoreOutcome::Ok), 1);

        for n in 2..=3 {
            let session = manager.session([cookie.as_bytes()]);
            assert_eq!(session.get::<i32>("n").await.unwrap(), Some(n - 1));
            session.set("n", &n).await.unwrap();
            manager.finish(&session, 200).await.unwrap();
        }
        assert_eq!(counts.of(StoreOperation::Load, StoreOutcome::Ok), 2);
        assert_eq!(counts.of(StoreOperation::Apply, StoreOutcome::Ok), 2);

        let session = manager.session([cookie.as_bytes()]);
        session.destroy().await.unwrap();
        manager.finish(&session, 200).await.unwrap();
        let gone = manager.session([cookie.as_bytes()]);
        assert_eq!(gone.get::<i32>("n").await.unwrap(), None);
        assert!(counts.of(StoreOperation::Load, StoreOutcome::NotFound) >= 1);
        assert_eq!(counts.of(StoreOperation::Load, StoreOutcome::Error), 0);
    }

    #[tokio::test]
    async fn reports_every_method_and_its_errors() {
        let counts = Arc::new(Counts::default());
        let store = ObservedStore::new(Down, Arc::clone(&counts));
        let id = IdDigest::from_hex(&"ab".repeat(32)).unwrap();
        let now = OffsetDateTime::now_utc();
        let record = Record::new(Default::default(), now, now + time::Duration::hours(1));
        assert!(store.create(&id, &record).await.is_err());
        assert!(store.load(&id).await.is_err());
        assert!(store.apply(&id, &Changes::expiry_only(now)).await.is_err());
        assert!(store.touch(&id, now).await.is_err());
        assert!(store.take(&id).await.is_err());
        assert!(store.delete(&id).await.is_err());
        assert!(store.delete_expired().await.is_err());
        for operation in [
            StoreOperation::Create,
            StoreOperation::Load,
            StoreOperation::Apply,
            StoreOperation::Touch,
            StoreOperation::Take,
            StoreOperation::Delete,
            StoreOperation::DeleteExpired,
        ] {
            assert_eq!(
                counts.of(operation, StoreOutcome::Error),
                1,
                "{operation:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_dynamic_store_is_wrapped_and_the_cookie_store_left_alone() {
        let counts = Arc::new(Counts::default());
        let storage = ObservedStore::wrap_storage(MemoryStore::new().into(), Arc::clone(&counts));
        let Storage::Server(store) = storage else {
            panic!("a server-side store stays one");
        };
        let id = IdDigest::from_hex(&"cd".repeat(32)).unwrap();
        assert_eq!(store.load(&id).await.unwrap(), None);
        assert_eq!(store.delete_expired().await.unwrap(), 0);
        assert_eq!(counts.of(StoreOperation::Load, StoreOutcome::NotFound), 1);
        assert_eq!(
            counts.of(StoreOperation::DeleteExpired, StoreOutcome::Ok),
            1
        );
        #[cfg(feature = "cookie-store")]
        assert!(matches!(
            ObservedStore::wrap_storage(Storage::Cookie, TracingObserver),
            Storage::Cookie
        ));
    }
}
