//! The HTTP suite: each case is one user-visible behaviour, checked through the example app on
//! one framework and one store. [`http_suite!`](crate::http_suite) turns them into tests.

use std::sync::Arc;

use serde_json::json;
use session_core::{SessionConfig, Storage};

use tokio::task::JoinHandle;

use crate::harness::{Agent, ApiClient, Harness, Reply, test_config};
use crate::logs;
use crate::servers::Framework;
use crate::stores::{FAILURE_DETAIL, FailingStore, LoginFailingStore, SlowStore, StoreKind};

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
    let mut all = agent.get("/kv").await.json();
    take_login_keys(&mut all, "Ada");
    assert_eq!(
        all,
        json!({"user": {"name": "Ada"}, "is_authenticated": true, "welcome": "Welcome back, Ada"})
    );

    let guest = app.agent();
    let login = guest.post("/login", None).await;
    assert_eq!(login.json()["user"], json!({"name": "guest"}));
    let bad = app.agent().post("/login", Some(r#"{"name": 5}"#)).await;
    assert_eq!(bad.status, 400, "{bad:?}");
}

/// Takes out of `all` (what `GET /kv` shows) the engine's keys a login of `user` leaves, checking
/// each: the login's time, the session's owner, and when an owned session was last seen.
fn take_login_keys(all: &mut serde_json::Value, user: &str) {
    let all = all.as_object_mut().expect("GET /kv is an object");
    let fresh_at = all.remove("__fresh_at");
    assert!(
        fresh_at.is_some_and(|at| at.is_i64()),
        "the login's time: {all:?}"
    );
    assert_eq!(
        all.remove("__owner"),
        Some(json!(user)),
        "the owner: {all:?}"
    );
    let seen_at = all.remove("__seen_at");
    assert!(seen_at.is_some_and(|at| at.is_i64()), "last seen: {all:?}");
}

/// The greeting `POST /login` leaves is a flash: the next `GET /` shows it, the one after does
/// not, and neither does the page after a logout that came before it was seen.
pub async fn a_login_greets_once_on_the_next_page(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    assert_eq!(
        agent.post("/login", Some(r#"{"name":"Ada"}"#)).await.status,
        200
    );
    // Pages that do not show it leave it.
    assert_eq!(agent.get("/profile").await.status, 200);
    let first = agent.get("/").await;
    assert!(
        first
            .body
            .contains(r#"<p id="flash">Welcome back, Ada</p><p id="value">something</p>"#),
        "{first:?}"
    );
    let second = agent.get("/").await;
    assert!(
        second.body.contains(r#"<p id="value">something</p>"#) && !second.body.contains("flash"),
        "shown once: {second:?}"
    );
    let mut all = agent.get("/kv").await.json();
    take_login_keys(&mut all, "Ada");
    assert_eq!(
        all,
        json!({"user": {"name": "Ada"}, "is_authenticated": true, "test_key": "something"}),
        "taking the greeting removed it from the store"
    );

    let unseen = app.agent();
    assert_eq!(unseen.post("/login", None).await.status, 200);
    assert_eq!(unseen.post("/logout", None).await.status, 200);
    let page = unseen.get("/").await;
    assert!(!page.body.contains("flash"), "{page:?}");
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

/// A write that loaded the session before a login and saves it after the login's id cycle
/// failed halfway (the old record taken, the new one never created) cannot be delivered: it
/// waits for the cycle to name the new id (ten seconds), then is an opaque 500, never a 204
/// for a change that was dropped.
pub async fn a_write_racing_a_failed_login_is_a_500_not_a_lost_204(fw: Framework) {
    let store = Arc::new(LoginFailingStore::default());
    let storage = Storage::Server(store.clone());
    let app = Harness::start_with(fw, StoreKind::Memory, storage, test_config()).await;
    let agent = with_session(&app).await;
    let old = agent.cookie().expect("a session cookie");

    let writer = spawn_put(&agent, &old, "late".to_owned(), json!(1));
    store.write_is_waiting().await;
    let login = agent.with_cookie(&old).post("/login", None).await;
    assert_eq!(login.status, 500, "the login fails halfway: {login:?}");

    let write = writer.await.expect("the writer");
    assert_eq!(
        (write.status, write.body.as_str()),
        (500, "Internal Server Error"),
        "{write:?}"
    );
    assert!(write.set_cookies.is_empty(), "{write:?}");
    assert!(
        logs::contain("the cycle did not name the new id in time"),
        "the dropped write is logged"
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

/// The `name=value` pair a write response set, if any; panics if it is the `old` id coming
/// back (a late write must never undo a cycle or a destroy in the browser).
fn new_pair_unless_old(reply: &Reply, old: &str) -> Option<String> {
    let set_cookie = reply.session_cookie()?;
    assert_ne!(
        pair(set_cookie),
        old,
        "a write response sent back the id another request replaced: {reply:?}"
    );
    Some(pair(set_cookie).to_owned())
}

/// Sends `PUT /kv/{key}` with `value` from a client of its own that has only `cookie`.
fn spawn_put(
    agent: &Agent,
    cookie: &str,
    key: String,
    value: serde_json::Value,
) -> JoinHandle<Reply> {
    let writer = agent.with_cookie(cookie);
    tokio::spawn(async move { writer.put(&format!("/kv/{key}"), &value.to_string()).await })
}

/// Starts `count` requests on the session behind `old` (`send(i)` starts the `i`th, from a
/// client of its own) with a login (`POST /login` as Ada, which cycles the id) sent after the
/// first half of them. Returns the cookie pair the login set, once it has answered 200, and the
/// requests, which may still be running.
async fn with_a_login_among(
    agent: &Agent,
    old: &str,
    count: usize,
    send: impl Fn(usize) -> JoinHandle<Reply>,
) -> (String, Vec<JoinHandle<Reply>>) {
    with_a_login_among_as(agent, old, r#"{"name":"Ada"}"#, count, send).await
}

/// [`with_a_login_among`], logging in with `body`.
async fn with_a_login_among_as(
    agent: &Agent,
    old: &str,
    body: &'static str,
    count: usize,
    send: impl Fn(usize) -> JoinHandle<Reply>,
) -> (String, Vec<JoinHandle<Reply>>) {
    let mut requests = Vec::new();
    let mut login = None;
    for i in 0..count {
        if i == count / 2 {
            let cycler = agent.with_cookie(old);
            login = Some(tokio::spawn(async move {
                cycler.post("/login", Some(body)).await
            }));
        }
        requests.push(send(i));
    }
    let login = login
        .expect("the login was sent")
        .await
        .expect("the login finished");
    assert_eq!(login.status, 200, "{login:?}");
    let new = pair(login.session_cookie().expect("the login sends the new id")).to_owned();
    (new, requests)
}

/// Every key and value the session behind `cookie` holds (`GET /kv`).
async fn kv(agent: &Agent, cookie: &str) -> serde_json::Map<String, serde_json::Value> {
    let reply = agent.get_with_cookie("/kv", cookie).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    match reply.json() {
        serde_json::Value::Object(map) => map,
        other => panic!("GET /kv is not an object: {other}"),
    }
}

/// Forty requests on one session, writing different keys (and one key they share), with a
/// login (which cycles the id) sent among them: with the cookie the login set, every key of a
/// write that loaded the session before the cycle is there. A write that arrived after the
/// cycle got a fresh session of its own (and its cookie), holding nothing of the old one; no
/// write response sends the old id back.
pub async fn writers_racing_a_cycle_lose_no_key(fw: Framework, store: StoreKind) {
    assert!(store.is_server_side(), "only server-side ids can be cycled");
    racing_a_cycle(&Harness::start(fw, store).await, None).await;
}

/// The same race on a slow store (40 ms before every call, as a distant server answers) and
/// a large session (a 40 KiB value): the cycle takes far longer than the writers, which must
/// wait for it to name the new id rather than drop their writes after answering 204.
pub async fn writers_racing_a_slow_cycle_of_a_large_session_lose_no_key(
    fw: Framework,
    store: StoreKind,
) {
    assert!(store.is_server_side(), "only server-side ids can be cycled");
    let slow = SlowStore::wrap(store.open().await, std::time::Duration::from_millis(40));
    let app = Harness::start_with(fw, store, slow, test_config()).await;
    racing_a_cycle(&app, Some(json!("b".repeat(40 * 1024)))).await;
}

/// Forty writers with the session's cookie, and a login (`cycle_id`) sent among them; with
/// `ballast`, the session also holds it under the key `ballast` first.
async fn racing_a_cycle(app: &Harness, ballast: Option<serde_json::Value>) {
    const WRITERS: usize = 40;
    let agent = with_session(app).await;
    let old = agent.cookie().expect("a session cookie");
    if let Some(ballast) = &ballast {
        let reply = agent.put("/kv/ballast", &ballast.to_string()).await;
        assert_eq!(reply.status, 204, "{reply:?}");
    }
    // Odd writers write the shared key `same`, even ones a key of their own.
    let writes_same = |i: &usize| !i.is_multiple_of(2);
    let key_of = |i: usize| {
        if writes_same(&i) {
            "same".to_owned()
        } else {
            format!("k{i}")
        }
    };
    let (new, writers) = with_a_login_among(&agent, &old, WRITERS, |i| {
        spawn_put(&agent, &old, key_of(i), json!(i))
    })
    .await;
    assert_ne!(new, old, "the login must change the id");

    let mut followed = Vec::new();
    for (i, writer) in writers.into_iter().enumerate() {
        let reply = writer.await.expect("the writer finished");
        assert_eq!(reply.status, 204, "{reply:?}");
        match new_pair_unless_old(&reply, &old) {
            None => followed.push(i),
            Some(fresh) => {
                assert_ne!(fresh, new, "a plain write sent the cycled id: {reply:?}");
                assert_eq!(
                    kv(&agent, &fresh).await,
                    *json!({ key_of(i): i }).as_object().expect("an object"),
                    "a write after the cycle must get a fresh, empty session"
                );
            }
        }
    }

    let all = kv(&agent, &new).await;
    assert_eq!(all.get("test_key"), Some(&json!("something")), "{all:?}");
    assert_eq!(all.get("user"), Some(&json!({"name": "Ada"})), "{all:?}");
    assert_eq!(all.get("is_authenticated"), Some(&json!(true)), "{all:?}");
    assert_eq!(
        all.get("welcome"),
        Some(&json!("Welcome back, Ada")),
        "{all:?}"
    );
    let (shared, own): (Vec<usize>, Vec<usize>) = followed.into_iter().partition(writes_same);
    for i in &own {
        assert_eq!(
            all.get(&key_of(*i)),
            Some(&json!(i)),
            "k{i} was lost: {all:?}"
        );
    }
    match all.get("same") {
        Some(value) => assert!(
            shared.iter().any(|i| value == &json!(i)),
            "`same` is {value}, which no write that followed the cycle wrote: {shared:?}"
        ),
        None => assert!(shared.is_empty(), "`same` was lost: {all:?}"),
    }
    assert_eq!(all.get("ballast"), ballast.as_ref(), "the ballast was lost");
    // `test_key` and the login's `user`, `is_authenticated`, `welcome`, `__fresh_at`, `__owner`
    // and `__seen_at`.
    let expected_len =
        7 + own.len() + usize::from(!shared.is_empty()) + usize::from(ballast.is_some());
    assert_eq!(all.len(), expected_len, "keys from elsewhere: {all:?}");
    assert!(kv(&agent, &old).await.is_empty(), "the old id still works");
}

/// Thirty requests writing one key with distinct values, and thirty writing keys of their own,
/// all at once: the shared key ends with one of the values written, and every other key is
/// there.
pub async fn same_key_written_concurrently_ends_with_one_of_the_values(
    fw: Framework,
    store: StoreKind,
) {
    const WRITERS: usize = 30;
    assert!(
        store.is_server_side(),
        "only server-side records are merged"
    );
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let cookie = agent.cookie().expect("a session cookie");
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        writers.push(spawn_put(
            &agent,
            &cookie,
            "same".to_owned(),
            json!(format!("v{i}")),
        ));
        writers.push(spawn_put(&agent, &cookie, format!("k{i}"), json!(i)));
    }
    for writer in writers {
        let reply = writer.await.expect("the writer finished");
        assert_eq!(reply.status, 204, "{reply:?}");
        assert_eq!(
            new_pair_unless_old(&reply, &cookie),
            None,
            "a write to a live session keeps its id: {reply:?}"
        );
    }
    let all = kv(&agent, &cookie).await;
    let same = all
        .get("same")
        .and_then(|v| v.as_str())
        .expect("`same` was written");
    assert!(
        (0..WRITERS).any(|i| same == format!("v{i}")),
        "`same` is {same:?}, a value nobody wrote"
    );
    for i in 0..WRITERS {
        assert_eq!(
            all.get(&format!("k{i}")),
            Some(&json!(i)),
            "k{i} was lost: {all:?}"
        );
    }
    assert_eq!(all.get("test_key"), Some(&json!("something")));
    assert_eq!(all.len(), WRITERS + 2, "{all:?}");
}

/// Thirty writers and a destroy on one session at once: afterwards the old cookie gets an empty
/// session, and no write response carried a cookie that brings any of it back (a write that
/// arrived after the destroy got a fresh session holding only its own key).
pub async fn writers_racing_a_destroy_resurrect_nothing(fw: Framework, store: StoreKind) {
    const WRITERS: usize = 30;
    assert!(
        store.is_server_side(),
        "only server-side sessions can be revoked"
    );
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let old = agent.cookie().expect("a session cookie");
    let mut writers = Vec::new();
    let mut destroy = None;
    for i in 0..WRITERS {
        if i == WRITERS / 2 {
            let destroyer = agent.with_cookie(&old);
            destroy = Some(tokio::spawn(async move {
                destroyer.post("/test/destroy", None).await
            }));
        }
        writers.push(spawn_put(&agent, &old, format!("k{i}"), json!(i)));
    }
    let destroy = destroy
        .expect("the destroy was sent")
        .await
        .expect("the destroy finished");
    assert_eq!(destroy.status, 200, "{destroy:?}");
    let removal = destroy.session_cookie().expect("a removal cookie");
    assert!(
        attributes(removal).iter().any(|a| a == "max-age=0"),
        "{removal}"
    );

    for (i, writer) in writers.into_iter().enumerate() {
        let reply = writer.await.expect("the writer finished");
        assert_eq!(reply.status, 204, "{reply:?}");
        if let Some(fresh) = new_pair_unless_old(&reply, &old) {
            assert_eq!(
                kv(&agent, &fresh).await,
                *json!({ format!("k{i}"): i })
                    .as_object()
                    .expect("an object"),
                "a write after the destroy must get a fresh, empty session"
            );
        }
    }
    assert!(
        kv(&agent, &old).await.is_empty(),
        "the destroyed session came back"
    );
    assert!(
        agent
            .get_with_cookie("/", &old)
            .await
            .body
            .contains(NO_VALUE)
    );
}

/// Two sessions, each logging in (a cycle) while twenty writes and twenty reads run on each at
/// once: every read answers with its own session's keys and values only, and each session
/// ends with its own keys only.
pub async fn concurrent_sessions_never_see_each_other(fw: Framework, store: StoreKind) {
    const REQUESTS: usize = 20;
    assert!(
        store.is_server_side(),
        "only server-side sessions share a store"
    );
    let app = Harness::start(fw, store).await;
    let mut sessions = Vec::new();
    for owner in ["ann", "bob"] {
        let agent = app.agent();
        assert_eq!(
            agent
                .put("/kv/owner", &json!(owner).to_string())
                .await
                .status,
            204
        );
        let cookie = agent.cookie().expect("a session cookie");
        sessions.push((owner, agent, cookie));
    }
    // A body read from `owner`'s session: its keys and values are all `owner`'s.
    let check = |owner: &str, body: &serde_json::Map<String, serde_json::Value>| {
        for (key, value) in body {
            let own = match key.as_str() {
                "owner" => value == &json!(owner),
                "user" => value == &json!({ "name": owner }),
                "is_authenticated" => value == &json!(true),
                "welcome" => value == &json!(format!("Welcome back, {owner}")),
                "__fresh_at" | "__seen_at" => value.is_i64(),
                "__owner" => value == &json!(owner),
                key => key.strip_prefix(owner).is_some_and(|i| value == &json!(i)),
            };
            assert!(own, "{owner}'s session shows {key} = {value}: {body:?}");
        }
    };

    let mut tasks = Vec::new();
    for (owner, agent, cookie) in &sessions {
        for i in 0..REQUESTS {
            tasks.push((
                *owner,
                spawn_put(agent, cookie, format!("{owner}{i}"), json!(i.to_string())),
            ));
            let reader = agent.with_cookie(cookie);
            tasks.push((*owner, tokio::spawn(async move { reader.get("/kv").await })));
            if i == REQUESTS / 2 {
                let cycler = agent.with_cookie(cookie);
                let body = json!({ "name": owner }).to_string();
                tasks.push((
                    *owner,
                    tokio::spawn(async move { cycler.post("/login", Some(&body)).await }),
                ));
            }
        }
    }
    let mut new_cookies = Vec::new();
    for (owner, task) in tasks {
        let reply = task.await.expect("the request finished");
        assert!(matches!(reply.status, 200 | 204), "{reply:?}");
        if reply.status == 200 && reply.body.starts_with('{') {
            let body = reply.json();
            let body = body.as_object().expect("an object");
            // The login's own answer is a status object; every other body is `GET /kv`.
            if body.get("status") != Some(&json!("logged in")) {
                check(owner, body);
            } else {
                let cookie = reply.session_cookie().expect("the login sends the new id");
                new_cookies.push((owner, pair(cookie).to_owned()));
            }
        }
    }
    assert_eq!(new_cookies.len(), 2, "both logins answered");
    for (owner, cookie) in new_cookies {
        let all = kv(&sessions[0].1, &cookie).await;
        check(owner, &all);
        assert_eq!(all.get("owner"), Some(&json!(owner)), "{all:?}");
    }
}

/// A session cannot grow without bound: a write that takes it over its byte limit, or past its
/// key limit, is a 413 with a JSON error and changes nothing, on every store (the example's
/// limits here: the default 64 KiB, and 3 keys).
pub async fn oversized_session_is_refused_with_413(fw: Framework, store: StoreKind) {
    let config = test_config().with_max_keys(3);
    let app = Harness::start_with(fw, store, store.open().await, config).await;
    let agent = app.agent();
    let huge = format!("\"{}\"", "x".repeat(70 * 1024));
    let reply = agent.put("/kv/huge", &huge).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(
        reply.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit")),
        "{reply:?}"
    );
    assert_eq!(
        agent.get("/kv/huge").await.status,
        404,
        "nothing was stored"
    );

    for key in ["a", "b", "c"] {
        let reply = agent.put(&format!("/kv/{key}"), "1").await;
        assert_eq!(reply.status, 204, "{key}: {reply:?}");
    }
    let reply = agent.put("/kv/d", "1").await;
    assert_eq!(reply.status, 413, "a fourth key: {reply:?}");
    assert_eq!(
        agent.get("/kv").await.json(),
        json!({"a": 1, "b": 1, "c": 1})
    );
    assert_eq!(
        agent.put("/kv/a", "2").await.status,
        204,
        "replacing a key is fine"
    );

    // Growing one session by repeated writes stops at the limit.
    let chunk = format!("\"{}\"", "y".repeat(30 * 1024));
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for key in ["a", "b", "c"] {
            statuses.push(agent.put(&format!("/kv/{key}"), &chunk).await.status);
        }
        statuses
    };
    assert!(statuses.contains(&413), "{statuses:?}");
    let all = agent.get("/kv").await;
    assert_eq!(all.status, 200, "{all:?}");
    assert!(
        all.body.len() <= 64 * 1024,
        "{} bytes stored",
        all.body.len()
    );
}

/// The raw `/kv` routes cannot write the typed login state: forging `user` and
/// `is_authenticated` is a 403, so `/profile` stays 401, and a logged-in user's state cannot be
/// deleted behind `/logout`'s back.
pub async fn kv_cannot_forge_the_login_state(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    let forged = agent.put("/kv/user", r#"{"name": "Mallory"}"#).await;
    assert_eq!(forged.status, 403, "{forged:?}");
    assert_eq!(agent.put("/kv/is_authenticated", "true").await.status, 403);
    let profile = agent.get("/profile").await;
    assert_eq!(profile.status, 401, "{profile:?}");

    assert_eq!(
        agent.post("/login", Some(r#"{"name":"Ada"}"#)).await.status,
        200
    );
    assert_eq!(agent.delete("/kv/user").await.status, 403);
    assert_eq!(
        agent.put("/kv/user", r#"{"name": "Mallory"}"#).await.status,
        403
    );
    assert_eq!(
        agent.get("/profile").await.json(),
        json!({"user": {"name": "Ada"}})
    );
}

/// A cookie copied before logout (a stolen cookie, say) and replayed every twelve hours, keeping
/// whatever cookie the server hands back: server-side stores refuse it at once; the cookie
/// store cannot revoke it, but it dies seven days after login (the default cookie-store
/// lifetime) instead of being re-issued forever.
pub async fn a_cookie_copied_before_logout_dies(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    assert_eq!(
        agent.post("/login", Some(r#"{"name":"Ada"}"#)).await.status,
        200
    );
    let mut copy = agent.cookie().expect("a session cookie after login");
    assert_eq!(agent.post("/logout", None).await.status, 200);
    assert_eq!(agent.get("/profile").await.status, 401);

    let mut replays_served = 0;
    for _ in 0..30 {
        let reply = agent.get_with_cookie("/profile", &copy).await;
        if reply.status != 200 {
            assert_eq!(reply.status, 401, "{reply:?}");
            break;
        }
        replays_served += 1;
        if let Some(set_cookie) = reply.session_cookie() {
            copy = pair(set_cookie).to_owned();
        }
        app.advance(12 * 60 * 60);
    }
    let expected = match store {
        // Replays at 0 h, 12 h, ..., 6.5 days; at 7 days the cookie is dead.
        StoreKind::Cookie => 14,
        _ => 0,
    };
    assert_eq!(
        replays_served, expected,
        "replays of the pre-logout cookie served"
    );
}

/// `POST /kv/{key}/incr` counts from 1, returns the new value and keeps it; a value that is
/// not an integer, or one at the top of its range, is a 409 that changes nothing; a key of the
/// login state is refused with 403.
pub async fn counters_count_and_refuse_what_is_not_an_integer(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    let first = agent.post("/kv/n/incr", None).await;
    assert_eq!((first.status, first.json()), (200, json!(1)), "{first:?}");
    assert!(first.session_cookie().is_some(), "a new session: {first:?}");
    let second = agent.post("/kv/n/incr", None).await;
    assert_eq!(
        (second.status, second.json()),
        (200, json!(2)),
        "{second:?}"
    );
    assert_eq!(agent.get("/kv/n").await.json(), json!(2));

    for (value, why) in [
        (json!("text"), "a string"),
        (json!(1.5), "a fraction"),
        (json!(i64::MAX), "the largest i64"),
    ] {
        let reply = agent.put("/kv/odd", &value.to_string()).await;
        assert_eq!(reply.status, 204, "{reply:?}");
        let reply = agent.post("/kv/odd/incr", None).await;
        assert_eq!(reply.status, 409, "incrementing {why}: {reply:?}");
        assert!(
            reply.json()["error"]
                .as_str()
                .is_some_and(|e| e.contains("odd")),
            "the error names the key: {reply:?}"
        );
        assert_eq!(
            agent.get("/kv/odd").await.json(),
            value,
            "{why} was changed"
        );
    }
    let reply = agent.post("/kv/user/incr", None).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(agent.get("/kv/n").await.json(), json!(2));
}

/// Fifty concurrent `POST /kv/n/incr` on one session: every response carries a different
/// count, from 1 to 50, and the session ends at exactly 50 (a get-then-set counter keeps only
/// a few of them).
pub async fn fifty_concurrent_increments_are_all_counted(fw: Framework, store: StoreKind) {
    assert!(
        store.is_server_side(),
        "the cookie store's record is the cookie: concurrent responses replace each other"
    );
    const COUNTERS: i64 = 50;
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let cookie = agent.cookie().expect("a session cookie");
    let counters: Vec<_> = (0..COUNTERS)
        .map(|_| {
            let counter = agent.with_cookie(&cookie);
            tokio::spawn(async move { counter.post("/kv/n/incr", None).await })
        })
        .collect();
    let mut counts = Vec::new();
    for counter in counters {
        let reply = counter.await.expect("the counter finished");
        assert_eq!(reply.status, 200, "{reply:?}");
        if let Some(set_cookie) = reply.session_cookie() {
            assert_eq!(pair(set_cookie), cookie, "the id does not change");
        }
        counts.push(reply.json().as_i64().expect("a count"));
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=COUNTERS).collect::<Vec<_>>(),
        "two increments saw the same count, so one was lost"
    );
    let all = kv(&agent, &cookie).await;
    assert_eq!(all.get("n"), Some(&json!(COUNTERS)), "{all:?}");
    assert_eq!(all.get("test_key"), Some(&json!("something")), "{all:?}");
}

/// Forty increments on one session with a login (which cycles the id) sent among them: with
/// the login's cookie, the count is exactly the number of increments that loaded the session
/// before the cycle (those whose response sets no cookie), each of which saw its own count.
/// One that arrived after the cycle got a fresh session of its own, counting from 1.
pub async fn increments_racing_a_login_are_all_counted(fw: Framework, store: StoreKind) {
    assert!(store.is_server_side(), "only server-side ids can be cycled");
    const COUNTERS: usize = 40;
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let old = agent.cookie().expect("a session cookie");
    let (new, counters) = with_a_login_among(&agent, &old, COUNTERS, |_| {
        let counter = agent.with_cookie(&old);
        tokio::spawn(async move { counter.post("/kv/n/incr", None).await })
    })
    .await;

    let mut followed = Vec::new();
    for counter in counters {
        let reply = counter.await.expect("the counter finished");
        assert_eq!(reply.status, 200, "{reply:?}");
        let count = reply.json().as_i64().expect("a count");
        match new_pair_unless_old(&reply, &old) {
            None => followed.push(count),
            Some(fresh) => {
                assert_eq!(count, 1, "a fresh session counts from 1: {reply:?}");
                assert_eq!(
                    kv(&agent, &fresh).await,
                    *json!({"n": 1}).as_object().expect("an object"),
                    "an increment after the cycle gets a fresh session"
                );
            }
        }
    }
    followed.sort_unstable();
    let expected: Vec<i64> = (1..=followed.len() as i64).collect();
    assert_eq!(followed, expected, "two increments saw the same count");
    let all = kv(&agent, &new).await;
    assert_eq!(
        all.get("n")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        followed.len() as i64,
        "increments racing the login were lost: {all:?}"
    );
    assert_eq!(all.get("user"), Some(&json!({"name": "Ada"})), "{all:?}");
    assert!(kv(&agent, &old).await.is_empty(), "the old id still works");
}

/// `GET /sudo` passes within five minutes of a login and refuses an older one (403) while the
/// user stays logged in; a client cannot forge the login's time through `/kv`; logging in
/// again makes it pass; after logout it is a 401.
pub async fn a_recent_login_passes_the_sudo_check_and_an_old_one_does_not(
    fw: Framework,
    store: StoreKind,
) {
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    assert_eq!(agent.get("/sudo").await.status, 401);
    let login = agent.post("/login", Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(login.status, 200, "{login:?}");
    let reply = agent.get("/sudo").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["fresh"], json!(true), "{reply:?}");
    assert!(reply.json()["since"].is_i64(), "{reply:?}");

    let window = i64::try_from(session_examples::app::SUDO_WINDOW_SECS).expect("small");
    app.advance(window + 1);
    let reply = agent.get("/sudo").await;
    assert_eq!(
        reply.status, 403,
        "a login older than the window: {reply:?}"
    );
    assert_eq!(agent.get("/profile").await.status, 200, "still logged in");
    // The engine's clock is ahead by the window; claim a login at either time.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for forged in [now.to_string(), (now + window + 1).to_string()] {
        let reply = agent.put("/kv/__fresh_at", &forged).await;
        assert_eq!(reply.status, 403, "forging the login time: {reply:?}");
    }
    assert_eq!(agent.get("/sudo").await.status, 403, "still stale");

    assert_eq!(
        agent.post("/login", Some(r#"{"name":"Ada"}"#)).await.status,
        200
    );
    assert_eq!(agent.get("/sudo").await.status, 200, "a new login is fresh");
    assert_eq!(agent.post("/logout", None).await.status, 200);
    assert_eq!(agent.get("/sudo").await.status, 401);
    assert!(
        agent.get("/kv").await.json().get("__fresh_at").is_none(),
        "logout forgets the login time"
    );
}

/// Ten concurrent `GET /` right after a login: exactly one of them shows the greeting (a flash
/// is taken in the store at once), and later pages do not.
pub async fn a_flash_is_shown_once_to_concurrent_requests(fw: Framework, store: StoreKind) {
    assert!(
        store.is_server_side(),
        "the cookie store's record is the cookie: each concurrent request holds its own copy"
    );
    let app = Harness::start(fw, store).await;
    let agent = app.agent();
    let login = agent.post("/login", Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(login.status, 200, "{login:?}");
    let cookie = agent.cookie().expect("a session cookie");
    let pages: Vec<_> = (0..10)
        .map(|_| {
            let reader = agent.with_cookie(&cookie);
            tokio::spawn(async move { reader.get("/").await })
        })
        .collect();
    let mut greeted = 0;
    for page in pages {
        let reply = page.await.expect("the page finished");
        assert_eq!(reply.status, 200, "{reply:?}");
        greeted += usize::from(reply.body.contains("Welcome back, Ada"));
    }
    assert_eq!(greeted, 1, "the greeting was shown {greeted} times");
    assert!(!agent.get("/").await.body.contains("Welcome back"));
}

/// The `Max-Age` of a `Set-Cookie` value, if it has one.
fn max_age(set_cookie: &str) -> Option<i64> {
    attributes(set_cookie).iter().find_map(|attribute| {
        attribute
            .strip_prefix("max-age=")
            .map(|value| value.parse().expect("a number of seconds"))
    })
}

/// Logs a new client in with `body` and returns it with the login's `Set-Cookie` value.
async fn logged_in_as(app: &Harness, body: &str) -> (Agent, String) {
    let agent = app.agent();
    let login = agent.post("/login", Some(body)).await;
    assert_eq!(login.status, 200, "{login:?}");
    let cookie = login.session_cookie().expect("a login sets a cookie");
    (agent, cookie.to_owned())
}

const DAY: i64 = 24 * 60 * 60;

/// "Remember me" (`POST /login` with `"remember": true`): a 30-day cookie, and a session that
/// outlives the configured day of idleness, up to 30 days after the login. With
/// `"remember": false`, a cookie without `Max-Age` and the configured expiry; without the
/// field, the defaults. Logout goes back to the default lifetime, and `/kv` cannot forge one.
pub async fn remember_me_keeps_the_session_past_the_idle_timeout(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let (remembered, cookie) = logged_in_as(&app, r#"{"name":"Ada","remember":true}"#).await;
    assert_eq!(max_age(&cookie), Some(30 * DAY), "{cookie}");
    let (browser, cookie) = logged_in_as(&app, r#"{"name":"Bob","remember":false}"#).await;
    assert_eq!(max_age(&cookie), None, "a browser-session cookie: {cookie}");
    let (plain, cookie) = logged_in_as(&app, r#"{"name":"Cy"}"#).await;
    assert_eq!(max_age(&cookie), Some(DAY), "{cookie}");
    for forged in ["3650000000", r#""browser-session""#] {
        let reply = plain.put("/kv/__lifetime", forged).await;
        assert_eq!(reply.status, 403, "forging a lifetime: {reply:?}");
    }

    app.advance(2 * DAY);
    assert_eq!(
        remembered.get("/profile").await.status,
        200,
        "remembered past a day idle"
    );
    assert_eq!(
        plain.get("/profile").await.status,
        401,
        "a day idle ends it"
    );
    assert_eq!(
        browser.get("/profile").await.status,
        401,
        "the server keeps the configured expiry of a browser-session cookie"
    );

    // Visits ten days apart keep it; 30 days after the login it ends, however active.
    for _ in 0..2 {
        app.advance(10 * DAY);
        assert_eq!(remembered.get("/profile").await.status, 200);
    }
    app.advance(8 * DAY + 60);
    assert_eq!(
        remembered.get("/profile").await.status,
        401,
        "30 days after the login"
    );

    // Logout cycles the id and goes back to the default lifetime.
    let (agent, _) = logged_in_as(&app, r#"{"name":"Ada","remember":true}"#).await;
    let logout = agent.post("/logout", None).await;
    assert_eq!(logout.status, 200, "{logout:?}");
    if let Some(cookie) = logout.session_cookie() {
        assert_ne!(max_age(cookie), Some(30 * DAY), "{cookie}");
    }
}

/// Twenty writes on one session, with a "remember me" login among them: the writes that
/// loaded the session before the login follow it to the new id without putting back the one
/// day of idleness they knew of, so two days later the user is still logged in, with them.
pub async fn writes_racing_a_remember_me_login_keep_its_lifetime(fw: Framework, store: StoreKind) {
    assert!(store.is_server_side(), "only server-side ids can be cycled");
    const WRITERS: usize = 20;
    let app = Harness::start(fw, store).await;
    let agent = with_session(&app).await;
    let old = agent.cookie().expect("a session cookie");
    let (new, writers) = with_a_login_among_as(
        &agent,
        &old,
        r#"{"name":"Ada","remember":true}"#,
        WRITERS,
        |i| {
            let writer = agent.with_cookie(&old);
            tokio::spawn(async move { writer.put(&format!("/kv/w{i}"), "true").await })
        },
    )
    .await;
    let mut followed = Vec::new();
    for (i, writer) in writers.into_iter().enumerate() {
        let reply = writer.await.expect("the writer finished");
        assert_eq!(reply.status, 204, "{reply:?}");
        if new_pair_unless_old(&reply, &old).is_none() {
            followed.push(format!("w{i}"));
        }
    }
    app.advance(2 * DAY);
    let profile = agent.get_with_cookie("/profile", &new).await;
    assert_eq!(
        profile.status, 200,
        "a racing write cut the remembered session to a day: {profile:?}"
    );
    let all = kv(&agent, &new).await;
    for key in &followed {
        assert_eq!(all.get(key), Some(&json!(true)), "{key} lost: {all:?}");
    }
}

/// The app with sessions also carried in `Authorization: Bearer` (new tokens in the
/// `Session-Token` response header), besides the cookie.
async fn with_bearer_tokens(fw: Framework, store: StoreKind) -> Harness {
    let config = test_config().with_token_header(session_core::TokenHeader::bearer());
    Harness::start_with(fw, store, store.open().await, config).await
}

/// The token `reply` sent, asserting it came in the token header and not in a cookie.
fn token_of(reply: &Reply) -> String {
    assert!(
        reply.set_cookies.is_empty(),
        "no cookie for an API client: {reply:?}"
    );
    let token = reply.session_token().expect("a token in Session-Token");
    assert!(
        !token.is_empty() && !token.contains(';'),
        "a bare token: {reply:?}"
    );
    token.to_owned()
}

/// An API client without cookies keeps its session in a bearer token: the first write sends
/// the token in `Session-Token` (no `Set-Cookie`), reads send nothing, a login sends a new
/// token and the old one stops working (on a server-side store), the end of the session sends
/// an empty one, and a tampered token gets a fresh session. A browser on the same app still gets its cookie, and
/// no token header.
pub async fn an_api_client_keeps_its_session_in_a_bearer_token(fw: Framework, store: StoreKind) {
    let app = with_bearer_tokens(fw, store).await;
    let api = app.api_client();
    let reply = api.put("/kv/cart", "[1]").await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let first = token_of(&reply);
    assert_eq!(
        reply.cache_control.as_deref(),
        Some("private"),
        "no shared cache keeps a token: {reply:?}"
    );
    let reply = api.get("/kv/cart").await;
    assert_eq!((reply.status, reply.json()), (200, json!([1])), "{reply:?}");
    assert_eq!(
        reply.session_token(),
        None,
        "a read sends no token: {reply:?}"
    );

    let login = api.post("/login", Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(login.status, 200, "{login:?}");
    let second = token_of(&login);
    assert_ne!(first, second, "a login gives a new token");
    assert_eq!(api.get("/profile").await.status, 200);
    // A cookie-store token holds the session itself, so an old copy cannot be revoked (as with
    // its cookie); a server-side id can.
    let stale = api.with_token(&first);
    if store.is_server_side() {
        assert_eq!(
            stale.get("/kv").await.json(),
            json!({}),
            "the old token is dead"
        );
    }

    let mut tampered = second.clone();
    let last = tampered.pop().expect("a token");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let forged = api.with_token(&tampered);
    assert_eq!(forged.get("/profile").await.status, 401);

    let ended = api.post("/test/destroy", None).await;
    assert_eq!(ended.status, 200, "{ended:?}");
    assert_eq!(
        ended.session_token(),
        Some(""),
        "an empty token ends it: {ended:?}"
    );
    assert_eq!(api.token(), None);
    if store.is_server_side() {
        assert_eq!(api.with_token(&second).get("/profile").await.status, 401);
    }

    let browser = app.agent();
    let reply = browser.get("/set").await;
    assert!(reply.session_cookie().is_some(), "{reply:?}");
    assert_eq!(
        reply.session_token(),
        None,
        "no token for a browser: {reply:?}"
    );
}

/// Twenty concurrent increments from API clients sharing one bearer token are all counted.
pub async fn concurrent_increments_over_a_bearer_token_are_all_counted(
    fw: Framework,
    store: StoreKind,
) {
    assert!(store.is_server_side(), "a shared record to increment");
    const COUNTERS: i64 = 20;
    let app = with_bearer_tokens(fw, store).await;
    let api = app.api_client();
    token_of(&api.put("/kv/seen", "true").await);
    let token = api.token().expect("a token");
    let counters: Vec<_> = (0..COUNTERS)
        .map(|_| {
            let client: ApiClient = api.with_token(&token);
            tokio::spawn(async move { client.post("/kv/n/incr", None).await })
        })
        .collect();
    let mut counts = Vec::new();
    for counter in counters {
        let reply = counter.await.expect("the counter finished");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.session_token(),
            None,
            "the token did not change: {reply:?}"
        );
        counts.push(reply.json().as_i64().expect("a count"));
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=COUNTERS).collect::<Vec<_>>());
    assert_eq!(api.get("/kv/n").await.json(), json!(COUNTERS));
}

/// `GET /sessions` from `agent`: the user's sessions, asserting a 200 and the entries' shape.
async fn listed_sessions(agent: &Agent) -> Vec<serde_json::Value> {
    let reply = agent.get("/sessions").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let serde_json::Value::Array(sessions) = reply.json() else {
        panic!("GET /sessions is not an array: {reply:?}");
    };
    for info in &sessions {
        let handle = info["handle"].as_str().expect("a handle");
        assert!(
            handle.len() == 64 && handle.bytes().all(|b| b.is_ascii_hexdigit()),
            "a digest, never a token: {info}"
        );
        let time = |name: &str| {
            info[name]
                .as_i64()
                .unwrap_or_else(|| panic!("{name}: {info}"))
        };
        assert!(
            time("createdAt") <= time("lastSeen") && time("lastSeen") < time("expiresAt"),
            "{info}"
        );
    }
    assert!(
        sessions
            .iter()
            .filter(|info| info["current"] == json!(true))
            .count()
            <= 1,
        "{sessions:?}"
    );
    sessions
}

/// A user logged in on three devices sees three sessions (the asking one current), whatever
/// another user does; logging in again on one device keeps three, logging out of one leaves
/// two, an expired one is not listed, and `POST /logout-everywhere` ends them all, not the other
/// user's. `/kv` cannot claim a place among someone's sessions. On the cookie store, which keeps
/// nothing on the server, both routes are a 501 that says why.
pub async fn a_user_sees_their_sessions_and_logs_out_everywhere(fw: Framework, store: StoreKind) {
    let app = Harness::start(fw, store).await;
    let anonymous = app.agent();
    assert_eq!(anonymous.get("/sessions").await.status, 401);
    assert_eq!(anonymous.post("/logout-everywhere", None).await.status, 401);
    let (phone, _) = logged_in_as(&app, r#"{"name":"Ada"}"#).await;
    if !store.is_server_side() {
        for reply in [
            phone.get("/sessions").await,
            phone.post("/logout-everywhere", None).await,
        ] {
            assert_eq!(reply.status, 501, "{reply:?}");
            assert!(reply.body.contains("server-side store"), "{reply:?}");
        }
        return;
    }
    let (laptop, _) = logged_in_as(&app, r#"{"name":"Ada"}"#).await;
    let (tablet, _) = logged_in_as(&app, r#"{"name":"Ada"}"#).await;
    let (bob, _) = logged_in_as(&app, r#"{"name":"Bob"}"#).await;
    let listed = listed_sessions(&laptop).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let current = |sessions: &[serde_json::Value]| -> String {
        let mine = sessions.iter().find(|info| info["current"] == json!(true));
        mine.expect("the asking session is current")["handle"]
            .as_str()
            .expect("a handle")
            .to_owned()
    };
    let before = current(&listed);
    assert_eq!(listed_sessions(&bob).await.len(), 1);

    let relogin = laptop.post("/login", Some(r#"{"name":"Ada"}"#)).await;
    assert_eq!(relogin.status, 200, "{relogin:?}");
    let listed = listed_sessions(&laptop).await;
    assert_eq!(
        listed.len(),
        3,
        "a new id replaces the old entry: {listed:?}"
    );
    assert_ne!(current(&listed), before);

    assert_eq!(tablet.post("/logout", None).await.status, 200);
    assert_eq!(listed_sessions(&laptop).await.len(), 2, "logged out of one");
    for forged in [r#""Ada""#, "1"] {
        let reply = bob.put("/kv/__owner", forged).await;
        assert_eq!(reply.status, 403, "claiming Ada's sessions: {reply:?}");
    }
    assert_eq!(listed_sessions(&bob).await.len(), 1);

    let everywhere = laptop.post("/logout-everywhere", None).await;
    assert_eq!(everywhere.status, 200, "{everywhere:?}");
    assert_eq!(everywhere.json(), json!({"revoked": 2}));
    for agent in [&phone, &laptop] {
        assert_eq!(agent.get("/profile").await.status, 401, "revoked");
    }
    assert_eq!(
        bob.get("/profile").await.status,
        200,
        "another user's session"
    );

    let (stale, _) = logged_in_as(&app, r#"{"name":"Ada"}"#).await;
    app.advance(DAY + 60);
    assert_eq!(stale.get("/profile").await.status, 401, "expired");
    let (fresh, _) = logged_in_as(&app, r#"{"name":"Ada"}"#).await;
    assert_eq!(
        listed_sessions(&fresh).await.len(),
        1,
        "the expired one is not listed"
    );
}

/// Twenty devices of one user logging in at once are all listed, and a logout everywhere ends
/// every one of them.
pub async fn concurrent_logins_of_one_user_are_all_listed_and_revoked(
    fw: Framework,
    store: StoreKind,
) {
    assert!(
        store.is_server_side(),
        "only server-side sessions are listed"
    );
    const DEVICES: usize = 20;
    let app = Harness::start(fw, store).await;
    let logins: Vec<_> = (0..DEVICES)
        .map(|_| {
            let agent = app.agent();
            tokio::spawn(async move {
                let login = agent.post("/login", Some(r#"{"name":"Ada"}"#)).await;
                assert_eq!(login.status, 200, "{login:?}");
                agent
            })
        })
        .collect();
    let mut devices = Vec::new();
    for login in logins {
        devices.push(login.await.expect("the login finished"));
    }
    let listed = listed_sessions(&devices[0]).await;
    assert_eq!(
        listed.len(),
        DEVICES,
        "a concurrent login was left out: {listed:?}"
    );
    let everywhere = devices[0].post("/logout-everywhere", None).await;
    assert_eq!(
        everywhere.json(),
        json!({"revoked": DEVICES}),
        "{everywhere:?}"
    );
    for device in &devices {
        assert_eq!(device.get("/profile").await.status, 401);
    }
}
