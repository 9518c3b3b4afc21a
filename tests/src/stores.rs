//! The stores the suite runs on, each opened fresh and isolated (its own key prefix, table,
//! collection, directory or file), [`FailingStore`], a store whose writes always fail,
//! [`SlowStore`], any store with a delay before every call, and [`LoginFailingStore`], on which
//! a login's id cycle fails halfway.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use session_core::{
    Changes, FileStore, IdDigest, MemoryStore, MongoStore, PostgresStore, Record, RedisStore,
    SessionStore, SqliteStore, Storage, StoreError, Swap,
};
use time::OffsetDateTime;

/// A store the suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// The encrypted cookie (the default store).
    Cookie,
    /// `MemoryStore`.
    Memory,
    /// `FileStore` in a fresh temporary directory.
    File,
    /// `RedisStore` on the single-node server (`SESSION_TEST_REDIS_URL`).
    Redis,
    /// `RedisStore` on the Redis Cluster (`SESSION_TEST_REDIS_CLUSTER_URLS`).
    RedisCluster,
    /// `SqliteStore` in a fresh temporary database file.
    Sqlite,
    /// `PostgresStore` on a fresh table (`SESSION_TEST_POSTGRES_URL`).
    Postgres,
    /// `MongoStore` on a fresh collection (`SESSION_TEST_MONGODB_URL`).
    MongoDb,
}

impl StoreKind {
    /// Whether the session lives on the server, so an old cookie can be invalidated. With the
    /// cookie store the cookie *is* the session: a copy kept by the client stays readable until
    /// it expires (documented on `Storage::Cookie`).
    pub fn is_server_side(self) -> bool {
        self != Self::Cookie
    }

    /// A fresh, isolated instance of the store.
    pub async fn open(self) -> Storage {
        let unique = random_hex(8);
        match self {
            Self::Cookie => Storage::Cookie,
            Self::Memory => MemoryStore::new().into(),
            Self::File => FileStore::new(temp_path(&format!("files-{unique}")))
                .expect("create the file store's directory")
                .into(),
            Self::Redis => RedisStore::builder()
                .with_key_prefix(format!("http-test:{unique}:"))
                .connect(&env("SESSION_TEST_REDIS_URL", "a Redis server"))
                .await
                .expect("connect to SESSION_TEST_REDIS_URL")
                .into(),
            Self::RedisCluster => {
                let urls = env("SESSION_TEST_REDIS_CLUSTER_URLS", "a Redis Cluster");
                RedisStore::builder()
                    .with_key_prefix(format!("http-test:{unique}:"))
                    .connect_cluster(urls.split(',').map(str::trim))
                    .await
                    .expect("connect to SESSION_TEST_REDIS_CLUSTER_URLS")
                    .into()
            }
            Self::Sqlite => {
                let path = temp_path(&format!("sqlite-{unique}.db"));
                let store = SqliteStore::connect(&format!("sqlite:{}", path.display()))
                    .await
                    .expect("open the SQLite database");
                store.migrate().await.expect("create the SQLite table");
                store.into()
            }
            Self::Postgres => {
                let url = env("SESSION_TEST_POSTGRES_URL", "PostgreSQL");
                let store = PostgresStore::connect(&url)
                    .await
                    .expect("connect to SESSION_TEST_POSTGRES_URL")
                    .with_table_name(&format!("http_sessions_{unique}"))
                    .expect("a valid table name");
                store.migrate().await.expect("create the PostgreSQL table");
                store.into()
            }
            Self::MongoDb => {
                let url = env("SESSION_TEST_MONGODB_URL", "a MongoDB-protocol server");
                MongoStore::connect(&url, "session_http_tests", &format!("sessions_{unique}"))
                    .await
                    .expect("connect to SESSION_TEST_MONGODB_URL")
                    .into()
            }
        }
    }
}

/// The value of a required environment variable, or a failure saying how to set it.
pub fn env(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `scripts/test`, which starts {what}, or start one yourself \
             and export {name} (`scripts/services start && eval \"$(scripts/services env)\"`)"
        )
    })
}

/// `2 * bytes` random hex digits.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A path under the system's temporary directory for this test run.
fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("session-tests");
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    dir.join(name)
}

/// What [`FailingStore`]'s errors say; the suite checks it reaches the log and never a client.
pub const FAILURE_DETAIL: &str = "db-password=hunter2 at 10.0.0.7";

/// A store that can read (every session is missing) but whose writes always fail, with an error
/// holding [`FAILURE_DETAIL`].
#[derive(Debug, Default)]
pub struct FailingStore;

fn failure() -> StoreError {
    StoreError::backend(FAILURE_DETAIL)
}

#[async_trait::async_trait]
impl SessionStore for FailingStore {
    async fn create(&self, _: &IdDigest, _: &Record) -> Result<bool, StoreError> {
        Err(failure())
    }
    async fn load(&self, _: &IdDigest) -> Result<Option<Record>, StoreError> {
        Ok(None)
    }
    async fn apply(&self, _: &IdDigest, _: &Changes) -> Result<bool, StoreError> {
        Err(failure())
    }
    async fn touch(&self, _: &IdDigest, _: OffsetDateTime) -> Result<bool, StoreError> {
        Err(failure())
    }
    async fn compare_and_set(
        &self,
        _: &IdDigest,
        _: &str,
        _: Option<&serde_json::Value>,
        _: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError> {
        Err(failure())
    }
    async fn take(&self, _: &IdDigest) -> Result<Option<Record>, StoreError> {
        Err(failure())
    }
    async fn delete(&self, _: &IdDigest) -> Result<(), StoreError> {
        Err(failure())
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        Err(failure())
    }
}

/// Any server-side store with `delay` added before every call, as a store on a slow or distant
/// server behaves: an id cycle (create, take, create, apply) then takes several delays, long
/// enough for requests racing it to find its forwarding pointer not yet naming the new id.
#[derive(Debug)]
pub struct SlowStore {
    inner: Arc<dyn SessionStore>,
    delay: Duration,
}

impl SlowStore {
    /// `storage` (a server-side store) slowed down by `delay` per call.
    pub fn wrap(storage: Storage, delay: Duration) -> Storage {
        let Storage::Server(inner) = storage else {
            panic!("only a server-side store can be slowed down")
        };
        Storage::Server(Arc::new(Self { inner, delay }))
    }
}

#[async_trait::async_trait]
impl SessionStore for SlowStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.create(id, record).await
    }
    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.load(id).await
    }
    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.apply(id, changes).await
    }
    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.touch(id, expires_at).await
    }
    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&serde_json::Value>,
        new: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.compare_and_set(id, key, expected, new).await
    }
    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.take(id).await
    }
    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.delete(id).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.delete_expired().await
    }
}

/// A memory store on which every login fails halfway, for a write that raced it: creating a
/// record that holds a `user` (the session a login's id cycle moves to its new id) fails, after
/// the cycle has taken the old record and left the forwarding pointer that racing writes wait
/// on; and a write (`apply`) waits for that failure (at most 20 seconds) before it reaches the
/// store, so it lands after the cycle took the record it had loaded.
#[derive(Debug, Default)]
pub struct LoginFailingStore {
    inner: MemoryStore,
    applying: tokio::sync::Notify,
    login_failed: tokio::sync::Notify,
}

impl LoginFailingStore {
    /// Returns once a write has loaded its session and is waiting to save it.
    pub async fn write_is_waiting(&self) {
        self.applying.notified().await;
    }
}

#[async_trait::async_trait]
impl SessionStore for LoginFailingStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        if record.data.contains_key("user") {
            self.login_failed.notify_one();
            return Err(failure());
        }
        self.inner.create(id, record).await
    }
    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        self.inner.load(id).await
    }
    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        self.applying.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.login_failed.notified()).await;
        self.inner.apply(id, changes).await
    }
    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.inner.touch(id, expires_at).await
    }
    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&serde_json::Value>,
        new: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError> {
        self.inner.compare_and_set(id, key, expected, new).await
    }
    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        self.inner.take(id).await
    }
    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.delete_expired().await
    }
}
