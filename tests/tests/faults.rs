//! The store's server goes down in the middle of a test and comes back: requests that touch
//! the session get an opaque 500 while it is down, requests that do not are unaffected, and
//! sessions work again once it is back, without restarting the app. Redis on every framework;
//! PostgreSQL (a shared server that stops for everyone) on axum.

use std::time::Duration;

use session_core::{PostgresStore, RedisStore, Storage};
use session_tests::faults::{FaultPostgres, ThrowAwayRedis};
use session_tests::harness::test_config;
use session_tests::stores::random_hex;
use session_tests::{Agent, Framework, Harness, StoreKind};

const NO_VALUE: &str = "No value set. Go to /set to set a value";

/// While the server is down: what a user of the app sees.
async fn check_down(agent: &Agent, newcomer: &Agent) {
    for reply in [
        agent.get("/").await,
        agent.put("/kv/x", "1").await,
        newcomer.put("/kv/x", "1").await,
    ] {
        assert_eq!(reply.status, 500, "{reply:?}");
        assert_eq!(reply.body, "Internal Server Error", "opaque: {reply:?}");
        assert!(reply.set_cookies.is_empty(), "{reply:?}");
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
    assert_eq!(agent.get("/set").await.status, 303);
    let reply = agent.get("/").await;
    assert!(reply.body.contains("something"), "{reply:?}");
}

async fn redis_outage(framework: Framework) {
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
async fn postgres_outage_on_axum() {
    let postgres = FaultPostgres::get();
    let store = PostgresStore::connect(&postgres.url)
        .await
        .expect("connect to SESSION_TEST_POSTGRES_FAULT_URL")
        .with_table_name(&format!("http_fault_{}", random_hex(8)))
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    let storage: Storage = store.into();
    let app =
        Harness::start_with(Framework::Axum, StoreKind::Postgres, storage, test_config()).await;
    let agent = app.agent();
    assert_eq!(agent.get("/set").await.status, 303);

    tokio::task::block_in_place(|| postgres.control("stop"));
    check_down(&agent, &app.agent()).await;

    tokio::task::block_in_place(|| postgres.control("start"));
    check_recovered(&app).await;
    // PostgreSQL keeps its data: the session from before the outage is back.
    assert!(agent.get("/").await.body.contains("something"));
}
