//! Configuration mistakes caught when the session manager is built.

use std::time::Duration;

use session_core::{ConfigError, Expiry, KeyRing, MemoryStore, SessionConfig, SessionManager};

fn build(expiry: Expiry) -> Result<SessionManager, ConfigError> {
    let config = SessionConfig::default().with_expiry(expiry);
    SessionManager::new(MemoryStore::new(), KeyRing::generate(), config)
}

#[test]
fn idle_timeout_longer_than_the_absolute_lifetime_is_refused() {
    let err = build(Expiry::IdleAndAbsolute {
        idle: Duration::from_secs(24 * 60 * 60),
        absolute: Duration::from_secs(60 * 60),
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::Expiry(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("idle timeout is longer than the absolute lifetime"),
        "{message}"
    );
    assert!(
        message.contains("make `idle` shorter than `absolute`"),
        "{message}"
    );
}

#[test]
fn idle_timeout_within_the_absolute_lifetime_is_accepted() {
    for (idle, absolute) in [(30 * 60, 12 * 60 * 60), (60 * 60, 60 * 60)] {
        build(Expiry::IdleAndAbsolute {
            idle: Duration::from_secs(idle),
            absolute: Duration::from_secs(absolute),
        })
        .unwrap_or_else(|err| panic!("idle {idle}s, absolute {absolute}s: {err}"));
    }
}
