//! The tower middleware: [`SessionLayer`] wraps a service in [`SessionService`], which gives each
//! request a lazy session and turns it into store writes and a `Set-Cookie` header afterwards.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, HeaderName, VARY};
use http::{HeaderValue, Request};
use session_core::SessionManager;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::opaque_500;

/// Installs sessions on an axum `Router` (or any tower service): `.layer(SessionLayer::new(manager))`.
///
/// For each request the layer builds a lazy session from the `Cookie` headers, and from the
/// [token header](session_core::SessionConfig::with_token_header) if one is configured (nothing
/// is verified or loaded until a handler uses it), runs the inner service, then calls
/// [`SessionManager::finish`] with the response status: changed keys are written to the store
/// and the `Set-Cookie` header (or the token response header) is appended. A request whose handler never touches its session
/// costs no store I/O and gets no cookie. If the store fails at that point, the response is
/// replaced by an opaque `500 Internal Server Error` and the error is logged.
///
/// ```
/// use axum::{Router, routing::get};
/// use session_axum::{KeyRing, MemoryStore, Session, SessionConfig, SessionError, SessionLayer, SessionManager};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     // Atomic: concurrent requests never lose a visit.
///     let n = session.update("visits", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
///     Ok(format!("visit number {n}"))
/// }
///
/// # fn main() -> Result<(), session_axum::ConfigError> {
/// let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), SessionConfig::default())?;
/// let app: Router = Router::new()
///     .route("/", get(visits))
///     .layer(SessionLayer::new(manager));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    manager: SessionManager,
}

impl SessionLayer {
    /// A layer that serves sessions from `manager`.
    #[must_use]
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around the inner one; see there.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum_core::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let manager = self.manager.clone();
        let headers = request.headers();
        let session = manager
            .session_from_headers(|name| headers.get_all(name).iter().map(HeaderValue::as_bytes));
        request.extensions_mut().insert(session.clone());

        // The clone that was driven to readiness serves this request (tower's usual rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let Ok(response) = inner.call(request).await;
            let mut response = response.map(Body::new);
            let sets_cookie = match manager.finish(&session, response.status().as_u16()).await {
                Ok(None) => false,
                Ok(Some(set_cookie)) => {
                    let name = HeaderName::from_bytes(set_cookie.header_name().as_bytes());
                    match (name, HeaderValue::try_from(set_cookie.into_string())) {
                        (Ok(name), Ok(value)) => {
                            response.headers_mut().append(name, value);
                            true
                        }
                        _ => {
                            tracing::error!(
                                "the session cookie or token is not a valid header; answering 500"
                            );
                            return Ok(opaque_500().into_response());
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(
                        error = %session_core::ErrorChain::new(&error),
                        "could not save the session; answering 500"
                    );
                    return Ok(opaque_500().into_response());
                }
            };
            let headers = response.headers_mut();
            let add = session_core::response::cache_headers(
                &session,
                sets_cookie,
                || headers.contains_key(CACHE_CONTROL),
                || headers.get_all(VARY).iter().map(HeaderValue::as_bytes),
            );
            if let Some(value) = add.cache_control {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
            }
            if let Some(value) = add.vary {
                headers.append(VARY, HeaderValue::from_static(value));
            }
            Ok(response)
        })
    }
}
