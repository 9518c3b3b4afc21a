//! The peer on axum: the same routes with tower-sessions (`BENCH_SESSION=tower`).

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use session_examples::StoreSpec;
use time::Duration;
use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::{Expiry, MemoryStore, Session, SessionManagerLayer, SessionStore};
use tower_sessions_cookie_store::{CookieSessionConfig, CookieSessionManagerLayer};

use crate::{KEY, PEER_KEY, StartError};

/// The Redis connections tower-sessions-redis-store's documentation sets up.
#[cfg(feature = "redis")]
const REDIS_POOL_SIZE: usize = 6;

/// The app with tower-sessions over the store `SESSION_STORE` names: `memory` is
/// `tower_sessions::MemoryStore`, `redis://…` is tower-sessions-redis-store (fred), `cookie` is
/// tower-sessions-cookie-store (private, that is encrypted, cookies). The cookie is set up like
/// ours: `HttpOnly`, `SameSite=Lax`, expiry after one day of inactivity, `Secure` as given.
pub async fn router(store: &StoreSpec, secure: bool) -> Result<Router, StartError> {
    let routes = Router::new()
        .route("/plain", get(|| async { "ok" }))
        .route("/read", get(read))
        .route("/write", get(write));
    match store {
        StoreSpec::Memory => Ok(routes.layer(layer(MemoryStore::default(), secure))),
        StoreSpec::Cookie => {
            let config = CookieSessionConfig::default()
                .with_same_site(SameSite::Lax)
                .with_http_only(true)
                .with_secure(secure)
                .with_expiry(Expiry::OnInactivity(Duration::days(1)));
            Ok(routes
                .layer(CookieSessionManagerLayer::private(Key::from(PEER_KEY)).with_config(config)))
        }
        #[cfg(feature = "redis")]
        StoreSpec::Redis(url) => Ok(routes.layer(layer(redis(url).await?, secure))),
        #[cfg(not(feature = "redis"))]
        StoreSpec::Redis(_) => Err(StartError::Failed(
            "SESSION_STORE: redis needs session-bench's `redis` feature".to_owned(),
        )),
        other => Err(StartError::NoPeer(format!(
            "tower-sessions has no {} store in this benchmark",
            other.kind()
        ))),
    }
}

fn layer<S: SessionStore + Clone>(store: S, secure: bool) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(Duration::days(1)))
}

/// A connected fred pool, as tower-sessions-redis-store's documentation makes one.
#[cfg(feature = "redis")]
async fn redis(
    url: &str,
) -> Result<
    tower_sessions_redis_store::RedisStore<tower_sessions_redis_store::fred::prelude::Pool>,
    StartError,
> {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

    let failed = |error: tower_sessions_redis_store::fred::error::Error| {
        StartError::Failed(format!(
            "SESSION_STORE: could not open tower-sessions' redis store: {error}"
        ))
    };
    let config = Config::from_url(url).map_err(failed)?;
    let pool = Pool::new(config, None, None, None, REDIS_POOL_SIZE).map_err(failed)?;
    // The task that drives the connections runs until the process ends.
    let _connections = pool.init().await.map_err(failed)?;
    Ok(tower_sessions_redis_store::RedisStore::new(pool))
}

async fn read(session: Session) -> Result<String, StatusCode> {
    Ok(get_n(&session).await?.to_string())
}

async fn write(session: Session) -> Result<String, StatusCode> {
    let n = get_n(&session).await? + 1;
    session
        .insert(KEY, n)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(n.to_string())
}

async fn get_n(session: &Session) -> Result<u64, StatusCode> {
    Ok(session
        .get::<u64>(KEY)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .unwrap_or(0))
}
