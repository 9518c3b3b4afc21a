//! The peer on actix-web: the same routes with actix-session (`BENCH_SESSION=actix-session`).

use actix_session::config::PersistentSession;
use actix_session::storage::{CookieSessionStore, SessionStore};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{Key, SameSite};
use session_examples::StoreSpec;
use time::Duration;

use crate::{KEY, PEER_KEY, StartError};

/// An actix-session store for `SESSION_STORE`: `cookie` is `CookieSessionStore` (private, that
/// is encrypted, cookies, actix-session's default), `redis://…` is `RedisSessionStore` (the
/// `redis` crate). actix-session has no memory store.
pub enum PeerStore {
    /// `CookieSessionStore`.
    Cookie,
    /// `RedisSessionStore`, connected.
    #[cfg(feature = "redis")]
    Redis(actix_session::storage::RedisSessionStore),
}

impl PeerStore {
    /// Opens the store `SESSION_STORE` names, or says that actix-session has none of its kind.
    pub async fn open(store: &StoreSpec) -> Result<Self, StartError> {
        match store {
            StoreSpec::Cookie => Ok(Self::Cookie),
            #[cfg(feature = "redis")]
            StoreSpec::Redis(url) => actix_session::storage::RedisSessionStore::new(url.as_str())
                .await
                .map(Self::Redis)
                .map_err(|error| {
                    StartError::Failed(format!(
                        "SESSION_STORE: could not open actix-session's redis store: {error}"
                    ))
                }),
            #[cfg(not(feature = "redis"))]
            StoreSpec::Redis(_) => Err(StartError::Failed(
                "SESSION_STORE: redis needs session-bench's `redis` feature".to_owned(),
            )),
            other => Err(StartError::NoPeer(format!(
                "actix-session has no {} store",
                other.kind()
            ))),
        }
    }
}

/// A `CookieSessionStore`, for an app factory (the store is not `Clone`).
pub fn cookie_store() -> CookieSessionStore {
    CookieSessionStore::default()
}

/// actix-session's middleware with the cookie set up like ours: `HttpOnly`, `SameSite=Lax`, a
/// persistent cookie and one day of time to live (renewed when the session changes, the
/// default), `Secure` as given.
pub fn middleware<S: SessionStore>(store: S, secure: bool) -> SessionMiddleware<S> {
    SessionMiddleware::builder(store, Key::from(PEER_KEY))
        .cookie_same_site(SameSite::Lax)
        .cookie_http_only(true)
        .cookie_secure(secure)
        .session_lifecycle(PersistentSession::default().session_ttl(Duration::days(1)))
        .build()
}

/// `/read`: `n`, or 0.
pub async fn read(session: Session) -> actix_web::Result<String> {
    Ok(session.get::<u64>(KEY)?.unwrap_or(0).to_string())
}

/// `/write`: stores and answers `n + 1`.
pub async fn write(session: Session) -> actix_web::Result<String> {
    let n = session.get::<u64>(KEY)?.unwrap_or(0) + 1;
    session.insert(KEY, n)?;
    Ok(n.to_string())
}
