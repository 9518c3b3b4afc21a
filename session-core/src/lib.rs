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
//! assert!(set_cookie.unwrap().as_str().starts_with("session="));
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `memory-store` | yes | [`MemoryStore`], a bounded in-process store |
//! | `cookie-store` | yes | [`Storage::Cookie`], the whole session in an encrypted cookie |
//! | `test-suite` | no | [`test_suite`] and [`store_test_suite!`], the contract tests for stores |
//!
//! ## Security properties
//!
//! - Ids are 256 bits from the operating system's CSPRNG, minted only by the server through an
//!   insert-if-absent create; an id the store does not know is never adopted.
//! - Stores key records by the SHA-256 digest of the id ([`IdDigest`]): a store dump holds no
//!   usable token.
//! - Id cookies are signed (HMAC-SHA256); cookie-store cookies are encrypted and authenticated
//!   (AES-256-GCM). Keys rotate through a [`KeyRing`].
//! - Expiry (idle, absolute, or both) is checked by the engine on every load.
//!
//! ## Writing a store
//!
//! Implement [`SessionStore`] (five async methods over [`IdDigest`], [`Record`] and
//! [`Changes`]) and run the shared contract suite against it from your tests, with the
//! `test-suite` feature:
//!
//! ```text
//! session_core::store_test_suite!(MyStore::connect("...").await);
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod cookie;
mod error;
mod id;
mod keys;
mod manager;
mod record;
mod session;
mod store;
mod stores;
#[cfg(feature = "test-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-suite")))]
pub mod test_suite;

pub use crate::config::{CookieLifetime, Expiry, SameSite, SessionConfig};
pub use crate::cookie::SetCookie;
pub use crate::error::{BoxError, ConfigError, Error, Result, StoreError};
pub use crate::id::IdDigest;
pub use crate::keys::{KeyRing, MIN_SECRET_LEN, PREVIOUS_SECRETS_ENV, SECRET_ENV};
pub use crate::manager::{Clock, SessionManager};
pub use crate::record::{Changes, Record};
pub use crate::session::{MAX_KEY_LEN, Session};
pub use crate::store::{SessionStore, Storage};
#[cfg(feature = "memory-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "memory-store")))]
pub use crate::stores::memory::{DEFAULT_CAPACITY, MemoryStore};

/// The README's code blocks, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
