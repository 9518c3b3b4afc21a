//! The Rocket adapter in process, through Rocket's local client: cookies, persistence, the typed
//! guard, server errors, the missing fairing and the opaque 500s.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rocket::http::{ContentType, CookieJar, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::time::OffsetDateTime;
use rocket::{Build, Rocket, get, post, routes};
use session_rocket::{
    Changes, IdDigest, KeyRing, MemoryStore, Record, Session, SessionConfig, SessionError,
    SessionFairing, SessionManager, SessionSchema, SessionStore, Storage, StoreError, Swap,
    TypedSession,
};
use tracing::instrument::WithSubscriber;

#[derive(SessionSchema)]
#[session(prefix = "auth.")]
struct Auth {
    #[session(renew_on_change)]
    user_id: u64,
    #[session(default)]
    visits: u32,
}

/// The same schema, with the derive told to go through this adapter's re-export explicitly
/// (in this crate's own tests it would otherwise find the `session-core` dependency first).
#[derive(SessionSchema)]
#[session(crate = "session_rocket", prefix = "auth.")]
struct AuthViaAdapter {
    user_id: u64,
}

#[get("/get")]
async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session.get::<String>("test_key").await?.unwrap_or_default())
}

#[get("/set")]
async fn set(session: Session) -> Result<&'static str, SessionError> {
    session.set("test_key", &"something").await?;
    Ok("set")
}

#[get("/untouched")]
fn untouched() -> &'static str {
    "hello"
}

#[get("/set-then-500")]
async fn set_then_500(session: Session) -> Result<(Status, &'static str), SessionError> {
    session.set("test_key", &"changed").await?;
    Ok((Status::InternalServerError, "boom"))
}

#[get("/set-then-503-catcher")]
async fn set_then_503_catcher(session: Session) -> Result<Status, SessionError> {
    session.set("test_key", &"changed").await?;
    Ok(Status::ServiceUnavailable)
}

#[get("/set-then-400-catcher")]
async fn set_then_400_catcher(session: Session) -> Result<Status, SessionError> {
    session.set("test_key", &"from a 400").await?;
    Ok(Status::BadRequest)
}

#[get("/with-own-cookie")]
async fn with_own_cookie(
    session: Session,
    jar: &CookieJar<'_>,
) -> Result<&'static str, SessionError> {
    jar.add(("flash", "hi"));
    session.set("test_key", &"something").await?;
    Ok("two cookies")
}

#[get("/wrong-type")]
async fn wrong_type(session: Session) -> Result<String, SessionError> {
    session.set("test_key", &"not a number").await?;
    let n: Option<u32> = session.get("test_key").await?;
    Ok(format!("{n:?}"))
}

#[post("/login")]
async fn login(auth: TypedSession<Auth>) -> Result<&'static str, SessionError> {
    auth.set_user_id(7).await?;
    auth.set_visits(auth.visits().await? + 1).await?;
    Ok("logged in")
}

#[get("/whoami")]
async fn whoami(auth: TypedSession<Auth>) -> Result<String, SessionError> {
    Ok(format!(
        "{:?} {}",
        auth.user_id().await?,
        auth.visits().await?
    ))
}

#[get("/whoami-via-adapter")]
async fn whoami_via_adapter(auth: TypedSession<AuthViaAdapter>) -> Result<String, SessionError> {
    Ok(format!("{:?}", auth.user_id().await?))
}

fn app(storage: impl Into<Storage>, fairing: bool) -> Rocket<Build> {
    let figment = rocket::Config::figment().merge(("log_level", "off"));
    let rocket = rocket::custom(figment).mount(
        "/",
        routes![
            read,
            set,
            untouched,
            set_then_500,
            set_then_503_catcher,
            set_then_400_catcher,
            with_own_cookie,
            wrong_type,
            login,
            whoami,
            whoami_via_adapter,
        ],
    );
    if !fairing {
        return rocket;
    }
    let config = SessionConfig::default();
    let manager = SessionManager::new(storage, KeyRing::generate(), config).expect("valid config");
    rocket.attach(SessionFairing::new(manager))
}

async fn client(storage: impl Into<Storage>) -> Client {
    Client::untracked(app(storage, true))
        .await
        .expect("valid rocket")
}

fn set_cookies(response: &LocalResponse<'_>) -> Vec<String> {
    response
        .headers()
        .get("Set-Cookie")
        .map(str::to_owned)
        .collect()
}

/// The start of our session cookie, `name=` (with the `__Host-` prefix the default config adds).
fn ours() -> String {
    format!("{}=", SessionConfig::default().cookie_name())
}

/// The `name=value` pair of our session cookie, as a browser would send it back.
fn session_pair(response: &LocalResponse<'_>) -> String {
    let cookies = set_cookies(response);
    let ours = cookies
        .iter()
        .find(|c| c.starts_with(&ours()))
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    ours.split(';')
        .next()
        .expect("a name=value pair")
        .to_owned()
}

async fn get_with(client: &Client, path: &'static str, pair: &str) -> (Status, String) {
    let response = client
        .get(path)
        .header(Header::new("Cookie", pair.to_owned()))
        .dispatch()
        .await;
    let status = response.status();
    (status, response.into_string().await.unwrap_or_default())
}

/// Runs `fut` with a `tracing` subscriber that writes into the returned buffer.
async fn with_log<F: Future>(fut: F) -> (F::Output, String) {
    #[derive(Clone)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture(Arc::default());
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let output = fut.with_subscriber(subscriber).await;
    let log = String::from_utf8_lossy(&capture.0.lock().expect("log buffer")).into_owned();
    (output, log)
}

async fn assert_opaque_500(response: LocalResponse<'_>) {
    assert_eq!(response.status(), Status::InternalServerError);
    assert_eq!(response.content_type(), Some(ContentType::Plain));
    assert_eq!(
        response.headers().get_one("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        set_cookies(&response).is_empty(),
        "no Set-Cookie on the opaque 500"
    );
    assert_eq!(
        response.into_string().await.as_deref(),
        Some("Internal Server Error")
    );
}

#[rocket::async_test]
async fn new_session_gets_a_cookie_with_safe_attributes() {
    let client = client(MemoryStore::new()).await;
    let response = client.get("/set").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with(&ours()), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing: {cookie}"
        );
    }
}

#[rocket::async_test]
async fn untouched_session_gets_no_cookie() {
    let client = client(MemoryStore::new()).await;
    let response = client.get("/untouched").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert!(set_cookies(&response).is_empty());
    // Read but not changed: still no cookie.
    let response = client.get("/get").dispatch().await;
    assert!(set_cookies(&response).is_empty());
}

#[rocket::async_test]
async fn value_set_in_one_request_is_read_in_the_next() {
    for storage in [Storage::from(MemoryStore::new()), Storage::Cookie] {
        let client = client(storage).await;
        let pair = session_pair(&client.get("/set").dispatch().await);
        assert_eq!(
            get_with(&client, "/get", &pair).await,
            (Status::Ok, "something".to_owned())
        );
    }
}

#[rocket::async_test]
async fn session_cookie_is_added_next_to_the_handlers_own() {
    let client = client(MemoryStore::new()).await;
    let response = client.get("/with-own-cookie").dispatch().await;
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies.iter().any(|c| c.starts_with("flash=hi")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with(&ours())),
        "{cookies:?}"
    );
}

#[rocket::async_test]
async fn typed_session_works_with_a_derived_struct() {
    let client = client(MemoryStore::new()).await;
    let response = client.post("/login").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let pair = session_pair(&response);
    assert_eq!(
        get_with(&client, "/whoami", &pair).await,
        (Status::Ok, "Some(7) 1".to_owned())
    );
    assert_eq!(
        get_with(&client, "/whoami-via-adapter", &pair).await,
        (Status::Ok, "Some(7)".to_owned())
    );
}

#[rocket::async_test]
async fn server_error_after_a_set_persists_nothing() {
    let client = client(MemoryStore::new()).await;
    // A new session: nothing is stored, so no cookie.
    let response = client.get("/set-then-500").dispatch().await;
    assert_eq!(response.status(), Status::InternalServerError);
    assert!(set_cookies(&response).is_empty());

    // An existing session keeps its old value, whether the 5xx comes from the handler's own
    // response or from a catcher.
    let pair = session_pair(&client.get("/set").dispatch().await);
    for path in ["/set-then-500", "/set-then-503-catcher"] {
        let response = client
            .get(path)
            .header(Header::new("Cookie", pair.clone()))
            .dispatch()
            .await;
        assert!(response.status().code >= 500, "{path}");
        assert!(set_cookies(&response).is_empty(), "{path}");
        assert_eq!(
            get_with(&client, "/get", &pair).await.1,
            "something",
            "{path}"
        );
    }
}

#[rocket::async_test]
async fn client_error_from_a_catcher_still_saves() {
    let client = client(MemoryStore::new()).await;
    let response = client.get("/set-then-400-catcher").dispatch().await;
    assert_eq!(response.status(), Status::BadRequest);
    let pair = session_pair(&response);
    assert_eq!(get_with(&client, "/get", &pair).await.1, "from a 400");
}

#[rocket::async_test]
async fn missing_fairing_is_a_500_without_detail() {
    let client = Client::untracked(app(MemoryStore::new(), false))
        .await
        .expect("valid rocket");
    let ((status, body), log) = with_log(async {
        let response = client.get("/get").dispatch().await;
        (
            response.status(),
            response.into_string().await.unwrap_or_default(),
        )
    })
    .await;
    assert_eq!(status, Status::InternalServerError);
    // Rocket's default 500 catcher page: a generic message, nothing about sessions.
    assert!(body.contains("Internal Server Error"), "{body}");
    assert!(!body.to_lowercase().contains("session"), "{body}");
    assert!(!body.contains("fairing"), "{body}");
    assert!(log.contains("ERROR"), "{log}");
    assert!(
        log.contains(".attach(SessionFairing::new(manager))"),
        "{log}"
    );

    // The typed guard fails the same way.
    let response = client.post("/login").dispatch().await;
    assert_eq!(response.status(), Status::InternalServerError);
}

/// A store whose `apply` always fails, with a detail that must stay out of responses.
#[derive(Debug)]
struct FailingApply(MemoryStore);

#[rocket::async_trait]
impl SessionStore for FailingApply {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        self.0.create(id, record).await
    }
    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        self.0.load(id).await
    }
    async fn apply(&self, _id: &IdDigest, _changes: &Changes) -> Result<bool, StoreError> {
        Err(StoreError::backend("secret-detail-xyz"))
    }
    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.0.touch(id, expires_at).await
    }
    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&serde_json::Value>,
        new: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError> {
        self.0.compare_and_set(id, key, expected, new).await
    }
    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        self.0.take(id).await
    }
    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.0.delete(id).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.0.delete_expired().await
    }
}

#[rocket::async_test]
async fn store_failure_is_an_opaque_500() {
    let client = client(FailingApply(MemoryStore::new())).await;
    // `create` works, so the first request gets a session...
    let pair = session_pair(&client.get("/set").dispatch().await);
    // ...and the second one changes it, which needs `apply`.
    let ((), log) = with_log(async {
        let response = client
            .get("/set")
            .header(Header::new("Cookie", pair))
            .dispatch()
            .await;
        assert_opaque_500(response).await;
    })
    .await;
    assert!(log.contains("could not save the session"), "{log}");
    // The whole chain, each part once (no layer repeats its source).
    assert!(
        log.contains(
            "error=the session store failed: the session store back end failed: secret-detail-xyz"
        ),
        "the detail goes to the log: {log}"
    );
    assert_eq!(log.matches("secret-detail-xyz").count(), 1, "{log}");
}

#[rocket::async_test]
async fn session_error_from_a_handler_is_an_opaque_500() {
    let client = client(MemoryStore::new()).await;
    let ((), log) = with_log(async {
        assert_opaque_500(client.get("/wrong-type").dispatch().await).await;
    })
    .await;
    assert!(log.contains("a session call failed"), "{log}");
    assert!(log.contains("test_key"), "{log}");
}

#[rocket::async_test]
async fn guard_used_before_the_fairing_ran_does_not_hide_the_session() {
    let early = rocket::fairing::AdHoc::on_request("early guard", |request, _| {
        Box::pin(async move {
            assert!(request.guard::<Session>().await.is_error());
        })
    });
    let rocket = app(MemoryStore::new(), false).attach(early);
    let manager = SessionManager::new(
        MemoryStore::new(),
        KeyRing::generate(),
        SessionConfig::default(),
    )
    .expect("valid config");
    let client = Client::untracked(rocket.attach(SessionFairing::new(manager)))
        .await
        .expect("valid rocket");
    let pair = session_pair(&client.get("/set").dispatch().await);
    assert_eq!(
        get_with(&client, "/get", &pair).await,
        (Status::Ok, "something".to_owned())
    );
}

#[rocket::async_test]
async fn tracked_local_client_sends_the_session_back() {
    let client = Client::tracked(app(MemoryStore::new(), true))
        .await
        .expect("valid rocket");
    client.get("/set").dispatch().await;
    let response = client.get("/get").dispatch().await;
    assert_eq!(response.into_string().await.as_deref(), Some("something"));
}
