//! The load-test app on axum, on a single-threaded Tokio runtime. See the crate docs.

use std::process::ExitCode;

use axum::Router;
use axum::routing::get;
use session_axum::{Session, SessionError, SessionLayer};
use session_bench::{Bench, fail};

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
            Err(error) => return fail(&error),
        };
        let app = match bench.manager {
            Some(manager) => Router::new()
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
                .layer(SessionLayer::new(manager)),
            None => Router::new()
                .route("/plain", get(|| async { "ok" }))
                .route("/read", get(|| async { "0" }))
                .route("/write", get(|| async { "1" })),
        };
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", bench.port)).await {
            Ok(listener) => listener,
            Err(error) => return fail(&format!("PORT: {error}")),
        };
        match axum::serve(listener, app).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        }
    })
}
