//! The built-in stores, each behind its cargo feature.

#[cfg(feature = "cookie-store")]
pub(crate) mod cookie;
#[cfg(feature = "file-store")]
pub(crate) mod file;
#[cfg(feature = "memory-store")]
pub(crate) mod memory;
#[cfg(feature = "mongodb-store")]
pub(crate) mod mongodb;
#[cfg(feature = "postgres-store")]
pub(crate) mod postgres;
#[cfg(feature = "redis-store")]
pub(crate) mod redis;
#[cfg(any(feature = "sqlite-store", feature = "postgres-store"))]
pub(crate) mod sql;
#[cfg(feature = "sqlite-store")]
pub(crate) mod sqlite;
