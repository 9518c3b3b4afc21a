//! Session ids never reach the log (OWASP Session Management Cheat Sheet, "Logging"): a whole
//! session's life on every framework, with everything our crates log at `trace` captured, and
//! every session cookie value and every raw id inside them looked for in it. Only
//! digests of ids may appear, and the test checks that the logs are not empty, so it would see
//! a leak if there were one. A request carrying two valid session cookies (a tossed cookie) is
//! logged as a warning.

use session_tests::harness::Reply;
use session_tests::{Framework, Harness, StoreKind, logs};

/// The cookie values (the signed id or the encrypted record) of every session cookie set.
fn tokens(replies: &[&Reply]) -> Vec<String> {
    replies
        .iter()
        .filter_map(|reply| reply.session_cookie())
        .filter_map(|cookie| cookie.split(';').next())
        .filter_map(|pair| pair.split_once('=').map(|(_, value)| value.to_owned()))
        .filter(|value| !value.is_empty())
        .collect()
}

async fn a_session_life(framework: Framework, store: StoreKind) -> Vec<String> {
    let app = Harness::start(framework, store).await;
    let agent = app.agent();
    let set = agent.get("/set").await;
    let read = agent.get("/").await;
    assert!(read.body.contains("something"), "{read:?}");
    let login = agent.post("/login", Some(r#"{"name":"ada"}"#)).await;
    assert_eq!(login.status, 200, "{login:?}");
    let old = tokens(&[&set])[0].clone();
    // The pre-login cookie again, a tampered one, and a foreign one: all logged as refused.
    agent.get_with_cookie("/", &format!("session={old}")).await;
    let mut tampered = old.clone();
    tampered.replace_range(0..1, if old.starts_with('A') { "B" } else { "A" });
    agent
        .get_with_cookie("/", &format!("session={tampered}"))
        .await;
    // The logged-in cookie beside another client's valid one (a tossed cookie): ambiguous, so
    // neither is used, and a warning is logged.
    let other = app.agent().get("/set").await;
    let other_token = tokens(&[&other])[0].clone();
    let own_token = tokens(&[&login])[0].clone();
    let tossed = agent
        .get_with_cookie("/", &format!("session={other_token}; session={own_token}"))
        .await;
    assert!(tossed.body.contains("No value set"), "{tossed:?}");
    let logout = agent.post("/logout", None).await;
    let profile = agent.get("/profile").await;
    assert_eq!(profile.status, 401, "{profile:?}");
    let mut seen = tokens(&[&set, &login, &logout, &other]);
    seen.push(tampered);
    seen
}

async fn no_id_in_the_logs(framework: Framework) {
    logs::capture_with(
        "session_core=trace,session_axum=trace,session_actix=trace,session_rocket=trace,session_examples=trace",
    );
    let mut tokens = a_session_life(framework, StoreKind::Memory).await;
    tokens.extend(a_session_life(framework, StoreKind::Cookie).await);
    let text = logs::text();
    for event in ["session created", "session id cycled", "not adopted"] {
        assert!(
            text.contains(event),
            "the life cycle is logged ({event:?}), so the log is live:\n{text}"
        );
    }
    assert!(
        text.lines().any(|line| line.contains("WARN")
            && line.contains("a request carried several valid session cookies")),
        "two valid session cookies in one request are logged as a warning:\n{text}"
    );
    for token in &tokens {
        // The whole value, and its last 43 characters: the raw id of a signed cookie.
        let id = &token[token.len().saturating_sub(43)..];
        assert!(
            !text.contains(token.as_str()),
            "a cookie value is in the log:\n{text}"
        );
        assert!(!text.contains(id), "a session id is in the log:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_in_the_logs_on_axum() {
    no_id_in_the_logs(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_in_the_logs_on_actix() {
    no_id_in_the_logs(Framework::Actix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_in_the_logs_on_rocket() {
    no_id_in_the_logs(Framework::Rocket).await;
}
