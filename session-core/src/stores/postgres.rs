//! [`PostgresStore`]: one row per session in a PostgreSQL table, through an `sqlx` pool. Every
//! operation, the per-key merge included, is a single statement.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::Row as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use time::OffsetDateTime;

use crate::error::{BoxError, StoreError};
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};
use crate::store::SessionStore;
use crate::stores::sql::{
    ConnectError, InvalidTableName, QueryError, TableName, record_or_missing,
};

const BACKEND: &str = "PostgreSQL";

/// How long [`PostgresStore::connect`]'s pool waits for a connection before an operation fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A session store keeping one row per session in a PostgreSQL table.
///
/// The table (`sessions` unless [`with_table_name`](Self::with_table_name) says otherwise) is
/// created by [`migrate`](Self::migrate):
///
/// | column | type | holds |
/// |---|---|---|
/// | `id` | `BYTEA PRIMARY KEY` | the 32-byte [`IdDigest`] of the session id, never the id |
/// | `data` | `JSONB` | one member per session key; its value is that key's value as JSON **text** |
/// | `created_at` | `TIMESTAMPTZ` | when the session was created |
/// | `expires_at` | `TIMESTAMPTZ` | when it expires (indexed) |
///
/// - **Why values are JSON text.** JSONB cannot hold a NUL character (`\u0000`) in a string or
///   a key, drops the sign of `-0.0`, and turns the float `1e19` into the integer
///   `10000000000000000000`, which `serde_json` then reads back as a `u64`. To give back every
///   value exactly as it was stored, each value is kept as the JSON text `serde_json` wrote
///   (a JSONB string), and a key is stored with `\` written as `\\` and NUL as `\0` (other
///   keys are unchanged). To read a value in SQL: `(data->>'user')::jsonb`.
/// - **One statement per operation.** `apply` is a single `UPDATE` that removes and sets
///   members of the JSONB object (`(data - $removed) || $set`), so concurrent requests writing
///   different keys of one session all keep their writes, with no transaction round trips.
/// - **Expiry** is checked in every statement against the application's clock: a load never
///   returns an expired row, `apply` and `touch` leave expired rows alone, and `create` may
///   replace an expired row but never a live one. Expired rows stay until
///   [`delete_expired`](SessionStore::delete_expired) sweeps them: call it periodically.
/// - **Forwarding pointers share the table.** For a minute after
///   [`Session::cycle_id`](crate::Session::cycle_id), the old id's row is a forwarding pointer
///   for requests still in flight; its `data` holds the key
///   [`FORWARDING_POINTER_KEY`](crate::FORWARDING_POINTER_KEY) (`__forwarding_pointer`).
///   Count sessions without them:
///   `SELECT count(*) FROM sessions WHERE NOT data ? '__forwarding_pointer'`.
/// - **Damaged rows** (`data` whose members are not JSON text) are treated as missing and
///   logged at `warn` with the digest.
///
/// The database must use the `UTF8` encoding. `sqlx` is built without TLS here; to reach a
/// server over TLS, enable one of `sqlx`'s TLS features (e.g. `tls-rustls`) in your own
/// `Cargo.toml` and add `sslmode=require` to the URL.
///
/// ```no_run
/// use session_core::{KeyRing, PostgresStore, SessionConfig, SessionManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://app:secret@localhost/app").await?;
/// store.migrate().await?;
/// let manager = SessionManager::new(store, KeyRing::from_env()?, SessionConfig::default())?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    table: TableName,
    sql: Arc<Statements>,
}

/// The statements, written once per table name.
struct Statements {
    lock: String,
    create_table: String,
    create_index: String,
    create: String,
    load: String,
    apply: String,
    touch: String,
    compare_and_set: String,
    read_key: String,
    take: String,
    delete: String,
    delete_expired: String,
}

impl Statements {
    fn new(table: &TableName) -> Self {
        let (t, index) = (table.quoted(), table.index());
        Self {
            lock: "SELECT pg_advisory_xact_lock(hashtext($1))".to_owned(),
            create_table: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\
                 id BYTEA PRIMARY KEY CHECK (octet_length(id) = 32), \
                 data JSONB NOT NULL CHECK (jsonb_typeof(data) = 'object'), \
                 created_at TIMESTAMPTZ NOT NULL, \
                 expires_at TIMESTAMPTZ NOT NULL)"
            ),
            create_index: format!("CREATE INDEX IF NOT EXISTS {index} ON {t} (expires_at)"),
            create: format!(
                "INSERT INTO {t} AS t (id, data, created_at, expires_at) \
                 VALUES ($1, $2::jsonb, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, \
                 created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at \
                 WHERE t.expires_at <= $5"
            ),
            load: format!(
                "SELECT data::text, created_at, expires_at FROM {t} \
                 WHERE id = $1 AND expires_at > $2"
            ),
            apply: format!(
                "UPDATE {t} SET \
                 data = CASE WHEN $2 THEN $3::jsonb ELSE (data - $4::text[]) || $3::jsonb END, \
                 expires_at = $5 \
                 WHERE id = $1 AND expires_at > $6"
            ),
            touch: format!("UPDATE {t} SET expires_at = $2 WHERE id = $1 AND expires_at > $3"),
            // Writes (or, for a NULL new text, deletes) only over the expected text (NULL: the
            // key is absent); its row lock orders it with every other write.
            compare_and_set: format!(
                "UPDATE {t} SET data = CASE WHEN $4::text IS NULL THEN data - $2::text \
                 ELSE data || jsonb_build_object($2::text, $4::text) END \
                 WHERE id = $1 AND expires_at > $5 AND (data ->> $2) IS NOT DISTINCT FROM $3"
            ),
            // After a miss: a new statement, so it sees the write that made the UPDATE miss.
            read_key: format!("SELECT data ->> $2 FROM {t} WHERE id = $1 AND expires_at > $3"),
            take: format!(
                "DELETE FROM {t} WHERE id = $1 RETURNING data::text, created_at, expires_at"
            ),
            delete: format!("DELETE FROM {t} WHERE id = $1"),
            delete_expired: format!("DELETE FROM {t} WHERE expires_at <= $1"),
        }
    }
}

impl PostgresStore {
    /// A store over `pool`, using the table `sessions`. Call [`migrate`](Self::migrate) once
    /// to create the table.
    ///
    /// Give the pool an acquire timeout of a few seconds
    /// ([`PgPoolOptions::acquire_timeout`]): while the server is down, every operation waits
    /// that long before failing, and with `sqlx`'s default of 30 seconds requests would hang.
    /// Keep `sqlx`'s default `test_before_acquire(true)`: it costs one extra round trip per
    /// operation (not a statement) but replaces connections that a server restart broke, where
    /// otherwise the next request on each of them would fail.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sqlx::postgres::PgPoolOptions;
    /// use session_core::PostgresStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = PgPoolOptions::new()
    ///     .max_connections(20)
    ///     .acquire_timeout(Duration::from_secs(3))
    ///     .connect("postgres://app:secret@localhost/app")
    ///     .await?;
    /// let store = PostgresStore::new(pool).with_table_name("auth.sessions")?;
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        let table = TableName::default();
        Self {
            pool,
            sql: Arc::new(Statements::new(&table)),
            table,
        }
    }

    /// Connects to `url` (`postgres://user:password@host:port/database`) and returns a store
    /// over it, using the table `sessions`.
    ///
    /// The pool has `sqlx`'s default size (10 connections) and a 5-second acquire timeout, so
    /// an operation fails within about 5 seconds while the server is unreachable; build your
    /// own pool and use [`new`](Self::new) to choose otherwise. One connection is opened now,
    /// so a wrong URL or password is reported here. Errors name the user, host, port and
    /// database, never the password.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|source| {
            StoreError::backend(ConnectError {
                backend: BACKEND,
                target: "the given URL (not shown: it may hold a password)".to_owned(),
                source,
            })
        })?;
        let target = describe(&options);
        let pool = PgPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| {
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
    /// `name` is `table` or `schema.table`, each part one identifier of ASCII letters, digits
    /// and `_`, not starting with a digit, at most 63 bytes; anything else is refused, so
    /// nothing can be injected through it. The parts are quoted in every statement, so they are
    /// case-sensitive. [`migrate`](Self::migrate) creates the table, not the schema.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/app")?;
    /// use session_core::PostgresStore;
    ///
    /// assert!(PostgresStore::new(pool.clone()).with_table_name("x; DROP TABLE y").is_err());
    /// let store = PostgresStore::new(pool).with_table_name("auth.sessions")?;
    /// assert_eq!(store.table_name(), "auth.sessions");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_table_name(mut self, name: &str) -> Result<Self, InvalidTableName> {
        self.table = TableName::parse(name, true)?;
        self.sql = Arc::new(Statements::new(&self.table));
        Ok(self)
    }

    /// Creates the table and its index on `expires_at` if they do not exist. Safe to run on
    /// every start, from several processes at once (they take turns through an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(&self.sql.lock)
                .bind(format!("session-core migrate {}", self.table.quoted()))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&self.sql.create_table)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&self.sql.create_index)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await;
        result.map_err(|e| self.error("migrate", e))
    }

    /// The table this store uses, as given to [`with_table_name`](Self::with_table_name).
    pub fn table_name(&self) -> &str {
        self.table.as_str()
    }

    /// The underlying pool, e.g. to close it on shutdown.
    pub fn pool(&self) -> &PgPool {
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
    fn decode(&self, id: &IdDigest, row: &PgRow) -> Option<Record> {
        let decoded = (|| -> Result<Record, BoxError> {
            let data: String = row.try_get(0)?;
            let created_at: OffsetDateTime = row.try_get(1)?;
            let expires_at: OffsetDateTime = row.try_get(2)?;
            Ok(Record::new(decode_data(&data)?, created_at, expires_at))
        })();
        record_or_missing(BACKEND, &self.table, id, decoded)
    }
}

/// The JSONB text for `data`: escaped keys, each value as its JSON text.
fn encode_data(data: &Map<String, Value>) -> Result<String, StoreError> {
    let mut stored = Map::new();
    for (key, value) in data {
        let text = serde_json::to_string(value).map_err(StoreError::Codec)?;
        stored.insert(escape_key(key).into_owned(), Value::String(text));
    }
    serde_json::to_string(&stored).map_err(StoreError::Codec)
}

/// The inverse of [`encode_data`].
fn decode_data(text: &str) -> Result<Map<String, Value>, BoxError> {
    let stored: Map<String, Value> = serde_json::from_str(text)?;
    let mut data = Map::new();
    for (key, value) in stored {
        let Value::String(text) = value else {
            return Err(format!("the value of a stored key is {value}, not JSON text").into());
        };
        let key = unescape_key(&key).ok_or("a stored key has an invalid escape")?;
        data.insert(key, serde_json::from_str(&text)?);
    }
    Ok(data)
}

/// PostgreSQL text cannot hold NUL: write `\` as `\\` and NUL as `\0`.
fn escape_key(key: &str) -> Cow<'_, str> {
    if !key.contains(['\\', '\0']) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn unescape_key(stored: &str) -> Option<String> {
    let mut out = String::with_capacity(stored.len());
    let mut chars = stored.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '\\' => out.push('\\'),
                '0' => out.push('\0'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Where the database is, without the password: `user@host:port/database`.
fn describe(options: &PgConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!(
        "{}@{place}/{}",
        options.get_username(),
        options.get_database().unwrap_or("")
    )
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &describe(&self.pool.connect_options()))
            .field("table", &self.table)
            .field("connections", &self.pool.size())
            .finish()
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.sql.create)
            .bind(&id.as_bytes()[..])
            .bind(encode_data(&record.data)?)
            .bind(record.created_at)
            .bind(record.expires_at)
            .bind(OffsetDateTime::now_utc())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("create", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&self.sql.load)
            .bind(&id.as_bytes()[..])
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error("load", e))?;
        Ok(row.and_then(|row| self.decode(id, &row)))
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        if !changes.clear && changes.set.is_empty() && changes.remove.is_empty() {
            // Leave `data` alone rather than rewrite a possibly large JSONB value unchanged.
            return self.touch(id, changes.expires_at).await;
        }
        let remove: Vec<String> = changes
            .remove
            .iter()
            .map(|key| escape_key(key).into_owned())
            .collect();
        let done = sqlx::query(&self.sql.apply)
            .bind(&id.as_bytes()[..])
            .bind(changes.clear)
            .bind(encode_data(&changes.set)?)
            .bind(remove)
            .bind(changes.expires_at)
            .bind(OffsetDateTime::now_utc())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("apply", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        let done = sqlx::query(&self.sql.touch)
            .bind(&id.as_bytes()[..])
            .bind(expires_at)
            .bind(OffsetDateTime::now_utc())
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
        let text = |value: &Value| serde_json::to_string(value).map_err(StoreError::Codec);
        let key = escape_key(key);
        let done = sqlx::query(&self.sql.compare_and_set)
            .bind(&id.as_bytes()[..])
            .bind(key.as_ref())
            .bind(expected.map(text).transpose()?)
            .bind(new.map(text).transpose()?)
            .bind(OffsetDateTime::now_utc())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("compare_and_set", e))?;
        if done.rows_affected() == 1 {
            return Ok(Swap::Swapped);
        }
        let row = sqlx::query(&self.sql.read_key)
            .bind(&id.as_bytes()[..])
            .bind(key.as_ref())
            .bind(OffsetDateTime::now_utc())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error("compare_and_set", e))?;
        let Some(row) = row else {
            return Ok(Swap::Missing);
        };
        let current = (|| -> Result<Option<Value>, BoxError> {
            let text: Option<String> = row.try_get(0)?;
            Ok(text.map(|text| serde_json::from_str(&text)).transpose()?)
        })();
        Ok(record_or_missing(BACKEND, &self.table, id, current)
            .map_or(Swap::Missing, Swap::Conflict))
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // The row lock makes it atomic with `apply`'s UPDATE: whichever comes second sees the
        // other's result (the DELETE returns the updated row, or the UPDATE matches nothing).
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
            .bind(OffsetDateTime::now_utc())
            .execute(&self.pool)
            .await
            .map_err(|e| self.error("delete_expired", e))?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip_through_their_escape() {
        for key in [
            "",
            "plain",
            "a.b",
            "$set",
            "\\",
            "\\0",
            "a\0b",
            "\0\\\0",
            "ключ 🔑",
        ] {
            let escaped = escape_key(key);
            assert!(!escaped.contains('\0'), "{key:?}");
            assert_eq!(unescape_key(&escaped).as_deref(), Some(key));
        }
        assert!(matches!(escape_key("plain.key"), Cow::Borrowed(_)));
        assert_eq!(unescape_key("bad\\x"), None);
        assert_eq!(unescape_key("trailing\\"), None);
    }

    #[test]
    fn data_round_trips_through_its_stored_form() {
        let data = json!({
            "a\0b": {"nested\0": "v\0"},
            "float": 1e19,
            "negative zero": -0.0,
            "one": 1.0,
            "u64": u64::MAX,
        });
        let Value::Object(data) = data else {
            unreachable!()
        };
        let stored = encode_data(&data).unwrap();
        assert!(!stored.contains('\0'));
        let back = decode_data(&stored).unwrap();
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&data).unwrap()
        );
    }

    #[test]
    fn damaged_data_is_an_error() {
        assert!(decode_data("[]").is_err());
        assert!(decode_data(r#"{"a": 1}"#).is_err());
        assert!(decode_data(r#"{"a": "not json"}"#).is_err());
        assert!(decode_data(r#"{"a\\x": "1"}"#).is_err());
    }

    #[test]
    fn the_description_has_no_password() {
        let options =
            PgConnectOptions::from_str("postgres://app:hunter2@db.example:6543/sessions").unwrap();
        assert_eq!(describe(&options), "app@db.example:6543/sessions");
    }
}
