//! The example app's `SESSION_STORE` on every store: the settings parse the URL, open the
//! store, and the example's own axum app keeps a session in it across requests.

use session_examples::{Settings, axum_app};
use session_tests::Agent;
use session_tests::stores::{env, random_hex};

/// Serves the example app configured by `SESSION_STORE=store` and checks `/set` then `/`.
async fn serves_a_session_from(store: &str) {
    let settings = Settings::from_vars(|name| match name {
        "SESSION_STORE" => Some(store.to_owned()),
        "SESSION_SECRET" => Some(random_hex(32)),
        _ => None,
    })
    .expect("valid settings");
    let manager = settings
        .manager()
        .await
        .unwrap_or_else(|e| panic!("{store}: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let server = tokio::spawn(async move { axum::serve(listener, axum_app::app(manager)).await });

    let agent = Agent::new(base);
    assert_eq!(agent.get("/set").await.status, 303, "{store}");
    let reply = agent.get("/").await;
    assert!(reply.body.contains("something"), "{store}: {reply:?}");
    server.abort();
}

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join("session-tests");
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir.join(format!("{name}-{}", random_hex(8)))
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_and_memory() {
    serves_a_session_from("cookie").await;
    serves_a_session_from("memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file() {
    serves_a_session_from(&format!("file:{}", temp("example-files"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    serves_a_session_from(&format!("sqlite:{}", temp("example.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    serves_a_session_from(&env("SESSION_TEST_REDIS_URL", "Redis")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster() {
    let urls = env("SESSION_TEST_REDIS_CLUSTER_URLS", "a Redis Cluster");
    let nodes: Vec<&str> = urls
        .split(',')
        .map(|url| url.trim().trim_start_matches("redis://"))
        .collect();
    serves_a_session_from(&format!("redis+cluster://{}", nodes.join(","))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    serves_a_session_from(&env("SESSION_TEST_POSTGRES_URL", "PostgreSQL")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb() {
    let url = env("SESSION_TEST_MONGODB_URL", "a MongoDB-protocol server");
    serves_a_session_from(&format!(
        "{}/example_{}",
        url.trim_end_matches('/'),
        random_hex(4)
    ))
    .await;
}
