//! # session-rocket
//!
//! Typed sessions for [Rocket](https://docs.rs/rocket) 0.5: a fairing, [`SessionFairing`], and
//! two request guards, [`Session`] (the raw key-value API) and [`TypedSession`] (the typed handle
//! of a `#[derive(SessionSchema)]` struct). All session behaviour lives in `session-core`, which
//! this crate re-exports whole: an application depends on `session-rocket` (and `rocket`) alone,
//! and the same session code runs on `session-axum` and `session-actix`.
//!
//! ## Quick start
//!
//! ```no_run
//! use rocket::{get, post, routes};
//! use session_rocket::{
//!     KeyRing, MemoryStore, Session, SessionConfig, SessionError, SessionFairing,
//!     SessionManager, SessionSchema, TypedSession,
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
//! #[post("/login")]
//! async fn login(auth: TypedSession<Auth>) -> Result<&'static str, SessionError> {
//!     auth.set_user_id(7).await?;
//!     Ok("logged in")
//! }
//!
//! #[get("/whoami")]
//! async fn whoami(auth: TypedSession<Auth>) -> Result<String, SessionError> {
//!     Ok(match auth.user_id().await? {
//!         Some(id) => format!("user {id}"),
//!         None => "nobody".to_owned(),
//!     })
//! }
//!
//! #[get("/theme")]
//! async fn theme(session: Session) -> Result<String, SessionError> {
//!     Ok(session.get::<String>("theme").await?.unwrap_or_else(|| "light".to_owned()))
//! }
//!
//! #[rocket::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // SESSION_SECRET: at least 32 random bytes (`openssl rand -base64 48`).
//!     let manager = SessionManager::new(MemoryStore::new(), KeyRing::from_env()?, SessionConfig::default())?;
//!     let _rocket = rocket::build()
//!         .mount("/", routes![login, whoami, theme])
//!         .attach(SessionFairing::new(manager))
//!         .launch()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! ## What the fairing does
//!
//! - A request that never touches its session costs no store I/O and gets no `Set-Cookie`.
//! - Only the keys a request changed are written back, after the handler, as one atomic per-key
//!   merge: concurrent requests to one session do not overwrite each other's keys.
//! - The final status decides, catcher responses included: a 404 from a catcher still saves,
//!   and for a response of 500 or above nothing is saved (see
//!   [`SessionConfig::with_persist_on_server_error`]).
//! - If the store fails, the client gets an opaque `500 Internal Server Error` (body
//!   `Internal Server Error`, `text/plain`); the error goes to `tracing`. Handlers get the same
//!   response by returning [`SessionError`].
//! - A handler that asks for a session on a Rocket without the fairing fails its guard with
//!   status 500 ([`MissingSessionFairing`]): Rocket answers with its 500 catcher (by default a
//!   generic "500: Internal Server Error" page, HTML or JSON as the `Accept` header prefers,
//!   with no detail), and the log says how to attach the fairing.
//!
//! This crate logs through `tracing`, while Rocket 0.5 logs through `log` with its own logger:
//! install a `tracing` subscriber (for instance `tracing-subscriber`) to see session errors.
//!
//! ## Session code shared between handlers and frameworks
//!
//! [`Session`] is this crate's request guard; it dereferences to the framework-free session handle,
//! re-exported here as [`CoreSession`] (session-core's `Session`). Write helpers against
//! `&CoreSession` and call them with `&session`: the same helper serves handlers of `session-axum`
//! and `session-actix`, whose `Session` dereferences to the same type.
//!
//! ```
//! use session_rocket::{CoreSession, Session, SessionError};
//!
//! /// Framework-free: nothing here names Rocket.
//! async fn count_visit(session: &CoreSession) -> session_rocket::Result<u32> {
//!     // Atomic: concurrent requests never lose a visit.
//!     let visits = session.update("visits", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
//!     Ok(visits)
//! }
//!
//! #[rocket::get("/")]
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
//!
//! Rocket itself is a dependency without its default features; an application enables the ones
//! it wants (`http2`, `json`, `tls`, …) on its own `rocket` dependency.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod extract;
mod fairing;

pub use crate::error::SessionError;
pub use crate::extract::{MissingSessionFairing, Session, TypedSession};
pub use crate::fairing::SessionFairing;
/// session-core's `Session`, the framework-free handle that [`Session`] dereferences to, under
/// a name that does not clash with the request guard: write helpers shared between handlers, or
/// between frameworks, against `&CoreSession`.
#[doc(no_inline)]
pub use session_core::Session as CoreSession;
#[doc(no_inline)]
pub use session_core::*;
