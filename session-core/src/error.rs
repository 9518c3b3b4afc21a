//! Error types: [`Error`] for session operations, [`StoreError`] for store back ends and
//! [`ConfigError`] for mistakes caught when the session manager is built.

use std::error::Error as StdError;
use std::fmt;

/// A boxed error from a store's back end (a driver, a client, the file system).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The result type of session operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from a session operation: reading or writing a value, or saving the session at the
/// end of a request.
// `Debug` is written out below: it reads like `Display` plus the chain of causes, so
// `main() -> Result<(), Box<dyn Error>>` and `unwrap()` show the helpful message.
#[derive(thiserror::Error)]
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

    /// The write would make the session larger than
    /// [`SessionConfig::with_max_session_bytes`](crate::SessionConfig::with_max_session_bytes)
    /// allows. The write was not applied.
    #[error(
        "this write would make the session {size} bytes, over its {max}-byte limit; store less \
         in the session, or raise the limit with `SessionConfig::with_max_session_bytes`"
    )]
    SessionTooLarge {
        /// The size the session would have had, in bytes of keys and JSON values.
        size: usize,
        /// The limit, in bytes.
        max: usize,
    },

    /// The write would give the session more keys than
    /// [`SessionConfig::with_max_keys`](crate::SessionConfig::with_max_keys) allows. The write
    /// was not applied.
    #[error(
        "this write would give the session more than {max} keys; delete keys first, or raise \
         the limit with `SessionConfig::with_max_keys`"
    )]
    TooManyKeys {
        /// The limit, in keys.
        max: usize,
    },

    /// This request's changes could not be saved: another request gave the session a new id
    /// (`cycle_id`, on login) while this one was running, and the new id was not ready within
    /// the time a racing write waits for it (the cycling request failed or the store is very
    /// slow). Nothing of this request was saved; the client may retry with the new cookie.
    #[error(
        "this request's session changes were not saved: a concurrent request was giving the \
         session a new id and did not finish within {waited_ms} ms; retry the request"
    )]
    CycleRace {
        /// How long the write waited for the new id, in milliseconds.
        waited_ms: u64,
    },

    /// [`Session::update`](crate::Session::update) or [`Session::take`](crate::Session::take)
    /// could not write to the store: the session was destroyed (a logout in another request) or
    /// expired meanwhile. Nothing was saved; the session this request carried is gone.
    #[error(
        "session key `{key}` was not updated: the session was destroyed or expired while the \
         update ran (a logout in a concurrent request?); nothing was saved"
    )]
    SessionGone {
        /// The session key being updated.
        key: String,
    },

    /// [`Session::update`](crate::Session::update) (or a [`Session::take`](crate::Session::take)
    /// of a value that kept being replaced) gave up: concurrent writes of the key kept changing
    /// it for ten seconds, so none of its attempts landed. Nothing was saved; retry later, or
    /// spread the writes over several keys.
    #[error(
        "session key `{key}` was not updated: concurrent updates kept changing it through \
         {attempts} attempts over ten seconds; retry later"
    )]
    UpdateConflict {
        /// The session key being updated.
        key: String,
        /// How many times the update was tried.
        attempts: u32,
    },

    /// [`Session::incr`](crate::Session::incr) would take the integer under `key` out of the
    /// range of `i64`. Nothing was changed.
    #[error(
        "incrementing session key `{key}` would overflow a 64-bit integer; nothing was changed"
    )]
    Overflow {
        /// The session key being incremented.
        key: String,
    },

    /// A user's sessions were listed or revoked on the cookie store, which keeps nothing on the
    /// server to list or revoke: use a server-side store.
    #[error(
        "{what} needs a server-side store; the cookie store keeps every session in its browser \
         only (use the memory, file, Redis, SQLite, PostgreSQL or MongoDB store)"
    )]
    NeedsServerStore {
        /// What was asked for, e.g. "listing a user's sessions".
        what: &'static str,
    },

    /// An owner name (see [`Session::set_owner`](crate::Session::set_owner)) was empty or over
    /// [`MAX_OWNER_LEN`](crate::MAX_OWNER_LEN) bytes. Nothing was changed.
    #[error("a session owner must be 1 to {max} bytes long; this one is {len}")]
    BadOwner {
        /// Its length, in bytes.
        len: usize,
        /// The longest accepted, in bytes.
        max: usize,
    },

    /// [`Session::set_lifetime`](crate::Session::set_lifetime) was asked for a
    /// [`Lifetime::Remember`](crate::Lifetime::Remember) outside what the configuration allows:
    /// not longer than the touch interval, or longer than the maximum lifetime. Nothing was
    /// changed.
    #[error(
        "a session lifetime of {requested_secs} s was asked for; it must be longer than the touch \
         interval ({min_secs} s) and at most the maximum lifetime ({max_secs} s, \
         SessionConfig::with_max_lifetime)"
    )]
    LifetimeOutOfRange {
        /// The lifetime asked for, in seconds.
        requested_secs: u64,
        /// The touch interval, in seconds: the lifetime must be longer.
        min_secs: u64,
        /// The configured maximum lifetime, in seconds.
        max_secs: u64,
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

    /// AES-GCM refused to seal a cookie-store record. It cannot for any record the size limits
    /// let through, so seeing this is a bug in this library: please report it.
    #[error(
        "could not encrypt the cookie-store session; this is a bug in session-core, please \
         report it"
    )]
    Encrypt,

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
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The back end (a server, a driver, the file system) failed; the source says how.
    #[error("the session store back end failed")]
    Backend(#[source] BoxError),

    /// A stored record could not be encoded or decoded.
    #[error("a session record could not be encoded or decoded")]
    Codec(#[source] serde_json::Error),

    /// An I/O error from a store that works with files.
    #[error("session store I/O failed")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Wraps any back-end error, keeping it as the source.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        Self::Backend(error.into())
    }
}

/// A configuration mistake, reported when keys, the session manager or the
/// [`Sweeper`](crate::Sweeper) are set up.
#[derive(thiserror::Error)]
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

    /// The token header settings cannot work: a header name that is not a valid, unreserved
    /// HTTP header name, or no transport left at all.
    #[error("invalid token header settings: {0}")]
    TokenHeader(&'static str),

    /// Something that runs in the background was started outside a Tokio runtime.
    #[error(
        "{what} needs a Tokio runtime: start it inside `#[tokio::main]` (axum, actix-web and \
         Rocket all run on Tokio), or spawn its future on a runtime yourself"
    )]
    NoRuntime {
        /// What could not be started, e.g. "the session sweeper".
        what: &'static str,
    },
}

/// An error and every one of its causes on one line, joined by `": "`, each part once:
/// `the session store failed: the session store back end failed: no such table: sessions`.
///
/// This is how the adapters log a failure. Each error of this crate says only its own part and
/// leaves the rest to its [`source`](StdError::source); a cause whose text an earlier part
/// already holds (a third-party wrapper that repeats its source in its own message) is skipped,
/// so nothing appears twice. `{:?}` on this crate's errors shows the same parts, one per line.
///
/// ```
/// use session_core::{Error, ErrorChain, StoreError};
///
/// let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such table: sessions");
/// let error = Error::from(StoreError::backend(missing));
/// assert_eq!(
///     ErrorChain::new(&error).to_string(),
///     "the session store failed: the session store back end failed: no such table: sessions"
/// );
/// // In a log line: tracing::error!(error = %ErrorChain::new(&error), "could not save");
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(&'a (dyn StdError + 'static));

impl<'a> ErrorChain<'a> {
    /// The chain that starts at `error`.
    pub fn new(error: &'a (dyn StdError + 'static)) -> Self {
        Self(error)
    }

    /// The error, then each cause that adds something, as text.
    fn parts(self) -> Vec<String> {
        let mut parts: Vec<String> = vec![self.0.to_string()];
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
                parts.push(text);
            }
            next = cause.source();
        }
        parts
    }
}

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts().join(": "))
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        report(self.0, f)
    }
}

/// `Debug` as anyhow prints a report: the message, then the causes under `Caused by:`.
fn report(error: &(dyn StdError + 'static), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut parts = ErrorChain::new(error).parts().into_iter();
    f.write_str(&parts.next().unwrap_or_default())?;
    match parts.collect::<Vec<_>>().as_slice() {
        [] => Ok(()),
        [cause] => write!(f, "\n\nCaused by:\n    {cause}"),
        causes => {
            f.write_str("\n\nCaused by:")?;
            for (n, cause) in causes.iter().enumerate() {
                write!(f, "\n    {n}: {cause}")?;
            }
            Ok(())
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        report(self, f)
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        report(self, f)
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        report(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A third-party style wrapper that repeats its source in its own message, as many do.
    #[derive(Debug, thiserror::Error)]
    #[error("sqlite session store: load on table `sessions` failed: {source}")]
    struct Repeating {
        source: std::io::Error,
    }

    fn missing_table() -> std::io::Error {
        std::io::Error::other("no such table: sessions")
    }

    #[test]
    fn each_layer_of_a_store_error_appears_once_in_the_chain() {
        let error = Error::from(StoreError::backend(missing_table()));
        let line = ErrorChain::new(&error).to_string();
        assert_eq!(
            line,
            "the session store failed: the session store back end failed: no such table: sessions"
        );
        let repeating = Error::from(StoreError::backend(Repeating {
            source: missing_table(),
        }));
        let line = ErrorChain::new(&repeating).to_string();
        assert_eq!(line.matches("no such table: sessions").count(), 1, "{line}");
        assert!(line.contains("load on table `sessions` failed"), "{line}");
    }

    #[test]
    fn no_message_of_ours_repeats_its_source() {
        let io = StoreError::Io(missing_table());
        let codec = StoreError::Codec(serde_json::from_str::<u8>("x").unwrap_err());
        let backend = StoreError::backend(missing_table());
        for error in [io, codec, backend] {
            let source = StdError::source(&error).map(ToString::to_string);
            let source = source.expect("a store error keeps its source");
            assert!(!error.to_string().contains(&source), "{error}");
        }
    }

    #[test]
    fn debug_reads_like_display_with_the_causes() {
        let error = Error::from(StoreError::backend(missing_table()));
        assert_eq!(
            format!("{error:?}"),
            "the session store failed\n\nCaused by:\n    \
             0: the session store back end failed\n    \
             1: no such table: sessions"
        );
        let store = StoreError::backend(missing_table());
        assert_eq!(
            format!("{store:?}"),
            "the session store back end failed\n\nCaused by:\n    no such table: sessions"
        );
        let config = ConfigError::Expiry("idle longer than absolute");
        assert_eq!(format!("{config:?}"), config.to_string());
        assert_eq!(
            format!("{:?}", ErrorChain::new(&config)),
            config.to_string()
        );
    }
}
