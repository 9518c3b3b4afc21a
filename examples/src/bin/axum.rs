//! The example app on axum. Run it with `cargo run -p session-examples --bin axum`, then open
//! <http://127.0.0.1:8000/>. Configuration: `PORT`, `SESSION_STORE`, `SESSION_SECRET`,
//! `SESSION_SECURE` (see the crate docs).

use std::process::ExitCode;

use session_examples::{axum_app, exit_with};

#[tokio::main]
async fn main() -> ExitCode {
    let (settings, manager) = match session_examples::start().await {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", settings.port)).await {
        Ok(listener) => listener,
        Err(error) => {
            return exit_with(&format!(
                "PORT: cannot listen on 127.0.0.1:{}: {error}",
                settings.port
            ));
        }
    };
    session_examples::announce("axum", &settings, listener.local_addr().ok());
    match axum::serve(listener, axum_app::app(manager)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_with(&error),
    }
}
