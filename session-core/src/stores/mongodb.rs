//! [`MongoStore`]: sessions in a MongoDB collection, one document per session, with keys
//! escaped so that `.` and `$` are safe and values kept as JSON text so that they round-trip
//! exactly. The document layout and the escaping are described on [`MongoStore`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{Bson, DateTime, Document, doc};
use mongodb::error::{Error as MongoError, ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, IndexModel};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};
use crate::store::SessionStore;

/// The sub-document holding the session's keys.
const DATA: &str = "data";
/// The creation time.
const CREATED: &str = "created_at";
/// The expiry time, under the TTL index.
const EXPIRES: &str = "expires_at";
/// The name of the TTL index that [`MongoStore::migrate`] creates.
const TTL_INDEX: &str = "expires_at_ttl";
/// The first character of every stored session-key field name.
const FIELD_PREFIX: char = '~';
/// MongoDB's error code for a duplicate key on a unique index.
const DUPLICATE_KEY: i32 = 11000;
/// MongoDB's error codes for an index that exists with other options.
const INDEX_OPTIONS_CONFLICT: i32 = 85;
const INDEX_KEY_SPECS_CONFLICT: i32 = 86;
/// How many times `take` re-reads a session that concurrent writes keep changing.
const TAKE_ATTEMPTS: usize = 100;
/// The deepest nesting of arrays and objects that `serde_json` parses (its recursion limit).
const MAX_DEPTH: usize = 127;
/// Server selection and connect timeout that [`MongoStore::connect`] sets when the connection
/// string names none: a down server gives an error within seconds, not the driver's 30 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A session store on MongoDB: one document per session in one collection.
///
/// `create` is an `insert_one` on the unique `_id` (and, only if that id is taken by an
/// *expired* document, a `replace_one` guarded by `expires_at <= now`); `apply` and `touch` are
/// each one `update_one` guarded by `expires_at > now`, with `$set`/`$unset` on the named keys
/// only, so concurrent requests writing different keys never overwrite each other and a deleted
/// or expired session is never brought back. `take` is a `find_one` and a `find_one_and_delete`
/// of exactly the document read (repeated if a write landed in between). `load` is one
/// `find_one` that also filters on `expires_at > now`, so the store never depends on MongoDB's
/// TTL sweep (which runs about once a minute); the TTL index only reclaims space.
/// `delete_expired` removes what the sweep has not yet removed.
///
/// Build it with [`connect`](Self::connect) (a connection string; creates the TTL index), or
/// with [`new`](Self::new) over a collection of a client you already have, then call
/// [`migrate`](Self::migrate) once at start-up. Cloning is cheap and clones share the client's
/// connection pool. `Debug` shows the hosts and the namespace, never credentials.
///
/// The driver runs its connection pool and server monitoring as tasks on the Tokio runtime the
/// store (its client) was built in. Build it in the runtime that lives as long as the
/// application (in `main`); other runtimes, such as actix-web's per-worker ones, may then use
/// it. Once that runtime has shut down, every call fails with a [`StoreError`].
///
/// ```no_run
/// use session_core::{KeyRing, MongoStore, SessionConfig, SessionManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MongoStore::connect("mongodb://127.0.0.1:27017", "app", "sessions").await?;
/// let manager = SessionManager::new(store, KeyRing::from_env()?, SessionConfig::default())?;
/// # Ok(())
/// # }
/// ```
///
/// `mongodb+srv://` connection strings need the driver's `dns-resolver` feature, which this
/// crate does not enable: add `mongodb = { version = "3", features = ["dns-resolver"] }` to your
/// own dependencies to turn it on.
///
/// # Layout
///
/// | field | value |
/// |---|---|
/// | `_id` | the session's [`IdDigest`] as 64 lowercase hex digits (never the raw id) |
/// | `data` | a sub-document: for each session key, its [escaped](#key-escaping) name mapped to the JSON text of its value (a BSON string) |
/// | `created_at` | creation time, a BSON date |
/// | `expires_at` | expiry time, a BSON date, with a TTL index (`expires_at_ttl`, `expireAfterSeconds: 0`) |
///
/// Values are stored as their JSON text rather than converted to BSON, because BSON cannot hold
/// every JSON value exactly (`u64` above `i64::MAX`, `1.0` versus `1`, nested keys that contain
/// `.` or start with `$`). The text is read back with `serde_json`, so every value round-trips.
///
/// # Key escaping
///
/// MongoDB update paths split on `.`, treat a leading `$` as an operator, and BSON field names
/// cannot contain NUL. So each session key is stored as `~` followed by the key with `%`, `.`,
/// `$` and NUL percent-encoded (`%25`, `%2E`, `%24`, `%00`); everything else, non-ASCII
/// included, is kept as it is. The leading `~` makes empty and `$`-leading field names
/// impossible. The encoding is reversible and canonical: a field name that the escaping could
/// not have produced is treated as damage, and its session as missing.
#[derive(Clone)]
pub struct MongoStore {
    collection: Collection<Document>,
    /// The servers from the connection string, for error messages; `None` when built by `new`.
    hosts: Option<String>,
}

impl MongoStore {
    /// A store over `collection`, with no I/O: call [`migrate`](Self::migrate) once before use
    /// to create the TTL index.
    ///
    /// The client's own settings apply (timeouts included: the driver waits 30 s for a server by
    /// default; lower `server_selection_timeout` for prompt errors while MongoDB is down).
    /// Errors name the namespace; the driver does not tell which hosts the client uses.
    ///
    /// ```no_run
    /// use mongodb::Client;
    /// use mongodb::bson::Document;
    /// use session_core::MongoStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::with_uri_str("mongodb://127.0.0.1:27017").await?;
    /// let store = MongoStore::new(client.database("app").collection::<Document>("sessions"));
    /// store.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new<T: Send + Sync>(collection: Collection<T>) -> Self {
        Self {
            collection: collection.clone_with_type(),
            hosts: None,
        }
    }

    /// Connects to the MongoDB deployment at `url` (a `mongodb://` connection string), uses
    /// collection `collection` of database `database`, and creates the TTL index
    /// ([`migrate`](Self::migrate)), so an unreachable server or bad credentials fail here, at
    /// start-up.
    ///
    /// `serverSelectionTimeoutMS` and `connectTimeoutMS` are each 5 seconds unless the connection
    /// string sets them, so while MongoDB is down each operation fails within seconds. (The
    /// driver has no per-operation socket timeout: a call to a server that stops answering
    /// mid-call fails once the driver's monitoring notices, about 20 seconds with these
    /// settings.) Errors name the hosts, never the password.
    pub async fn connect(url: &str, database: &str, collection: &str) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(url).await.map_err(|source| {
            Failure::store_error(
                None,
                "parse the connection string (expected mongodb://[user:password@]host[:port][,...][/?options])",
                source,
            )
        })?;
        options
            .server_selection_timeout
            .get_or_insert(CONNECT_TIMEOUT);
        options.connect_timeout.get_or_insert(CONNECT_TIMEOUT);
        options
            .app_name
            .get_or_insert_with(|| "session-core".to_owned());
        let hosts = options
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let client = Client::with_options(options).map_err(|source| {
            Failure::store_error(Some(hosts.clone()), "create a client", source)
        })?;
        let store = Self {
            collection: client.database(database).collection(collection),
            hosts: Some(hosts),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates the TTL index on `expires_at` (named `expires_at_ttl`, `expireAfterSeconds: 0`)
    /// that lets MongoDB remove expired sessions by itself. Idempotent: run it at every
    /// start-up. [`connect`](Self::connect) runs it for you.
    ///
    /// Fails if the collection already has an index named `expires_at_ttl`, or an index on
    /// `expires_at`, with other options; drop that index and run it again.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let index = IndexModel::builder()
            .keys(doc! { EXPIRES: 1 })
            .options(
                IndexOptions::builder()
                    .name(TTL_INDEX.to_owned())
                    .expire_after(Duration::ZERO)
                    .build(),
            )
            .build();
        self.collection.create_index(index).await.map_err(|source| {
            let action = if is_index_conflict(&source) {
                "create the TTL index `expires_at_ttl` on `expires_at`, because an index of that \
                 name or on that field exists with other options; drop it and migrate again"
            } else {
                "create the TTL index `expires_at_ttl` on `expires_at`"
            };
            self.failure(action, source)
        })?;
        Ok(())
    }

    /// The collection the sessions live in, for inspection and administration.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }

    fn failure(&self, action: &'static str, source: MongoError) -> StoreError {
        let place = match &self.hosts {
            Some(hosts) => format!("{hosts}, {}", self.collection.namespace()),
            None => self.collection.namespace().to_string(),
        };
        Failure::store_error(Some(place), action, source)
    }

    /// The document body of `record`, without `_id`.
    fn body(record: &Record) -> Result<Document, StoreError> {
        let mut data = Document::new();
        for (key, value) in &record.data {
            data.insert(escape_key(key), encode_value(key, value)?);
        }
        Ok(doc! {
            DATA: data,
            CREATED: date(record.created_at),
            EXPIRES: date(record.expires_at),
        })
    }

    /// The record in `document`, or `None` (logged at `warn`) if the document is damaged.
    fn decoded(&self, id: &IdDigest, document: &Document) -> Option<Record> {
        decode_record(document)
            .inspect_err(|problem| {
                tracing::warn!(session = %id, problem, "the session's MongoDB document is damaged; the session is treated as missing");
            })
            .ok()
    }

    /// `{_id: id, expires_at: {$gt: now}}`: the live document under `id`.
    fn live(id: &IdDigest) -> Document {
        doc! { "_id": id.to_hex(), EXPIRES: { "$gt": DateTime::now() } }
    }

    /// Runs an `update_one` on the live document under `id`; whether one matched.
    async fn update_live(
        &self,
        id: &IdDigest,
        update: Document,
        action: &'static str,
    ) -> Result<bool, StoreError> {
        let result = self
            .collection
            .update_one(Self::live(id), update)
            .await
            .map_err(|source| self.failure(action, source))?;
        Ok(result.matched_count > 0)
    }
}

impl fmt::Debug for MongoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoStore")
            .field("hosts", &self.hosts)
            .field("namespace", &self.collection.namespace().to_string())
            .finish()
    }
}

#[async_trait]
impl SessionStore for MongoStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let mut document = doc! { "_id": id.to_hex() };
        document.extend(Self::body(record)?);
        match self.collection.insert_one(&document).await {
            Ok(_) => Ok(true),
            Err(error) if is_duplicate_key(&error) => {
                // The id is taken; only an expired document may be replaced. The filter makes
                // the check and the replacement one atomic step.
                let expired = doc! { "_id": id.to_hex(), EXPIRES: { "$lte": DateTime::now() } };
                document.remove("_id");
                let result = self
                    .collection
                    .replace_one(expired, document)
                    .await
                    .map_err(|source| self.failure("replace an expired session", source))?;
                Ok(result.matched_count > 0)
            }
            Err(source) => Err(self.failure("insert a session", source)),
        }
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let found = self
            .collection
            .find_one(Self::live(id))
            .await
            .map_err(|source| self.failure("load a session", source))?;
        Ok(found.and_then(|document| self.decoded(id, &document)))
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        let mut set = Document::new();
        let mut unset = Document::new();
        if changes.clear {
            let mut data = Document::new();
            for (key, value) in &changes.set {
                data.insert(escape_key(key), encode_value(key, value)?);
            }
            set.insert(DATA, data);
        } else {
            for key in &changes.remove {
                // `$set` and `$unset` of one path conflict; the set wins anyway.
                if !changes.set.contains_key(key) {
                    unset.insert(format!("{DATA}.{}", escape_key(key)), "");
                }
            }
            for (key, value) in &changes.set {
                set.insert(
                    format!("{DATA}.{}", escape_key(key)),
                    encode_value(key, value)?,
                );
            }
        }
        set.insert(EXPIRES, date(changes.expires_at));
        let mut update = doc! { "$set": set };
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        self.update_live(id, update, "update a session").await
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        let update = doc! { "$set": { EXPIRES: date(expires_at) } };
        self.update_live(id, update, "move a session's expiry")
            .await
    }

    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<Swap, StoreError> {
        // One `update_one` whose filter holds the expected JSON text (or that the field is
        // absent): the comparison and the write are one atomic step. Only a miss costs a read,
        // to tell a missing session from a conflict.
        let escaped = escape_key(key);
        let field = format!("{DATA}.{escaped}");
        let mut filter = Self::live(id);
        match expected {
            Some(value) => filter.insert(field.clone(), encode_value(key, value)?),
            None => filter.insert(field.clone(), doc! { "$exists": false }),
        };
        let update = match new {
            Some(new) => doc! { "$set": { field.as_str(): encode_value(key, new)? } },
            None => doc! { "$unset": { field.as_str(): "" } },
        };
        let result = self
            .collection
            .update_one(filter, update)
            .await
            .map_err(|source| self.failure("compare and set a session key", source))?;
        if result.matched_count > 0 {
            return Ok(Swap::Swapped);
        }
        let Some(document) = self
            .collection
            .find_one(Self::live(id))
            .projection(doc! { field.as_str(): 1 })
            .await
            .map_err(|source| self.failure("read a session key after a conflict", source))?
        else {
            return Ok(Swap::Missing);
        };
        let current = document
            .get_document(DATA)
            .ok()
            .and_then(|data| data.get(&escaped));
        let Some(current) = current else {
            return Ok(Swap::Conflict(None));
        };
        match current
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
        {
            Some(value) => Ok(Swap::Conflict(Some(value))),
            None => {
                tracing::warn!(session = %id, "the session's MongoDB document is damaged; the session is treated as missing");
                Ok(Swap::Missing)
            }
        }
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // Read, then delete only if the document is still exactly what was read (a
        // compare-and-delete), so a concurrent `apply` is either in what is returned or matches
        // nothing afterwards. MongoDB's own `findAndModify` is atomic, but servers that speak its
        // protocol may answer it with a find and a separate delete (SecantusDB does), which
        // would hand back a document without a write that landed in between.
        let by_id = doc! { "_id": id.to_hex() };
        for _ in 0..TAKE_ATTEMPTS {
            let Some(current) = self
                .collection
                .find_one(by_id.clone())
                .await
                .map_err(|source| self.failure("read a session to take it", source))?
            else {
                return Ok(None);
            };
            let mut unchanged = by_id.clone();
            for field in [DATA, CREATED, EXPIRES] {
                if let Some(value) = current.get(field) {
                    unchanged.insert(field, value.clone());
                }
            }
            let taken = self
                .collection
                .find_one_and_delete(unchanged)
                .await
                .map_err(|source| self.failure("take a session", source))?;
            if let Some(document) = taken {
                let now = OffsetDateTime::now_utc();
                return Ok(self
                    .decoded(id, &document)
                    .filter(|record| !record.is_expired_at(now)));
            }
        }
        Err(StoreError::backend(format!(
            "MongoDB ({}): could not take a session: it changed {TAKE_ATTEMPTS} times between \
             being read and being deleted; retry the request",
            self.collection.namespace()
        )))
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.collection
            .delete_one(doc! { "_id": id.to_hex() })
            .await
            .map_err(|source| self.failure("delete a session", source))?;
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        let result = self
            .collection
            .delete_many(doc! { EXPIRES: { "$lte": DateTime::now() } })
            .await
            .map_err(|source| self.failure("delete expired sessions", source))?;
        Ok(result.deleted_count)
    }
}

/// A driver error, with the hosts and namespace it happened on and what the store was doing.
#[derive(Debug)]
struct Failure {
    /// The hosts and namespace, when known.
    place: Option<String>,
    action: &'static str,
    source: MongoError,
}

impl Failure {
    /// A [`StoreError`] for `source`, which happened at `place` while trying to `action`.
    fn store_error(place: Option<String>, action: &'static str, source: MongoError) -> StoreError {
        StoreError::backend(Self {
            place,
            action,
            source,
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some(place) => write!(f, "MongoDB ({place}): could not {}: ", self.action)?,
            None => write!(f, "MongoDB: could not {}: ", self.action)?,
        }
        write!(f, "{}", self.source)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn is_duplicate_key(error: &MongoError) -> bool {
    matches!(
        &*error.kind,
        ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == DUPLICATE_KEY
    )
}

/// Whether `error` says that an index with the same name or keys but other options exists.
fn is_index_conflict(error: &MongoError) -> bool {
    matches!(
        &*error.kind,
        ErrorKind::Command(e) if e.code == INDEX_OPTIONS_CONFLICT || e.code == INDEX_KEY_SPECS_CONFLICT
    )
}

/// `time` as a BSON date (milliseconds since the Unix epoch).
fn date(time: OffsetDateTime) -> DateTime {
    let millis = time
        .unix_timestamp()
        .saturating_mul(1000)
        .saturating_add(i64::from(time.millisecond()));
    DateTime::from_millis(millis)
}

/// The JSON text of `value` (stored under session key `key`), as a BSON string.
///
/// A value nested deeper than `serde_json` reads back is refused here, so that it is not
/// written and then lost, with the rest of its session, on the next load.
fn encode_value(key: &str, value: &Value) -> Result<Bson, StoreError> {
    if nested_deeper_than(value, MAX_DEPTH) {
        return Err(StoreError::Codec(serde::ser::Error::custom(format!(
            "the value of session key {key:?} is nested more than {MAX_DEPTH} arrays or objects \
             deep, which MongoStore cannot read back; store a flatter value"
        ))));
    }
    serde_json::to_string(value)
        .map(Bson::String)
        .map_err(StoreError::Codec)
}

/// Whether `value` nests more than `levels` arrays or objects.
fn nested_deeper_than(value: &Value, levels: usize) -> bool {
    match value {
        Value::Array(items) => {
            levels == 0 || items.iter().any(|v| nested_deeper_than(v, levels - 1))
        }
        Value::Object(map) => {
            levels == 0 || map.values().any(|v| nested_deeper_than(v, levels - 1))
        }
        _ => false,
    }
}

/// The record a stored document holds, or what is wrong with it.
fn decode_record(document: &Document) -> Result<Record, &'static str> {
    let time = |field| match document.get(field) {
        Some(Bson::DateTime(date)) => OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(date.timestamp_millis()) * 1_000_000,
        )
        .map_err(|_| "a timestamp is out of range"),
        _ => Err("`created_at` or `expires_at` is missing or not a date"),
    };
    let created_at = time(CREATED)?;
    let expires_at = time(EXPIRES)?;
    let Some(Bson::Document(fields)) = document.get(DATA) else {
        return Err("`data` is missing or not a sub-document");
    };
    let mut data = Map::new();
    for (field, value) in fields {
        let key = unescape_key(field).ok_or("a field name in `data` is not an escaped key")?;
        let Bson::String(text) = value else {
            return Err("a value in `data` is not a string");
        };
        let value = serde_json::from_str(text).map_err(|_| "a value in `data` is not JSON")?;
        data.insert(key, value);
    }
    Ok(Record::new(data, created_at, expires_at))
}

/// The field name a session key is stored under: `~`, then the key with `%`, `.`, `$` and NUL
/// percent-encoded. Never empty, never starts with `$`, never contains `.` or NUL.
pub(crate) fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 1);
    out.push(FIELD_PREFIX);
    for c in key.chars() {
        match c {
            '%' => out.push_str("%25"),
            '.' => out.push_str("%2E"),
            '$' => out.push_str("%24"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out
}

/// The session key stored under `field`, or `None` if [`escape_key`] produces no such field
/// name (so `unescape_key(f) == Some(k)` exactly when `escape_key(k) == f`).
pub(crate) fn unescape_key(field: &str) -> Option<String> {
    let rest = field.strip_prefix(FIELD_PREFIX)?;
    let bytes = rest.as_bytes();
    let mut out = String::with_capacity(rest.len());
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push_str(&rest[start..i]);
                out.push(match rest.get(i + 1..i + 3)? {
                    "25" => '%',
                    "2E" => '.',
                    "24" => '$',
                    "00" => '\0',
                    _ => return None,
                });
                i += 3;
                start = i;
            }
            b'.' | b'$' | b'\0' => return None,
            _ => i += 1,
        }
    }
    out.push_str(&rest[start..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Characters that matter to the escaping, plus ordinary and multi-byte ones.
    const ALPHABET: [char; 14] = [
        '%', '.', '$', '\0', '~', '2', '5', 'E', 'e', '4', '0', 'a', 'é', '🔑',
    ];

    /// Every string over `ALPHABET` of length up to `max`.
    fn strings(max: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|s| {
                    ALPHABET.iter().map(move |c| {
                        let mut s = s.clone();
                        s.push(*c);
                        s
                    })
                })
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    fn assert_safe_field_name(field: &str) {
        assert!(field.starts_with(FIELD_PREFIX), "{field:?}");
        assert!(!field.contains(['.', '$', '\0']), "{field:?}");
    }

    #[test]
    fn escaping_round_trips_every_short_string() {
        for key in strings(4) {
            let field = escape_key(&key);
            assert_safe_field_name(&field);
            assert_eq!(unescape_key(&field), Some(key), "via {field:?}");
        }
    }

    #[test]
    fn unescaping_accepts_only_what_escaping_produces() {
        // With the prefix in front, and without it: every accepted name is canonical.
        for candidate in strings(4) {
            for field in [format!("{FIELD_PREFIX}{candidate}"), candidate] {
                if let Some(key) = unescape_key(&field) {
                    assert_eq!(escape_key(&key), field, "{field:?} decoded to {key:?}");
                }
            }
        }
    }

    #[test]
    fn tricky_keys_escape_as_documented() {
        let cases = [
            ("", "~"),
            ("a.b", "~a%2Eb"),
            ("$set", "~%24set"),
            ("100%", "~100%25"),
            ("nul\0", "~nul%00"),
            ("quote\"'", "~quote\"'"),
            ("ключ 🔑", "~ключ 🔑"),
            ("~", "~~"),
            ("%2E", "~%252E"),
        ];
        for (key, field) in cases {
            assert_eq!(escape_key(key), field);
            assert_eq!(unescape_key(field).as_deref(), Some(key));
        }
    }

    #[test]
    fn malformed_field_names_are_refused() {
        for field in [
            "", "a", "$a", "~a.b", "~$", "~\0", "~%", "~%2", "~%2e", "~%41", "~%zz", "~%é",
        ] {
            assert_eq!(unescape_key(field), None, "{field:?}");
        }
    }

    #[test]
    fn a_document_decodes_to_its_record_and_damage_is_reported() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let record = Record::new(
            json!({"a.b": {"$c": u64::MAX}, "": 1.0, "n": i64::MIN})
                .as_object()
                .unwrap()
                .clone(),
            t,
            t + time::Duration::hours(1),
        );
        let body = MongoStore::body(&record).unwrap();
        assert_eq!(decode_record(&body), Ok(record));

        let damaged = [
            doc! { CREATED: date(t), EXPIRES: date(t) },
            doc! { DATA: {}, CREATED: 5, EXPIRES: date(t) },
            doc! { DATA: {}, CREATED: date(t) },
            doc! { DATA: { "plain": "1" }, CREATED: date(t), EXPIRES: date(t) },
            doc! { DATA: { "~k": 1 }, CREATED: date(t), EXPIRES: date(t) },
            doc! { DATA: { "~k": "{not json" }, CREATED: date(t), EXPIRES: date(t) },
            doc! { DATA: [], CREATED: date(t), EXPIRES: date(t) },
        ];
        for document in damaged {
            assert!(decode_record(&document).is_err(), "{document}");
        }
    }

    #[test]
    fn values_as_deep_as_serde_json_reads_are_kept_and_deeper_ones_refused() {
        let nest = |levels: usize| {
            (0..levels).fold(json!(1), |inner, i| {
                if i % 2 == 0 {
                    json!([inner])
                } else {
                    json!({ "k": inner })
                }
            })
        };
        let text = encode_value("k", &nest(MAX_DEPTH)).unwrap();
        let Bson::String(text) = text else {
            panic!("not a string")
        };
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            nest(MAX_DEPTH)
        );

        let error = encode_value("deep", &nest(MAX_DEPTH + 1)).unwrap_err();
        assert!(matches!(error, StoreError::Codec(_)), "{error:?}");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert!(
            source.as_deref().is_some_and(|s| s.contains("\"deep\"")),
            "{error}: {source:?}"
        );
        assert!(encode_value("k", &nest(1_000)).is_err());
    }

    #[test]
    fn dates_keep_whole_seconds() {
        let t = OffsetDateTime::from_unix_timestamp(-62_000_000_000).unwrap();
        assert_eq!(date(t).timestamp_millis(), -62_000_000_000_000);
    }

    #[tokio::test]
    async fn debug_and_errors_show_hosts_but_never_the_password() {
        let options = ClientOptions::parse("mongodb://alice:s3cr3t@db.example:27018/")
            .await
            .unwrap();
        let client = Client::with_options(options).unwrap();
        let mut store = MongoStore::new(client.database("app").collection::<Document>("s"));
        store.hosts = Some("db.example:27018".into());
        let debug = format!("{store:?}");
        assert!(
            debug.contains("db.example:27018") && debug.contains("app.s"),
            "{debug}"
        );
        assert!(!debug.contains("s3cr3t"), "{debug}");

        for url in [
            "mongodb://alice:s3cr3t@",
            "mongodb://alice:s3cr3t@host:port",
            "mongodb://alice:s3cr3t:x@host",
            "mongodb://alice:s3cr3t@host/?authMechanism=NOPE",
            "mongodb://alice:s3cr3t@[::1/",
            "mongodb+srv://alice:s3cr3t@host",
        ] {
            let error = MongoStore::connect(url, "app", "s").await.unwrap_err();
            let mut text = format!("{error} {error:?}");
            let mut source = std::error::Error::source(&error);
            while let Some(e) = source {
                text.push_str(&format!(" {e} {e:?}"));
                source = e.source();
            }
            assert!(!text.contains("s3cr3t"), "{url}: {text}");
        }
    }
}
