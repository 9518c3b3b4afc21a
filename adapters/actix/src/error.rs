//! [`SessionError`], what handlers return so that `?` works on session calls, and the opaque
//! `500 Internal Server Error` that every session failure becomes.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// The body of every response that stands for a session failure.
const BODY: &str = "Internal Server Error";

/// A failed session operation, returned from a handler: it becomes an opaque
/// `500 Internal Server Error` and its detail is logged with `tracing::error!`, never sent.
///
/// `?` converts a session [`Error`](crate::Error) into it:
///
/// ```
/// use session_actix::{Session, SessionError};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     // Atomic: concurrent requests never lose a visit.
///     let visits = session.update("visits", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
///     Ok(format!("visit number {visits}"))
/// }
/// ```
pub struct SessionError(session_core::Error);

impl SessionError {
    /// The session error this wraps.
    pub fn inner(&self) -> &session_core::Error {
        &self.0
    }

    /// The session error this wraps, owned.
    pub fn into_inner(self) -> session_core::Error {
        self.0
    }
}

impl From<session_core::Error> for SessionError {
    fn from(error: session_core::Error) -> Self {
        Self(error)
    }
}

impl fmt::Debug for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

// Transparent, like thiserror's `#[error(transparent)]`: `Display` is the inner error's, so
// the chain continues with the inner error's source rather than repeating its message.
impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        log_error(&self.0, "a session call failed; answering 500");
        opaque_response()
    }
}

/// The response for every session failure: no detail, no `Set-Cookie`.
pub(crate) fn opaque_response() -> HttpResponse {
    plain_500(BODY)
}

/// A `500 Internal Server Error` with a plain-text `body`.
pub(crate) fn plain_500(body: &'static str) -> HttpResponse {
    HttpResponse::InternalServerError()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ))
        .body(body)
}

/// Logs a session error with its whole source chain, each part once.
pub(crate) fn log_error(error: &session_core::Error, message: &str) {
    tracing::error!(error = %session_core::ErrorChain::new(error), "{message}");
}
