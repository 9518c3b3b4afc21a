//! [`SqliteStore`]: one row per session in an SQLite table, through an `sqlx` pool. A merge
//! (`apply`) reads and rewrites the row inside one `BEGIN IMMEDIATE` transaction, so concurrent
//! requests writing different keys of one session all keep their writes.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection as _, Executor as _, Row as _, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use crate::error::{BoxError, StoreError};
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};
use crate::store::SessionStore;
use crate::stores::sql::{
    ConnectError, InvalidTableName, QueryError, TableName, record_or_missing,
};

const BACKEND: &str = "SQLite";

/// How long a connection waits for another writer's lock before failing (`busy_timeout`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A session store keeping one row per session in an SQLite table.
///
/// The table (`sessions` unless [`with_table_name`](Self::with_table_name) says otherwise) is
/// created by [`migrate`](Self::migrate):
///
/// | column | type | holds |
/// |---|---|---|
/// | `id` | `BLOB PRIMARY KEY` | the 32-byte [`IdDigest`] of the session id, never the id |
/// | `data` | `TEXT` | the session's keys and values, as one JSON object |
/// | `created_at` | `INTEGER` | Unix time, seconds |
/// | `expires_at` | `INTEGER` | Unix time, seconds (indexed) |
///
/// - **Values round-trip exactly**: `data` is the JSON text that `serde_json` wrote, so keys with
///   `.`, `$`, quotes or NUL, `u64::MAX`, `i64::MIN` and every float come back as they went in.
/// - **Concurrent requests keep each other's keys.** `apply` reads the row, merges the changes
///   in and writes it back inside one `BEGIN IMMEDIATE` transaction, which takes SQLite's write
///   lock up front; other writers wait for it (up to the busy timeout) instead of failing.
/// - **Expiry** is checked in every statement: a load never returns an expired row, `apply` and
///   `touch` leave expired rows alone, and `create` may replace an expired row but never a live
///   one. Expired rows stay until [`delete_expired`](SessionStore::delete_expired) sweeps them:
///   call it periodically (see below).
/// - **Forwarding pointers share the table.** For a minute after
///   [`Session::cycle_id`](crate::Session::cycle_id), the old id's row is a forwarding pointer
///   for requests still in flight; its `data` holds the key
///   [`FORWARDING_POINTER_KEY`](crate::FORWARDING_POINTER_KEY) (`__forwarding_pointer`).
///   Count sessions without them:
///   `SELECT count(*) FROM sessions WHERE json_extract(data, '$.__forwarding_pointer') IS NULL`.
/// - **Damaged rows** (`data` that is not a JSON object, timestamps out of range) are treated as
///   missing and logged at `warn` with the digest.
///
/// Statements run on `sqlx`'s SQLite worker threads, so the store never blocks the async
/// runtime; it needs a Tokio runtime.
///
/// ```
/// use std::time::Duration;
/// use session_core::{KeyRing, SessionConfig, SessionManager, SessionStore, SqliteStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("session-core-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let url = format!("sqlite:{}", dir.join("sessions.db").display());
/// // e.g. url = "sqlite:/var/lib/my-app/sessions.db"
/// let store = SqliteStore::connect(&url).await?;
/// store.migrate().await?;
///
/// // Sweep expired sessions every ten minutes.
/// let sweeper = store.clone();
/// tokio::spawn(async move {
///     let mut every = tokio::time::interval(Duration::from_secs(600));
///     loop {
///         every.tick().await;
///         if let Err(error) = sweeper.delete_expired().await {
///             eprintln!("session sweep failed: {error}");
///         }
///     }
/// });
///
/// let manager = SessionManager::new(store, KeyRing::generate(), SessionConfig::default())?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    table: TableName,
    sql: Arc<Statements>,
}

/// The statements, written once per table name.
struct Statements {
    create_table: String,
    create_index: String,
    create: String,
    load: String,
    replace: String,
    write: String,
    touch: String,
    take: String,
    delete: String,
    delete_expired: String,
}

impl Statements {
    fn new(table: &TableName) -> Self {
        let (t, index) = (table.quoted(), table.index());
        Self {
            create_table: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\
                 id BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 32), \
                 data TEXT NOT NULL, \
                 created_at INTEGER NOT NULL, \
                 expires_at INTEGER NOT NULL)"
            ),
            create_index: format!("CREATE INDEX IF NOT EXISTS {index} ON {t} (expires_at)"),
            create: format!(
                "INSERT INTO {t} (id, data, created_at, expires_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at \
                 WHERE {t}.expires_at <= ?5"
            ),
            load: format!(
                "SELECT data, created_at, expires_at FROM {t} WHERE id = ?1 AND expires_at > ?2"
            ),
            replace: format!(
                "UPDATE {t} SET data = ?1, expires_at = ?2 WHERE id = ?3 AND expires_at > ?4"
            ),
            write: format!("UPDATE {t} SET data = ?1, expires_at = ?2 WHERE id = ?3"),
            touch: format!("UPDATE {t} SET expires_at = ?1 WHERE id = ?2 AND expires_at > ?3"),
            take: format!("DELETE FROM {t} WHERE id = ?1 RETURNING data, created_at, expires_at"),
            delete: format!("DELETE FROM {t} WHERE id = ?1"),
            delete_expired: format!("DELETE FROM {t} WHERE expires_at <= ?1"),
        }
    }
}

impl SqliteStore {
    /// A store over `pool`, using the table `sessions`. Call [`migrate`](Self::migrate) once
    /// to create the table.
    ///
    /// For a database file, configure the pool as [`connect`](Self::connect) does: WAL journal
    /// mode and a busy timeout, so that readers do not block the writer and concurrent writers
    /// wait for each other instead of failing with "database is locked".
    ///
    /// An in-memory database (`sqlite::memory:`) lives only as long as a connection to it, and
    /// `sqlx` gives each in-memory URL a shared cache, where concurrent writers fail with
    /// "database table is locked" rather than wait. Give such a pool exactly one connection and
    /// no idle timeout or maximum lifetime (`max_connections(1)`, `idle_timeout(None)`,
    /// `max_lifetime(None)`), or the sessions vanish when the connection is recycled.
    ///
    /// ```
    /// use sqlx::sqlite::SqlitePoolOptions;
    /// use session_core::SqliteStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = SqlitePoolOptions::new()
    ///     .max_connections(1)
    ///     .idle_timeout(None)
    ///     .max_lifetime(None)
    ///     .connect("sqlite::memory:")
    ///     .await?;
    /// let store = SqliteStore::new(pool).with_table_name("app_sessions")?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: SqlitePool) -> Self {
        let table = TableName::default();
        Self {
            pool,
            sql: Arc::new(Statements::new(&table)),
            table,
        }
    }

    /// Opens the database at `url` (e.g. `sqlite:/var/lib/my-app/sessions.db`, or
    /// `sqlite::memory:`) and returns a store over it, using the table `sessions`.
    ///
    /// A database file is created if missing and opened in WAL journal mode with
    /// `synchronous = NORMAL` (a power loss may lose the last few commits, never corrupt the
    /// file) and a 5-second busy timeout. An in-memory database gets a pool of exactly one
    /// connection that is never recycled (see [`new`](Self::new) for why); it disappears when
    /// the store and its clones are dropped.
    ///
    /// The error names the database file when it cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(|source| {
            StoreError::backend(ConnectError {
                backend: BACKEND,
                target: format!("{url:?} (not a valid SQLite URL)"),
                source,
            })
        })?;
        let in_memory = is_in_memory(&options) || url.contains("mode=memory");
        let target = describe(&options);
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .connect_with(
                    options
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(BUSY_TIMEOUT),
                )
                .await
        };
        let pool = pool.map_err(|source| {
            StoreError::backend(ConnectError {
                backend: BACKEND,
                target,
                source,
            })
        })?;
        Ok(Self::new(pool))
    }

    /// Uses the table `name` instead of `sessions`.
    ///
    /// `name` must be one identifier of ASCII letters, digits and `_`, not starting with a
    /// digit, at most 63 bytes; anything else is refused, so nothing can be injected through it.
    /// The name is quoted in every statement, so it is case-sensitive.
    ///
    /// ```
    /// # use session_core::SqliteStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = SqliteStore::connect("sqlite::memory:").await?;
    /// assert!(store.clone().with_table_name("x; DROP TABLE y").is_err());
    /// let store = store.with_table_name("app_sessions")?;
    /// assert_eq!(store.table_name(), "app_sessions");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_table_name(mut self, name: &str) -> Result<Self, InvalidTableName> {
        self.table = TableName::parse(name, false)?;
        self.sql = Arc::new(Statements::new(&self.table));
        Ok(self)
    }

    /// Creates the table and its index on `expires_at` if they do not exist. Safe to run on
    /// every start, from several processes at once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let fail = |e| self.error("migrate", e);
        let mut connection = self.pool.acquire().await.map_err(fail)?;
        let result = async {
            let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
            tx.execute(self.sql.create_table.as_str()).await?;
            tx.execute(self.sql.create_index.as_str()).await?;
            tx.commit().await
        }
        .await;
        discard_if_failed(&mut connection, &result);
        result.map_err(fail)
    }

    /// The table this store uses.
    pub fn table_name(&self) -> &str {
        self.table.as_str()
    }

    /// The underlying pool, e.g. to close it on shutdown.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn error(&self, operation: &'static str, source: sqlx::Error) -> StoreError {
        StoreError::backend(QueryError {
            backend: BACKEND,
            target: describe(&self.pool.connect_options()),
            operation,
            table: self.table.as_str().to_owned(),
            source,
        })
    }

    /// The record in `row`, or `None` (logged) if the row is damaged.
    fn decode(&self, id: &IdDigest, row: &SqliteRow) -> Option<Record> {
        let decoded = (|| -> Result<Record, BoxError> {
            let data: String = row.try_get(0)?;
            let created_at = OffsetDateTime::from_unix_timestamp(row.try_get(1)?)?;
            let expires_at = OffsetDateTime::from_unix_timestamp(row.try_get(2)?)?;
            let data: Map<String, Value> = serde_json::from_str(&data)?;
            Ok(Record::new(data, created_at, expires_at))
        })();
        record_or_missing(BACKEND, &self.table, id, decoded)
    }

    /// Merges `changes` into the live row: read, merge, write, under SQLite's write lock.
    async fn merge(&self, id: &IdDigest, changes: &Changes, now: i64) -> Result<bool, StoreError> {
        let merged = self
            .edit(id, "apply", now, |record| {
                record.apply(changes);
                (true, ())
            })
            .await?;
        Ok(merged.is_some())
    }

    /// Runs `edit` on the live row under SQLite's write lock (one `BEGIN IMMEDIATE`
    /// transaction) and writes the record back if `edit` says so; `None` if there is no live
    /// row. `operation` names the step in errors.
    async fn edit<T>(
        &self,
        id: &IdDigest,
        operation: &'static str,
        now: i64,
        edit: impl FnOnce(&mut Record) -> (bool, T),
    ) -> Result<Option<T>, StoreError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|e| self.error(operation, e))?;
        let result = self
            .edit_on(&mut connection, id, operation, now, edit)
            .await;
        discard_if_failed(&mut connection, &result);
        result
    }

    async fn edit_on<T>(
        &self,
        connection: &mut SqliteConnection,
        id: &IdDigest,
        operation: &'static str,
        now: i64,
        edit: impl FnOnce(&mut Record) -> (bool, T),
    ) -> Result<Option<T>, StoreError> {
        let fail = |e| self.error(operation, e);
        let mut tx = connection
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(fail)?;
        let row = sqlx::query(&self.sql.load)
            .bind(&id.as_bytes()[..])
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(fail)?;
        let Some(mut record) = row.and_then(|row| self.decode(id, &row)) else {
            tx.rollback().await.map_err(fail)?;
            return Ok(None);
        };
        let (write, outcome) = edit(&mut record);
        if !write {
            tx.rollback().await.map_err(fail)?;
            return Ok(Some(outcome));
        }
        sqlx::query(&self.sql.write)
            .bind(encode(&record.data)?)
            .bind(record.expires_at.unix_timestamp())
            .bind(&id.as_bytes()[..])
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(Some(outcome))
    }
}

/// Keeps a connection whose transaction failed out of the pool. When a commit fails (a full
/// disk: `SQLITE_FULL`), SQLite rolls the transaction back by itself, sqlx's own rollback then
/// fails, and sqlx would return the connection believing a transaction is still open: every
/// later transaction on it would fail until it was recycled.
fn discard_if_failed<T, E>(connection: &mut PoolConnection<Sqlite>, result: &Result<T, E>) {
    if result.is_err() {
        connection.close_on_drop();
    }
}

fn encode(data: &Map<String, Value>) -> Result<String, StoreError> {
    serde_json::to_string(data).map_err(StoreError::Codec)
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `sqlx` names each in-memory database `file:sqlx-in-memory-<n>`.
fn is_in_memory(options: &SqliteConnectOptions) -> bool {
    let name = options.get_filename().to_string_lossy();
    name == ":memory:" || name.starts_with("file:sqlx-in-memory-")
}

/// Where the database is: its file name, or `:memory:`.
fn describe(options: &SqliteConnectOptions) -> String {
    if is_in_memory(options) {
        ":memory:".to_owned()
    } else {
        options.get_filename().display().to_string()
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("database", &describe(&self.pool.connect_options()))
            .field("table", &self.table)
            .field("connections", &self.pool.size())
            .finish()
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.sql.create)
            .bind(&id.as_bytes()[..])
            .bind(encode(&record.data)?)
            .bind(record.created_at.unix_timestamp())
            .bind(record.expires_at.unix_timestamp())
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("create", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.sql.load)
            .bind(&id.as_bytes()[..])
            .bind(now())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error("load", e))?;
        Ok(row.and_then(|row| self.decode(id, &row)))
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        if changes.clear {
            // The new data is exactly `set`: no need to read the row.
            let done = sqlx::query(&self.sql.replace)
                .bind(encode(&changes.set)?)
                .bind(changes.expires_at.unix_timestamp())
                .bind(&id.as_bytes()[..])
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(|e| self.error("apply", e))?;
            return Ok(done.rows_affected() == 1);
        }
        if changes.set.is_empty() && changes.remove.is_empty() {
            return self.touch(id, changes.expires_at).await;
        }
        self.merge(id, changes, now()).await
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.sql.touch)
            .bind(expires_at.unix_timestamp())
            .bind(&id.as_bytes()[..])
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("touch", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<Swap, StoreError> {
        let swapped = self
            .edit(id, "compare_and_set", now(), |record| {
                let swap = record.compare_and_set(key, expected, new);
                (swap == Swap::Swapped, swap)
            })
            .await?;
        Ok(swapped.unwrap_or(Swap::Missing))
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // One statement, so SQLite's write lock makes it atomic with `merge`'s transaction.
        let row = sqlx::query(&self.sql.take)
            .bind(&id.as_bytes()[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error("take", e))?;
        let now = OffsetDateTime::now_utc();
        Ok(row
            .and_then(|row| self.decode(id, &row))
            .filter(|record| !record.is_expired_at(now)))
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        sqlx::query(&self.sql.delete)
            .bind(&id.as_bytes()[..])
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("delete", e))?;
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(&self.sql.delete_expired)
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("delete_expired", e))?;
        Ok(done.rows_affected())
    }
}
