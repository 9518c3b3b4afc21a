//! # session-bench
//!
//! Three tiny apps for load tests, `bench-axum`, `bench-actix` and `bench-rocket`, serving the
//! same routes on one worker thread, with our session layer, without any, or with the session
//! library each framework's users would otherwise reach for:
//!
//! | route | with a session layer | without (`BENCH_SESSION=none`) |
//! |---|---|---|
//! | `GET /plain` | `ok`; the session is never touched | `ok` |
//! | `GET /read` | the integer under `n` (0 when absent) | `0` |
//! | `GET /write` | reads `n`, stores `n + 1`, answers it | `1` |
//!
//! Environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `PORT` | where to listen on 127.0.0.1 (default 8000) |
//! | `SESSION_STORE` | `memory` (the default here), `cookie` or `redis://…`, parsed as the example app does |
//! | `SESSION_SECURE` | whether session cookies are `Secure` (default `false`: plain HTTP) |
//! | `BENCH_SESSION` | `ours` (the default), `none`, `tower` (axum only) or `actix-session` (actix only) |
//!
//! The peers, configured like ours (`HttpOnly`, `SameSite=Lax`, a persistent cookie that lapses
//! after one day without use) and with their stores set up as their documentation shows:
//!
//! | `BENCH_SESSION` | app | `memory` | `cookie` | `redis://…` |
//! |---|---|---|---|---|
//! | `tower` | `bench-axum` | tower-sessions 0.14 `MemoryStore` | tower-sessions-cookie-store 0.5, private cookies | tower-sessions-redis-store 0.16 (fred, a pool of 6) |
//! | `actix-session` | `bench-actix` | none | actix-session 0.11 `CookieSessionStore`, private cookies | actix-session 0.11 `RedisSessionStore` (redis crate) |
//!
//! Rocket has no peer. A peer asked for a store it does not have prints one line starting with
//! `error: no peer:` and exits with [`NO_PEER_EXIT`]; any other start-up error exits with 1.
//! `bench/load` drives the apps with `wrk` and writes `BENCHMARKS.md`.

mod actix_peer;
mod ours;
mod settings;
mod tower_peer;

pub use crate::ours::{KEY, read, write};
pub use crate::settings::{
    Bench, Layer, Mode, NO_PEER_EXIT, PEER_KEY, StartError, fail, serve_axum,
};

/// The actix-session peer: its store, middleware and handlers.
pub mod actix_session_peer {
    pub use crate::actix_peer::{PeerStore, cookie_store, middleware, read, write};
}

/// The tower-sessions peer: the whole axum app.
pub mod tower_sessions_peer {
    pub use crate::tower_peer::router;
}
