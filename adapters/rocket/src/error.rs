//! [`SessionError`], what handlers return when a session call fails, and the opaque 500 that
//! every session failure becomes: the detail goes to the log, never to the client.

use std::fmt;
use std::io::Cursor;

use rocket::http::{ContentType, Status};
use rocket::response::{self, Responder};
use rocket::{Request, Response};

/// The body of every session failure.
const BODY: &str = "Internal Server Error";

/// A failed session call, as a handler error: `?` converts [`Error`](crate::Error) into it, and
/// it answers `500 Internal Server Error` with a body that says nothing more, after logging the
/// error with `tracing`. The response is complete: Rocket's 500 catcher is not involved.
///
/// ```
/// use rocket::get;
/// use session_rocket::{Session, SessionError};
///
/// #[get("/name")]
/// async fn name(session: Session) -> Result<String, SessionError> {
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

impl<'r, 'o: 'r> Responder<'r, 'o> for SessionError {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'o> {
        tracing::error!(
            error = %session_core::ErrorChain::new(&self.0),
            "a session call failed; answering 500"
        );
        Ok(opaque_500())
    }
}

/// The response for every session failure: status 500 and a body with no detail.
pub(crate) fn opaque_500<'r>() -> Response<'r> {
    Response::build()
        .status(Status::InternalServerError)
        .header(ContentType::Plain)
        .sized_body(BODY.len(), Cursor::new(BODY))
        .finalize()
}
