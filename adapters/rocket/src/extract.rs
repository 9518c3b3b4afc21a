//! The request guards: [`Session`] (the raw key-value API) and [`TypedSession`] (a
//! `#[derive(SessionSchema)]` handle), and [`MissingSessionFairing`], their error when
//! [`SessionFairing`](crate::SessionFairing) is not attached.

use std::fmt;
use std::ops::Deref;

use rocket::Request;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use session_core::SessionSchema;

use crate::fairing::Slot;

/// What the log says when a handler asks for a session on a Rocket without
/// [`SessionFairing`](crate::SessionFairing).
const MISSING_FAIRING: &str = "session-rocket: no SessionFairing is attached; add \
    `.attach(SessionFairing::new(manager))` to the Rocket before using the `Session` or \
    `TypedSession` request guard";

/// The request's session, as a Rocket request guard: the raw API of
/// [`CoreSession`](crate::CoreSession) (`get`, `set`, `has`, `delete`, `cycle_id`, `destroy`, …)
/// through `Deref`.
///
/// Cheap to clone; every clone is the same session. Needs
/// [`SessionFairing`](crate::SessionFairing) attached to the application.
///
/// ```
/// use rocket::post;
/// use session_rocket::{Session, SessionError};
///
/// #[post("/login")]
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

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = MissingSessionFairing;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match Slot::of(request) {
            Some(session) => Outcome::Success(Self(session.clone())),
            None => {
                tracing::error!("{MISSING_FAIRING}");
                Outcome::Error((Status::InternalServerError, MissingSessionFairing))
            }
        }
    }
}

/// The request's session through the typed handle of a `#[derive(SessionSchema)]` struct.
///
/// Rocket route arguments must be plain `name: Type` (no `TypedSession(auth)` pattern), so use
/// the handle through `Deref`, or take it out with [`into_inner`](Self::into_inner) or `.0`.
///
/// ```
/// use rocket::post;
/// use session_rocket::{SessionError, SessionSchema, TypedSession};
///
/// #[derive(SessionSchema)]
/// #[session(prefix = "auth.")]
/// struct Auth {
///     #[session(renew_on_change)]
///     user_id: u64,
/// }
///
/// #[post("/login")]
/// async fn login(auth: TypedSession<Auth>) -> Result<&'static str, SessionError> {
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

#[rocket::async_trait]
impl<'r, T: SessionSchema> FromRequest<'r> for TypedSession<T> {
    type Error = MissingSessionFairing;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Session::from_request(request)
            .await
            .map(|session| Self(T::Handle::from(session.0)))
    }
}

/// The error of [`Session`] and [`TypedSession`] when the application has no
/// [`SessionFairing`](crate::SessionFairing): the guard fails with status 500, so Rocket answers
/// with its 500 catcher (Rocket's default one shows a generic "500: Internal Server Error" page,
/// with no detail), and the log says how to attach the fairing.
///
/// Its `Debug`, which Rocket's own log prints for a failed guard (`Request guard `Session`
/// failed: …`), is that same hint, so it shows even without a `tracing` subscriber. Unlike the
/// axum and actix-web adapters, this one cannot put the hint in the body of debug builds: in
/// Rocket 0.5 a failing guard hands the response to the catcher, which does not see the error.
#[non_exhaustive]
pub struct MissingSessionFairing;

impl fmt::Display for MissingSessionFairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MISSING_FAIRING)
    }
}

impl fmt::Debug for MissingSessionFairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MISSING_FAIRING)
    }
}

impl std::error::Error for MissingSessionFairing {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rockets_guard_failure_log_line_carries_the_install_hint() {
        // Rocket logs a failed guard as "Request guard `Session` failed: {error:?}."
        let shown = format!("{MissingSessionFairing:?}");
        assert!(
            shown.contains("add `.attach(SessionFairing::new(manager))` to the Rocket"),
            "{shown}"
        );
        assert_eq!(shown, MissingSessionFairing.to_string());
    }
}
