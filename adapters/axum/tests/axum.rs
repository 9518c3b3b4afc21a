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
    KeyRing, MemoryStore, Session, SessionConfig, SessionError, SessionLayer, SessionManager,
    SessionSchema, TypedSession,
};
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
    assert!(cookies.iter().any(|c| c.starts_with("session=")));
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
