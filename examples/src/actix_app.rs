//! The example app on actix-web: the routes of [`crate::app`], served through `session-actix`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, Responder};
use session_actix::{Session, TypedSession};

use crate::app::{self, Account, Body, Reply};

/// The example's routes, for `App::configure`. The session middleware is added by the caller:
/// `App::new().wrap(SessionMiddleware::new(manager)).configure(routes)`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .app_data(web::PayloadConfig::new(app::BODY_LIMIT))
        .route("/", web::get().to(index))
        .route("/set", web::get().to(set))
        .route("/login", web::post().to(login))
        .route("/profile", web::get().to(profile))
        .route("/logout", web::post().to(logout))
        .route("/check", web::get().to(check))
        .route("/sudo", web::get().to(sudo))
        .route("/sessions", web::get().to(sessions))
        .route("/logout-everywhere", web::post().to(logout_everywhere))
        .route("/kv", web::get().to(kv_all))
        .route("/kv/{key}", web::get().to(kv_get))
        .route("/kv/{key}", web::put().to(kv_put))
        .route("/kv/{key}", web::delete().to(kv_delete))
        .route("/kv/{key}/incr", web::post().to(kv_incr));
}

/// Turns a framework-free [`Reply`] into an actix-web response.
pub fn respond(reply: Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    match reply.body {
        Body::Html(html) => response
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(html),
        Body::Json(value) => response
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(value.to_string()),
        Body::Text(text) => response
            .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(text),
        Body::Redirect(location) => response.insert_header((LOCATION, location)).finish(),
        Body::Empty => response.finish(),
    }
}

async fn index(session: Session) -> impl Responder {
    respond(app::index(&session).await)
}

async fn set(session: Session) -> impl Responder {
    respond(app::set(&session).await)
}

async fn login(TypedSession(account): TypedSession<Account>, body: Bytes) -> impl Responder {
    respond(app::login(&account, &body).await)
}

async fn profile(TypedSession(account): TypedSession<Account>) -> impl Responder {
    respond(app::profile(&account).await)
}

async fn logout(TypedSession(account): TypedSession<Account>) -> impl Responder {
    respond(app::logout(&account).await)
}

async fn sudo(TypedSession(account): TypedSession<Account>) -> impl Responder {
    respond(app::sudo(&account).await)
}

async fn sessions(TypedSession(account): TypedSession<Account>) -> impl Responder {
    respond(app::sessions(&account).await)
}

async fn logout_everywhere(TypedSession(account): TypedSession<Account>) -> impl Responder {
    respond(app::logout_everywhere(&account).await)
}

async fn check(TypedSession(account): TypedSession<Account>) -> impl Responder {
    respond(app::check(&account).await)
}

async fn kv_all(session: Session) -> impl Responder {
    respond(app::kv_all(&session).await)
}

async fn kv_get(session: Session, key: web::Path<String>) -> impl Responder {
    respond(app::kv_get(&session, &key).await)
}

async fn kv_put(session: Session, key: web::Path<String>, body: Bytes) -> impl Responder {
    respond(app::kv_put(&session, &key, &body).await)
}

async fn kv_incr(session: Session, key: web::Path<String>) -> impl Responder {
    respond(app::kv_incr(&session, &key).await)
}

async fn kv_delete(session: Session, key: web::Path<String>) -> impl Responder {
    respond(app::kv_delete(&session, &key).await)
}
