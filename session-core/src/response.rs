//! Cache headers every adapter adds beside `Set-Cookie`, so that a shared cache (a CDN, a
//! company proxy) never serves one user's session-dependent page or session cookie to another
//! (OWASP Session Management Cheat Sheet, "Web Content Caching").
//!
//! - A response whose handler used the session ([`Session::is_accessed`](crate::Session::is_accessed))
//!   gets `Vary: Cookie`, unless its `Vary` already names `Cookie` or `*`.
//! - A response whose handler used the session gets [`CACHE_CONTROL`] (`private`) when the
//!   handler set no `Cache-Control` of its own: a shared cache must not store it at all, with
//!   or without a `Set-Cookie`.
//!
//! The adapters ask [`cache_headers`] what to add, so the rule lives here once:
//!
//! ```
//! use session_core::response::{self, CacheHeaders};
//! use session_core::{KeyRing, MemoryStore, SessionConfig, SessionManager};
//!
//! # fn main() -> Result<(), session_core::ConfigError> {
//! let manager = SessionManager::new(MemoryStore::new(), KeyRing::generate(), SessionConfig::default())?;
//! let untouched = manager.session(std::iter::empty::<&[u8]>());
//! let add = response::cache_headers(&untouched, false, || false, std::iter::empty);
//! assert_eq!(add, CacheHeaders::default());
//! assert!(response::varies_on_cookie([b"Accept-Encoding, cookie".as_slice()]));
//! assert!(!response::varies_on_cookie([b"Accept-Encoding".as_slice()]));
//! # Ok(())
//! # }
//! ```

use crate::Session;

/// The `Vary` value for a response that used the session.
pub const VARY: &str = "Cookie";

/// The `Cache-Control` value for a response whose handler used the session and that has none
/// of its own: only the user's own browser may keep it, never a shared cache, so neither the
/// page nor a `Set-Cookie` reaches another user.
pub const CACHE_CONTROL: &str = "private";

/// Whether existing `Vary` header values already make caches key on the `Cookie` header.
pub fn varies_on_cookie<'a>(vary: impl IntoIterator<Item = &'a [u8]>) -> bool {
    vary.into_iter().any(|value| {
        value.split(|&b| b == b',').any(|name| {
            let name = name.trim_ascii();
            name == b"*" || name.eq_ignore_ascii_case(b"cookie")
        })
    })
}

/// The cache headers one response must gain, as decided by [`cache_headers`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheHeaders {
    /// A `Vary` value to append ([`VARY`]), if any.
    pub vary: Option<&'static str>,
    /// A `Cache-Control` value to insert ([`CACHE_CONTROL`]), if any.
    pub cache_control: Option<&'static str>,
}

/// What a response must gain besides the session's `Set-Cookie`: `sets_cookie` says whether it
/// carries one (a removal cookie after `destroy`, say), `has_cache_control` whether the handler
/// set its own `Cache-Control`, and `vary` yields the response's `Vary` values. The two lookups
/// run only when the answer depends on them, so a response whose session was never used costs
/// no header lookup.
pub fn cache_headers<'a, V: IntoIterator<Item = &'a [u8]>>(
    session: &Session,
    sets_cookie: bool,
    has_cache_control: impl FnOnce() -> bool,
    vary: impl FnOnce() -> V,
) -> CacheHeaders {
    CacheHeaders {
        vary: (session.is_accessed() && !varies_on_cookie(vary())).then_some(VARY),
        cache_control: ((sets_cookie || session.is_accessed()) && !has_cache_control())
            .then_some(CACHE_CONTROL),
    }
}
