//! The app on Rocket.

use std::net::SocketAddr;

use rocket::config::{Config, LogLevel, Shutdown};
use rocket::fairing::AdHoc;
use rocket::{get, post, routes};
use session_examples::rocket_app::{self, Respond};
use session_rocket::{Session, SessionFairing, SessionManager};

use crate::routes as test;

#[get("/plain")]
fn plain() -> Respond {
    Respond(test::plain())
}

#[get("/fail")]
async fn fail(session: Session) -> Respond {
    Respond(test::fail(&session).await)
}

#[post("/destroy")]
async fn destroy(session: Session) -> Respond {
    Respond(test::destroy(&session).await)
}

#[get("/has/<key>")]
async fn has(session: Session, key: &str) -> Respond {
    Respond(test::has(&session, key).await)
}

pub(super) async fn serve(manager: Option<SessionManager>) -> (SocketAddr, Box<dyn Send + Sync>) {
    let config = Config {
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        workers: 2,
        log_level: LogLevel::Off,
        shutdown: Shutdown {
            ctrlc: false,
            ..Shutdown::default()
        },
        ..Config::debug_default()
    };
    let (port_tx, port_rx) = tokio::sync::oneshot::channel();
    let mut rocket = rocket::custom(config)
        .mount("/", rocket_app::routes())
        .mount("/test", routes![plain, fail, destroy, has])
        .attach(AdHoc::on_liftoff("report the port", move |rocket| {
            Box::pin(async move {
                let _ = port_tx.send(rocket.config().port);
            })
        }));
    if let Some(manager) = manager {
        rocket = rocket.attach(SessionFairing::new(manager));
    }
    let rocket = rocket.ignite().await.expect("Rocket ignites");
    let shutdown = rocket.shutdown();
    tokio::spawn(rocket.launch());
    let port = port_rx.await.expect("Rocket lifted off");
    (
        SocketAddr::from(([127, 0, 0, 1], port)),
        Box::new(ShutdownOnDrop(shutdown)),
    )
}

struct ShutdownOnDrop(rocket::Shutdown);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.clone().notify();
    }
}
