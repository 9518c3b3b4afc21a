//! [`Sweeper`], a background task that removes expired sessions from a server-side store every
//! so often, so records of abandoned sessions do not pile up in files or tables.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::error::{ConfigError, ErrorChain};
use crate::manager::SessionManager;
use crate::store::{SessionStore, Storage};

/// Calls [`SessionStore::delete_expired`] every period, on a Tokio task, until it is stopped.
///
/// Stores check expiry on every load, so an expired session is never used; but stores without
/// native expiry (files, SQLite, PostgreSQL) keep the records of abandoned sessions until
/// something deletes them. The sweeper does, like tower-sessions'
/// `continuously_delete_expired`. It sweeps once at start, then every
/// [`DEFAULT_PERIOD`](Self::DEFAULT_PERIOD) or the period you choose. A failed sweep is logged
/// with `tracing` (at `error`, with the store's error chain) and the next one runs on schedule:
/// the task never stops on its own. With [`Storage::Cookie`] there is nothing on the server to
/// sweep, and the sweeper does nothing.
///
/// [`spawn`](Self::spawn) returns a [`SweeperHandle`] that stops the task when it is dropped:
/// keep it for as long as the server runs.
///
/// ```no_run
/// # #[cfg(feature = "file-store")]
/// # mod example {
/// use std::time::Duration;
/// use session_core::{FileStore, KeyRing, SessionConfig, SessionManager, Sweeper};
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let store = FileStore::new("/var/lib/myapp/sessions")?;
///     let manager = SessionManager::new(store, KeyRing::from_env()?, SessionConfig::default())?;
///     let _sweeper = Sweeper::for_manager(&manager)
///         .with_period(Duration::from_secs(10 * 60))
///         .spawn()?;
///     // ... serve requests with `manager` until shutdown; dropping `_sweeper` stops it.
///     Ok(())
/// }
/// # }
/// # fn main() {}
/// ```
#[derive(Clone)]
#[must_use = "a sweeper does nothing until it is spawned"]
pub struct Sweeper {
    store: Option<Arc<dyn SessionStore>>,
    period: Duration,
}

impl Sweeper {
    /// The period between sweeps unless [`with_period`](Self::with_period) says otherwise:
    /// five minutes.
    pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5 * 60);

    /// The shortest period: a shorter one is raised to it.
    pub const MIN_PERIOD: Duration = Duration::from_secs(1);

    /// A sweeper for `store` (keep a clone of the `Arc` you give the [`SessionManager`]).
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self {
            store: Some(store),
            period: Self::DEFAULT_PERIOD,
        }
    }

    /// A sweeper for the store `manager` uses; one that does nothing for [`Storage::Cookie`].
    pub fn for_manager(manager: &SessionManager) -> Self {
        Self::for_storage(manager.storage())
    }

    /// A sweeper for the store of `storage`; one that does nothing for [`Storage::Cookie`].
    pub fn for_storage(storage: &Storage) -> Self {
        #[cfg_attr(not(feature = "cookie-store"), allow(unreachable_patterns))]
        let store = match storage {
            Storage::Server(store) => Some(Arc::clone(store)),
            _ => None,
        };
        Self {
            store,
            period: Self::DEFAULT_PERIOD,
        }
    }

    /// Sweeps every `period` instead of every [`DEFAULT_PERIOD`](Self::DEFAULT_PERIOD);
    /// periods under [`MIN_PERIOD`](Self::MIN_PERIOD) are raised to it.
    pub fn with_period(mut self, period: Duration) -> Self {
        self.period = period.max(Self::MIN_PERIOD);
        self
    }

    /// The period between sweeps.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Starts sweeping on a new task of the current Tokio runtime (the one axum, actix-web
    /// and Rocket run on) and returns the handle that stops it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoRuntime`] when called outside a Tokio runtime: call it from inside
    /// `#[tokio::main]` (or `#[actix_web::main]`, `#[rocket::main]`), or spawn
    /// [`run`](Self::run) yourself.
    pub fn spawn(self) -> Result<SweeperHandle, ConfigError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime {
                what: "the session sweeper",
            })?;
        if self.store.is_none() {
            tracing::debug!("sessions live in the cookie: the sweeper has nothing to sweep");
            return Ok(SweeperHandle { task: None });
        }
        Ok(SweeperHandle {
            task: Some(runtime.spawn(self.run())),
        })
    }

    /// The sweeping loop itself, for running it your own way (a `JoinSet`, a task of a
    /// supervisor): it never finishes, so cancel it (drop or abort its task) to stop it.
    /// Needs a Tokio runtime with its time driver (on in every framework's runtime).
    pub fn run(self) -> impl Future<Output = ()> + Send + 'static {
        let Self { store, period } = self;
        async move {
            let Some(store) = store else {
                return std::future::pending().await;
            };
            let mut ticks = tokio::time::interval(period);
            // After a slow sweep, wait a whole period again rather than sweeping in a burst.
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match store.delete_expired().await {
                    Ok(removed) => tracing::debug!(removed, "expired sessions deleted"),
                    Err(error) => tracing::error!(
                        error = %ErrorChain::new(&error),
                        "could not delete expired sessions; trying again in {}s",
                        period.as_secs()
                    ),
                }
            }
        }
    }
}

impl fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sweeper")
            .field("store", &self.store)
            .field("period", &self.period)
            .finish()
    }
}

/// The running [`Sweeper`] task: dropping the handle (or calling [`stop`](Self::stop)) stops it.
#[derive(Debug)]
#[must_use = "dropping the handle stops the sweeper at once; keep it while the server runs"]
pub struct SweeperHandle {
    task: Option<JoinHandle<()>>,
}

impl SweeperHandle {
    /// Stops the sweeper (a sweep in progress is cancelled at its next `.await`).
    pub fn stop(self) {
        drop(self);
    }

    /// Lets the sweeper run until the runtime shuts down, without a handle to keep.
    pub fn detach(mut self) {
        self.task = None;
    }

    /// Whether the task has ended: after [`stop`](Self::stop) only, or if the runtime shut
    /// down. A sweeper with nothing to sweep counts as finished.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;
    use time::OffsetDateTime;
    use tokio::sync::mpsc;

    use super::*;
    use crate::error::StoreError;
    use crate::id::IdDigest;
    use crate::observe::{ObservedStore, StoreCall, StoreObserver, StoreOperation, StoreOutcome};
    use crate::record::{Changes, Record, Swap};

    /// Sends the outcome of every sweep.
    struct Sweeps(mpsc::UnboundedSender<StoreOutcome>);

    impl StoreObserver for Sweeps {
        fn on_call(&self, call: &StoreCall<'_>) {
            if call.operation == StoreOperation::DeleteExpired {
                let _ = self.0.send(call.outcome);
            }
        }
    }

    /// A store whose sweeps fail twice, then succeed; every other call is an error.
    #[derive(Debug, Default)]
    struct FlakySweeps(AtomicU32);

    fn unreachable_store() -> StoreError {
        StoreError::backend(std::io::Error::other("connection refused"))
    }

    #[async_trait]
    impl SessionStore for FlakySweeps {
        async fn create(&self, _: &IdDigest, _: &Record) -> Result<bool, StoreError> {
            Err(unreachable_store())
        }
        async fn load(&self, _: &IdDigest) -> Result<Option<Record>, StoreError> {
            Err(unreachable_store())
        }
        async fn apply(&self, _: &IdDigest, _: &Changes) -> Result<bool, StoreError> {
            Err(unreachable_store())
        }
        async fn touch(&self, _: &IdDigest, _: OffsetDateTime) -> Result<bool, StoreError> {
            Err(unreachable_store())
        }
        async fn compare_and_set(
            &self,
            _: &IdDigest,
            _: &str,
            _: Option<&serde_json::Value>,
            _: Option<&serde_json::Value>,
        ) -> Result<Swap, StoreError> {
            Err(unreachable_store())
        }
        async fn take(&self, _: &IdDigest) -> Result<Option<Record>, StoreError> {
            Err(unreachable_store())
        }
        async fn delete(&self, _: &IdDigest) -> Result<(), StoreError> {
            Err(unreachable_store())
        }
        async fn delete_expired(&self) -> Result<u64, StoreError> {
            if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(unreachable_store())
            } else {
                Ok(0)
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_sweep_is_retried_on_schedule() {
        let (sent, mut sweeps) = mpsc::unbounded_channel();
        let store = Arc::new(ObservedStore::new(FlakySweeps::default(), Sweeps(sent)));
        let handle = Sweeper::new(store)
            .with_period(Duration::from_secs(60))
            .spawn();
        let handle = handle.unwrap();
        for expected in [StoreOutcome::Error, StoreOutcome::Error, StoreOutcome::Ok] {
            assert_eq!(sweeps.recv().await, Some(expected));
        }
        assert!(!handle.is_finished(), "errors do not stop the sweeper");
        handle.stop();
        assert_eq!(
            sweeps.recv().await,
            None,
            "stopped: the task and its store are gone"
        );
    }

    #[test]
    fn spawning_outside_a_runtime_is_an_error_that_says_what_to_do() {
        let err = Sweeper::new(Arc::new(FlakySweeps::default()))
            .spawn()
            .unwrap_err();
        assert!(matches!(err, ConfigError::NoRuntime { .. }), "{err:?}");
        assert!(err.to_string().contains("#[tokio::main]"), "{err}");
    }

    #[test]
    fn periods_are_at_least_one_second() {
        let sweeper = Sweeper::new(Arc::new(FlakySweeps::default()));
        assert_eq!(sweeper.period(), Sweeper::DEFAULT_PERIOD);
        assert_eq!(
            sweeper.with_period(Duration::ZERO).period(),
            Sweeper::MIN_PERIOD
        );
    }

    #[cfg(feature = "cookie-store")]
    #[tokio::test]
    async fn the_cookie_store_has_nothing_to_sweep() {
        let handle = Sweeper::for_storage(&Storage::Cookie).spawn().unwrap();
        assert!(handle.is_finished());
    }

    #[cfg(feature = "file-store")]
    #[tokio::test]
    async fn expired_files_are_deleted_without_any_load() {
        use crate::FileStore;

        let dir = std::env::temp_dir().join(format!(
            "session-sweeper-test-{}-{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        let files = || {
            std::fs::read_dir(&dir).map_or(0, |entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "json"))
                    .count()
            })
        };
        let (sent, mut sweeps) = mpsc::unbounded_channel();
        let file_store = FileStore::new(&dir).unwrap();
        let store: Arc<dyn SessionStore> = Arc::new(ObservedStore::new(file_store, Sweeps(sent)));
        let now = OffsetDateTime::now_utc();
        let hour = time::Duration::hours(1);
        for (n, expires_at) in [now - hour, now - hour, now - hour, now + hour]
            .into_iter()
            .enumerate()
        {
            let id = IdDigest::from_hex(&format!("{n:02x}").repeat(32)).unwrap();
            let record = Record::new(Default::default(), now - hour, expires_at);
            assert!(store.create(&id, &record).await.unwrap());
        }
        assert_eq!(files(), 4);

        let handle = Sweeper::new(Arc::clone(&store)).spawn().unwrap();
        assert_eq!(sweeps.recv().await, Some(StoreOutcome::Ok));
        assert_eq!(files(), 1, "only the live session is left");
        handle.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
