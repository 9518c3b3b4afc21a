//! [`SessionError`], what handlers return when a session call fails, and the opaque 500 that
//! every session failure becomes: the detail goes to the log, never to the client.

use std::fmt;

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;

/// A failed session call, as a handler error: `?` converts [`Error`](crate::Error) into it, and
/// it answers `500 Internal Server Error` with a body that says nothing more, after logging the
/// error with `tracing`.
///
/// ```
/// use session_axum::{Session, SessionError};
///
/// async fn handler(session: Session) -> Result<String, SessionError> {
///     let name: Option<String> = session.get("name").await?;
///     Ok(name.unwrap_or_default())
/// }
/// ```
pub struct SessionError(session_core::Error);

impl SessionError {
    /// The underlying session error.
    pub fn inner(&self) -> &session_core::Error {
        &self.0
    }

    /// The underlying session error, owned.
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

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        tracing::error!(
            error = %session_core::ErrorChain::new(&self.0),
            "a session call failed; answering 500"
        );
        opaque_500().into_response()
    }
}

/// The response for every session failure: status 500 and a body with no detail.
pub(crate) fn opaque_500() -> impl IntoResponse {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Internal Server Error",
    )
}
