//! # session-bench
//!
//! Three tiny apps for load tests, `bench-axum`, `bench-actix` and `bench-rocket`, serving the
//! same routes on one worker thread:
//!
//! | route | with sessions | without (`BENCH_SESSION=none`) |
//! |---|---|---|
//! | `GET /plain` | `ok`; the session is never touched | `ok` |
//! | `GET /read` | the integer under `n` (0 when absent) | `0` |
//! | `GET /write` | reads `n`, stores `n + 1`, answers it | `1` |
//!
//! Environment: `PORT` (default 8000), `SESSION_STORE` (`memory` by default here; also `cookie`
//! and `redis://…`, as in the example app), `BENCH_SESSION` (`ours`, the default, or `none`
//! for the same app without any session layer). `bench/load` drives them with `wrk`.

use std::process::ExitCode;

use session_core::{Result, Session, SessionManager};
use session_examples::Settings;

/// The session key `/read` and `/write` use.
pub const KEY: &str = "n";

/// Whether the app has a session layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Ours.
    Ours,
    /// None at all: the baseline.
    None,
}

/// The app's settings.
pub struct Bench {
    /// Where to listen, on 127.0.0.1.
    pub port: u16,
    /// The session engine, unless the mode is [`Mode::None`].
    pub manager: Option<SessionManager>,
}

impl Bench {
    /// Reads `PORT`, `SESSION_STORE` and `BENCH_SESSION`, and opens the store; `Err` is a
    /// one-line message naming the variable.
    pub async fn from_env() -> std::result::Result<Self, String> {
        let mode = match std::env::var("BENCH_SESSION").as_deref() {
            Err(_) | Ok("ours") => Mode::Ours,
            Ok("none") => Mode::None,
            Ok(other) => return Err(format!("BENCH_SESSION: `{other}` is not ours or none")),
        };
        let settings = Settings::from_vars(|name| match name {
            "SESSION_STORE" => Some(std::env::var(name).unwrap_or_else(|_| "memory".to_owned())),
            "SESSION_SECRET" => Some("bench-secret-bench-secret-bench-secret!".to_owned()),
            _ => std::env::var(name).ok(),
        })
        .map_err(|error| error.to_string())?;
        let manager = match mode {
            Mode::None => None,
            Mode::Ours => Some(
                settings
                    .manager()
                    .await
                    .map_err(|error| error.to_string())?,
            ),
        };
        Ok(Self {
            port: settings.port,
            manager,
        })
    }
}

/// `/read` with a session: `n`, or 0.
pub async fn read(session: &Session) -> Result<u64> {
    Ok(session.get::<u64>(KEY).await?.unwrap_or(0))
}

/// `/write` with a session: stores and returns `n + 1`.
pub async fn write(session: &Session) -> Result<u64> {
    let n = read(session).await? + 1;
    session.set(KEY, &n).await?;
    Ok(n)
}

/// Prints a start-up error and returns the failure exit code.
pub fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
