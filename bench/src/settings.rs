//! What a load-test app serves, from its environment: `PORT`, `SESSION_STORE`, `SESSION_SECURE`
//! and `BENCH_SESSION`.

use std::fmt;
use std::process::ExitCode;

use session_core::SessionManager;
use session_examples::{Settings, StoreSpec};

/// The exit code of an app asked for a peer that has no store of the requested kind, so that
/// `bench/load` can tell "no peer" from a failure.
pub const NO_PEER_EXIT: u8 = 3;

/// The signing and encryption key of the peers' cookies (tower-sessions and actix-session both
/// take 64 bytes). A fixed key, like the fixed `SESSION_SECRET` of our layer here: these apps
/// only serve load tests on loopback.
pub const PEER_KEY: &[u8; 64] = b"bench-peer-key: signs and encrypts the peers' cookies, 64 bytes.";

/// Which session layer the app has, from `BENCH_SESSION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `ours` (the default): this workspace's adapter.
    Ours,
    /// `none`: no session layer at all, the baseline.
    None,
    /// `tower`: tower-sessions, the peer on axum.
    Tower,
    /// `actix-session`: actix-session, the peer on actix-web.
    ActixSession,
}

impl Mode {
    /// Parses a `BENCH_SESSION` value.
    pub fn parse(value: &str) -> Result<Self, StartError> {
        match value {
            "ours" => Ok(Self::Ours),
            "none" => Ok(Self::None),
            "tower" => Ok(Self::Tower),
            "actix-session" => Ok(Self::ActixSession),
            other => Err(StartError::Failed(format!(
                "BENCH_SESSION: `{other}` is not ours, none, tower (axum) or actix-session (actix)"
            ))),
        }
    }

    /// The `BENCH_SESSION` value naming this mode.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::None => "none",
            Self::Tower => "tower",
            Self::ActixSession => "actix-session",
        }
    }

    /// The error for a peer mode asked of a framework that it does not run on.
    pub fn not_on(self, binary: &str, accepted: &str) -> StartError {
        StartError::Failed(format!(
            "BENCH_SESSION: `{}` does not run on {binary}; it takes {accepted}",
            self.name()
        ))
    }
}

/// Why an app did not start.
#[derive(Debug)]
pub enum StartError {
    /// The peer has no store of the kind `SESSION_STORE` names; `bench/load` reports "no peer".
    NoPeer(String),
    /// Anything else: a bad variable, an unreachable store.
    Failed(String),
}

impl StartError {
    /// Prints the error as one line and returns the exit code that tells the two kinds apart
    /// ([`NO_PEER_EXIT`] for [`StartError::NoPeer`]).
    pub fn exit(&self) -> ExitCode {
        eprintln!("error: {self}");
        match self {
            Self::NoPeer(_) => ExitCode::from(NO_PEER_EXIT),
            Self::Failed(_) => ExitCode::FAILURE,
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPeer(message) => write!(f, "no peer: {message}"),
            Self::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StartError {}

/// The session layer an app installs.
pub enum Layer {
    /// Ours, with its engine (store opened).
    Ours(SessionManager),
    /// None: the baseline.
    None,
    /// tower-sessions (opens its own store).
    Tower,
    /// actix-session (opens its own store).
    ActixSession,
}

impl Layer {
    /// The mode this layer was chosen by.
    pub fn mode(&self) -> Mode {
        match self {
            Self::Ours(_) => Mode::Ours,
            Self::None => Mode::None,
            Self::Tower => Mode::Tower,
            Self::ActixSession => Mode::ActixSession,
        }
    }
}

/// The app's settings.
pub struct Bench {
    /// Where to listen, on 127.0.0.1.
    pub port: u16,
    /// Where sessions live (`SESSION_STORE`, `memory` by default here).
    pub store: StoreSpec,
    /// Whether the session cookie is `Secure` (`SESSION_SECURE`, `false` by default: these apps
    /// serve plain HTTP), for our layer and the peers alike.
    pub secure: bool,
    /// The session layer (`BENCH_SESSION`).
    pub layer: Layer,
}

impl Bench {
    /// Reads `PORT`, `SESSION_STORE`, `SESSION_SECURE` and `BENCH_SESSION`, and opens our store
    /// when the mode is [`Mode::Ours`] (the peers open theirs).
    pub async fn from_env() -> Result<Self, StartError> {
        let mode = match std::env::var("BENCH_SESSION") {
            Ok(value) => Mode::parse(value.trim())?,
            Err(_) => Mode::Ours,
        };
        let settings = Settings::from_vars(|name| match name {
            "SESSION_STORE" => Some(std::env::var(name).unwrap_or_else(|_| "memory".to_owned())),
            "SESSION_SECRET" => Some("bench-secret-bench-secret-bench-secret!".to_owned()),
            _ => std::env::var(name).ok(),
        })
        .map_err(|error| StartError::Failed(error.to_string()))?;
        let layer = match mode {
            Mode::Ours => Layer::Ours(
                settings
                    .manager()
                    .await
                    .map_err(|error| StartError::Failed(error.to_string()))?,
            ),
            Mode::None => Layer::None,
            Mode::Tower => Layer::Tower,
            Mode::ActixSession => Layer::ActixSession,
        };
        Ok(Self {
            port: settings.port,
            store: settings.store,
            secure: settings.secure,
            layer,
        })
    }
}

/// Prints a start-up error and returns the failure exit code.
pub fn fail(error: &dyn fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

/// Serves an axum app on 127.0.0.1:`port` until it fails (`bench-axum` and `bench-soak`).
pub async fn serve_axum(app: axum::Router, port: u16) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => return fail(&format!("PORT: {error}")),
    };
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}
