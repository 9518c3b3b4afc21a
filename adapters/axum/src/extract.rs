//! The extractors: [`Session`] (the raw key-value API) and [`TypedSession`] (a
//! `#[derive(SessionSchema)]` handle), and [`MissingSessionLayer`], their rejection when
//! [`SessionLayer`](crate::SessionLayer) is not installed.

use std::fmt;
use std::ops::Deref;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use session_core::SessionSchema;

use crate::error::opaque_500;

/// What the log says, and in debug builds the response body too, when a handler asks for a
/// session on a router without [`SessionLayer`](crate::SessionLayer).
const MISSING_LAYER: &str = "session-axum: no SessionLayer is installed; add \
    `.layer(SessionLayer::new(manager))` to the Router, after the routes that use `Session` or \
    `TypedSession`";

/// The request's session, as an axum extractor: the raw API of
/// [`CoreSession`](crate::CoreSession) (`get`, `set`, `has`, `delete`, `cycle_id`, `destroy`, …)
/// through `Deref`.
///
/// Cheap to clone; every clone is the same session. Needs
/// [`SessionLayer`](crate::SessionLayer) on the router.
///
/// ```
/// use session_axum::{Session, SessionError};
///
/// async fn login(session: Session) -> Result<&'static str, SessionError> {
///     session.cycle_id().await?; // a new id on login: no session fixation
///     session.set("user_id", &7_u64).await?;
///     Ok("logged in")
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Session(session_core::Session);

impl Session {
    /// The framework-free session handle.
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

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<session_core::Session>() {
            Some(session) => Ok(Self(session.clone())),
            None => {
                tracing::error!("{MISSING_LAYER}");
                Err(MissingSessionLayer)
            }
        }
    }
}

/// The request's session through the typed handle of a `#[derive(SessionSchema)]` struct.
///
/// ```
/// use session_axum::{SessionError, SessionSchema, TypedSession};
///
/// #[derive(SessionSchema)]
/// #[session(prefix = "auth.")]
/// struct Auth {
///     #[session(renew_on_change)]
///     user_id: u64,
/// }
///
/// async fn login(TypedSession(auth): TypedSession<Auth>) -> Result<&'static str, SessionError> {
///     auth.set_user_id(7).await?; // renew_on_change: the session gets a new id too
///     Ok("logged in")
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

impl<S: Send + Sync, T: SessionSchema> FromRequestParts<S> for TypedSession<T> {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        Ok(Self(T::Handle::from(session.0)))
    }
}

/// The rejection of [`Session`] and [`TypedSession`] when the router has no
/// [`SessionLayer`](crate::SessionLayer): a 500, with an error in the log that says how to
/// install the layer.
///
/// In debug builds (`cfg(debug_assertions)`) the response body says it too, so the mistake is
/// plain in the browser during development; release builds answer the same opaque
/// `Internal Server Error` as every other session failure.
#[derive(Debug)]
#[non_exhaustive]
pub struct MissingSessionLayer;

impl fmt::Display for MissingSessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MISSING_LAYER)
    }
}

impl std::error::Error for MissingSessionLayer {}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        if cfg!(debug_assertions) {
            let mut response = opaque_500().into_response();
            *response.body_mut() = MISSING_LAYER.into();
            return response;
        }
        opaque_500().into_response()
    }
}
