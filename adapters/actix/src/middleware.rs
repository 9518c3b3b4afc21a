//! [`SessionMiddleware`], the actix-web `Transform` that runs the session engine around every
//! request: a lazy session in, the store writes and the `Set-Cookie` header out.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use session_core::SessionManager;

use crate::error::{log_error, opaque_response};

/// The future of [`SessionService`]: actix-web services run on one thread, so it need not be
/// `Send`.
type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The session middleware: install it with `App::new().wrap(SessionMiddleware::new(manager))`.
///
/// For every request it builds the session from the `Cookie` headers, and from the
/// [token header](session_core::SessionConfig::with_token_header) if one is configured (lazily:
/// nothing is loaded until a handler uses it), makes it available to the
/// [`Session`](crate::Session) and [`TypedSession`](crate::TypedSession) extractors, runs the
/// app, then has the engine save what the handler changed and appends the session's
/// `Set-Cookie` header (or the token response header), if any, to the response.
///
/// Errors from the services it wraps (an inner middleware's `Err`) pass through the engine with
/// their real status too: a 4xx still saves the session and carries its cookie, a 5xx saves
/// nothing (unless the config says otherwise). If saving fails, the response becomes an opaque
/// `500 Internal Server Error` and the error is logged with `tracing::error!`.
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use session_actix::{KeyRing, MemoryStore, SessionConfig, SessionManager, SessionMiddleware};
///
/// #[actix_web::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let manager = SessionManager::new(MemoryStore::new(), KeyRing::from_env()?, SessionConfig::default())?;
///     HttpServer::new(move || {
///         App::new()
///             .wrap(SessionMiddleware::new(manager.clone()))
///             .route("/", web::get().to(|| async { "hello" }))
///     })
///     .bind(("127.0.0.1", 8080))?
///     .run()
///     .await?;
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    manager: SessionManager,
}

impl SessionMiddleware {
    /// The middleware for sessions of `manager` (cheap to clone: build it once, clone it into
    /// each worker's `App`).
    #[must_use]
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service,
            manager: self.manager.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around an app; actix-web builds it.
pub struct SessionService<S> {
    service: S,
    manager: SessionManager,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let headers = req.headers();
        let session = self
            .manager
            .session_from_headers(|name| headers.get_all(name).map(HeaderValue::as_bytes));
        req.extensions_mut().insert(session.clone());
        // No clone of the `HttpRequest` is kept across the call: actix's router needs the only
        // reference to it (`Rc::get_mut`) and panics otherwise.
        let response = self.service.call(req);
        let manager = self.manager.clone();
        Box::pin(async move {
            match response.await {
                Ok(mut res) => {
                    let status = res.status().as_u16();
                    match set_cookie(manager.finish(&session, status).await) {
                        Ok(cookie) => {
                            cache_headers(res.headers_mut(), &session, cookie);
                            Ok(res.map_into_left_body())
                        }
                        Err(()) => Ok(res.into_response(opaque_response()).map_into_right_body()),
                    }
                }
                // The request is gone with the error, so the error stays an error; its cookie
                // rides along and is added when actix renders it.
                Err(error) => {
                    let status = error.as_response_error().status_code().as_u16();
                    match set_cookie(manager.finish(&session, status).await) {
                        Ok(None) if !session.is_accessed() => Err(error),
                        Ok(cookie) => Err(WithSetCookie {
                            error,
                            cookie,
                            session,
                        }
                        .into()),
                        Err(()) => Err(SaveFailed.into()),
                    }
                }
            }
        })
    }
}

/// The session header for the engine's answer (`Set-Cookie`, or the token header); `Err`
/// (already logged) when the session could not be saved.
fn set_cookie(
    finished: session_core::Result<Option<session_core::SetCookie>>,
) -> Result<Option<SessionHeader>, ()> {
    match finished {
        Ok(None) => Ok(None),
        Ok(Some(cookie)) => {
            let name = HeaderName::from_bytes(cookie.header_name().as_bytes());
            match (name, HeaderValue::try_from(cookie.into_string())) {
                (Ok(name), Ok(value)) => Ok(Some((name, value))),
                _ => {
                    tracing::error!(
                        "the session cookie or token is not a valid header; check the cookie's \
                         configured path and domain"
                    );
                    Err(())
                }
            }
        }
        Err(error) => {
            log_error(&error, "could not save the session; answering 500");
            Err(())
        }
    }
}

/// A session header to send: `Set-Cookie` or the token header, and its value.
type SessionHeader = (HeaderName, HeaderValue);

/// Appends the session's `Set-Cookie` or token header (if any) and the cache headers
/// [`session_core::response::cache_headers`] asks for.
fn cache_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    session: &session_core::Session,
    cookie: Option<SessionHeader>,
) {
    let sets_cookie = cookie.is_some();
    if let Some((name, value)) = cookie {
        headers.append(name, value);
    }
    let add = session_core::response::cache_headers(
        session,
        sets_cookie,
        || headers.contains_key(header::CACHE_CONTROL),
        || headers.get_all(header::VARY).map(HeaderValue::as_bytes),
    );
    if let Some(value) = add.cache_control {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    if let Some(value) = add.vary {
        headers.append(header::VARY, HeaderValue::from_static(value));
    }
}

/// An error from the wrapped services, rendered as it would be, plus the session's
/// `Set-Cookie` and cache headers.
struct WithSetCookie {
    error: Error,
    cookie: Option<SessionHeader>,
    session: session_core::Session,
}

impl fmt::Debug for WithSetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cookie carries a session token: never print it.
        fmt::Debug::fmt(&self.error, f)
    }
}

impl fmt::Display for WithSetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for WithSetCookie {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.error.error_response();
        cache_headers(res.headers_mut(), &self.session, self.cookie.clone());
        res
    }
}

/// The error that replaces an inner service's error when the session could not be saved (the
/// cause is already logged): the opaque 500.
#[derive(Debug)]
struct SaveFailed;

impl fmt::Display for SaveFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not save the session")
    }
}

impl ResponseError for SaveFailed {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        opaque_response()
    }
}
