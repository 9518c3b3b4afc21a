//! Serves the app (the example's routes plus [`crate::routes`]) in-process on an ephemeral
//! loopback port, on any of the three frameworks, with or without the session middleware.

mod actix;
mod axum;
mod rocket;

use std::net::SocketAddr;

use session_core::SessionManager;

/// A framework adapter under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// axum through `session-axum`.
    Axum,
    /// actix-web through `session-actix`.
    Actix,
    /// Rocket through `session-rocket`.
    Rocket,
}

/// A running app; dropping it stops the server.
pub struct Server {
    addr: SocketAddr,
    _stop: Box<dyn Send + Sync>,
}

impl Server {
    /// The app's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Framework {
    /// Serves the app with the session middleware over `manager`, or without any session
    /// middleware when `manager` is `None`.
    pub async fn serve(self, manager: Option<SessionManager>) -> Server {
        let (addr, stop) = match self {
            Self::Axum => axum::serve(manager).await,
            Self::Actix => actix::serve(manager).await,
            Self::Rocket => rocket::serve(manager).await,
        };
        Server { addr, _stop: stop }
    }
}
