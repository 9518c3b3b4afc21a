//! The Rocket fairing: [`SessionFairing`] gives each request a lazy session and turns it into
//! store writes and a `Set-Cookie` header once the response, catcher responses included, is
//! ready.

use std::sync::OnceLock;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};
use session_core::SessionManager;

use crate::error::opaque_500;

/// Where the fairing leaves the request's session for the request guards: Rocket's request-local
/// cache, under this private type. Empty when the fairing is not attached. (A cell rather than
/// the value itself: the cache keeps the first value stored per type, and a guard that ran
/// before the fairing, say in an earlier fairing, would otherwise pin it empty.)
#[derive(Default)]
pub(crate) struct Slot(OnceLock<session_core::Session>);

impl Slot {
    /// The request's session, if the fairing put one there.
    pub(crate) fn of<'a>(request: &'a Request<'_>) -> Option<&'a session_core::Session> {
        request.local_cache(Slot::default).0.get()
    }
}

/// Installs sessions on a Rocket application: `.attach(SessionFairing::new(manager))`.
///
/// For each request the fairing builds a lazy session from the `Cookie` headers, and from the
/// [token header](session_core::SessionConfig::with_token_header) if one is configured (nothing
/// is verified or loaded until a handler uses it); after the handler, or the catcher, has
/// produced the response it calls [`SessionManager::finish`] with the final status: changed keys
/// are written to the store and a `Set-Cookie` header (or the token response header) is added
/// next to any others. A request whose
/// handler never touches its session costs no store I/O and gets no cookie. If the store fails
/// at that point, the response is replaced by an opaque `500 Internal Server Error` and the
/// error is logged with `tracing`; headers that earlier response fairings added (Rocket's
/// `Shield` runs first) are not on that replacement.
///
/// It is a singleton fairing: attaching a second one replaces the first.
///
/// ```
/// use rocket::{get, routes};
/// use session_rocket::{
///     KeyRing, MemoryStore, Session, SessionConfig, SessionError, SessionFairing, SessionManager,
/// };
///
/// #[get("/")]
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     // Atomic: concurrent requests never lose a visit.
///     let n = session.update("visits", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
///     Ok(format!("visit number {n}"))
/// }
///
/// # fn main() -> Result<(), session_rocket::ConfigError> {
/// let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), SessionConfig::default())?;
/// let rocket = rocket::build()
///     .mount("/", routes![visits])
///     .attach(SessionFairing::new(manager));
/// # drop(rocket);
/// # Ok(())
/// # }
/// ```
///
/// Rocket's local test client (`rocket::local`) keeps the cookies it sends in the request's
/// cookie jar rather than in a `Cookie` header; for a request without any `Cookie` header the
/// fairing reads that jar instead, so `Client::tracked` and `LocalRequest::cookie` work in
/// tests.
#[derive(Clone, Debug)]
pub struct SessionFairing {
    manager: SessionManager,
}

impl SessionFairing {
    /// A fairing that serves sessions from `manager`.
    #[must_use]
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

#[rocket::async_trait]
impl Fairing for SessionFairing {
    fn info(&self) -> Info {
        Info {
            name: "Session",
            kind: Kind::Request | Kind::Response | Kind::Singleton,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _data: &mut Data<'_>) {
        // Rocket's local test client sends its cookies in the jar, not in a header.
        let jar: Option<String> = request.headers().get("Cookie").next().is_none().then(|| {
            request
                .cookies()
                .iter()
                .map(|cookie| format!("{}={};", cookie.name(), cookie.value()))
                .collect()
        });
        let headers = request.headers();
        let session = self.manager.session_from_headers(|name| {
            let from_jar = jar.as_deref().filter(|_| name == "cookie");
            from_jar
                .into_iter()
                .chain(headers.get(name))
                .map(str::as_bytes)
        });
        // `set` fails only if a session is already there, which a singleton fairing rules out.
        let _ = request.local_cache(Slot::default).0.set(session);
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(session) = Slot::of(request) else {
            return;
        };
        let sets_cookie = match self.manager.finish(session, response.status().code).await {
            Ok(None) => false,
            Ok(Some(set_cookie)) => {
                let name = set_cookie.header_name().to_owned();
                response.adjoin_raw_header(name, set_cookie.into_string());
                true
            }
            Err(error) => {
                tracing::error!(
                    error = %session_core::ErrorChain::new(&error),
                    "could not save the session; answering 500"
                );
                *response = opaque_500();
                return;
            }
        };
        let headers = response.headers();
        let add = session_core::response::cache_headers(
            session,
            sets_cookie,
            || headers.contains("Cache-Control"),
            || headers.get("Vary").map(str::as_bytes),
        );
        if let Some(value) = add.cache_control {
            response.set_raw_header("Cache-Control", value);
        }
        if let Some(value) = add.vary {
            response.adjoin_raw_header("Vary", value);
        }
    }
}
