//! The adapter in-process, through actix-web's test utilities: cookies, persistence, the typed
//! extractor, and the opaque 500s.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{COOKIE, SET_COOKIE};
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, web};
use session_actix::{
    Changes, IdDigest, KeyRing, MemoryStore, Record, Session, SessionConfig, SessionError,
    SessionManager, SessionMiddleware, SessionSchema, SessionStore, StoreError, Swap, TypedSession,
};
use time::OffsetDateTime;

const OPAQUE_BODY: &str = "Internal Server Error";

fn manager(store: impl SessionStore + 'static) -> SessionManager {
    SessionManager::new(store, KeyRing::generate(), SessionConfig::default())
        .expect("the default config is valid")
}

/// What a client sees of one response.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Reply {
    /// The `name=value` pair to send back in a `Cookie` header.
    fn cookie(&self) -> String {
        assert_eq!(self.set_cookies.len(), 1, "one Set-Cookie: {self:?}");
        self.set_cookies[0]
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Sends `req` and renders the result as the server would, an `Err` included.
async fn send<S, R, B>(app: &S, req: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let res = match app.call(req).await {
        Ok(res) => res.into_parts().1.map_into_boxed_body(),
        Err(error) => error.error_response(),
    };
    let header = |name| {
        res.headers()
            .get_all(name)
            .map(|v| v.to_str().expect("ASCII header").to_owned())
            .collect::<Vec<_>>()
    };
    let content_type = header(actix_web::http::header::CONTENT_TYPE).pop();
    let set_cookies = header(SET_COOKIE);
    let status = res.status();
    let body = actix_web::body::to_bytes(res.into_body())
        .await
        .expect("body");
    Reply {
        status,
        content_type,
        set_cookies,
        body: String::from_utf8(body.to_vec()).expect("UTF-8 body"),
    }
}

fn get(uri: &str, cookie: Option<&str>) -> actix_web::test::TestRequest {
    let req = TestRequest::get().uri(uri);
    match cookie {
        Some(cookie) => req.insert_header((COOKIE, cookie)),
        None => req,
    }
}

async fn set(session: Session) -> Result<&'static str, SessionError> {
    session.set("k", &"v").await?;
    Ok("set")
}

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session.get::<String>("k").await?.unwrap_or_default())
}

async fn untouched(_session: Session) -> &'static str {
    "untouched"
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/set", web::get().to(set))
        .route("/read", web::get().to(read))
        .route("/untouched", web::get().to(untouched));
}

#[actix_web::test]
async fn new_session_sets_a_cookie_read_back_on_the_next_request() {
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager(MemoryStore::new())))
            .configure(routes),
    )
    .await;

    let first = send(&app, get("/set", None).to_request()).await;
    assert_eq!(first.status, StatusCode::OK);
    let attributes = &first.set_cookies[0];
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(attribute), "{attributes}");
    }

    let cookie = first.cookie();
    let second = send(&app, get("/read", Some(&cookie)).to_request()).await;
    assert_eq!(second.body, "v");
    assert!(second.set_cookies.is_empty(), "read only: {second:?}");
}

#[actix_web::test]
async fn untouched_session_sets_no_cookie() {
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager(MemoryStore::new())))
            .configure(routes),
    )
    .await;
    let reply = send(&app, get("/untouched", None).to_request()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.set_cookies.is_empty(), "{reply:?}");
}

#[derive(SessionSchema)]
#[session(prefix = "auth.")]
struct Auth {
    #[session(renew_on_change)]
    user_id: u64,
    #[session(default)]
    visits: u32,
}

async fn login(TypedSession(auth): TypedSession<Auth>) -> Result<String, SessionError> {
    auth.set_user_id(7).await?;
    let visits = auth.visits().await? + 1;
    auth.set_visits(visits).await?;
    Ok(visits.to_string())
}

async fn whoami(auth: TypedSession<Auth>, raw: Session) -> Result<String, SessionError> {
    let user_id = auth.user_id().await?.unwrap_or_default();
    let raw_id = raw.get::<u64>("auth.user_id").await?.unwrap_or_default();
    Ok(format!("{user_id} {raw_id} {}", auth.visits().await?))
}

#[actix_web::test]
async fn typed_session_with_a_derived_schema() {
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager(MemoryStore::new())))
            .route("/login", web::post().to(login))
            .route("/whoami", web::get().to(whoami)),
    )
    .await;
    let login = send(&app, TestRequest::post().uri("/login").to_request()).await;
    assert_eq!((login.status, login.body.as_str()), (StatusCode::OK, "1"));
    let who = send(&app, get("/whoami", Some(&login.cookie())).to_request()).await;
    assert_eq!(who.body, "7 7 1");
}

async fn set_then_fail(session: Session) -> Result<HttpResponse, SessionError> {
    session.set("k", &"from a failed request").await?;
    Ok(HttpResponse::ServiceUnavailable().finish())
}

#[actix_web::test]
async fn server_error_response_persists_nothing() {
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager(MemoryStore::new())))
            .configure(routes)
            .route("/fail", web::get().to(set_then_fail)),
    )
    .await;
    let fresh = send(&app, get("/fail", None).to_request()).await;
    assert_eq!(fresh.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(fresh.set_cookies.is_empty(), "{fresh:?}");

    let cookie = send(&app, get("/set", None).to_request()).await.cookie();
    let failed = send(&app, get("/fail", Some(&cookie)).to_request()).await;
    assert!(failed.set_cookies.is_empty(), "{failed:?}");
    let after = send(&app, get("/read", Some(&cookie)).to_request()).await;
    assert_eq!(after.body, "v");
}

/// An inner middleware that runs the handler, then answers with an `Err` of the given status.
async fn err_after_handler<B: MessageBody + 'static>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let status = match req.path() {
        "/set" => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_GATEWAY,
    };
    next.call(req).await?;
    Err(actix_web::error::InternalError::new("rejected", status).into())
}

#[actix_web::test]
async fn errors_from_inner_services_pass_through_finish_with_their_status() {
    let store = MemoryStore::new();
    let manager = manager(store);
    let failing = test::init_service(
        App::new()
            .wrap(actix_web::middleware::from_fn(err_after_handler))
            .wrap(SessionMiddleware::new(manager.clone()))
            .configure(routes),
    )
    .await;
    let plain = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager))
            .configure(routes),
    )
    .await;

    // A 4xx error still saves the session and carries its cookie.
    let rejected = send(&failing, get("/set", None).to_request()).await;
    assert_eq!(rejected.status, StatusCode::FORBIDDEN);
    assert_eq!(rejected.body, "rejected");
    let cookie = rejected.cookie();
    let read = send(&plain, get("/read", Some(&cookie)).to_request()).await;
    assert_eq!(read.body, "v");

    // A 5xx error saves nothing.
    let bad = send(&failing, get("/untouched", None).to_request()).await;
    assert_eq!(bad.status, StatusCode::BAD_GATEWAY);
    assert!(bad.set_cookies.is_empty(), "{bad:?}");
}

/// The body of a missing-middleware 500: the install hint in debug builds (tests run in one),
/// the opaque body in release builds.
const MISSING_MIDDLEWARE_BODY: &str = if cfg!(debug_assertions) {
    "session-actix: no SessionMiddleware is installed; wrap the App with \
     `.wrap(SessionMiddleware::new(manager))` before using the `Session` or `TypedSession` \
     extractor"
} else {
    OPAQUE_BODY
};

#[actix_web::test]
async fn missing_middleware_is_a_500_whose_body_says_how_to_install_it_in_debug_builds() {
    let app = test::init_service(App::new().configure(routes)).await;
    for uri in ["/set", "/untouched"] {
        let reply = send(&app, get(uri, None).to_request()).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.body, MISSING_MIDDLEWARE_BODY);
        assert!(reply.set_cookies.is_empty(), "{reply:?}");
        assert_eq!(
            reply.content_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
    }
    let typed = test::init_service(App::new().route("/login", web::post().to(login))).await;
    let reply = send(&typed, TestRequest::post().uri("/login").to_request()).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body, MISSING_MIDDLEWARE_BODY);
}

/// A memory store whose `apply` always fails with a detail that must not reach the client.
#[derive(Debug)]
struct FailingApply(MemoryStore);

#[async_trait::async_trait]
impl SessionStore for FailingApply {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        self.0.create(id, record).await
    }
    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        self.0.load(id).await
    }
    async fn apply(&self, _: &IdDigest, _: &Changes) -> Result<bool, StoreError> {
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

#[actix_web::test]
async fn store_failure_at_the_end_of_a_request_is_an_opaque_500() {
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager(FailingApply(
                MemoryStore::new(),
            ))))
            .configure(routes),
    )
    .await;
    let log = session_test_logs::capture();
    // The first write creates the session; the second one applies changes to it, and fails.
    let cookie = send(&app, get("/set", None).to_request()).await.cookie();
    let reply = send(&app, get("/set", Some(&cookie)).to_request()).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body, OPAQUE_BODY);
    assert!(!reply.body.contains("secret-detail-xyz"));
    assert!(reply.set_cookies.is_empty(), "{reply:?}");
    // The log has the whole chain, each cause once.
    let text = log.text();
    assert!(
        text.contains(
            "error=the session store failed: the session store back end failed: secret-detail-xyz"
        ),
        "{text}"
    );
    assert_eq!(text.matches("secret-detail-xyz").count(), 1, "{text}");
}

async fn wrong_type(session: Session) -> Result<String, SessionError> {
    session.set("k", &"not a number").await?;
    let number: Option<u32> = session.get("k").await?;
    Ok(format!("{number:?}"))
}

#[actix_web::test]
async fn session_error_from_a_handler_is_an_opaque_500() {
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager(MemoryStore::new())))
            .route("/wrong", web::get().to(wrong_type)),
    )
    .await;
    let reply = send(&app, get("/wrong", None).to_request()).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body, OPAQUE_BODY);
    assert_eq!(
        reply.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        reply.set_cookies.is_empty(),
        "a 5xx saves nothing: {reply:?}"
    );
}
