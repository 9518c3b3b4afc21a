//! End to end in a real browser: each example binary (`axum`, `actix`, `rocket`) on its default
//! cookie store, driven in headless Chromium through ChromeDriver. `/` shows "No value set…",
//! `/set` then `/` shows `something`, login then `/profile` shows the user and `/` greets once,
//! logout then `/profile` is 401.
//!
//! Needs `SESSION_TEST_CHROMIUM` and `SESSION_TEST_CHROMEDRIVER` (`scripts/test` installs
//! Debian's `chromium` and `chromium-driver` and sets them).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// A child process in a process group of its own, owned from the moment it is spawned: dropping
/// it (also while a failing test unwinds) kills the whole group, so neither ChromeDriver nor the
/// Chromium it started outlives the test.
struct Process(Child);

impl Process {
    fn spawn(command: &mut Command, what: &str) -> Self {
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Self(child)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The group id is the child's pid (`process_group(0)`); `kill -KILL -- -PID` reaches
        // every process in it, then `kill` on the child itself in case `kill(1)` is missing.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
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

/// How long a child may take to come up: generous, because CI machines are busy compiling.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Waits until `ready()` holds, failing with `what` if the child exits or `START_TIMEOUT` passes.
async fn wait_until(what: &str, process: &mut Process, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + START_TIMEOUT;
    while !ready().await {
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("{what} exited ({status}) before it was ready");
        }
        assert!(
            Instant::now() < deadline,
            "{what} was not ready within {} s",
            START_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn listens(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Whether ChromeDriver on `port` answers its W3C `/status` with `"ready": true`.
async fn driver_ready(http: &reqwest::Client, port: u16) -> bool {
    let Ok(response) = http
        .get(format!("http://127.0.0.1:{port}/status"))
        .send()
        .await
    else {
        return false;
    };
    response
        .json::<Value>()
        .await
        .is_ok_and(|status| status["value"]["ready"] == true)
}

async fn start_app(binary: &str, name: &str) -> (Process, String) {
    let port = free_port();
    let mut app = Process::spawn(
        Command::new(binary)
            .env("PORT", port.to_string())
            .env_remove("SESSION_STORE")
            .env_remove("SESSION_SECRET")
            .env_remove("SESSION_SECURE")
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
        &format!("the {name} example ({binary})"),
    );
    wait_until(name, &mut app, async || listens(port)).await;
    (app, format!("http://127.0.0.1:{port}"))
}

/// How many times creating the browser session is tried before the test fails.
const SESSION_ATTEMPTS: u32 = 4;

async fn start_browser() -> (Process, Client) {
    let port = free_port();
    let path = env("SESSION_TEST_CHROMEDRIVER");
    let mut driver = Process::spawn(
        Command::new(&path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        &path,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    wait_until("chromedriver", &mut driver, async || {
        driver_ready(&http, port).await
    })
    .await;
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
    // On a loaded machine Chromium can be slow enough to start that ChromeDriver gives up or
    // drops the connection; a new attempt then usually succeeds.
    let mut errors = Vec::new();
    for attempt in 1..=SESSION_ATTEMPTS {
        let connected =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
        match connected {
            Ok(client) => return (driver, client),
            Err(error) => errors.push(format!("attempt {attempt}: {error}")),
        }
        tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
    }
    panic!(
        "ChromeDriver could not start a headless Chromium session in {SESSION_ATTEMPTS} \
         attempts ({}); check that `{} --version` runs",
        errors.join("; "),
        env("SESSION_TEST_CHROMIUM"),
    );
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
    let (_app, base) = start_app(binary, name).await;
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
        .find(|c| c.name() == "__Host-session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true), "{name}");
    assert_eq!(session.secure(), Some(true), "{name}: Secure by default");

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
    // The greeting the login left is shown once, above the value.
    browser.goto(&format!("{base}/")).await.expect("open /");
    assert_eq!(
        body_text(&browser).await,
        "Welcome back, Ada\nsomething",
        "{name}: the flash"
    );
    browser.goto(&format!("{base}/")).await.expect("open /");
    assert_eq!(body_text(&browser).await, "something", "{name}: shown once");

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
