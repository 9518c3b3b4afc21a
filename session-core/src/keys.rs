//! The key ring: the newest key signs and encrypts, every key verifies and decrypts, so keys
//! rotate without logging anyone out.

use std::fmt;
use std::sync::Arc;

use cookie::Key;

use crate::error::ConfigError;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The environment variable holding the current secret.
pub const SECRET_ENV: &str = "SESSION_SECRET";
/// The environment variable holding older secrets, comma-separated, still accepted for reading.
pub const PREVIOUS_SECRETS_ENV: &str = "SESSION_SECRET_PREVIOUS";

/// The keys that sign session-id cookies and encrypt cookie-store cookies.
///
/// The first key is the current one: it signs and encrypts everything the server sends. Every
/// key in the ring verifies and decrypts, and a cookie accepted under an older key is re-issued
/// under the current one, so a secret can be rotated without logging anyone out: put the new
/// secret first and keep the old one as a previous secret until old cookies have expired.
///
/// Secrets are never shown: `Debug` prints only how many keys the ring holds.
///
/// ```
/// use session_core::KeyRing;
///
/// let ring = KeyRing::from_secret(b"a-new-secret-of-at-least-32-bytes!!")?
///     .with_previous(b"the-old-secret-of-at-least-32-bytes")?;
/// assert_eq!(ring.len(), 2);
/// assert_eq!(format!("{ring:?}"), "KeyRing { keys: 2 }");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    keys: Arc<[Key]>,
}

impl KeyRing {
    /// A ring with one key derived from `secret`, which must be at least
    /// [`MIN_SECRET_LEN`] bytes of random data.
    ///
    /// A secret that is long enough but plainly not random (fewer than 8 distinct byte values,
    /// such as 32 times `a`) is accepted with a `tracing` warning that names where it came from,
    /// never the secret itself. [`with_previous`](Self::with_previous) and
    /// [`from_env`](Self::from_env) check each of their secrets the same way.
    pub fn from_secret(secret: &[u8]) -> Result<Self, ConfigError> {
        Ok(Self {
            keys: Arc::from([derive("the session secret", secret)?]),
        })
    }

    /// Adds an older secret, accepted for reading only. Cookies it verifies are re-issued under
    /// the current key.
    pub fn with_previous(self, secret: &[u8]) -> Result<Self, ConfigError> {
        let key = derive("a previous session secret", secret)?;
        let mut keys = self.keys.to_vec();
        keys.push(key);
        Ok(Self { keys: keys.into() })
    }

    /// A ring with one fresh random key. Sessions do not survive a restart with such a key: use
    /// it for tests and demos, and [`from_env`](Self::from_env) or
    /// [`from_secret`](Self::from_secret) in production.
    pub fn generate() -> Self {
        Self {
            keys: Arc::from([Key::generate()]),
        }
    }

    /// Reads the current secret from `SESSION_SECRET` and older ones, comma-separated, from
    /// `SESSION_SECRET_PREVIOUS`. A missing or too-short secret is an error that says how to
    /// make a good one.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_values(env_var(SECRET_ENV)?, env_var(PREVIOUS_SECRETS_ENV)?)
    }

    /// [`from_env`](Self::from_env) on given values, so it can be tested without touching the
    /// process environment.
    fn from_env_values(
        current: Option<String>,
        previous: Option<String>,
    ) -> Result<Self, ConfigError> {
        let current = current.ok_or(ConfigError::MissingSecret {
            var: SECRET_ENV,
            min: MIN_SECRET_LEN,
        })?;
        let mut keys = vec![derive(SECRET_ENV, current.as_bytes())?];
        for secret in previous.iter().flat_map(|list| list.split(',')) {
            let secret = secret.trim();
            if !secret.is_empty() {
                keys.push(derive(PREVIOUS_SECRETS_ENV, secret.as_bytes())?);
            }
        }
        Ok(Self { keys: keys.into() })
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: a ring holds at least one key.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The key that signs and encrypts (the tests check our formats against the jars with it).
    #[cfg(test)]
    pub(crate) fn current(&self) -> &Key {
        &self.keys[0]
    }

    /// Every key, current first, each with its position (0 is current).
    pub(crate) fn all(&self) -> impl Iterator<Item = (usize, &Key)> {
        self.keys.iter().enumerate()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn derive(var: &'static str, secret: &[u8]) -> Result<Key, ConfigError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(ConfigError::SecretTooShort {
            var,
            len: secret.len(),
            min: MIN_SECRET_LEN,
        });
    }
    let distinct = distinct_bytes(secret);
    if distinct < MIN_DISTINCT_BYTES {
        // Only the count, never the secret or any part of it.
        tracing::warn!(
            target: "session_core::keys",
            distinct,
            "{var} uses only {distinct} of the 256 byte values, so it is probably not random; \
             replace it with one from `openssl rand -base64 48`"
        );
    }
    Ok(Key::derive_from(secret))
}

/// A secret with fewer distinct byte values than this is warned about as probably not random.
///
/// Random secrets of the minimum length have many more: 32 random bytes hold about 30 distinct
/// values, 32 hex digits about 15, 32 base64 characters about 25. Fewer than 8 means a
/// placeholder (`aaaa…`, `abcabc…`, `00000…`): such a secret is accepted, but it is guessable.
const MIN_DISTINCT_BYTES: usize = 8;

fn distinct_bytes(secret: &[u8]) -> usize {
    let mut seen = [false; 256];
    for &byte in secret {
        seen[usize::from(byte)] = true;
    }
    seen.iter().filter(|&&seen| seen).count()
}

fn env_var(var: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(var) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode { var }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-current";
    const OLD: &str = "0123456789abcdef0123456789abcdef-old";

    #[test]
    fn short_secret_error_says_how_long_and_how_to_fix() {
        let err = KeyRing::from_env_values(Some("twelve bytes".into()), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "SESSION_SECRET is 12 bytes; at least 32 are needed \
             (generate one with `openssl rand -base64 48`)"
        );
    }

    #[test]
    fn missing_secret_error_names_the_variable() {
        let err = KeyRing::from_env_values(None, None).unwrap_err();
        assert!(err.to_string().starts_with("SESSION_SECRET is not set"));
    }

    #[test]
    fn previous_secrets_are_comma_separated_and_each_checked() {
        let ring =
            KeyRing::from_env_values(Some(SECRET.into()), Some(format!("{OLD}, {OLD}x,"))).unwrap();
        assert_eq!(ring.len(), 3);
        let err = KeyRing::from_env_values(Some(SECRET.into()), Some(format!("{OLD},short")))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("SESSION_SECRET_PREVIOUS is 5 bytes")
        );
    }

    #[test]
    fn same_secret_gives_same_key_and_debug_hides_it() {
        let a = KeyRing::from_secret(SECRET.as_bytes()).unwrap();
        let b = KeyRing::from_secret(SECRET.as_bytes()).unwrap();
        assert_eq!(a.current().master(), b.current().master());
        let shown = format!("{a:?}");
        assert_eq!(shown, "KeyRing { keys: 1 }");
        assert!(!shown.contains(SECRET));
    }

    #[test]
    fn debug_of_a_short_secret_error_is_the_helpful_message() {
        // What `main() -> Result<(), Box<dyn Error>>` prints after `KeyRing::from_env()?`.
        let err = KeyRing::from_env_values(Some("hunter2".into()), None).unwrap_err();
        let shown = format!("{err:?}");
        assert!(shown.contains("openssl rand -base64 48"), "{shown}");
        assert!(shown.starts_with("SESSION_SECRET is 7 bytes"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert_eq!(format!("{boxed:?}"), shown);
    }

    /// Runs `f` and returns what this thread logged meanwhile.
    fn logged(f: impl FnOnce()) -> String {
        let log = session_test_logs::capture();
        f();
        log.text()
    }

    #[test]
    fn a_low_entropy_secret_is_accepted_with_one_warning_that_hides_it() {
        let weak = "ab".repeat(20);
        let log = logged(|| {
            KeyRing::from_env_values(Some(weak.clone()), None).unwrap();
        });
        assert_eq!(log.matches("WARN").count(), 1, "{log}");
        assert!(
            log.contains("SESSION_SECRET uses only 2 of the 256 byte values"),
            "{log}"
        );
        assert!(log.contains("openssl rand -base64 48"), "{log}");
        assert!(!log.contains(&weak[..8]), "the secret is in the log: {log}");

        let log = logged(|| {
            KeyRing::from_secret(&[b'x'; 32]).unwrap();
        });
        assert!(
            log.contains("the session secret uses only 1 of the 256 byte values"),
            "{log}"
        );
    }

    #[test]
    fn random_looking_secrets_raise_no_warning() {
        let log = logged(|| {
            KeyRing::from_secret(SECRET.as_bytes()).unwrap();
            // 32 hex digits and 32 base64 characters, as `openssl rand` prints them.
            KeyRing::from_secret(b"9f86d081884c7d659a2feaa0c55ad015").unwrap();
            KeyRing::from_secret(b"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is").unwrap();
            KeyRing::generate();
        });
        assert_eq!(log, "");
    }
}
