//! [`RedisStore`]: sessions in Redis, on a single node or a Redis Cluster, one hash per session
//! with a native TTL, every write one atomic Lua script.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{
    Client, Cmd, ConnectionInfo, FromRedisValue, IntoConnectionInfo, Pipeline, RedisError,
    RedisFuture, RedisResult, Script, ScriptInvocation, Value as RedisValue,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};
use crate::store::SessionStore;

/// Field prefix of session keys inside a session's hash.
const DATA: &str = "d:";
/// Field holding the creation time.
const CREATED: &str = "m:created";
/// Field holding the expiry time.
const EXPIRES: &str = "m:expires";

/// How many script arguments go into one `HSET`/`HDEL` call: Lua's `unpack` cannot spread
/// arbitrarily many values onto its stack. Even, so that field/value pairs are never split.
const CHUNK: &str = "200";

/// Inserts the record unless a live one exists. `KEYS[1]`: the hash. `ARGV`: now, created,
/// expires (Unix seconds), then field/value pairs. Returns 1 if it inserted, else 0. A fresh id
/// costs three commands: the check, one `HSET` with the first fields, and the TTL.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local key = KEYS[1]
local expires = tonumber(redis.call('HGET', key, '{EXPIRES}'))
if expires then
  if expires > tonumber(ARGV[1]) then
    return 0
  end
  redis.call('DEL', key)
end
redis.call('HSET', key, '{CREATED}', ARGV[2], '{EXPIRES}', ARGV[3],
  unpack(ARGV, 4, math.min(4 + {CHUNK} - 1, #ARGV)))
for i = 4 + {CHUNK}, #ARGV, {CHUNK} do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + {CHUNK} - 1, #ARGV)))
end
redis.call('EXPIREAT', key, ARGV[3])
return 1
"
    ))
});

/// Merges changes into a live record; does nothing if there is none. `KEYS[1]`: the hash.
/// `ARGV`: now, new expiry (Unix seconds), clear (`1` or `0`), the number `n` of fields to
/// delete, those `n` fields, then field/value pairs to set. Returns 1 if it applied, else 0.
/// The expiry field and the key's TTL are written only when the expiry moves (or the hash was
/// cleared), so a plain write costs two commands: the check and one `HSET`.
static APPLY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local key = KEYS[1]
local expires = tonumber(redis.call('HGET', key, '{EXPIRES}'))
if not expires or expires <= tonumber(ARGV[1]) then
  return 0
end
local cleared = ARGV[3] == '1'
if cleared then
  local created = redis.call('HGET', key, '{CREATED}')
  redis.call('DEL', key)
  if created then
    redis.call('HSET', key, '{CREATED}', created)
  end
end
local last_removed = 4 + tonumber(ARGV[4])
for i = 5, last_removed, {CHUNK} do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + {CHUNK} - 1, last_removed)))
end
local first = last_removed + 1
if cleared or tonumber(ARGV[2]) ~= expires then
  redis.call('HSET', key, '{EXPIRES}', ARGV[2],
    unpack(ARGV, first, math.min(first + {CHUNK} - 1, #ARGV)))
  redis.call('EXPIREAT', key, ARGV[2])
  first = first + {CHUNK}
end
for i = first, #ARGV, {CHUNK} do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + {CHUNK} - 1, #ARGV)))
end
return 1
"
    ))
});

/// Sets or deletes one field of a live record if it holds the expected text. `KEYS[1]`: the
/// hash. `ARGV`: now (Unix seconds), the field, `1` if the field is expected to exist (else
/// `0`), the expected text (ignored if not expected to exist), `1` to set the field (else `0`:
/// delete it), the new text (ignored when deleting). Returns `{1}` if it wrote, `{0}` or
/// `{0, current}` (absent, or its current text) if the field held something else, and `{-1}` if
/// there is no live record. One `HGET` of the expiry, one of the field, and the `HSET` or
/// `HDEL`.
static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local key = KEYS[1]
local expires = tonumber(redis.call('HGET', key, '{EXPIRES}'))
if not expires or expires <= tonumber(ARGV[1]) then
  return {{-1}}
end
local current = redis.call('HGET', key, ARGV[2])
if ARGV[3] == '1' then
  if current ~= ARGV[4] then
    return {{0, current}}
  end
elseif current then
  return {{0, current}}
end
if ARGV[5] == '1' then
  redis.call('HSET', key, ARGV[2], ARGV[6])
else
  redis.call('HDEL', key, ARGV[2])
end
return {{1}}
"
    ))
});

/// Removes the hash and returns its fields, in one atomic step. `KEYS[1]`: the hash. Returns
/// the fields as `HGETALL` does (empty if there was no hash); the caller checks the expiry.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local fields = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return fields
",
    )
});

/// A session store on Redis: a single node, or a Redis Cluster through the same type.
///
/// # Layout
///
/// A session lives in one hash under the key `key_prefix + digest` (the 64 hex digits of its
/// [`IdDigest`]; the raw id is never stored), so it sits in one cluster slot. Its fields:
///
/// | field | value |
/// |---|---|
/// | `d:` + session key | the JSON text of that key's value |
/// | `m:created` | creation time, Unix seconds |
/// | `m:expires` | expiry time, Unix seconds |
///
/// Session keys always get the `d:` prefix and metadata the `m:` prefix, so no session key can
/// overwrite the metadata. The key carries a native TTL (`EXPIREAT` the record's expiry), so
/// Redis removes expired sessions itself; `load` checks the expiry too, so a record is never
/// returned late. A hash that does not have this shape (missing metadata, a value that is not
/// JSON) is treated as missing and logged at `warn`.
///
/// # Round trips
///
/// `create` (insert-if-absent), `apply`, `touch` and `take` (read and delete) are each one
/// atomic Lua script, sent as `EVALSHA` (the script is loaded on `NOSCRIPT`, after which the
/// call is repeated); `load` is one `HGETALL`; `delete` is one `DEL`. So a request that only reads its session costs one
/// round trip, and one that writes costs two. `delete_expired` does nothing and returns 0:
/// Redis expires the keys itself.
///
/// # Connection
///
/// The connection reconnects by itself after the server restarts or a cluster node fails over.
/// While Redis is unreachable, each operation returns a [`StoreError`] within the connection and
/// response timeouts (1 s and 2 s by default; see [`RedisStoreBuilder`]) instead of hanging. A
/// write that timed out may still have been applied. Cloning is cheap and clones share the
/// connection. TLS (`rediss://`) is not built in: this store enables no TLS feature of the
/// `redis` crate.
///
/// ```no_run
/// use session_core::{KeyRing, RedisStore, SessionConfig, SessionManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A single node:
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// // Or a Redis Cluster, from any of its nodes:
/// let cluster = RedisStore::connect_cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])
///     .await?;
/// let manager = SessionManager::new(store, KeyRing::from_env()?, SessionConfig::default())?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    key_prefix: String,
    /// `host:port` of each node given, for `Debug` (never the URL: it may hold a password).
    nodes: Vec<String>,
}

/// Settings for a [`RedisStore`]: the key prefix and the timeouts. Finish with
/// [`connect`](Self::connect) or [`connect_cluster`](Self::connect_cluster).
///
/// ```no_run
/// use std::time::Duration;
/// use session_core::RedisStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), session_core::StoreError> {
/// let store = RedisStore::builder()
///     .with_key_prefix("shop:session:")
///     .with_response_timeout(Duration::from_millis(500))
///     .connect("redis://:secret@127.0.0.1:6379/0")
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RedisStoreBuilder {
    key_prefix: String,
    connection_timeout: Duration,
    response_timeout: Duration,
}

impl RedisStore {
    /// The key prefix used unless [`RedisStoreBuilder::with_key_prefix`] sets another.
    pub const DEFAULT_KEY_PREFIX: &'static str = "session:";

    /// Connects to a single Redis node, with the default settings.
    ///
    /// `url` is `redis://[[user]:password@]host[:port][/db]` (or `redis+unix:///path`). Fails,
    /// naming the host (never the password), if the URL is invalid or the server cannot be
    /// reached or refuses the credentials.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder().connect(url).await
    }

    /// Connects to a Redis Cluster through any of its nodes, with the default settings.
    ///
    /// The other nodes are discovered from the cluster itself; give several so that one being
    /// down does not prevent start-up. All URLs must carry the same credentials.
    pub async fn connect_cluster<I>(urls: I) -> Result<Self, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::builder().connect_cluster(urls).await
    }

    /// A builder, to set the key prefix or the timeouts before connecting.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    /// The prefix of every session key this store writes.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    fn key(&self, id: &IdDigest) -> String {
        format!("{}{}", self.key_prefix, id.to_hex())
    }

    /// Sends an idempotent `request`, trying once more if the connection was refused or found
    /// dropped. A refusal means the command was never sent, and may be stale (the reconnect
    /// after a restart has not happened yet). A connection dropped while idle (a server
    /// `timeout`, a proxy, a restart) fails the next command at once, and the connection
    /// manager reconnects only after that failure; if the drop came mid-command instead, the
    /// command may have run, which is why only idempotent requests come here.
    async fn run<T: FromRedisValue>(&self, request: Request<'_>) -> Result<T, StoreError> {
        self.send_retrying(request, true).await
    }

    /// Sends a request that must not run twice (`take`): tried again only after a refusal.
    async fn run_once<T: FromRedisValue>(&self, request: Request<'_>) -> Result<T, StoreError> {
        self.send_retrying(request, false).await
    }

    async fn send_retrying<T: FromRedisValue>(
        &self,
        request: Request<'_>,
        after_drop: bool,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        match request.send(&mut connection).await {
            Err(error)
                if error.is_connection_refusal()
                    || (after_drop && error.is_connection_dropped()) =>
            {
                request.send(&mut connection).await
            }
            result => result,
        }
        .map_err(StoreError::backend)
    }
}

/// One round trip: a plain command, or a script (`EVALSHA`, loading the script on `NOSCRIPT`).
enum Request<'a> {
    Command(Cmd),
    Script(ScriptInvocation<'a>),
}

impl Request<'_> {
    async fn send<T: FromRedisValue>(&self, connection: &mut Connection) -> RedisResult<T> {
        match self {
            Self::Command(command) => command.query_async(connection).await,
            Self::Script(invocation) => invocation.invoke_async(connection).await,
        }
    }
}

impl RedisStoreBuilder {
    /// How long connecting to a node may take before it fails, unless set otherwise.
    pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
    /// How long a command may wait for its reply before it fails, unless set otherwise.
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

    /// Sets the prefix of every session key (default [`RedisStore::DEFAULT_KEY_PREFIX`]), to
    /// share one Redis between applications. Avoid `{`: a hash tag in the prefix would put every
    /// session of a cluster in one slot.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets how long one attempt to connect to a node may take (default
    /// [`DEFAULT_CONNECTION_TIMEOUT`](Self::DEFAULT_CONNECTION_TIMEOUT)).
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Sets how long a command may wait for its reply (default
    /// [`DEFAULT_RESPONSE_TIMEOUT`](Self::DEFAULT_RESPONSE_TIMEOUT)). With a cluster it bounds
    /// the whole request, redirections and retries included.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Connects to a single node; see [`RedisStore::connect`].
    pub async fn connect(self, url: &str) -> Result<RedisStore, StoreError> {
        let info = parse_url(url)?;
        let nodes = vec![info.addr().to_string()];
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
            // Few, short retries: a request waiting on a reconnect must fail fast while the
            // server is down; the next request starts a fresh attempt.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let failed = |source| connect_error(&nodes, source);
        let client = Client::open(info).map_err(failed)?;
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(failed)?;
        Ok(RedisStore {
            connection: Connection::Single(manager),
            key_prefix: self.key_prefix,
            nodes,
        })
    }

    /// Connects to a Redis Cluster; see [`RedisStore::connect_cluster`].
    pub async fn connect_cluster<I>(self, urls: I) -> Result<RedisStore, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let infos = urls
            .into_iter()
            .map(|url| parse_url(url.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if infos.is_empty() {
            return Err(StoreError::backend(
                "no Redis Cluster node URL was given; pass at least one `redis://host:port`",
            ));
        }
        let nodes: Vec<String> = infos.iter().map(|info| info.addr().to_string()).collect();
        let failed = |source| connect_error(&nodes, source);
        let client = ClusterClient::builder(infos)
            .connection_timeout(self.connection_timeout)
            .response_timeout(self.response_timeout)
            .build()
            .map_err(failed)?;
        let connection = client.get_async_connection().await.map_err(failed)?;
        Ok(RedisStore {
            connection: Connection::Cluster(connection),
            key_prefix: self.key_prefix,
            nodes,
        })
    }
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        Self {
            key_prefix: RedisStore::DEFAULT_KEY_PREFIX.to_owned(),
            connection_timeout: Self::DEFAULT_CONNECTION_TIMEOUT,
            response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
        }
    }
}

/// Why a [`RedisStore`] could not be built. Never shows the URL itself, which may carry a
/// password.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error(
        "invalid Redis URL ({0}); expected `redis://[[user]:password@]host[:port][/db]` or \
         `redis+unix:///path`"
    )]
    Url(#[source] RedisError),
    #[error(
        "could not connect to Redis at {nodes} ({source}); check that the server is running \
         and that the URL's host, port and credentials are right"
    )]
    Connect {
        nodes: String,
        #[source]
        source: RedisError,
    },
}

fn parse_url(url: &str) -> Result<ConnectionInfo, StoreError> {
    url.into_connection_info()
        .map_err(|source| StoreError::backend(ConnectError::Url(source)))
}

fn connect_error(nodes: &[String], source: RedisError) -> StoreError {
    StoreError::backend(ConnectError::Connect {
        nodes: nodes.join(", "),
        source,
    })
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.connection {
            Connection::Single(_) => "single node",
            Connection::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("nodes", &self.nodes)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// The connection to a single node or to a cluster: one type, so every operation is written once.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, RedisValue> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<RedisValue>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// The JSON text of a value, as stored in its field.
fn json(value: &Value) -> String {
    // A `Value` has only string keys and finite numbers, so serializing it cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Rebuilds a record from its hash; `None`, with a warning, if the hash is not one this store
/// wrote (missing metadata, a value that is not JSON).
fn decode(id: &IdDigest, fields: HashMap<Vec<u8>, Vec<u8>>) -> Option<Record> {
    let timestamp = |value: &[u8]| {
        std::str::from_utf8(value)
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
    };
    let mut data = Map::new();
    let (mut created, mut expires) = (None, None);
    for (mut field, value) in fields {
        if field.starts_with(DATA.as_bytes()) {
            let key = String::from_utf8(field.split_off(DATA.len()));
            let (Ok(key), Ok(value)) = (key, serde_json::from_slice::<Value>(&value)) else {
                tracing::warn!(
                    session = %id,
                    "invalid session key or value in Redis; session treated as missing"
                );
                return None;
            };
            data.insert(key, value);
        } else if field == CREATED.as_bytes() {
            created = timestamp(&value);
        } else if field == EXPIRES.as_bytes() {
            expires = timestamp(&value);
        } else {
            tracing::warn!(session = %id, "unknown field in the session's Redis hash; ignored");
        }
    }
    let (Some(created), Some(expires)) = (created, expires) else {
        tracing::warn!(
            session = %id,
            "invalid or missing {CREATED}/{EXPIRES} in Redis; session treated as missing"
        );
        return None;
    };
    Some(Record::new(data, created, expires))
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let key = self.key(id);
        let mut invocation = CREATE.key(&key);
        invocation
            .arg(now())
            .arg(record.created_at.unix_timestamp())
            .arg(record.expires_at.unix_timestamp());
        for (name, value) in &record.data {
            invocation.arg(format!("{DATA}{name}")).arg(json(value));
        }
        // Safe to retry: if a dropped first attempt did run, the retry finds the digest taken
        // and the engine mints another id; the orphan record expires unseen.
        self.run(Request::Script(invocation)).await
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let mut hgetall = ::redis::cmd("HGETALL");
        hgetall.arg(self.key(id));
        let fields: HashMap<Vec<u8>, Vec<u8>> = self.run(Request::Command(hgetall)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let now = OffsetDateTime::now_utc();
        Ok(decode(id, fields).filter(|record| !record.is_expired_at(now)))
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        let key = self.key(id);
        let mut invocation = APPLY.key(&key);
        invocation
            .arg(now())
            .arg(changes.expires_at.unix_timestamp())
            .arg(if changes.clear { "1" } else { "0" })
            .arg(changes.remove.len());
        for name in &changes.remove {
            invocation.arg(format!("{DATA}{name}"));
        }
        for (name, value) in &changes.set {
            invocation.arg(format!("{DATA}{name}")).arg(json(value));
        }
        self.run(Request::Script(invocation)).await
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.apply(id, &Changes::expiry_only(expires_at)).await
    }

    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<Swap, StoreError> {
        let hash = self.key(id);
        let mut invocation = COMPARE_AND_SET.key(&hash);
        invocation
            .arg(now())
            .arg(format!("{DATA}{key}"))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.map(json).unwrap_or_default())
            .arg(if new.is_some() { "1" } else { "0" })
            .arg(new.map(json).unwrap_or_default());
        // Not retried after a dropped connection: had the first attempt written, a second
        // would report a conflict and the engine would apply the update again.
        let reply: Vec<RedisValue> = self.run_once(Request::Script(invocation)).await?;
        let mut reply = reply.into_iter();
        let status = reply.next().and_then(|v| i64::from_redis_value(v).ok());
        let current = match reply.next() {
            None | Some(RedisValue::Nil) => None,
            Some(value) => Vec::<u8>::from_redis_value(value).ok(),
        };
        Ok(match (status, current) {
            (Some(1), _) => Swap::Swapped,
            (Some(0), None) => Swap::Conflict(None),
            (Some(0), Some(text)) => match serde_json::from_slice(&text) {
                Ok(value) => Swap::Conflict(Some(value)),
                Err(_) => {
                    tracing::warn!(session = %id, "invalid session value in Redis; session treated as missing");
                    Swap::Missing
                }
            },
            _ => Swap::Missing,
        })
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let key = self.key(id);
        let fields: HashMap<Vec<u8>, Vec<u8>> =
            self.run_once(Request::Script(TAKE.key(&key))).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let now = OffsetDateTime::now_utc();
        Ok(decode(id, fields).filter(|record| !record.is_expired_at(now)))
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        let mut del = ::redis::cmd("DEL");
        del.arg(self.key(id));
        self.run(Request::Command(del)).await
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
