//! The app on axum.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::routing::{get, post};
use session_axum::{Session, SessionLayer, SessionManager};
use session_examples::axum_app::{respond, routes};

use crate::routes as test;

pub(super) async fn serve(manager: Option<SessionManager>) -> (SocketAddr, Box<dyn Send + Sync>) {
    let mut app = routes()
        .route("/test/plain", get(|| async { respond(test::plain()) }))
        .route(
            "/test/fail",
            get(|session: Session| async move { respond(test::fail(&session).await) }),
        )
        .route(
            "/test/destroy",
            post(|session: Session| async move { respond(test::destroy(&session).await) }),
        )
        .route(
            "/test/has/{key}",
            get(|session: Session, Path(key): Path<String>| async move {
                respond(test::has(&session, &key).await)
            }),
        );
    if let Some(manager) = manager {
        app = app.layer(SessionLayer::new(manager));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("a bound address");
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, Box::new(AbortOnDrop(task)))
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
