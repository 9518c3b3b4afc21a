//! The soak app (`bench/soak` drives it): axum on one worker thread over a memory store with a
//! small capacity and a short idle expiry. Every `GET /write` without a cookie creates a
//! session that the load generator then abandons; `GET /stats` reports how many sessions the
//! store holds and the process's resident memory, so a long run shows both staying bounded.
//!
//! Environment: `PORT` (18400), `SOAK_CAPACITY` sessions (50000), `SOAK_IDLE_SECS` (5),
//! `SOAK_VALUE_BYTES`, the size of the string each session stores (256).

use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use session_axum::{
    Expiry, KeyRing, MemoryStore, Session, SessionConfig, SessionError, SessionLayer,
    SessionManager,
};
use session_bench::{fail, serve_axum};

fn var(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name}: `{text}` is not a whole number")),
    }
}

/// Resident memory in KiB, from `/proc/self/status`; 0 where there is no procfs.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> ExitCode {
    let settings = (|| {
        Ok::<_, String>((
            var("PORT", 18400)?,
            var("SOAK_CAPACITY", 50_000)?,
            var("SOAK_IDLE_SECS", 5)?,
            var("SOAK_VALUE_BYTES", 256)?,
        ))
    })();
    let (port, capacity, idle, value_bytes) = match settings {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    let Ok(port) = u16::try_from(port) else {
        return fail(&"PORT: not a port number (0 to 65535)");
    };
    let store = MemoryStore::with_capacity(capacity);
    let config = SessionConfig::default()
        .with_secure(false)
        .with_expiry(Expiry::Idle(Duration::from_secs(idle)))
        .with_touch_interval(Duration::from_millis(idle.saturating_mul(200)));
    let manager = match SessionManager::new(store.clone(), KeyRing::generate(), config) {
        Ok(manager) => manager,
        Err(error) => return fail(&error),
    };
    let payload = "x".repeat(usize::try_from(value_bytes).unwrap_or(256));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    runtime.block_on(async move {
        let app = Router::new()
            .route(
                "/write",
                get(
                    |State(payload): State<String>, session: Session| async move {
                        let n = session.get::<u64>("n").await?.unwrap_or(0) + 1;
                        session.set("n", &n).await?;
                        session.set("payload", &payload).await?;
                        Ok::<_, SessionError>(n.to_string())
                    },
                ),
            )
            .with_state(payload)
            .layer(SessionLayer::new(manager))
            .route(
                "/stats",
                get(move || {
                    let store = store.clone();
                    async move {
                        format!(
                            "{{\"sessions\":{},\"capacity\":{capacity},\"rss_kib\":{}}}",
                            store.len(),
                            rss_kib()
                        )
                    }
                }),
            );
        serve_axum(app, port).await
    })
}
