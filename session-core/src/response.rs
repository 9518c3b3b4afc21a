//! Cache headers every adapter adds beside `Set-Cookie`, so that a shared cache (a CDN, a
//! company proxy) never serves one user's session-dependent page or session cookie to another
//! (OWASP Session Management Cheat Sheet, "Web Content Caching").
//!
//! - A response whose handler used the session ([`Session::is_accessed`](crate::Session::is_accessed))
//!   gets `Vary: Cookie`, unless its `Vary` already names `Cookie` or `*`.
//! - A response that carries the session's `Set-Cookie` gets [`CACHE_CONTROL`] when the handler
//!   set no `Cache-Control` of its own.
//!
//! ```
//! use session_core::response;
//!
//! assert!(response::varies_on_cookie([b"Accept-Encoding, cookie".as_slice()]));
//! assert!(!response::varies_on_cookie([b"Accept-Encoding".as_slice()]));
//! ```

/// The `Vary` value for a response that used the session.
pub const VARY: &str = "Cookie";

/// The `Cache-Control` value for a response that sets the session cookie and has none of its
/// own: a cache may keep the page but must not hand the `Set-Cookie` to anyone else.
pub const CACHE_CONTROL: &str = "no-cache=\"Set-Cookie\"";

/// Whether existing `Vary` header values already make caches key on the `Cookie` header.
pub fn varies_on_cookie<'a>(vary: impl IntoIterator<Item = &'a [u8]>) -> bool {
    vary.into_iter().any(|value| {
        value.split(|&b| b == b',').any(|name| {
            let name = name.trim_ascii();
            name == b"*" || name.eq_ignore_ascii_case(b"cookie")
        })
    })
}
