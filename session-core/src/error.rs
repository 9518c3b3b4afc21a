//! Error types: [`Error`] for session operations, [`StoreError`] for store back ends and
//! [`ConfigError`] for mistakes caught when the session manager is built.

use std::error::Error as StdError;

/// A boxed error from a store's back end (a driver, a client, the file system).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of session operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from a session operation: reading or writing a value, or saving the session at the
/// end of a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session store failed; the source error says how.
    #[error("the session store failed")]
    Store(#[from] StoreError),

    /// The value stored under `key` is not of the type the caller asked for.
    #[error(
        "the session value under key `{key}` does not have the requested type; \
         read it with the type it was written with, or delete the key"
    )]
    WrongType {
        /// The session key whose value did not deserialize.
        key: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },

    /// A field of a typed schema has no value and neither is an `Option` nor has a default,
    /// so the whole struct cannot be loaded.
    #[error(
        "session key `{key}` is not set; load the fields one by one, or make the field an \
         `Option` or give it `#[session(default)]`"
    )]
    MissingKey {
        /// The session key that has no value.
        key: String,
    },

    /// The value given for `key` could not be serialized to JSON.
    #[error("the value for session key `{key}` could not be serialized to JSON")]
    Serialize {
        /// The session key being written.
        key: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },

    /// A session key longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) bytes was used.
    #[error("a session key of {len} bytes was used; keys are limited to {max} bytes")]
    KeyTooLong {
        /// The length of the key that was refused, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },

    /// The value given for `key` nests arrays and objects more than
    /// [`MAX_VALUE_DEPTH`](crate::MAX_VALUE_DEPTH) levels deep. Stores that keep JSON text could
    /// not read it back (serde_json stops at 128 levels), so the whole session would be lost on
    /// the next request; the write was refused instead.
    #[error(
        "the value for session key `{key}` nests arrays and objects more than {max} levels deep, \
         which session stores cannot read back; store a flatter value"
    )]
    TooDeep {
        /// The session key being written.
        key: String,
        /// The limit, in levels of nesting.
        max: usize,
    },

    /// With the cookie store, the write would make the session cookie larger than browsers keep.
    /// The write was not applied.
    #[error(
        "this write would make the session cookie {size} bytes, over the {max}-byte limit \
         browsers keep; store less in the session or use a server-side store"
    )]
    CookieTooLarge {
        /// The size the `Set-Cookie` header would have had, in bytes.
        size: usize,
        /// The limit, in bytes.
        max: usize,
    },

    /// The session was changed after the engine had finished its request, so the change could
    /// not be saved. Finish working with the session before the handler returns.
    #[error(
        "the session was changed after its request had finished, so the change was not saved; \
         finish working with the session before the handler returns"
    )]
    Finished,

    /// The operating system's random number generator failed while minting a session id.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),

    /// A fresh session id collided with an existing one on every attempt. With a working random
    /// source this only happens when a store's `create` does not report insert-if-absent
    /// correctly.
    #[error(
        "could not mint a unique session id after {attempts} attempts; the store's `create` \
         must return `true` when it inserted a record and `false` only when the id exists"
    )]
    IdCollision {
        /// How many ids were tried.
        attempts: u32,
    },
}

/// An error reported by a [`SessionStore`](crate::SessionStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The back end (a server, a driver, the file system) failed; the source says how.
    #[error("the session store back end failed: {0}")]
    Backend(#[source] BoxError),

    /// A stored record could not be encoded or decoded.
    #[error("a session record could not be encoded or decoded: {0}")]
    Codec(#[source] serde_json::Error),

    /// An I/O error from a store that works with files.
    #[error("session store I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Wraps any back-end error, keeping it as the source.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        Self::Backend(error.into())
    }
}

/// A configuration mistake, reported when keys or the session manager are built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret was given.
    #[error(
        "{var} is not set; set it to a random secret of at least {min} bytes \
         (generate one with `openssl rand -base64 48`)"
    )]
    MissingSecret {
        /// Where the secret was expected.
        var: &'static str,
        /// The minimum length, in bytes.
        min: usize,
    },

    /// A secret is too short to be safe.
    #[error(
        "{var} is {len} bytes; at least {min} are needed \
         (generate one with `openssl rand -base64 48`)"
    )]
    SecretTooShort {
        /// Where the secret came from (an environment variable or "the secret").
        var: &'static str,
        /// Its length, in bytes.
        len: usize,
        /// The minimum length, in bytes.
        min: usize,
    },

    /// An environment variable holds bytes that are not UTF-8.
    #[error("{var} is not valid UTF-8; use a base64 or hex secret")]
    NotUnicode {
        /// The environment variable.
        var: &'static str,
    },

    /// The cookie name is empty or has characters a cookie name cannot hold.
    #[error(
        "the cookie name {name:?} is not a valid cookie name; use letters, digits, `-` and `_`"
    )]
    InvalidCookieName {
        /// The name that was refused.
        name: String,
    },

    /// The cookie attributes contradict each other, e.g. the `__Host-` prefix with a `Domain`.
    #[error("invalid cookie settings: {0}")]
    CookieAttributes(&'static str),

    /// A duration setting is out of range.
    #[error("invalid expiry settings: {0}")]
    Expiry(&'static str),
}
