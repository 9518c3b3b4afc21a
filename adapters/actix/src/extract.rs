//! The extractors: [`Session`] (the raw key-value API) and [`TypedSession`] (a
//! `#[derive(SessionSchema)]` handle), and [`MissingSessionMiddleware`], their error when
//! [`SessionMiddleware`](crate::SessionMiddleware) is not installed.

use std::fmt;
use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use session_core::SessionSchema;

use crate::error::{opaque_response, plain_500};

/// What the log says, and in debug builds the response body too, when a handler asks for a
/// session in an app without [`SessionMiddleware`](crate::SessionMiddleware).
const MISSING_MIDDLEWARE: &str = "session-actix: no SessionMiddleware is installed; wrap the \
    App with `.wrap(SessionMiddleware::new(manager))` before using the `Session` or \
    `TypedSession` extractor";

/// The request's session, put there by [`SessionMiddleware`](crate::SessionMiddleware).
///
/// An extractor: take it as a handler argument. It dereferences to
/// [`CoreSession`](crate::CoreSession), whose methods (`get`, `set`, `has`, `delete`, `clear`, `cycle_id`, `destroy`, ...) load the
/// session on first use and record what the handler changed; the middleware saves the changes
/// and sets the cookie after the handler returns. Clones share the same session.
///
/// ```
/// use session_actix::{Session, SessionError};
///
/// async fn login(session: Session) -> Result<&'static str, SessionError> {
///     session.cycle_id().await?; // a new id on login
///     session.set("user_id", &7u64).await?;
///     Ok("logged in")
/// }
/// ```
///
/// Without the middleware, extracting it fails with [`MissingSessionMiddleware`].
#[derive(Clone, Debug)]
pub struct Session(session_core::Session);

impl Session {
    /// The engine's session handle.
    pub fn into_inner(self) -> session_core::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl AsRef<session_core::Session> for Session {
    fn as_ref(&self) -> &session_core::Session {
        &self.0
    }
}

impl From<Session> for session_core::Session {
    fn from(session: Session) -> Self {
        session.0
    }
}

impl FromRequest for Session {
    type Error = MissingSessionMiddleware;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(request_session(req).map(Self))
    }
}

/// The typed handle of a `#[derive(SessionSchema)]` struct `T` over the request's session.
///
/// An extractor like [`Session`] (failing the same way without the middleware); it
/// dereferences to the generated handle (`Auth` gives `AuthSession`), with a typed getter,
/// setter, `has_*` and `delete_*` per field.
///
/// ```
/// use session_actix::{SessionError, SessionSchema, TypedSession};
///
/// #[derive(SessionSchema)]
/// #[session(prefix = "auth.")]
/// struct Auth {
///     #[session(renew_on_change)]
///     user_id: u64,
///     #[session(default)]
///     visits: u32,
/// }
///
/// async fn login(TypedSession(auth): TypedSession<Auth>) -> Result<String, SessionError> {
///     auth.set_user_id(7).await?; // also gives the session a new id
///     let visits = auth.visits().await? + 1;
///     auth.set_visits(visits).await?;
///     Ok(format!("user 7, visit {visits}"))
/// }
/// ```
pub struct TypedSession<T: SessionSchema>(pub T::Handle);

impl<T: SessionSchema> TypedSession<T> {
    /// The generated handle.
    pub fn into_inner(self) -> T::Handle {
        self.0
    }
}

impl<T: SessionSchema> Deref for TypedSession<T> {
    type Target = T::Handle;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T: SessionSchema> Clone for TypedSession<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: SessionSchema> fmt::Debug for TypedSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TypedSession").field(&self.0).finish()
    }
}

impl<T: SessionSchema> FromRequest for TypedSession<T> {
    type Error = MissingSessionMiddleware;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(request_session(req).map(|session| Self(T::Handle::from(session))))
    }
}

/// The session the middleware stored in the request's extensions.
fn request_session(req: &HttpRequest) -> Result<session_core::Session, MissingSessionMiddleware> {
    if let Some(session) = req.extensions().get::<session_core::Session>() {
        return Ok(session.clone());
    }
    tracing::error!("{MISSING_MIDDLEWARE}");
    Err(MissingSessionMiddleware)
}

/// The error of [`Session`] and [`TypedSession`] when the app has no
/// [`SessionMiddleware`](crate::SessionMiddleware): a 500, with an error in the log that says how
/// to install the middleware.
///
/// In debug builds (`cfg(debug_assertions)`) the response body says it too, so the mistake is
/// plain in the browser during development; release builds answer the same opaque
/// `Internal Server Error` as every other session failure.
#[derive(Debug)]
#[non_exhaustive]
pub struct MissingSessionMiddleware;

impl fmt::Display for MissingSessionMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MISSING_MIDDLEWARE)
    }
}

impl std::error::Error for MissingSessionMiddleware {}

impl ResponseError for MissingSessionMiddleware {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        if cfg!(debug_assertions) {
            return plain_500(MISSING_MIDDLEWARE);
        }
        opaque_response()
    }
}
