//! The example app on axum: the routes of [`crate::app`], served through `session-axum`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use session_axum::{Session, SessionLayer, SessionManager, TypedSession};

use crate::app::{self, Account, Body, Reply};

/// The example's routes, without the session layer (tests add their own routes to it).
pub fn routes() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/set", get(set))
        .route("/login", axum::routing::post(login))
        .route("/profile", get(profile))
        .route("/logout", axum::routing::post(logout))
        .route("/check", get(check))
        .route("/sudo", get(sudo))
        .route("/sessions", get(sessions))
        .route("/logout-everywhere", axum::routing::post(logout_everywhere))
        .route("/kv", get(kv_all))
        .route("/kv/{key}", get(kv_get).put(kv_put).delete(kv_delete))
        .route("/kv/{key}/incr", axum::routing::post(kv_incr))
        .layer(DefaultBodyLimit::max(app::BODY_LIMIT))
}

/// The example app: its routes behind the session layer.
pub fn app(manager: SessionManager) -> Router {
    routes().layer(SessionLayer::new(manager))
}

/// Turns a framework-free [`Reply`] into an axum response.
pub fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.body {
        Body::Html(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Body::Json(value) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
        Body::Text(text) => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response(),
        Body::Redirect(location) => (status, [(header::LOCATION, location)]).into_response(),
        Body::Empty => status.into_response(),
    }
}

async fn index(session: Session) -> Response {
    respond(app::index(&session).await)
}

async fn set(session: Session) -> Response {
    respond(app::set(&session).await)
}

async fn login(TypedSession(account): TypedSession<Account>, body: Bytes) -> Response {
    respond(app::login(&account, &body).await)
}

async fn profile(TypedSession(account): TypedSession<Account>) -> Response {
    respond(app::profile(&account).await)
}

async fn logout(TypedSession(account): TypedSession<Account>) -> Response {
    respond(app::logout(&account).await)
}

async fn sudo(TypedSession(account): TypedSession<Account>) -> Response {
    respond(app::sudo(&account).await)
}

async fn sessions(TypedSession(account): TypedSession<Account>) -> Response {
    respond(app::sessions(&account).await)
}

async fn logout_everywhere(TypedSession(account): TypedSession<Account>) -> Response {
    respond(app::logout_everywhere(&account).await)
}

async fn check(TypedSession(account): TypedSession<Account>) -> Response {
    respond(app::check(&account).await)
}

async fn kv_all(session: Session) -> Response {
    respond(app::kv_all(&session).await)
}

async fn kv_get(session: Session, Path(key): Path<String>) -> Response {
    respond(app::kv_get(&session, &key).await)
}

async fn kv_put(session: Session, Path(key): Path<String>, body: Bytes) -> Response {
    respond(app::kv_put(&session, &key, &body).await)
}

async fn kv_incr(session: Session, Path(key): Path<String>) -> Response {
    respond(app::kv_incr(&session, &key).await)
}

async fn kv_delete(session: Session, Path(key): Path<String>) -> Response {
    respond(app::kv_delete(&session, &key).await)
}
