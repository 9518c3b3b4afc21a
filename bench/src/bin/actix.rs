//! The load-test app on actix-web, with one worker. See the crate docs.

use std::process::ExitCode;

use actix_web::{App, HttpServer, web};
use session_actix::{Session, SessionError, SessionMiddleware};
use session_bench::{Bench, fail};

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session_bench::read(&session).await?.to_string())
}

async fn write(session: Session) -> Result<String, SessionError> {
    Ok(session_bench::write(&session).await?.to_string())
}

#[actix_web::main]
async fn main() -> ExitCode {
    let bench = match Bench::from_env().await {
        Ok(bench) => bench,
        Err(error) => return fail(&error),
    };
    let address = ("127.0.0.1", bench.port);
    // Two whole servers: `wrap` changes the App's type, and the baseline must have no layer.
    let server = match bench.manager {
        Some(manager) => HttpServer::new(move || {
            App::new()
                .wrap(SessionMiddleware::new(manager.clone()))
                .route("/plain", web::get().to(|| async { "ok" }))
                .route("/read", web::get().to(read))
                .route("/write", web::get().to(write))
        })
        .workers(1)
        .bind(address)
        .map(HttpServer::run),
        None => HttpServer::new(|| {
            App::new()
                .route("/plain", web::get().to(|| async { "ok" }))
                .route("/read", web::get().to(|| async { "0" }))
                .route("/write", web::get().to(|| async { "1" }))
        })
        .workers(1)
        .bind(address)
        .map(HttpServer::run),
    };
    match server {
        Ok(server) => match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        },
        Err(error) => fail(&format!("PORT: {error}")),
    }
}
