//! End to end in a real browser: each example binary (`axum`, `actix`, `rocket`) on its default
//! cookie store, driven in headless Chromium through ChromeDriver. `/` shows "No value set…",
//! `/set` then `/` shows `something`, login then `/profile` shows the user, logout then
//! `/profile` is 401.
//!
//! Needs `SESSION_TEST_CHROMIUM` and `SESSION_TEST_CHROMEDRIVER` (`scripts/test` installs
//! Debian's `chromium` and `chromium-driver` and sets them).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run `scripts/test`, which installs Debian's chromium and \
             chromium-driver, or install them and export {name} (the path of the binary)"
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// Waits until something listens on `port`, failing with `what` after 60 s.
fn wait_for(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on port {port}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_app(binary: &str, name: &str) -> (Process, String) {
    let port = free_port();
    let mut child = Command::new(binary)
        .env("PORT", port.to_string())
        .env_remove("SESSION_STORE")
        .env_remove("SESSION_SECRET")
        .env_remove("SESSION_SECURE")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {name} example ({binary}): {e}"));
    wait_for(port, name, &mut child);
    (Process(child), format!("http://127.0.0.1:{port}"))
}

async fn start_browser() -> (Process, Client) {
    let port = free_port();
    let driver = env("SESSION_TEST_CHROMEDRIVER");
    let mut child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {driver}: {e}"));
    wait_for(port, "chromedriver", &mut child);
    let profile = std::env::temp_dir().join(format!("session-browser-{port}"));
    // Without the networking flags Chromium's background connections fail on a closed network.
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": env("SESSION_TEST_CHROMIUM"),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object")
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("ChromeDriver starts a headless Chromium session");
    (Process(child), client)
}

async fn body_text(browser: &Client) -> String {
    browser
        .find(Locator::Css("body"))
        .await
        .expect("a body")
        .text()
        .await
        .expect("its text")
}

/// `fetch` from the page (same origin, so the browser sends and stores the cookie itself);
/// returns the status and the body as JSON.
async fn fetch(browser: &Client, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let script = r#"
        const [method, path, body, done] = arguments;
        const init = { method, headers: { "content-type": "application/json" } };
        if (body !== null) init.body = body;
        fetch(path, init)
            .then(async (r) => done([r.status, await r.text()]))
            .catch((e) => done([0, String(e)]));
    "#;
    let result = browser
        .execute_async(script, vec![json!(method), json!(path), json!(body)])
        .await
        .expect("the script runs");
    let status = result[0].as_u64().expect("a status") as u16;
    let text = result[1].as_str().expect("a body");
    let json = serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
    (status, json)
}

async fn walk_through(binary: &str, name: &str) {
    let (_app, base) = start_app(binary, name);
    let (_driver, browser) = start_browser().await;

    browser.goto(&format!("{base}/")).await.expect("open /");
    assert_eq!(
        body_text(&browser).await,
        "No value set. Go to /set to set a value",
        "{name}"
    );

    browser
        .goto(&format!("{base}/set"))
        .await
        .expect("open /set");
    assert_eq!(
        browser.current_url().await.expect("a URL").path(),
        "/",
        "{name}: /set redirects to /"
    );
    assert_eq!(body_text(&browser).await, "something", "{name}");
    browser.goto(&format!("{base}/")).await.expect("open /");
    assert_eq!(
        body_text(&browser).await,
        "something",
        "{name}: kept across requests"
    );
    let cookies = browser.get_all_cookies().await.expect("the cookies");
    let session = cookies
        .iter()
        .find(|c| c.name() == "session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true), "{name}");

    let (status, login) = fetch(&browser, "POST", "/login", Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(
        (status, login),
        (200, json!({"status": "logged in", "user": {"name": "Ada"}})),
        "{name}"
    );
    browser
        .goto(&format!("{base}/profile"))
        .await
        .expect("open /profile");
    let profile: Value = serde_json::from_str(&body_text(&browser).await).expect("JSON");
    assert_eq!(profile, json!({"user": {"name": "Ada"}}), "{name}");

    let (status, logout) = fetch(&browser, "POST", "/logout", None).await;
    assert_eq!(
        (status, logout),
        (200, json!({"status": "logged out"})),
        "{name}"
    );
    let (status, profile) = fetch(&browser, "GET", "/profile", None).await;
    assert_eq!(
        (status, profile),
        (401, json!({"error": "Not authenticated"})),
        "{name}"
    );
    browser
        .goto(&format!("{base}/profile"))
        .await
        .expect("open /profile");
    assert!(
        body_text(&browser).await.contains("Not authenticated"),
        "{name}"
    );

    browser.close().await.expect("close the browser");
}

#[tokio::test]
async fn axum_example_in_a_browser() {
    walk_through(env!("CARGO_BIN_EXE_axum"), "axum").await;
}

#[tokio::test]
async fn actix_example_in_a_browser() {
    walk_through(env!("CARGO_BIN_EXE_actix"), "actix").await;
}

#[tokio::test]
async fn rocket_example_in_a_browser() {
    walk_through(env!("CARGO_BIN_EXE_rocket"), "rocket").await;
}
