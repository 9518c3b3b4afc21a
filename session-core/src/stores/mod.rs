//! The built-in stores, each behind its cargo feature.

#[cfg(feature = "cookie-store")]
pub(crate) mod cookie;
#[cfg(feature = "memory-store")]
pub(crate) mod memory;
