//! The load-test app on axum, on a single-threaded Tokio runtime: ours, none, or tower-sessions
//! (`BENCH_SESSION=tower`). See the crate docs.

use std::process::ExitCode;

use axum::Router;
use axum::routing::get;
use session_axum::{Session, SessionError, SessionLayer, SessionManager};
use session_bench::{Bench, Layer, StartError, fail, serve_axum, tower_sessions_peer};

fn ours(manager: SessionManager) -> Router {
    Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route(
            "/read",
            get(|session: Session| async move {
                Ok::<_, SessionError>(session_bench::read(&session).await?.to_string())
            }),
        )
        .route(
            "/write",
            get(|session: Session| async move {
                Ok::<_, SessionError>(session_bench::write(&session).await?.to_string())
            }),
        )
        .layer(SessionLayer::new(manager))
}

fn none() -> Router {
    Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route("/read", get(|| async { "0" }))
        .route("/write", get(|| async { "1" }))
}

async fn app(bench: Bench) -> Result<Router, StartError> {
    match bench.layer {
        Layer::Ours(manager) => Ok(ours(manager)),
        Layer::None => Ok(none()),
        Layer::Tower => tower_sessions_peer::router(&bench.store, bench.secure).await,
        other => Err(other.mode().not_on("bench-axum", "ours, none or tower")),
    }
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    runtime.block_on(async {
        let bench = match Bench::from_env().await {
            Ok(bench) => bench,
            Err(error) => return error.exit(),
        };
        let port = bench.port;
        let app = match app(bench).await {
            Ok(app) => app,
            Err(error) => return error.exit(),
        };
        serve_axum(app, port).await
    })
}
