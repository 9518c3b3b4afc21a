//! The HTTP suite: each case is one user-visible behaviour, checked through the example app on
//! one framework and one store. [`http_suite!`](crate::http_suite) turns them into tests.

use serde_json::json;
use session_core::SessionConfig;

use crate::harness::{Agent, Harness, test_config};
use crate::logs;
use crate::servers::Framework;
use crate::stores::{FAILURE_DETAIL, FailingStore, StoreKind};

const NO_VALUE: &str = "No value set. Go to /set to set a value";

/// The attributes of a `Set-Cookie` value, lower-cased, without the name=value pair.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|attribute| attribute.trim().to_ascii_lowercase())
        .collect()
}

/// The `name=value` pair of a `Set-Cookie` value.
fn pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap_or_default()
}

/// A fresh client that has a session holding `test_key = "something"` (through `GET /set`).
async fn with_session(app: &Harness) -> Agent {
    let agent = app.agent();
    let reply = agent.get("/set").await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(
        reply.session_cookie().is_some(),
        "GET /set sets a cookie: {reply:?}"
    );
    agent
}

/// A new session's cookie has the configured attributes: `HttpOnly`, `SameSite=Lax`, `Path=/`,
/// one day's `Max-Age`, and `Secure` exactly when configured.
pub async fn new_session_cookie_has_the_configured_attributes(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    let reply = agent.get("/set").await;
    assert_eq!(reply.status, 303);
    let cookie = reply.session_cookie().expect("a new session sets a cookie");
    let attrs = attributes(cookie);
    for expected in ["httponly", "samesite=lax", "path=/", "max-age=86400"] {
        assert!(
            attrs.iter().any(|a| a == expected),
            "{expected} missing: {cookie}"
        );
    }
    assert!(
        !attrs.iter().any(|a| a == "secure"),
        "Secure is off in this config: {cookie}"
    );
    assert!(
        pair(cookie).len() > "session=".len() + 40,
        "a real token: {cookie}"
    );
    assert!(agent.get("/").await.body.contains("something"));

    let secure = Harness::start_with(fw, store, store.open().await, SessionConfig::default()).await;
    let reply = secure.agent().get("/set").await;
    let cookie = reply.session_cookie().expect("a new session sets a cookie");
    assert!(
        attributes(cookie).iter().any(|a| a == "secure"),
        "Secure by default: {cookie}"
    );
}

/// No `Set-Cookie` for a request that does not touch its session, or only reads it.
pub async fn untouched_session_gets_no_cookie(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    for path in ["/test/plain", "/", "/check", "/kv", "/profile"] {
        let reply = agent.get(path).await;
        assert!(
            reply.set_cookies.is_empty(),
            "GET {path} without a session: {reply:?}"
        );
    }
    assert_eq!(agent.cookie(), None);

    let agent = with_session(&app).await;
    for path in ["/test/plain", "/", "/check", "/kv"] {
        let reply = agent.get(path).await;
        assert_eq!(reply.status, 200, "GET {path}: {reply:?}");
        assert!(
            reply.set_cookies.is_empty(),
            "GET {path} only reads: {reply:?}"
        );
    }
}

/// Raw values set, read, tested and deleted across requests, as JSON.
pub async fn set_get_has_delete_across_requests(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    assert_eq!(agent.put("/kv/color", r#""blue""#).await.status, 204);
    assert_eq!(agent.put("/kv/n", "5").await.status, 204);
    assert_eq!(
        agent.put("/kv/a.b", r#"{"$x":[1,2.5,null]}"#).await.status,
        204
    );

    let reply = agent.get("/kv/color").await;
    assert_eq!((reply.status, reply.json()), (200, json!("blue")));
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        agent.get("/test/has/color").await.json(),
        json!({"has": true})
    );
    assert_eq!(
        agent.get("/kv").await.json(),
        json!({"color": "blue", "n": 5, "a.b": {"$x": [1, 2.5, null]}})
    );

    assert_eq!(agent.delete("/kv/color").await.status, 204);
    assert_eq!(agent.get("/kv/color").await.status, 404);
    assert_eq!(
        agent.get("/test/has/color").await.json(),
        json!({"has": false})
    );
    assert_eq!(
        agent.get("/kv").await.json(),
        json!({"n": 5, "a.b": {"$x": [1, 2.5, null]}})
    );

    let bad = agent.put("/kv/x", "{not json").await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(agent.get("/test/has/x").await.json(), json!({"has": false}));
}

/// `TypedSession<Account>`: the login flow's typed fields, seen through the typed routes and as
/// raw keys.
pub async fn typed_extractor_round_trips_the_login_state(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    assert_eq!(
        agent.get("/check").await.json(),
        json!({"hasUser": false, "isAuthenticated": false})
    );
    let profile = agent.get("/profile").await;
    assert_eq!(
        (profile.status, profile.json()),
        (401, json!({"error": "Not authenticated"}))
    );

    let login = agent.post("/login", Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(
        (login.status, login.json()),
        (200, json!({"status": "logged in", "user": {"name": "Ada"}}))
    );
    let profile = agent.get("/profile").await;
    assert_eq!(
        (profile.status, profile.json()),
        (200, json!({"user": {"name": "Ada"}}))
    );
    assert_eq!(
        agent.get("/check").await.json(),
        json!({"hasUser": true, "isAuthenticated": true})
    );
    assert_eq!(
        agent.get("/kv").await.json(),
        json!({"user": {"name": "Ada"}, "is_authenticated": true})
    );

    let guest = app.agent();
    let login = guest.post("/login", None).await;
    assert_eq!(login.json()["user"], json!({"name": "guest"}));
    let bad = app.agent().post("/login", Some(r#"{"name": 5}"#)).await;
    assert_eq!(bad.status, 400, "{bad:?}");
}

/// Login gives the session a new id (a new cookie) and keeps its data; on a server-side store
/// the cookie from before login then gets a fresh, empty session.
pub async fn login_cycles_the_id_and_the_old_cookie_stops_working(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let before = agent.cookie().expect("a session cookie");
    let login = agent.post("/login", Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(login.status, 200);
    let after = login.session_cookie().expect("login sends a new cookie");
    assert_ne!(pair(after), before, "login must change the cookie");
    assert!(
        agent.get("/").await.body.contains("something"),
        "data survives login"
    );
    assert_eq!(agent.get("/profile").await.status, 200);

    if store.is_server_side() {
        let old = agent.get_with_cookie("/kv", &before).await;
        assert_eq!(
            (old.status, old.json()),
            (200, json!({})),
            "the old id is gone"
        );
        assert_eq!(agent.get_with_cookie("/profile", &before).await.status, 401);
    }
}

/// Logout removes the user (and changes the id), keeps other keys, and `/profile` is 401 again.
pub async fn logout_removes_the_user(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    assert_eq!(
        agent.post("/login", Some(r#"{"name":"Ada"}"#)).await.status,
        200
    );
    let logged_in = agent.cookie().expect("a session cookie");

    let logout = agent.post("/logout", None).await;
    assert_eq!(
        (logout.status, logout.json()),
        (200, json!({"status": "logged out"}))
    );
    assert!(logout.session_cookie().is_some(), "logout renews the id");
    let profile = agent.get("/profile").await;
    assert_eq!(
        (profile.status, profile.json()),
        (401, json!({"error": "Not authenticated"}))
    );
    assert_eq!(
        agent.get("/check").await.json(),
        json!({"hasUser": false, "isAuthenticated": false})
    );
    assert!(
        agent.get("/").await.body.contains("something"),
        "other keys stay"
    );

    if store.is_server_side() {
        let replay = agent.get_with_cookie("/profile", &logged_in).await;
        assert_eq!(replay.status, 401, "the logged-in cookie no longer works");
    }
}

/// Destroying the session sends a removal cookie; the session is gone for good.
pub async fn destroy_sends_a_removal_cookie(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let before = agent.cookie().expect("a session cookie");
    let reply = agent.post("/test/destroy", None).await;
    assert_eq!(reply.status, 200);
    let removal = reply.session_cookie().expect("a removal cookie");
    let attrs = attributes(removal);
    assert!(
        attrs.iter().any(|a| a == "max-age=0"),
        "a removal cookie has Max-Age=0: {removal}"
    );
    assert!(attrs.iter().any(|a| a == "path=/"), "{removal}");
    assert_eq!(agent.cookie(), None, "the client dropped the cookie");
    assert!(agent.get("/").await.body.contains(NO_VALUE));

    if store.is_server_side() {
        let replay = agent.get_with_cookie("/", &before).await;
        assert!(
            replay.body.contains(NO_VALUE),
            "the destroyed session is gone: {replay:?}"
        );
    }
}

/// A cookie whose value was changed, or was never ours, gives a fresh empty session and is
/// never adopted.
pub async fn tampered_cookie_gets_a_fresh_session(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let cookie = agent.cookie().expect("a session cookie");
    let (name, value) = cookie.split_once('=').expect("name=value");
    let mut bytes = value.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(bytes).expect("ASCII"));

    for forged in [tampered.as_str(), "session=abc", "session="] {
        let reply = agent.get_with_cookie("/", forged).await;
        assert_eq!(reply.status, 200);
        assert!(reply.body.contains(NO_VALUE), "{forged}: {reply:?}");
        assert!(
            reply.set_cookies.is_empty(),
            "reading sets no cookie: {reply:?}"
        );
    }
    let forger = agent.with_cookie(&tampered);
    let write = forger.put("/kv/x", "1").await;
    assert_eq!(write.status, 204);
    let fresh = write.session_cookie().expect("a fresh session's cookie");
    assert_ne!(pair(fresh), tampered);
    assert_eq!(
        forger.get("/kv").await.json(),
        json!({"x": 1}),
        "nothing of the original"
    );
    assert!(
        agent.get("/").await.body.contains("something"),
        "the original is untouched"
    );
}

/// After the idle timeout (one day by default) the session is not served.
pub async fn expired_session_is_not_served(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    app.advance(12 * 3600);
    assert!(
        agent.get("/").await.body.contains("something"),
        "still alive after 12 h"
    );
    app.advance(24 * 3600 + 60);
    let reply = agent.get("/").await;
    assert!(
        reply.body.contains(NO_VALUE),
        "expired after a day idle: {reply:?}"
    );
    assert_eq!(agent.get("/kv").await.json(), json!({}));
}

/// A handler that changes the session and then answers 500 persists nothing and sends no cookie.
pub async fn server_error_response_persists_nothing(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let newcomer = app.agent();
    let reply = newcomer.get("/test/fail").await;
    assert_eq!(reply.status, 500);
    assert!(reply.set_cookies.is_empty(), "{reply:?}");

    let agent = with_session(&app).await;
    let reply = agent.get("/test/fail").await;
    assert_eq!(reply.status, 500);
    assert!(reply.set_cookies.is_empty(), "{reply:?}");
    assert_eq!(
        agent.get("/test/has/doomed").await.json(),
        json!({"has": false})
    );
    assert!(agent.get("/").await.body.contains("something"));
}

/// 50 concurrent requests on one session, each writing its own key: all 50 are kept (server-side
/// stores only: a cookie-store session is the cookie, so concurrent writers replace each other's
/// cookie, as with any cookie store).
pub async fn fifty_concurrent_writers_lose_no_key(fw: Framework, store: StoreKind) {
    assert!(
        store.is_server_side(),
        "the cookie store keeps no server-side record to merge into"
    );
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let cookie = agent.cookie().expect("a session cookie");
    let writers: Vec<_> = (0..50)
        .map(|i| {
            let writer = agent.with_cookie(&cookie);
            tokio::spawn(async move { writer.put(&format!("/kv/k{i}"), &i.to_string()).await })
        })
        .collect();
    for writer in writers {
        let reply = writer.await.expect("the writer finished");
        assert_eq!(reply.status, 204, "{reply:?}");
        if let Some(set_cookie) = reply.session_cookie() {
            assert_eq!(pair(set_cookie), cookie, "the id does not change");
        }
    }
    let all = agent.get("/kv").await.json();
    let all = all.as_object().expect("an object");
    for i in 0..50 {
        assert_eq!(
            all.get(&format!("k{i}")),
            Some(&json!(i)),
            "k{i} lost: {all:?}"
        );
    }
    assert_eq!(all.get("test_key"), Some(&json!("something")));
    assert_eq!(all.len(), 51);
}

/// A store that fails: an opaque 500 whose body and headers hold none of the error, the error
/// in the log, and requests that do not write unaffected.
pub async fn store_failure_is_an_opaque_500(fw: Framework) {
    let app = Harness::start_with(fw, StoreKind::Memory, FailingStore.into(), test_config()).await;
    let agent = app.agent();
    let reply = agent.put("/kv/a", "1").await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(reply.body, "Internal Server Error");
    assert!(reply.set_cookies.is_empty(), "{reply:?}");
    assert!(
        !format!("{reply:?}").contains("hunter2"),
        "the detail leaked: {reply:?}"
    );
    assert!(logs::contain(FAILURE_DETAIL), "the detail is logged");

    assert_eq!(agent.get("/test/plain").await.body, "plain");
    assert!(
        agent.get("/").await.body.contains(NO_VALUE),
        "reads still work"
    );
}

/// A handler asking for a session on an app without the middleware: 500, and the log says
/// what to install.
pub async fn missing_middleware_is_a_500_with_an_install_hint(fw: Framework) {
    crate::logs::capture();
    let server = fw.serve(None).await;
    let agent = Agent::new(server.base());
    let reply = agent.get("/").await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert!(reply.set_cookies.is_empty());
    let hint = match fw {
        Framework::Axum => "SessionLayer::new(manager)",
        Framework::Actix => "SessionMiddleware::new(manager)",
        Framework::Rocket => "SessionFairing::new(manager)",
    };
    assert!(logs::contain(hint), "the log names {hint}");
    assert_eq!(
        agent.get("/test/plain").await.body,
        "plain",
        "other routes still work"
    );
}
