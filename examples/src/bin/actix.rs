//! The example app on actix-web. Run it with `cargo run -p session-examples --bin actix`, then
//! open <http://127.0.0.1:8000/>. Configuration: `PORT`, `SESSION_STORE`, `SESSION_SECRET`,
//! `SESSION_SECURE` (see the crate docs).

use std::process::ExitCode;

use actix_web::{App, HttpServer};
use session_actix::SessionMiddleware;
use session_examples::{actix_app, exit_with};

#[actix_web::main]
async fn main() -> ExitCode {
    let (settings, manager) = match session_examples::start().await {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(manager.clone()))
            .configure(actix_app::routes)
    })
    .bind(("127.0.0.1", settings.port));
    let server = match server {
        Ok(server) => server,
        Err(error) => {
            return exit_with(&format!(
                "PORT: cannot listen on 127.0.0.1:{}: {error}",
                settings.port
            ));
        }
    };
    session_examples::announce("actix-web", &settings, server.addrs().first().copied());
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_with(&error),
    }
}
