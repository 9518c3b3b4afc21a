//! The adapter in-process, through `tower::ServiceExt::oneshot`: what the cross-framework HTTP
//! suite (`tests/`) does not cover, namely a handler's `SessionError`, a handler's own
//! `Set-Cookie`, `Cache-Control` and `Vary` (kept as the handler set them), and the derive used
//! through this crate's re-export alone.

use axum::Router;
use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, SET_COOKIE, VARY};
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use session_axum::{
    Changes, CoreSession, IdDigest, KeyRing, MemoryStore, Record, Session, SessionConfig,
    SessionError, SessionLayer, SessionManager, SessionSchema, SessionStore, StoreError, Swap,
    TypedSession,
};
use time::OffsetDateTime;
use tower::ServiceExt as _;

/// Declared through `session_axum` only: the derive must find `session_axum::__private`.
#[derive(SessionSchema)]
#[session(crate = "session_axum", prefix = "auth.")]
struct Auth {
    #[session(renew_on_change)]
    user_id: u64,
    #[session(default)]
    visits: u32,
}

fn app() -> Router {
    let manager = SessionManager::new(
        MemoryStore::new(),
        KeyRing::generate(),
        SessionConfig::default(),
    )
    .expect("the default config is valid");
    Router::new()
        .route(
            "/login",
            get(|TypedSession(auth): TypedSession<Auth>| async move {
                auth.set_user_id(7).await?;
                auth.set_visits(auth.visits().await? + 1).await?;
                Ok::<_, SessionError>("in")
            }),
        )
        .route(
            "/wrong-type",
            get(|session: Session| async move {
                session.set("n", "not a number").await?;
                let n: Option<u64> = session.get("n").await?;
                Ok::<_, SessionError>(format!("{n:?}"))
            }),
        )
        .route(
            "/private",
            get(|session: Session| async move {
                session.set("seen", &true).await?;
                let headers = [
                    (CACHE_CONTROL, "private, no-store"),
                    (VARY, "Accept, cookie"),
                ];
                Ok::<_, SessionError>((headers, "ok").into_response())
            }),
        )
        .route(
            "/theme",
            get(|session: Session| async move {
                session.set("theme", "dark").await?;
                Ok::<_, SessionError>(([(SET_COOKIE, "theme=dark; Path=/")], "ok").into_response())
            }),
        )
        .layer(SessionLayer::new(manager))
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, Vec<String>, String) {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("infallible");
    let status = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    let cookies = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ASCII").to_owned())
        .collect();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a body");
    let body = String::from_utf8(body.to_vec()).expect("UTF-8");
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("text/plain; charset=utf-8")
        );
    }
    (status, cookies, body)
}

#[tokio::test]
async fn a_session_error_from_a_handler_is_an_opaque_500_that_saves_nothing() {
    let app = app();
    let (status, cookies, body) = call(&app, "/wrong-type", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "Internal Server Error");
    assert!(cookies.is_empty(), "a 500 saves nothing: {cookies:?}");
}

#[tokio::test]
async fn the_session_cookie_is_appended_next_to_the_handlers_own() {
    let app = app();
    let (status, cookies, _) = call(&app, "/theme", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies.iter().any(|c| c == "theme=dark; Path=/"));
    let ours = format!("{}=", SessionConfig::default().cookie_name());
    assert!(cookies.iter().any(|c| c.starts_with(&ours)), "{cookies:?}");
}

#[tokio::test]
async fn the_typed_extractor_works_through_the_re_export() {
    let app = app();
    let (status, cookies, body) = call(&app, "/login", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "in"));
    let first = cookies[0].split(';').next().expect("a pair").to_owned();
    let (_, cookies, _) = call(&app, "/login", Some(&first)).await;
    let second = cookies[0].split(';').next().expect("a pair").to_owned();
    assert_ne!(first, second, "renew_on_change gives a new id");
}

#[tokio::test]
async fn the_handlers_own_cache_control_and_vary_are_kept() {
    let response = app()
        .oneshot(Request::get("/private").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key(SET_COOKIE));
    let all = |name| {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(all(CACHE_CONTROL), ["private, no-store"]);
    assert_eq!(all(VARY), ["Accept, cookie"], "Cookie is not listed twice");
}

/// The body of a missing-layer 500: the install hint in debug builds (tests run in one), the
/// opaque body in release builds.
const MISSING_LAYER_BODY: &str = if cfg!(debug_assertions) {
    "session-axum: no SessionLayer is installed; add `.layer(SessionLayer::new(manager))` to the \
     Router, after the routes that use `Session` or `TypedSession`"
} else {
    "Internal Server Error"
};

#[tokio::test]
async fn missing_layer_is_a_500_whose_body_says_how_to_install_it_in_debug_builds() {
    let app = Router::new()
        .route("/raw", get(|_session: Session| async { "unreachable" }))
        .route(
            "/typed",
            get(|_auth: TypedSession<Auth>| async { "unreachable" }),
        );
    for path in ["/raw", "/typed"] {
        let (status, cookies, body) = call(&app, path, None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(body, MISSING_LAYER_BODY, "{path}");
        assert!(cookies.is_empty(), "{cookies:?}");
    }
}

/// A helper written against the framework-free session, as code shared by several frameworks is.
async fn count_visit(session: &CoreSession) -> session_axum::Result<u32> {
    let visits = session.get::<u32>("visits").await?.unwrap_or(0) + 1;
    session.set("visits", &visits).await?;
    Ok(visits)
}

#[tokio::test]
async fn a_helper_takes_the_core_session_from_the_extractor() {
    let manager = SessionManager::new(
        MemoryStore::new(),
        KeyRing::generate(),
        SessionConfig::default(),
    )
    .expect("the default config is valid");
    let app = Router::new()
        .route(
            "/",
            get(|session: Session| async move {
                Ok::<_, SessionError>(count_visit(&session).await?.to_string())
            }),
        )
        .layer(SessionLayer::new(manager));
    let (_, cookies, body) = call(&app, "/", None).await;
    assert_eq!(body, "1");
    let pair = cookies[0].split(';').next().expect("a pair").to_owned();
    assert_eq!(call(&app, "/", Some(&pair)).await.2, "2");
}

/// A memory store whose `apply` fails with a detail that must reach the log once, and never the
/// client.
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
        Err(StoreError::backend("disk-full-detail"))
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

#[tokio::test]
async fn a_store_failure_is_logged_with_each_cause_once() {
    let manager = SessionManager::new(
        FailingApply(MemoryStore::new()),
        KeyRing::generate(),
        SessionConfig::default(),
    )
    .expect("the default config is valid");
    let app = Router::new()
        .route(
            "/set",
            get(|session: Session| async move {
                session.set("k", &1).await?;
                Ok::<_, SessionError>("set")
            }),
        )
        .layer(SessionLayer::new(manager));
    let log = session_test_logs::capture();

    let (_, cookies, _) = call(&app, "/set", None).await;
    let pair = cookies[0].split(';').next().expect("a pair").to_owned();
    let (status, _, body) = call(&app, "/set", Some(&pair)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    );
    let text = log.text();
    assert!(
        text.contains(
            "error=the session store failed: the session store back end failed: disk-full-detail"
        ),
        "{text}"
    );
    assert_eq!(text.matches("disk-full-detail").count(), 1, "{text}");
}
