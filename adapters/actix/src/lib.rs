//! # session-actix
//!
//! Typed sessions for [actix-web](https://docs.rs/actix-web) 4: a middleware,
//! [`SessionMiddleware`], and two extractors, [`Session`] (the raw key-value API) and
//! [`TypedSession`] (the typed handle of a `#[derive(SessionSchema)]` struct). All session
//! behaviour lives in `session-core`, which this crate re-exports whole: an application depends
//! on `session-actix` alone, and the same session code runs on `session-axum` and
//! `session-rocket`.
//!
//! ## Quick start
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use session_actix::{
//!     KeyRing, MemoryStore, Session, SessionConfig, SessionError, SessionManager,
//!     SessionMiddleware, SessionSchema, TypedSession,
//! };
//!
//! #[derive(SessionSchema)]
//! #[session(prefix = "auth.")]
//! struct Auth {
//!     /// Setting it gives the session a new id: no session fixation on login.
//!     #[session(renew_on_change)]
//!     user_id: u64,
//! }
//!
//! async fn login(TypedSession(auth): TypedSession<Auth>) -> Result<&'static str, SessionError> {
//!     auth.set_user_id(7).await?;
//!     Ok("logged in")
//! }
//!
//! async fn whoami(TypedSession(auth): TypedSession<Auth>) -> Result<web::Json<Option<u64>>, SessionError> {
//!     Ok(web::Json(auth.user_id().await?))
//! }
//!
//! async fn theme(session: Session) -> Result<String, SessionError> {
//!     Ok(session.get::<String>("theme").await?.unwrap_or_else(|| "light".to_owned()))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // SESSION_SECRET: at least 32 random bytes (`openssl rand -base64 48`).
//!     let manager = SessionManager::new(MemoryStore::new(), KeyRing::from_env()?, SessionConfig::default())?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(SessionMiddleware::new(manager.clone()))
//!             .route("/login", web::post().to(login))
//!             .route("/whoami", web::get().to(whoami))
//!             .route("/theme", web::get().to(theme))
//!     })
//!     .bind(("127.0.0.1", 8000))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! Build the [`SessionManager`] once, outside the `HttpServer::new` closure, and clone it into
//! each worker's `App`: the memory store lives in the manager, so a manager built per worker
//! would give every worker its own sessions.
//!
//! ## What the middleware does
//!
//! - A request that never touches its session costs no store I/O and gets no `Set-Cookie`.
//! - Only the keys a request changed are written back, after the handler, as one atomic per-key
//!   merge: concurrent requests to one session do not overwrite each other's keys.
//! - For a response of 500 or above nothing is saved (see
//!   [`SessionConfig::with_persist_on_server_error`]). An `Err` from a service inside the
//!   middleware (another middleware's rejection, say) counts with its own status: a 4xx still
//!   saves and carries the cookie.
//! - If the store fails, the client gets an opaque `500 Internal Server Error`; the error goes
//!   to `tracing`. Handlers get the same behaviour by returning [`SessionError`].
//! - A handler that extracts a session in an app without the middleware gets that same 500
//!   ([`MissingSessionMiddleware`]), and the log says how to install the middleware.
//! - Unlike actix-session's, the session is `Send + Sync`: it can move into a spawned task (but
//!   changes made after the response is sent are not saved).
//!
//! ## Session code shared between handlers and frameworks
//!
//! [`Session`] is this crate's extractor; it dereferences to the framework-free session handle,
//! re-exported here as [`CoreSession`] (session-core's `Session`). Write helpers against
//! `&CoreSession` and call them with `&session`: the same helper serves handlers of `session-axum`
//! and `session-rocket`, whose `Session` dereferences to the same type.
//!
//! ```
//! use session_actix::{CoreSession, Session, SessionError};
//!
//! /// Framework-free: nothing here names actix-web.
//! async fn count_visit(session: &CoreSession) -> session_actix::Result<u32> {
//!     // Atomic: concurrent requests never lose a visit.
//!     let visits = session.update("visits", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
//!     Ok(visits)
//! }
//!
//! async fn handler(session: Session) -> Result<String, SessionError> {
//!     Ok(format!("visit number {}", count_visit(&session).await?))
//! }
//!
//! // The typed handles wrap the same type: `AuthSession::from(session.into_inner())`.
//! let _: fn(Session) -> CoreSession = Session::into_inner;
//! ```
//!
//! ## Features
//!
//! The features of `session-core`, forwarded under the same names:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `memory-store` | yes | `MemoryStore` |
//! | `cookie-store` | yes | `Storage::Cookie`, the session in an encrypted cookie |
//! | `derive` | yes | `#[derive(SessionSchema)]` |
//! | `file-store`, `redis-store`, `sqlite-store`, `postgres-store`, `mongodb-store` | no | the server-side stores |

#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod extract;
mod middleware;

pub use crate::error::SessionError;
pub use crate::extract::{MissingSessionMiddleware, Session, TypedSession};
pub use crate::middleware::{SessionMiddleware, SessionService};
/// session-core's `Session`, the framework-free handle that [`Session`] dereferences to, under
/// a name that does not clash with the extractor: write helpers shared between handlers, or
/// between frameworks, against `&CoreSession`.
#[doc(no_inline)]
pub use session_core::Session as CoreSession;
#[doc(no_inline)]
pub use session_core::*;
