//! # session-examples
//!
//! The example app of the typed-sessions workspace: one set of routes and one module of session
//! code ([`app`]), served by three binaries, `axum`, `actix` and `rocket`, through the three
//! adapter crates. Only the framework glue differs between them (the `*_app` modules and
//! `src/bin/`).
//!
//! ```text
//! cargo run -p session-examples --bin axum      # or actix, or rocket
//! ```
//!
//! | route | behaviour |
//! |---|---|
//! | `GET /` | the value of `test_key`, or `No value set. Go to /set to set a value` (HTML) |
//! | `GET /set` | sets `test_key` to `something`, redirects to `/` |
//! | `POST /login` | optional JSON `{"name": ..., "remember": bool}`; stores the typed user, cycles the id; `"remember": true` keeps the session 30 days (`Max-Age=2592000`), `false` until the browser closes (no `Max-Age`) |
//! | `GET /profile` | `{"user":{...}}` when logged in, else 401 `{"error":"Not authenticated"}` |
//! | `POST /logout` | removes the user, `{"status":"logged out"}` |
//! | `GET /check` | `{"hasUser":bool,"isAuthenticated":bool}` |
//! | `GET /kv` | every raw key and value of the session, as a JSON object |
//! | `GET`, `PUT`, `DELETE /kv/{key}` | one raw value: read (404 when absent), store the JSON body (204), delete (204) |
//! | `GET /sudo` | 200 `{"fresh":true,"since":…}` within five minutes of the login, 403 after (ask for the password again), 401 when logged out |
//! | `GET /sessions` | the logged-in user's live sessions, `[{"handle","createdAt","lastSeen","expiresAt","current"}]`; 401 when logged out, 501 on the cookie store |
//! | `POST /logout-everywhere` | revokes every session of the logged-in user, this one too, `{"revoked":n}`; 401 when logged out, 501 on the cookie store |
//! | `POST /kv/{key}/incr` | adds 1 to the integer under the key (absent: 0) and returns the new value; concurrent increments are all counted |
//!
//! Configuration, from the environment; a bad value stops the binary with one line naming the
//! variable:
//!
//! | variable | default | values |
//! |---|---|---|
//! | `PORT` | `8000` | the port on 127.0.0.1 |
//! | `SESSION_STORE` | `cookie` | `cookie`, `memory`, `file:DIR`, `redis://…`, `redis+cluster://host:port,host:port…`, `sqlite:PATH`, `postgres://…`, `mongodb://…/DATABASE` |
//! | `SESSION_SECRET` | a random key per process (with a warning) | at least 32 bytes; `openssl rand -base64 48` |
//! | `SESSION_SECRET_PREVIOUS` | none | older secrets, comma-separated, still accepted |
//! | `SESSION_SECURE` | `true`: `Secure` cookies with the `__Host-` prefix, which browsers and curl accept from `http://localhost` and `http://127.0.0.1` | `true`, or `false` for plain HTTP on another host (development only) |
//!
//! The server-side stores are cargo features of this crate (`file`, `redis`, `sqlite`,
//! `postgres`, `mongodb`, or `all-stores`), left out of the default build so the first
//! `cargo run` stays quick: `cargo run -p session-examples --features redis --bin axum`.

pub mod app;
mod config;

#[cfg(feature = "actix")]
pub mod actix_app;
#[cfg(feature = "axum")]
pub mod axum_app;
#[cfg(feature = "rocket")]
pub mod rocket_app;

use std::net::SocketAddr;
use std::process::ExitCode;

pub use crate::config::{ConfigError, DEFAULT_PORT, Settings, StoreSpec};

/// What every binary does first: logging on, settings read, store opened, and the sweeper that
/// deletes expired sessions every five minutes started for the life of the process (it does
/// nothing on the cookie store). `Err` is the exit code after printing the one-line error.
pub async fn start() -> Result<(Settings, session_core::SessionManager), ExitCode> {
    init_tracing();
    let settings = Settings::from_env().map_err(|error| exit_with(&error))?;
    let manager = settings
        .manager()
        .await
        .map_err(|error| exit_with(&error))?;
    session_core::Sweeper::for_manager(&manager)
        .spawn()
        .map_err(|error| exit_with(&error))?
        .detach();
    Ok((settings, manager))
}

/// Logs to stderr at `info` (or as `RUST_LOG` says).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Prints where the app listens.
pub fn announce(framework: &str, settings: &Settings, addr: Option<SocketAddr>) {
    let port = addr.map_or(settings.port, |addr| addr.port());
    println!(
        "{framework} example listening on http://127.0.0.1:{port}/ (SESSION_STORE: {})",
        settings.store.kind()
    );
}

/// Prints a start-up error as one line and returns the failure exit code.
pub fn exit_with(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
