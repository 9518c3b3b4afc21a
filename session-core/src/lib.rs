//! # session-core
//!
//! The framework-free heart of a typed session SDK: session ids, keys and rotation, the cookie
//! codec, expiry, the [`Session`] handle, the [`SessionStore`] contract, the request-lifecycle
//! engine ([`SessionManager`]) and the built-in stores. Framework adapters (axum, actix-web,
//! Rocket) are thin layers over [`SessionManager`].
//!
//! ## Quick start
//!
//! ```
//! use std::time::Duration;
//! use session_core::{Expiry, KeyRing, MemoryStore, SessionConfig, SessionManager, Storage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: KeyRing::from_env()? reads SESSION_SECRET (and SESSION_SECRET_PREVIOUS).
//! let keys = KeyRing::generate();
//! let config = SessionConfig::default().with_expiry(Expiry::IdleAndAbsolute {
//!     idle: Duration::from_secs(30 * 60),
//!     absolute: Duration::from_secs(12 * 60 * 60),
//! });
//! // Sessions in memory; `Storage::Cookie` keeps them in an encrypted cookie instead.
//! let manager = SessionManager::new(MemoryStore::new(), keys, config)?;
//!
//! // What an adapter does for each request:
//! let cookie_headers: Vec<&[u8]> = vec![];
//! let session = manager.session(cookie_headers); // lazy: no I/O yet
//! session.set("cart", &vec!["apple", "pear"]).await?; // the handler's work
//! let set_cookie = manager.finish(&session, 200).await?; // store writes + Set-Cookie
//! assert!(set_cookie.unwrap().as_str().starts_with("__Host-session="));
//! # Ok(())
//! # }
//! ```
//!
//! ## Typed sessions
//!
//! Describe the session as a struct and `#[derive(SessionSchema)]` (feature `derive`, on by
//! default) generates a handle, `<Struct>Session` (or the name `#[session(handle = "...")]`
//! gives), with a typed getter, setter, `has_*` and `delete_*` per field, and
//! `load_all`/`save_all` for the whole struct. Adapters hand it to
//! handlers as `TypedSession<T>`; here it is built from a [`Session`] directly:
//!
//! ```
//! use session_core::{MemoryStore, KeyRing, SessionConfig, SessionManager, SessionSchema};
//!
//! #[derive(SessionSchema)]
//! #[session(prefix = "auth.")]
//! struct Auth {
//!     /// Setting or deleting it gives the session a new id (login, logout).
//!     #[session(renew_on_change)]
//!     user_id: u64,
//!     name: Option<String>,
//!     #[session(default)]
//!     visits: u32,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), SessionConfig::default())?;
//! let session = manager.session(Vec::<&[u8]>::new());
//! let auth = AuthSession::from(session.clone());
//! assert_eq!(auth.user_id().await?, None); // Option<u64>: not logged in
//! auth.set_user_id(42).await?;
//! auth.set_visits(auth.visits().await? + 1).await?; // `default`: a plain u32
//! assert_eq!(session.get::<u64>("auth.user_id").await?, Some(42)); // the raw key
//! assert!(auth.load_all().await.is_ok_and(|all| all.visits == 1 && all.name.is_none()));
//! # Ok(())
//! # }
//! ```
//!
//! Mistakes are compile errors at the offending token: two fields with the same key after
//! `prefix` and `rename`, unknown or repeated attributes, enums and tuple structs. See
//! [`SessionSchema`](trait@SessionSchema) for every attribute.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `memory-store` | yes | [`MemoryStore`], a bounded in-process store |
//! | `cookie-store` | yes | [`Storage::Cookie`], the whole session in an encrypted cookie |
//! | `derive` | yes | `#[derive(SessionSchema)]`, typed accessors (the `session-derive` crate) |
//! | `mongodb-store` | no | `MongoStore`, one MongoDB document per session, with a TTL index |
//! | `redis-store` | no | `RedisStore`, sessions in Redis (single node or Redis Cluster), one hash each with a native TTL |
//! | `file-store` | no | `FileStore`, one file per session in a directory |
//! | `sqlite-store` | no | `SqliteStore`, one row per session in an SQLite table (`sqlx`, bundled SQLite) |
//! | `postgres-store` | no | `PostgresStore`, one row per session in a PostgreSQL table (`sqlx`), one statement per operation |
//! | `test-suite` | no | `test_suite` and `store_test_suite!`, the contract tests for stores |
//!
//! ## Security properties
//!
//! - Ids are 256 bits from a CSPRNG (ChaCha12, per thread, seeded and reseeded from the
//!   operating system like `rand`'s `ThreadRng`), minted only by the server through an
//!   insert-if-absent create; an id the store does not know is never adopted.
//! - Stores key records by the SHA-256 digest of the id ([`IdDigest`]): a store dump holds no
//!   usable token.
//! - Id cookies are signed (HMAC-SHA256); cookie-store cookies are encrypted and authenticated
//!   (AES-256-GCM). Keys rotate through a [`KeyRing`].
//! - Expiry (idle, absolute, or both) is checked by the engine on every load.
//!
//! ## Clean-up and metrics
//!
//! - [`Sweeper`] deletes expired records from a server-side store every few minutes, on a Tokio
//!   task: `let _sweeper = Sweeper::for_manager(&manager).spawn()?;`.
//! - [`ObservedStore`] wraps any store and reports every call (operation, duration, outcome) to
//!   a [`StoreObserver`] of yours, or as `tracing` events on target `session_core::store`.
//!
//! ## Writing a store
//!
//! Implement [`SessionStore`]: seven async methods over [`IdDigest`], [`Record`] and [`Changes`],
//! with the rules its documentation lists, then run the shared contract suite against it. A
//! minimal (single-lock) example:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use serde_json::Value;
//! use session_core::{Changes, IdDigest, Record, SessionStore, StoreError, Swap};
//! use time::OffsetDateTime;
//!
//! #[derive(Debug, Default)]
//! struct MapStore(Mutex<HashMap<IdDigest, Record>>);
//!
//! impl MapStore {
//!     /// Runs `f` on the live record under `id`; `false` if there is none.
//!     fn with_live(&self, id: &IdDigest, f: impl FnOnce(&mut Record)) -> bool {
//!         let mut map = self.0.lock().unwrap();
//!         match map.get_mut(id) {
//!             Some(record) if !record.is_expired_at(OffsetDateTime::now_utc()) => {
//!                 f(record);
//!                 true
//!             }
//!             _ => false,
//!         }
//!     }
//! }
//!
//! #[async_trait::async_trait]
//! impl SessionStore for MapStore {
//!     async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
//!         let mut map = self.0.lock().unwrap();
//!         let now = OffsetDateTime::now_utc();
//!         if map.get(id).is_some_and(|old| !old.is_expired_at(now)) {
//!             return Ok(false);
//!         }
//!         map.insert(*id, record.clone());
//!         Ok(true)
//!     }
//!     async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
//!         let mut found = None;
//!         self.with_live(id, |record| found = Some(record.clone()));
//!         Ok(found)
//!     }
//!     async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
//!         Ok(self.with_live(id, |record| record.apply(changes)))
//!     }
//!     async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
//!         Ok(self.with_live(id, |record| record.expires_at = expires_at))
//!     }
//!     async fn compare_and_set(
//!         &self,
//!         id: &IdDigest,
//!         key: &str,
//!         expected: Option<&Value>,
//!         new: Option<&Value>,
//!     ) -> Result<Swap, StoreError> {
//!         let mut swap = Swap::Missing;
//!         self.with_live(id, |record| swap = record.compare_and_set(key, expected, new));
//!         Ok(swap)
//!     }
//!     async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
//!         let removed = self.0.lock().unwrap().remove(id);
//!         Ok(removed.filter(|record| !record.is_expired_at(OffsetDateTime::now_utc())))
//!     }
//!     async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
//!         self.0.lock().unwrap().remove(id);
//!         Ok(())
//!     }
//!     async fn delete_expired(&self) -> Result<u64, StoreError> {
//!         let now = OffsetDateTime::now_utc();
//!         let mut map = self.0.lock().unwrap();
//!         let before = map.len();
//!         map.retain(|_, record| !record.is_expired_at(now));
//!         Ok((before - map.len()) as u64)
//!     }
//! }
//!
//! // In your tests, with the `test-suite` feature: one #[test] per rule of the contract.
//! # #[cfg(feature = "test-suite")]
//! session_core::store_test_suite!(MapStore::default());
//! # fn main() {}
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
// Where the adapters' docs link to for this crate's items when its docs are not next to theirs
// (a `cargo doc -p session-axum --no-deps`, or a parallel build that renders them first):
// without it those links render as plain text. Keep the version in step with Cargo.toml.
#![doc(html_root_url = "https://docs.rs/session-core/0.1.0")]

// Lets code generated by `#[derive(SessionSchema)]` name `::session_core` inside this crate's
// own tests and doctests too.
extern crate self as session_core;

mod config;
mod cookie;
mod error;
mod id;
mod keys;
mod manager;
mod observe;
mod owners;
mod record;
pub mod response;
mod revocation;
mod session;
mod store;
mod stores;
mod sweeper;
mod typed;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzzing;
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
#[cfg(feature = "test-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suite")))]
pub mod test_suite;

pub use crate::config::{
    CookieLifetime, DEFAULT_COOKIE_STORE_LIFETIME, DEFAULT_MAX_KEYS, DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_SESSION_BYTES, DEFAULT_TOKEN_RESPONSE_HEADER, Expiry, Lifetime, SameSite,
    SessionConfig, TokenHeader,
};
pub use crate::cookie::SetCookie;
pub use crate::error::{BoxError, ConfigError, Error, ErrorChain, Result, StoreError};
pub use crate::id::IdDigest;
pub use crate::keys::{KeyRing, MIN_SECRET_LEN, PREVIOUS_SECRETS_ENV, SECRET_ENV};
pub use crate::manager::{FORWARDING_POINTER_KEY, SessionManager};
pub use crate::observe::{
    ObservedStore, StoreCall, StoreObserver, StoreOperation, StoreOutcome, TracingObserver,
};
pub use crate::owners::{OWNER_INDEX_KEY, SessionInfo};
pub use crate::record::{Changes, Record, Swap};
pub use crate::revocation::RevocationEpoch;
pub use crate::session::{
    FRESH_AT_KEY, LIFETIME_KEY, MAX_KEY_LEN, MAX_OWNER_LEN, MAX_VALUE_DEPTH, OWNER_KEY,
    SEEN_AT_KEY, Session,
};
pub use crate::store::{SessionStore, Storage};
#[cfg(feature = "file-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "file-store")))]
pub use crate::stores::file::FileStore;
#[cfg(feature = "memory-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory-store")))]
pub use crate::stores::memory::{DEFAULT_BYTE_CAPACITY, DEFAULT_CAPACITY, MemoryStore};
#[cfg(feature = "mongodb-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "mongodb-store")))]
pub use crate::stores::mongodb::MongoStore;
#[cfg(feature = "postgres-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres-store")))]
pub use crate::stores::postgres::PostgresStore;
#[cfg(feature = "redis-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
pub use crate::stores::redis::{RedisStore, RedisStoreBuilder};
#[cfg(any(feature = "sqlite-store", feature = "postgres-store"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "sqlite-store", feature = "postgres-store")))
)]
pub use crate::stores::sql::InvalidTableName;
#[cfg(feature = "sqlite-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite-store")))]
pub use crate::stores::sqlite::SqliteStore;
pub use crate::sweeper::{Sweeper, SweeperHandle};
pub use crate::typed::{Key, SessionSchema};
/// Derives [`SessionSchema`](trait@SessionSchema): typed accessors for a struct's fields.
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use session_derive::SessionSchema;
