//! Faults on every server-side store, seen over HTTP: the server stops and comes back, a
//! connection is cut (while idle, or in the middle of a store command), the file system under
//! the file store or SQLite becomes read-only or full. What a user must see: opaque 500s while
//! the store fails, requests that do not touch the session unaffected, no panic, no leaked
//! secret, no broken record, and recovery without restarting the app or rebuilding the store.
//! Redis's outage runs on every framework; every other fault on axum (the frameworks are proven
//! equivalent by the HTTP suite).
//!
//! Each test has servers, proxies and mounts of its own (or a table or collection of its own on
//! a shared server, reached through its own proxy), so tests that kill connections cannot
//! break each other and need no lock.

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use session_core::{
    FileStore, MongoStore, PostgresStore, Record, RedisStore, SqliteStore, Storage,
};
use session_tests::faults::{FaultPostgres, ThrowAwayCluster, ThrowAwayMongo, ThrowAwayRedis};
use session_tests::harness::{Reply, test_config};
use session_tests::mounts::Tmpfs;
use session_tests::proxy::Proxy;
use session_tests::stores::{env, random_hex};
use session_tests::{Agent, Framework, Harness, StoreKind, logs, panics};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const NO_VALUE: &str = "No value set. Go to /set to set a value";

/// The reply to `request`; fails the test if the app has not answered within 30 s, which
/// means a store call hangs.
async fn answer(request: impl Future<Output = Reply>) -> Reply {
    tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .expect("the app answers within 30 s (a store call hangs)")
}

/// What a store failure must look like to the client.
fn assert_opaque_500(reply: &Reply) {
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(reply.body, "Internal Server Error", "opaque: {reply:?}");
    assert!(reply.set_cookies.is_empty(), "no cookie: {reply:?}");
}

/// The app under test, on axum, after `panics::watch` is installed.
async fn serve(store: StoreKind, storage: Storage) -> Harness {
    panics::watch();
    Harness::start_with(Framework::Axum, store, storage, test_config()).await
}

/// While the server is down: what a user of the app sees.
async fn check_down(agent: &Agent, newcomer: &Agent) {
    for reply in [
        answer(agent.get("/")).await,
        answer(agent.put("/kv/x", "1")).await,
        answer(newcomer.put("/kv/x", "1")).await,
    ] {
        assert_opaque_500(&reply);
    }
    let plain = agent.get("/test/plain").await;
    assert_eq!((plain.status, plain.body.as_str()), (200, "plain"));
    let fresh = newcomer.get("/").await;
    assert!(
        fresh.body.contains(NO_VALUE),
        "no cookie, no store call: {fresh:?}"
    );
}

/// After the server is back: a new session works end to end.
async fn check_recovered(app: &Harness) {
    let agent = app.agent();
    assert_eq!(answer(agent.get("/set")).await.status, 303);
    let reply = answer(agent.get("/")).await;
    assert!(reply.body.contains("something"), "{reply:?}");
}

/// No panic on the app's threads, and neither `agents`' session cookies nor `secrets` in the
/// log.
fn check_no_panic_no_leak(agents: &[&Agent], secrets: &[&str]) {
    assert_eq!(panics::on_app_threads(), Vec::<String>::new(), "panics");
    for agent in agents {
        let cookie = agent.cookie().expect("the agent has a session cookie");
        let value = cookie.strip_prefix("session=").expect("the session cookie");
        assert!(!logs::contain(value), "the session cookie reached the log");
    }
    for secret in secrets {
        assert!(!secret.is_empty(), "an empty secret proves nothing");
        assert!(!logs::contain(secret), "a secret reached the log");
    }
}

/// The log says what failed and where: it holds each of `needles` (text unique to the test,
/// such as its directory or table, and the cause).
fn check_logged(needles: &[&str]) {
    for needle in needles {
        assert!(logs::contain(needle), "the log does not mention {needle:?}");
    }
}

/// The password in a `scheme://user:password@host…` URL.
fn password(url: &str) -> &str {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let userinfo = authority
        .split_once('@')
        .map_or("", |(userinfo, _)| userinfo);
    userinfo
        .split_once(':')
        .map_or("", |(_, password)| password)
}

/// `host:port` of a `scheme://[userinfo@]host:port[/…]` URL.
fn host_port(url: &str) -> &str {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split(['/', '?']).next().unwrap_or(authority);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// `url` with its `host:port` replaced by the proxy's.
fn through(url: &str, proxy: &Proxy) -> String {
    url.replacen(host_port(url), &proxy.addr().to_string(), 1)
}

// --- The server stops and comes back ------------------------------------------------------

async fn redis_outage(framework: Framework) {
    panics::watch();
    let mut redis = ThrowAwayRedis::start();
    let store = RedisStore::builder()
        .with_connection_timeout(Duration::from_secs(2))
        .with_response_timeout(Duration::from_secs(2))
        .connect(&redis.url())
        .await
        .expect("connect to the throw-away Redis");
    let app = Harness::start_with(framework, StoreKind::Redis, store.into(), test_config()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert!(agent.get("/").await.body.contains("something"));

    redis.kill();
    check_down(&agent, &app.agent()).await;

    redis.restart();
    check_recovered(&app).await;
    // The old session died with the server's memory (no persistence): a fresh one, not an error.
    let reply = agent.get("/").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains(NO_VALUE), "{reply:?}");
    check_no_panic_no_leak(&[], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_on_axum() {
    redis_outage(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_on_actix() {
    redis_outage(Framework::Actix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_on_rocket() {
    redis_outage(Framework::Rocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_outage_on_axum() {
    let mut cluster = ThrowAwayCluster::start();
    let store = RedisStore::builder()
        .with_connection_timeout(Duration::from_millis(500))
        .with_response_timeout(Duration::from_secs(1))
        .connect_cluster(cluster.urls())
        .await
        .expect("connect to the throw-away cluster");
    let app = serve(StoreKind::RedisCluster, store.into()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert!(agent.get("/").await.body.contains("something"));

    cluster.kill();
    check_down(&agent, &app.agent()).await;

    cluster.restart();
    check_recovered(&app).await;
    // The nodes kept their slots (nodes.conf), not their data (no persistence).
    let reply = answer(agent.get("/")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains(NO_VALUE), "{reply:?}");
    check_no_panic_no_leak(&[], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_on_axum() {
    let postgres = FaultPostgres::get();
    // A 1 s acquire timeout instead of `PostgresStore::connect`'s 5 s: each request made while
    // the server is down waits that long before its 500.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect(&postgres.url)
        .await
        .expect("connect to SESSION_TEST_POSTGRES_FAULT_URL");
    let store = PostgresStore::new(pool)
        .with_table_name(&format!("http_fault_{}", random_hex(8)))
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    let app = serve(StoreKind::Postgres, store.into()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);

    tokio::task::block_in_place(|| postgres.control("stop"));
    check_down(&agent, &app.agent()).await;

    tokio::task::block_in_place(|| postgres.control("start"));
    check_recovered(&app).await;
    // PostgreSQL keeps its data: the session from before the outage is back, whole.
    let record = answer(agent.get("/kv")).await;
    assert_eq!(record.json(), serde_json::json!({"test_key": "something"}));
    check_no_panic_no_leak(&[&agent], &[password(&postgres.url)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_outage_on_axum() {
    let mut mongo = ThrowAwayMongo::start();
    // 1 s to select a server instead of the store's 5 s: each request made while the server is
    // down waits that long before its 500.
    let url = format!(
        "{}/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000",
        mongo.url()
    );
    let store = MongoStore::connect(&url, "session_faults", "sessions")
        .await
        .expect("connect to the throw-away SecantusDB");
    let app = serve(StoreKind::MongoDb, store.into()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert_eq!(agent.put("/kv/x", "1").await.status, 204);

    mongo.kill();
    check_down(&agent, &app.agent()).await;

    mongo.restart();
    check_recovered(&app).await;
    // SecantusDB keeps what it acknowledged in its storage directory, through a SIGKILL (it
    // syncs every commit: see `ThrowAwayMongo`): the session from before the outage is back,
    // whole.
    let record = answer(agent.get("/kv")).await;
    assert_eq!(
        record.json(),
        serde_json::json!({"test_key": "something", "x": 1})
    );
    check_no_panic_no_leak(&[&agent], &[]);
}

// --- A connection is cut ------------------------------------------------------------------

/// Every connection of the store is cut (by `cut`, which says how many it cut) while the app
/// is idle. The store must reconnect by itself before the next request needs it: a connection
/// that a server's idle timeout or a network device closed costs a user nothing.
async fn check_idle_cut(app: &Harness, cut: impl Fn() -> u64) {
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert_eq!(agent.put("/kv/x", "1").await.status, 204);

    assert!(cut() > 0, "the store had no open connection to cut");
    // A read first (loading the session is the request's first command) …
    let reply = answer(agent.get("/kv/x")).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "1"),
        "the first request after the cut: {reply:?}"
    );

    assert!(cut() > 0, "the store had no open connection to cut");
    // … and a write first (a new session's create is the request's only command).
    let newcomer = app.agent();
    let reply = answer(newcomer.put("/kv/x", "3")).await;
    assert_eq!(
        reply.status, 204,
        "the first request after the cut: {reply:?}"
    );
    assert_eq!(answer(newcomer.get("/kv/x")).await.body, "3");

    assert_eq!(answer(agent.put("/kv/x", "2")).await.status, 204);
    assert_eq!(answer(agent.get("/kv/x")).await.body, "2");
    check_recovered(app).await;
    check_no_panic_no_leak(&[&agent, &newcomer], &[]);
}

/// `PUT /kv/x` from `1` to `2`, on a session that also holds `test_key`, was caught by a cut:
/// it answered 204 and the new value is stored, or an opaque 500; either way the record is
/// whole afterwards, with `test_key` and the old or the new `x`. Returns the status and `x`.
async fn check_cut_update(agent: &Agent, reply: &Reply) -> (u16, serde_json::Value) {
    match reply.status {
        204 => {}
        500 => assert_opaque_500(reply),
        _ => panic!("neither 204 nor an opaque 500: {reply:?}"),
    }
    let record = answer(agent.get("/kv")).await;
    assert_eq!(record.status, 200, "{record:?}");
    let record = record.json();
    let x = record["x"].clone();
    if reply.status == 204 {
        assert_eq!(x, 2, "a 204 persisted: {record}");
    } else {
        assert!(x == 1 || x == 2, "the old or the new value: {record}");
    }
    assert_eq!(
        record,
        serde_json::json!({"test_key": "something", "x": x}),
        "whole"
    );
    (reply.status, x)
}

/// A new client's first `PUT /kv/x` of `3` (which creates its session) was caught by a cut: it
/// answered 204 with a cookie and the value is stored, or an opaque 500 and the client has no
/// session. Returns the status.
async fn check_cut_create(newcomer: &Agent, reply: &Reply) -> u16 {
    match reply.status {
        204 => {
            assert!(reply.session_cookie().is_some(), "{reply:?}");
            let stored = answer(newcomer.get("/kv/x")).await;
            assert_eq!((stored.status, stored.body.as_str()), (200, "3"));
        }
        500 => {
            assert_opaque_500(reply);
            assert_eq!(answer(newcomer.get("/kv/x")).await.status, 404);
        }
        _ => panic!("neither 204 nor an opaque 500: {reply:?}"),
    }
    reply.status
}

/// An update, then a create, each cut in the middle of its store command by a trap that
/// `arm_update` and `arm_create` set on `proxy`; then the store works on, with no restart.
/// Returns what the two requests answered, and the `x` the update left.
async fn check_mid_command_cuts(
    app: &Harness,
    proxy: &Proxy,
    arm_update: impl Fn(&Proxy),
    arm_create: impl Fn(&Proxy),
) -> (u16, serde_json::Value, u16) {
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert_eq!(agent.put("/kv/x", "1").await.status, 204);

    arm_update(proxy);
    let reply = answer(agent.put("/kv/x", "2")).await;
    assert_eq!(proxy.swallowed(), 1, "the trap caught the update");
    let (update, x) = check_cut_update(&agent, &reply).await;

    let newcomer = app.agent();
    arm_create(proxy);
    let reply = answer(newcomer.put("/kv/x", "3")).await;
    assert_eq!(proxy.swallowed(), 2, "the trap caught the create");
    let create = check_cut_create(&newcomer, &reply).await;

    check_recovered(app).await;
    assert_eq!(answer(agent.put("/kv/y", "4")).await.status, 204);
    assert_eq!(answer(agent.get("/kv/y")).await.body, "4");
    check_no_panic_no_leak(&[&agent], &[]);
    (update, x, create)
}

/// A Redis store on `SESSION_TEST_REDIS_URL`, with a key prefix of its own, through a proxy.
async fn redis_through_proxy() -> (Harness, Proxy) {
    let url = env("SESSION_TEST_REDIS_URL", "a Redis server");
    let proxy = Proxy::start(host_port(&url)).await;
    let store = RedisStore::builder()
        .with_key_prefix(format!("fault-test:{}:", random_hex(8)))
        .connect(&through(&url, &proxy))
        .await
        .expect("connect to SESSION_TEST_REDIS_URL through the proxy");
    (serve(StoreKind::Redis, store.into()).await, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_connections_cut_while_idle_on_axum() {
    let (app, proxy) = redis_through_proxy().await;
    check_idle_cut(&app, || proxy.cut() as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_connection_cut_mid_command_on_axum() {
    let (app, proxy) = redis_through_proxy().await;
    // Creates and updates are each one script call (EVALSHA), which Redis runs before the trap
    // swallows its reply.
    let outcome = check_mid_command_cuts(
        &app,
        &proxy,
        |proxy| proxy.swallow_reply_to(b"EVALSHA"),
        |proxy| proxy.swallow_reply_to(b"EVALSHA"),
    )
    .await;
    eprintln!("redis: update (status, x), create status: {outcome:?}");
}

/// A PostgreSQL store on `SESSION_TEST_POSTGRES_URL`, with a table of its own, through a proxy;
/// the URL's password and the table's name.
async fn postgres_through_proxy() -> (Harness, Proxy, String, String) {
    let url = env("SESSION_TEST_POSTGRES_URL", "PostgreSQL");
    let proxy = Proxy::start(host_port(&url)).await;
    let table = format!("http_cut_{}", random_hex(8));
    let store = PostgresStore::connect(&through(&url, &proxy))
        .await
        .expect("connect to SESSION_TEST_POSTGRES_URL through the proxy")
        .with_table_name(&table)
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    let app = serve(StoreKind::Postgres, store.into()).await;
    (app, proxy, password(&url).to_owned(), table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_cut_while_idle_on_axum() {
    let (app, proxy, password, _) = postgres_through_proxy().await;
    check_idle_cut(&app, || proxy.cut() as u64).await;
    check_no_panic_no_leak(&[], &[&password]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_cut_mid_command_on_axum() {
    let (app, proxy, password, table) = postgres_through_proxy().await;
    // sqlx sends prepared statements by name, so the traps watch the replies: the command tag
    // comes once the statement has run and committed.
    let outcome = check_mid_command_cuts(
        &app,
        &proxy,
        |proxy| proxy.swallow_reply_containing(b"UPDATE 1\0"),
        |proxy| proxy.swallow_reply_containing(b"INSERT 0 1\0"),
    )
    .await;
    eprintln!("postgres: update (status, x), create status: {outcome:?}");
    if outcome.0 == 500 || outcome.2 == 500 {
        check_logged(&[&table]);
    }
    check_no_panic_no_leak(&[], &[&password]);
}

/// A MongoDB store on `SESSION_TEST_MONGODB_URL`, with a collection of its own, through a proxy.
async fn mongodb_through_proxy() -> (Harness, Proxy) {
    let url = env("SESSION_TEST_MONGODB_URL", "a MongoDB-protocol server");
    let proxy = Proxy::start(host_port(&url)).await;
    // directConnection: otherwise the driver would follow the address the server advertises,
    // around the proxy.
    let url = format!(
        "{}/?directConnection=true&serverSelectionTimeoutMS=2000",
        through(&url, &proxy).trim_end_matches('/')
    );
    let collection = format!("sessions_{}", random_hex(8));
    let store = MongoStore::connect(&url, "session_fault_tests", &collection)
        .await
        .expect("connect to SESSION_TEST_MONGODB_URL through the proxy");
    (serve(StoreKind::MongoDb, store.into()).await, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_connections_cut_while_idle_on_axum() {
    let (app, proxy) = mongodb_through_proxy().await;
    check_idle_cut(&app, || proxy.cut() as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_connection_cut_mid_command_on_axum() {
    let (app, proxy) = mongodb_through_proxy().await;
    // The command name is the first key of the command document: a BSON string element.
    let outcome = check_mid_command_cuts(
        &app,
        &proxy,
        |proxy| proxy.swallow_reply_to(b"\x02update\0"),
        |proxy| proxy.swallow_reply_to(b"\x02insert\0"),
    )
    .await;
    eprintln!("mongodb: update (status, x), create status: {outcome:?}");
}

/// A Redis Cluster store on a throw-away cluster. A proxy cannot stand in for a cluster (MOVED
/// redirects name the nodes' own ports): the nodes close the connections themselves instead
/// (CLIENT KILL).
async fn cluster_app() -> (Harness, ThrowAwayCluster) {
    let cluster = ThrowAwayCluster::start();
    let store = RedisStore::builder()
        .with_response_timeout(Duration::from_secs(5))
        .connect_cluster(cluster.urls())
        .await
        .expect("connect to the throw-away cluster");
    (serve(StoreKind::RedisCluster, store.into()).await, cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_connections_killed_while_idle_on_axum() {
    let (app, cluster) = cluster_app().await;
    check_idle_cut(&app, || cluster.kill_clients()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_connection_killed_mid_command_on_axum() {
    let (app, cluster) = cluster_app().await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert_eq!(agent.put("/kv/x", "1").await.status, 204);

    // The nodes hold write commands (scripts included), so the update script waits on its
    // node, after the session's load (a read) went through, until its connection is closed;
    // only then are writes let through again.
    cluster.pause_writes();
    let update = tokio::spawn({
        let agent = agent.clone();
        async move { agent.put("/kv/x", "2").await }
    });
    tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while cluster.blocked_clients() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the update reached no node within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(cluster.kill_clients() > 0, "the store had no connection");
        cluster.unpause();
    });
    let reply = answer(async { update.await.expect("the request task") }).await;
    let outcome = check_cut_update(&agent, &reply).await;

    check_recovered(&app).await;
    assert_eq!(answer(agent.put("/kv/y", "4")).await.status, 204);
    check_no_panic_no_leak(&[&agent], &[]);
    eprintln!("redis cluster: update (status, x): {outcome:?}");
}

// --- The file system becomes read-only or full --------------------------------------------

/// While the file system fails writes: every write is an opaque 500 without a cookie.
async fn check_writes_fail(agent: &Agent, newcomer: &Agent) {
    assert_opaque_500(&answer(agent.put("/kv/x", "2")).await);
    assert_opaque_500(&answer(agent.get("/set")).await);
    assert_opaque_500(&answer(newcomer.put("/kv/x", "1")).await);
    let plain = agent.get("/test/plain").await;
    assert_eq!((plain.status, plain.body.as_str()), (200, "plain"));
}

/// The session written before the fault is still readable, whole.
async fn check_reads_work(agent: &Agent) {
    let record = answer(agent.get("/kv")).await;
    assert_eq!(record.status, 200, "{record:?}");
    assert_eq!(
        record.json(),
        serde_json::json!({"test_key": "something", "x": 1})
    );
}

/// Once the fault is over: the old session takes writes again, every one of several (so that
/// each connection a pool holds serves one), and new sessions work, with the same app and store.
async fn check_writes_work(app: &Harness, agent: &Agent) {
    for x in 2..7 {
        let reply = answer(agent.put("/kv/x", &x.to_string())).await;
        assert_eq!(reply.status, 204, "write {x} after the fault: {reply:?}");
        let record = answer(agent.get("/kv")).await;
        assert_eq!(
            record.json(),
            serde_json::json!({"test_key": "something", "x": x})
        );
    }
    check_recovered(app).await;
}

/// The file store's directory holds its lock directory and `sessions` whole session files
/// (each one a record), and nothing else: no temporary or half-written file.
fn check_session_files(dir: &Path, sessions: usize) {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list the session directory") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().into_string().expect("a UTF-8 file name");
        if name == ".locks" {
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("read a session file");
        serde_json::from_slice::<Record>(&bytes)
            .unwrap_or_else(|e| panic!("{name} is not a whole record ({e})"));
        let hex = name.strip_suffix(".json");
        assert!(
            hex.is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())),
            "a stray file in the session directory: {name}"
        );
        names.push(name);
    }
    assert_eq!(names.len(), sessions, "session files: {names:?}");
}

/// A file store on a tmpfs of its own (its `sessions` directory), with a session holding
/// `test_key` and `x = 1`.
async fn file_store_app(fs: &Tmpfs) -> (Harness, Agent) {
    let store = FileStore::new(fs.path().join("sessions")).expect("create the file store");
    let app = serve(StoreKind::File, store.into()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert_eq!(agent.put("/kv/x", "1").await.status, 204);
    (app, agent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_read_only_dir_on_axum() {
    let mut fs = Tmpfs::mount("256k");
    let (app, agent) = file_store_app(&fs).await;

    fs.read_only();
    check_writes_fail(&agent, &app.agent()).await;
    check_reads_work(&agent).await;
    check_logged(&[
        fs.path().to_str().expect("a UTF-8 path"),
        "Read-only file system",
    ]);

    fs.writable();
    check_session_files(&fs.path().join("sessions"), 1);
    check_writes_work(&app, &agent).await;
    check_session_files(&fs.path().join("sessions"), 2);
    check_no_panic_no_leak(&[&agent], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_full_dir_on_axum() {
    let mut fs = Tmpfs::mount("256k");
    let (app, agent) = file_store_app(&fs).await;

    assert!(fs.fill() > 0);
    check_writes_fail(&agent, &app.agent()).await;
    // Reading needs no space: the session written before is served as it was.
    check_reads_work(&agent).await;
    check_logged(&[
        fs.path().to_str().expect("a UTF-8 path"),
        "No space left on device",
    ]);

    fs.unfill();
    check_session_files(&fs.path().join("sessions"), 1);
    check_writes_work(&app, &agent).await;
    check_session_files(&fs.path().join("sessions"), 2);
    check_no_panic_no_leak(&[&agent], &[]);
}

/// SQLite's files in `dir` are the database, its WAL and shared-memory index only (no stray
/// journal), and the database passes `PRAGMA integrity_check`.
async fn check_sqlite_files(dir: &Path, store: &SqliteStore) {
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .expect("run PRAGMA integrity_check");
    assert_eq!(integrity, "ok");
    for entry in std::fs::read_dir(dir).expect("list the database's directory") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_str().expect("a UTF-8 file name");
        assert!(
            ["sessions.db", "sessions.db-wal", "sessions.db-shm"].contains(&name),
            "a stray file next to the database: {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_fs_on_axum() {
    // 1 MiB: room for the database and its write-ahead log, which grows with every commit.
    let mut fs = Tmpfs::mount("1m");
    let url = format!("sqlite:{}", fs.path().join("sessions.db").display());
    let store = SqliteStore::connect(&url).await.expect("open the database");
    store.migrate().await.expect("create the table");
    let app = serve(StoreKind::Sqlite, store.clone().into()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert_eq!(agent.put("/kv/x", "1").await.status, 204);

    assert!(fs.fill() > 0);
    check_writes_fail(&agent, &app.agent()).await;
    // Reading needs no space: the session written before is served as it was.
    check_reads_work(&agent).await;
    check_logged(&[&url["sqlite:".len()..], "database or disk is full"]);

    fs.unfill();
    check_reads_work(&agent).await;
    check_sqlite_files(fs.path(), &store).await;
    check_writes_work(&app, &agent).await;
    check_sqlite_files(fs.path(), &store).await;
    check_no_panic_no_leak(&[&agent], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_only_fs_on_axum() {
    let mut fs = Tmpfs::mount("1m");
    let path = fs.path().join("sessions.db");
    // The store's own connection settings, but a pool that closes idle connections after
    // 200 ms: a file system cannot turn read-only under a file open for writing (see
    // `Tmpfs::read_only`), and an open SQLite connection keeps its database so.
    let options = SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))
        .expect("a valid SQLite URL")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .min_connections(0)
        .idle_timeout(Duration::from_millis(200))
        .connect_with(options)
        .await
        .expect("open the database");
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.expect("create the table");
    let app = serve(StoreKind::Sqlite, store.clone().into()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);
    assert_eq!(agent.put("/kv/x", "1").await.status, 204);

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pool.size() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the pool closed its idle connections within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fs.read_only();
    check_writes_fail(&agent, &app.agent()).await;
    // A WAL database cannot be opened at all on a read-only file system once its last
    // connection has closed (its shared-memory file is gone and cannot be created): reads
    // fail too, as opaque 500s.
    assert_opaque_500(&answer(agent.get("/kv")).await);
    check_logged(&[
        path.to_str().expect("a UTF-8 path"),
        "unable to open database file",
    ]);

    fs.writable();
    check_reads_work(&agent).await;
    check_sqlite_files(fs.path(), &store).await;
    check_writes_work(&app, &agent).await;
    check_sqlite_files(fs.path(), &store).await;
    check_no_panic_no_leak(&[&agent], &[]);
}
