//! The Redis store: the shared contract suite on a single node and on a Redis Cluster, plus what
//! Redis holds after a write, bad input, round trips per request, and recovery after a restart.
//!
//! Needs `SESSION_TEST_REDIS_URL`, `SESSION_TEST_REDIS_CLUSTER_URLS` and, for the tests that
//! start their own throw-away server, `SESSION_TEST_REDIS_SERVER` (`scripts/test` sets them).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::AsyncCommands as _;
use serde_json::{Map, Value, json};
use session_core::{
    Changes, IdDigest, KeyRing, Record, RedisStore, SessionConfig, SessionManager, SessionStore,
};
use sha2::{Digest, Sha256};

mod common;
use common::{fresh_id, now, object, random_hex};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The value of a required environment variable, or a failure saying how to set it.
fn env(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `scripts/test`, which starts Redis, or start {what} and \
             export {name}"
        )
    })
}

/// The shared single-node server.
fn redis_url() -> String {
    env("SESSION_TEST_REDIS_URL", "a Redis server")
}

/// The nodes of the shared Redis Cluster.
fn cluster_urls() -> Vec<String> {
    env(
        "SESSION_TEST_REDIS_CLUSTER_URLS",
        "a six-node Redis Cluster",
    )
    .split(',')
    .map(|url| url.trim().to_owned())
    .collect()
}

/// 16 random hex digits.
/// A key prefix no other test uses.
fn random_prefix() -> String {
    format!("test:{}:", random_hex(8))
}

async fn single_store() -> RedisStore {
    RedisStore::builder()
        .with_key_prefix(random_prefix())
        .connect(&redis_url())
        .await
        .expect("connect to SESSION_TEST_REDIS_URL")
}

/// A store on the shared cluster, with a prefix of its own.
async fn cluster_store() -> RedisStore {
    RedisStore::builder()
        .with_key_prefix(random_prefix())
        .connect_cluster(cluster_urls())
        .await
        .expect("connect to SESSION_TEST_REDIS_CLUSTER_URLS")
}

/// A plain connection to the server at `url`, to look at what the store wrote.
async fn inspect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("a valid Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis")
}

fn live(data: Value) -> Record {
    let now = now();
    Record::new(object(data), now, now + time::Duration::hours(1))
}

fn manager(store: RedisStore) -> SessionManager {
    SessionManager::new(
        store,
        KeyRing::generate(),
        SessionConfig::default().with_secure(false),
    )
    .expect("valid settings")
}

/// The `name=value` pair a browser sends back for a `Set-Cookie` value.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

/// A `redis-server` of this test's own on a free loopback port, without persistence, killed when
/// dropped.
struct ThrowAwayRedis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
}

impl ThrowAwayRedis {
    fn start(args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let dir = std::env::temp_dir().join(format!("session-redis-test-{}", random_hex(8)));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let mut server = Self {
            child: None,
            port,
            dir,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        };
        server.restart();
        server
    }

    /// Starts the server (again) on the same port and waits until it answers.
    fn restart(&mut self) {
        let binary = env(
            "SESSION_TEST_REDIS_SERVER",
            "nothing else: install redis-server",
        );
        let child = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {binary}: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{binary} did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `SIG{signal}` to the server (`STOP` hangs it, `CONT` resumes it).
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("the server is running").id();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid} failed");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for ThrowAwayRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// The contract suite, on a single node and on the cluster
// ---------------------------------------------------------------------------------------------

mod single_node {
    session_core::store_test_suite!(super::single_store().await);
}

mod cluster {
    session_core::store_test_suite!(super::cluster_store().await);
}

// ---------------------------------------------------------------------------------------------
// What Redis holds
// ---------------------------------------------------------------------------------------------

/// After a request writes a session, Redis holds exactly one hash under the prefix, named by the
/// SHA-256 of the id in hex, with `d:` fields holding JSON, the metadata fields, and a TTL that
/// matches the expiry. The raw id appears nowhere: not in a key, field or value.
#[tokio::test]
async fn a_write_leaves_one_hash_with_a_ttl_and_no_raw_id() {
    let store = single_store().await;
    let prefix = store.key_prefix().to_owned();
    let manager = manager(store);

    let session = manager.session(std::iter::empty::<&[u8]>());
    session
        .set("user", &json!({"id": 7, "name": "Ada"}))
        .await
        .unwrap();
    session.set("m:expires", "not metadata").await.unwrap();
    let set_cookie = manager
        .finish(&session, 200)
        .await
        .unwrap()
        .expect("a cookie");
    let pair = cookie_pair(set_cookie.as_str());
    // A signed cookie's value is the base64 HMAC (44 characters) followed by the id.
    let raw_id = &pair["session=".len() + 44..];
    let id_bytes = URL_SAFE_NO_PAD.decode(raw_id).expect("the id is base64url");
    assert_eq!(id_bytes.len(), 32, "{raw_id:?} is not a session id");
    let digest_hex = hex(&Sha256::digest(&id_bytes));

    let mut redis = inspect(&redis_url()).await;
    let keys: Vec<String> = redis.keys(format!("{prefix}*")).await.unwrap();
    assert_eq!(keys, [format!("{prefix}{digest_hex}")]);
    let key = &keys[0];
    let kind: String = redis::cmd("TYPE")
        .arg(key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(kind, "hash");

    let fields: BTreeMap<String, String> = redis.hgetall(key).await.unwrap();
    let expected: BTreeMap<String, String> = [
        ("d:user", r#"{"id":7,"name":"Ada"}"#.to_owned()),
        ("d:m:expires", r#""not metadata""#.to_owned()),
        ("m:created", fields["m:created"].clone()),
        ("m:expires", fields["m:expires"].clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(fields, expected);
    let created: i64 = fields["m:created"].parse().unwrap();
    let expires: i64 = fields["m:expires"].parse().unwrap();
    assert!(
        (now().unix_timestamp() - created).abs() <= 5,
        "m:created = {created}"
    );
    assert_eq!(
        expires - created,
        24 * 60 * 60,
        "the default idle timeout is one day"
    );

    let expire_time: i64 = redis::cmd("EXPIRETIME")
        .arg(key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(expire_time, expires, "the key's TTL is the expiry");

    for (field, value) in &fields {
        assert!(
            !field.contains(raw_id) && !value.contains(raw_id),
            "{field}: {value}"
        );
    }
    assert!(!key.contains(raw_id));
    let dump: Vec<u8> = redis::cmd("DUMP")
        .arg(key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!contains(&dump, raw_id.as_bytes()) && !contains(&dump, &id_bytes));

    // The cookie brings the session back, and a destroy leaves nothing under the prefix.
    let session = manager.session([pair.as_bytes()]);
    assert_eq!(
        session.get::<Value>("user").await.unwrap(),
        Some(json!({"id": 7, "name": "Ada"}))
    );
    session.destroy().await.unwrap();
    manager.finish(&session, 200).await.unwrap();
    let keys: Vec<String> = redis.keys(format!("{prefix}*")).await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Apply and touch move the key's TTL with the record's expiry; an already-expired record is
/// never returned, even while Redis still holds the key.
#[tokio::test]
async fn apply_and_touch_move_the_native_ttl() {
    let store = single_store().await;
    let mut redis = inspect(&redis_url()).await;
    let id = fresh_id();
    let key = format!("{}{}", store.key_prefix(), id.to_hex());
    let expire_time = async |redis: &mut redis::aio::MultiplexedConnection| -> i64 {
        redis::cmd("EXPIRETIME")
            .arg(&key)
            .query_async(redis)
            .await
            .unwrap()
    };

    let record = live(json!({"a": 1}));
    assert!(store.create(&id, &record).await.unwrap());
    assert_eq!(
        expire_time(&mut redis).await,
        record.expires_at.unix_timestamp()
    );

    let mut changes = Changes::expiry_only(record.expires_at + time::Duration::hours(3));
    changes.set.insert("b".into(), json!(2));
    assert!(store.apply(&id, &changes).await.unwrap());
    assert_eq!(
        expire_time(&mut redis).await,
        changes.expires_at.unix_timestamp()
    );

    let later = changes.expires_at + time::Duration::days(1);
    assert!(store.touch(&id, later).await.unwrap());
    assert_eq!(expire_time(&mut redis).await, later.unix_timestamp());

    // A hash whose `m:expires` has passed, though Redis has not expired the key (its TTL says
    // later): load ignores it, apply and touch refuse it, create replaces it.
    let past = (now() - time::Duration::seconds(1)).unix_timestamp();
    let _: () = redis.hset(&key, "m:expires", past).await.unwrap();
    assert_eq!(store.load(&id).await.unwrap(), None);
    assert!(!store.apply(&id, &changes).await.unwrap());
    assert!(!store.touch(&id, later).await.unwrap());
    let fresh = live(json!({"fresh": true}));
    assert!(store.create(&id, &fresh).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), Some(fresh));
}

/// A hash the store did not write (missing metadata, a value that is not JSON, a key of
/// another type) is treated as missing or reported as an error, never a panic.
#[tokio::test]
async fn corrupted_hashes_are_treated_as_missing() {
    let store = single_store().await;
    let mut redis = inspect(&redis_url()).await;
    let key = |id: &IdDigest| format!("{}{}", store.key_prefix(), id.to_hex());
    let far = (now() + time::Duration::hours(1))
        .unix_timestamp()
        .to_string();

    let no_metadata = fresh_id();
    let _: () = redis.hset(key(&no_metadata), "d:a", "1").await.unwrap();
    let bad_json = fresh_id();
    let _: () = redis
        .hset_multiple(
            key(&bad_json),
            &[
                ("d:a", "{not json"),
                ("m:created", "1"),
                ("m:expires", &far),
            ],
        )
        .await
        .unwrap();
    let bad_number = fresh_id();
    let _: () = redis
        .hset_multiple(
            key(&bad_number),
            &[("m:created", "yesterday"), ("m:expires", &far)],
        )
        .await
        .unwrap();
    for id in [no_metadata, bad_json, bad_number] {
        assert_eq!(store.load(&id).await.unwrap(), None, "{id:?}");
    }
    // Without valid metadata the record is not live: apply refuses it and create replaces it.
    assert!(
        !store
            .apply(&no_metadata, &Changes::expiry_only(now()))
            .await
            .unwrap()
    );
    assert!(store.create(&no_metadata, &live(json!({}))).await.unwrap());

    let string_key = fresh_id();
    let _: () = redis.set(key(&string_key), "a string").await.unwrap();
    let error = store.load(&string_key).await.unwrap_err();
    assert!(error.to_string().contains("back end"), "{error}");
    assert!(
        store
            .apply(&string_key, &Changes::expiry_only(now()))
            .await
            .is_err()
    );
    let _: () = redis.del(key(&string_key)).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

/// Keys and values a client or an application might produce come back exactly, through create,
/// apply (set, overwrite, remove) and load, on a single node and on the cluster.
#[tokio::test]
async fn bad_input_round_trips_exactly() {
    for store in [single_store().await, cluster_store().await] {
        let huge_key = "k".repeat(10 * 1024);
        let megabyte = "v".repeat(1024 * 1024);
        let mut data = object(json!({
            "a.b": "dot",
            "$set": "dollar",
            "quote\"'key": "quote\"'value",
            "nul\0key": "nul\0value",
            "": "empty key",
            "ключ 🔑": "значение 🔒",
            "e\u{301}": "combining",
            "d:": "looks like a data field",
            "m:created": "looks like metadata",
            "m:expires": "looks like metadata",
            "u64": u64::MAX,
            "i64": i64::MIN,
            "floats": [0.1, -2.5, 1e300, 5e-324, f64::MAX, f64::MIN_POSITIVE, 1.0],
            "nested": {"a.b": {"$c": {"d.e$": [1, {"$": null}]}}, "": true},
        }));
        data.insert(huge_key.clone(), json!("10 KB key"));
        data.insert("megabyte".into(), json!(megabyte));
        let id = fresh_id();
        let record = live(Value::Object(data));
        assert!(store.create(&id, &record).await.unwrap());
        let loaded = store.load(&id).await.unwrap();
        assert!(
            loaded == Some(record.clone()),
            "{store:?}: create round trip"
        );
        assert_eq!(
            loaded.unwrap().expires_at,
            record.expires_at,
            "metadata keys collided"
        );

        let mut changes = Changes::expiry_only(record.expires_at + time::Duration::hours(1));
        changes
            .set
            .insert("a.b".into(), json!({"$new": "value.with.dots"}));
        changes.set.insert("new\0key".into(), json!(megabyte));
        changes.set.insert("m:expires".into(), json!(1));
        changes.remove = vec![huge_key, "$set".into(), "missing".into(), String::new()];
        assert!(store.apply(&id, &changes).await.unwrap());
        let mut expected = record;
        expected.apply(&changes);
        let loaded = store.load(&id).await.unwrap();
        assert!(loaded == Some(expected), "{store:?}: apply round trip");
        store.delete(&id).await.unwrap();
    }
}

/// Sessions with more keys than one Lua `unpack` can spread (the scripts write in chunks) are
/// created, merged and cleared correctly.
#[tokio::test]
async fn sessions_with_thousands_of_keys_work() {
    for store in [single_store().await, cluster_store().await] {
        let id = fresh_id();
        let data: Map<String, Value> = (0..3000).map(|i| (format!("k{i}"), json!(i))).collect();
        let record = Record::new(data, now(), now() + time::Duration::hours(1));
        assert!(store.create(&id, &record).await.unwrap());
        assert_eq!(store.load(&id).await.unwrap().as_ref(), Some(&record));

        let mut changes = Changes::expiry_only(record.expires_at);
        changes.remove = (0..1500).map(|i| format!("k{i}")).collect();
        changes.set = (3000..4001).map(|i| (format!("k{i}"), json!(-i))).collect();
        assert!(store.apply(&id, &changes).await.unwrap());
        let mut expected = record;
        expected.apply(&changes);
        let loaded = store.load(&id).await.unwrap().expect("the record");
        assert_eq!(loaded.data.len(), 1500 + 1001);
        assert_eq!(loaded, expected);

        let mut clear = Changes::expiry_only(expected.expires_at);
        clear.clear = true;
        clear.set.insert("only".into(), json!("this"));
        assert!(store.apply(&id, &clear).await.unwrap());
        let loaded = store.load(&id).await.unwrap().expect("the record");
        assert_eq!(Value::Object(loaded.data), json!({"only": "this"}));
        assert_eq!(
            loaded.created_at, expected.created_at,
            "clear keeps the creation time"
        );
        store.delete(&id).await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips per request
// ---------------------------------------------------------------------------------------------

/// Calls per command since the last `CONFIG RESETSTAT`, from `INFO commandstats`, leaving out
/// the `INFO` and `CONFIG` calls this test makes itself.
async fn command_calls(redis: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .unwrap();
    let calls = info
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .filter(|(name, _): &(String, u64)| name != "info" && !name.starts_with("config"))
        .collect();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(redis)
        .await
        .unwrap();
    calls
}

fn calls(expected: &[(&str, u64)]) -> BTreeMap<String, u64> {
    expected
        .iter()
        .map(|(name, n)| ((*name).to_owned(), *n))
        .collect()
}

/// On a server of its own, so no other test's commands are counted: a new session costs one
/// round trip (the create script), a read-only request one (`HGETALL`), and a writing request
/// two (`HGETALL`, then one `EVALSHA`). `INFO commandstats` also counts the commands a script
/// runs inside Redis (`HGET`, `HSET`, `EXPIREAT`, ...); those are listed too, but only `EVALSHA`
/// and `HGETALL` travel over the network.
#[tokio::test]
async fn a_read_costs_one_round_trip_and_a_write_two() {
    let server = ThrowAwayRedis::start(&[]);
    let manager = manager(RedisStore::connect(&server.url()).await.unwrap());
    let mut redis = inspect(&server.url()).await;

    // Warm up: the first run of each script answers NOSCRIPT and loads it.
    let session = manager.session(std::iter::empty::<&[u8]>());
    session.set("n", &0).await.unwrap();
    let pair = cookie_pair(
        manager
            .finish(&session, 200)
            .await
            .unwrap()
            .unwrap()
            .as_str(),
    );
    let session = manager.session([pair.as_bytes()]);
    session.set("n", &1).await.unwrap();
    manager.finish(&session, 200).await.unwrap();
    command_calls(&mut redis).await;

    let session = manager.session(std::iter::empty::<&[u8]>());
    session.set("n", &0).await.unwrap();
    let pair = cookie_pair(
        manager
            .finish(&session, 200)
            .await
            .unwrap()
            .unwrap()
            .as_str(),
    );
    assert_eq!(
        command_calls(&mut redis).await,
        calls(&[("evalsha", 1), ("hget", 1), ("hset", 1), ("expireat", 1)]),
        "a new session: one EVALSHA, running one check, one HSET and the TTL"
    );

    let session = manager.session([pair.as_bytes()]);
    assert_eq!(session.get::<u32>("n").await.unwrap(), Some(0));
    assert!(manager.finish(&session, 200).await.unwrap().is_none());
    assert_eq!(
        command_calls(&mut redis).await,
        calls(&[("hgetall", 1)]),
        "a read-only request: one HGETALL"
    );

    let session = manager.session([pair.as_bytes()]);
    let n: u32 = session.get("n").await.unwrap().unwrap();
    session.set("n", &(n + 1)).await.unwrap();
    manager.finish(&session, 200).await.unwrap();
    assert_eq!(
        command_calls(&mut redis).await,
        calls(&[("hgetall", 1), ("evalsha", 1), ("hget", 1), ("hset", 1)]),
        "a writing request: one HGETALL and one EVALSHA, running one check and one HSET (the \
         expiry has not moved, so neither its field nor the TTL is written)"
    );

    // Scripts flushed (a restart, a failover): the store loads them again by itself.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await
        .unwrap();
    let session = manager.session([pair.as_bytes()]);
    session.set("n", &5).await.unwrap();
    manager.finish(&session, 200).await.unwrap();
    let session = manager.session([pair.as_bytes()]);
    assert_eq!(session.get::<u32>("n").await.unwrap(), Some(5));
}

// ---------------------------------------------------------------------------------------------
// Faults, connection errors and secrets
// ---------------------------------------------------------------------------------------------

/// Runs `operation`, failing the test if it takes over 10 s (it must fail fast, not hang), and
/// returns its result and how long it took.
async fn bounded<T>(operation: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), operation)
        .await
        .expect("a store operation hung while Redis was down");
    (result, start.elapsed())
}

/// With the server hung (stopped), calls fail after the response timeout and work again once it
/// resumes. With the server killed, load and apply return errors promptly; once a server is back
/// on the same port, the same store instance works again from its very first call, without
/// being rebuilt. The throw-away server has no persistence, so the session written before the
/// restart is gone afterwards.
#[tokio::test]
async fn the_store_fails_fast_while_redis_is_down_and_recovers_after_a_restart() {
    let mut server = ThrowAwayRedis::start(&[]);
    let store = RedisStore::builder()
        .with_connection_timeout(Duration::from_millis(500))
        .with_response_timeout(Duration::from_millis(500))
        .connect(&server.url())
        .await
        .unwrap();
    let id = fresh_id();
    let record = live(json!({"a": 1}));
    assert!(store.create(&id, &record).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), Some(record.clone()));

    server.signal("STOP");
    let (result, took) = bounded(store.load(&id)).await;
    let error = result.expect_err("load with Redis stopped");
    eprintln!("stopped: load failed after {took:?}: {error}");
    server.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failures = 0;
    while store.load(&id).await.is_err() {
        failures += 1;
        assert!(
            Instant::now() < deadline,
            "the store did not recover after SIGCONT"
        );
    }
    eprintln!("resumed: {failures} failed calls before the first success");
    assert_eq!(store.load(&id).await.unwrap(), Some(record.clone()));

    server.kill();
    let changes = Changes::expiry_only(record.expires_at);
    for round in 0..3 {
        let (result, took) = bounded(store.load(&id)).await;
        let error = result.expect_err("load with Redis down");
        eprintln!("down, round {round}: load failed after {took:?}: {error}");
        let (result, took) = bounded(store.apply(&id, &changes)).await;
        let error = result.expect_err("apply with Redis down");
        eprintln!("down, round {round}: apply failed after {took:?}: {error}");
    }
    let (result, _) = bounded(store.create(&fresh_id(), &record)).await;
    assert!(result.is_err());

    // Let the reconnect attempts those failures started run out, as in a longer outage.
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.restart();
    let (result, took) = bounded(store.load(&id)).await;
    eprintln!("restarted: first load took {took:?}");
    assert_eq!(
        result.expect("the first call after the restart works"),
        None,
        "the throw-away server has no persistence"
    );
    let fresh = fresh_id();
    assert!(store.create(&fresh, &record).await.unwrap());
    assert!(store.apply(&fresh, &changes).await.unwrap());
    assert_eq!(store.load(&fresh).await.unwrap(), Some(record));
}

/// A store that cannot connect says where it tried, never with the password; a store that
/// connected with a password does not show it in `Debug` either.
#[tokio::test]
async fn connection_errors_name_the_host_and_hide_the_password() {
    let password = "hunter2-s3cret";
    let server = ThrowAwayRedis::start(&["--requirepass", password]);
    let port = server.port;

    let store = RedisStore::connect(&format!("redis://:{password}@127.0.0.1:{port}/0"))
        .await
        .expect("the right password connects");
    let debug = format!("{store:?}");
    assert!(debug.contains(&format!("127.0.0.1:{port}")), "{debug}");
    assert!(debug.contains("session:"), "{debug}");
    assert!(!debug.contains(password), "{debug}");
    let id = fresh_id();
    assert!(store.create(&id, &live(json!({"a": 1}))).await.unwrap());

    let cluster = cluster_store().await;
    let debug = format!("{cluster:?}");
    assert!(debug.contains("cluster"), "{debug}");

    let wrong = RedisStore::connect(&format!("redis://:wrong-{password}@127.0.0.1:{port}"))
        .await
        .expect_err("a wrong password is refused");
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (refused, took) = bounded(RedisStore::connect(&format!(
        "redis://user:{password}@127.0.0.1:{closed_port}"
    )))
    .await;
    let refused = refused.expect_err("nothing listens there");
    eprintln!("connect to a closed port failed after {took:?}");
    let (cluster_refused, _) = bounded(RedisStore::connect_cluster([format!(
        "redis://:{password}@127.0.0.1:{closed_port}"
    )]))
    .await;
    let cluster_refused = cluster_refused.expect_err("nothing listens there");
    for (error, host) in [
        (wrong, format!("127.0.0.1:{port}")),
        (refused, format!("127.0.0.1:{closed_port}")),
        (cluster_refused, format!("127.0.0.1:{closed_port}")),
    ] {
        let text = error_chain(&error);
        assert!(text.contains(&host), "{text}");
        assert!(text.contains("could not connect to Redis"), "{text}");
        assert!(!text.contains(password), "{text}");
        assert!(!format!("{error:?}").contains(password), "{error:?}");
    }

    let invalid = RedisStore::connect(&format!("http://:{password}@example.invalid"))
        .await
        .expect_err("not a Redis URL");
    let text = error_chain(&invalid);
    assert!(text.contains("invalid Redis URL"), "{text}");
    assert!(!text.contains(password), "{text}");
    let none = RedisStore::connect_cluster(Vec::<String>::new())
        .await
        .unwrap_err();
    assert!(
        error_chain(&none).contains("no Redis Cluster node URL"),
        "{none}"
    );
}

/// The error and all its sources, as a user's log line would show them.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        text.push_str(" / ");
        text.push_str(&error.to_string());
        source = error.source();
    }
    text
}
