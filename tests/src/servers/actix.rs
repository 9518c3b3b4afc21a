//! The app on actix-web, in a thread of its own running an actix system with one worker.

use std::net::SocketAddr;

use actix_web::middleware::Condition;
use actix_web::{App, HttpServer, web};
use session_actix::{
    KeyRing, MemoryStore, Session, SessionConfig, SessionManager, SessionMiddleware,
};
use session_examples::actix_app::{respond, routes};

use crate::routes as test;

pub(super) async fn serve(manager: Option<SessionManager>) -> (SocketAddr, Box<dyn Send + Sync>) {
    let enabled = manager.is_some();
    // `Condition` needs a middleware even when it is off; this one is never used.
    let manager = manager.unwrap_or_else(|| {
        SessionManager::new(
            MemoryStore::new(),
            KeyRing::generate(),
            SessionConfig::default(),
        )
        .expect("the default configuration is valid")
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("a bound address");
    let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .wrap(Condition::new(
                        enabled,
                        SessionMiddleware::new(manager.clone()),
                    ))
                    .configure(routes)
                    .route(
                        "/test/plain",
                        web::get().to(|| async { respond(test::plain()) }),
                    )
                    .route(
                        "/test/fail",
                        web::get().to(|session: Session| async move {
                            respond(test::fail(&session).await)
                        }),
                    )
                    .route(
                        "/test/destroy",
                        web::post().to(|session: Session| async move {
                            respond(test::destroy(&session).await)
                        }),
                    )
                    .route(
                        "/test/has/{key}",
                        web::get().to(|session: Session, key: web::Path<String>| async move {
                            respond(test::has(&session, &key).await)
                        }),
                    )
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen on the bound socket")
            .run();
            let _ = handle_tx.send(server.handle());
            let _ = server.await;
        });
    });
    let handle = handle_rx.await.expect("the actix server started");
    (addr, Box::new(StopOnDrop(handle)))
}

struct StopOnDrop(actix_web::dev::ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // Sends the stop command now; the server's thread finishes by itself.
        drop(self.0.stop(false));
    }
}
