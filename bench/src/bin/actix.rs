//! The load-test app on actix-web, with one worker: ours, none, or actix-session
//! (`BENCH_SESSION=actix-session`). See the crate docs.

use std::process::ExitCode;

use actix_session::storage::SessionStore;
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use session_actix::{Session, SessionError, SessionManager, SessionMiddleware};
use session_bench::actix_session_peer::{self, PeerStore};
use session_bench::{Bench, Layer, fail};

type Address = (&'static str, u16);

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session_bench::read(&session).await?.to_string())
}

async fn write(session: Session) -> Result<String, SessionError> {
    Ok(session_bench::write(&session).await?.to_string())
}

// One server per kind of app: `wrap` changes the App's type, and the baseline must have no layer.

fn ours(manager: SessionManager, address: Address) -> std::io::Result<Server> {
    HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::new(manager.clone()))
            .route("/plain", web::get().to(|| async { "ok" }))
            .route("/read", web::get().to(read))
            .route("/write", web::get().to(write))
    })
    .workers(1)
    .bind(address)
    .map(HttpServer::run)
}

fn none(address: Address) -> std::io::Result<Server> {
    HttpServer::new(|| {
        App::new()
            .route("/plain", web::get().to(|| async { "ok" }))
            .route("/read", web::get().to(|| async { "0" }))
            .route("/write", web::get().to(|| async { "1" }))
    })
    .workers(1)
    .bind(address)
    .map(HttpServer::run)
}

/// actix-session's middleware is built per worker, from a store made by `store`.
fn peer<S, F>(store: F, secure: bool, address: Address) -> std::io::Result<Server>
where
    S: SessionStore + 'static,
    F: Fn() -> S + Clone + Send + 'static,
{
    HttpServer::new(move || {
        App::new()
            .wrap(actix_session_peer::middleware(store(), secure))
            .route("/plain", web::get().to(|| async { "ok" }))
            .route("/read", web::get().to(actix_session_peer::read))
            .route("/write", web::get().to(actix_session_peer::write))
    })
    .workers(1)
    .bind(address)
    .map(HttpServer::run)
}

#[actix_web::main]
async fn main() -> ExitCode {
    let bench = match Bench::from_env().await {
        Ok(bench) => bench,
        Err(error) => return error.exit(),
    };
    let address = ("127.0.0.1", bench.port);
    let server = match bench.layer {
        Layer::Ours(manager) => ours(manager, address),
        Layer::None => none(address),
        Layer::ActixSession => match PeerStore::open(&bench.store).await {
            Ok(PeerStore::Cookie) => peer(actix_session_peer::cookie_store, bench.secure, address),
            #[cfg(feature = "redis")]
            Ok(PeerStore::Redis(store)) => peer(move || store.clone(), bench.secure, address),
            Err(error) => return error.exit(),
        },
        other => {
            return other
                .mode()
                .not_on("bench-actix", "ours, none or actix-session")
                .exit();
        }
    };
    match server {
        Ok(server) => match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        },
        Err(error) => fail(&format!("PORT: {error}")),
    }
}
