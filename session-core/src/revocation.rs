//! [`RevocationEpoch`]: a server-side counter that revokes every cookie-store cookie issued
//! before it was last raised.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A revocation epoch for the cookie store: every cookie carries the epoch it was issued under,
/// and a cookie from an epoch lower than the current one is refused (the request gets a fresh
/// session).
///
/// The cookie store keeps nothing on the server, so logging out cannot revoke a copy of the
/// cookie taken earlier; raising the epoch revokes *all* of them at once (after a leak, a key
/// compromise you do not want to rotate for, or a "log everyone out" button). Keep the number
/// where your instances share it (a database row, a config value) and [`set`](Self::set) it
/// on start-up and whenever it changes; clones share one counter. Install it with
/// [`SessionManager::with_revocation_epoch`](crate::SessionManager::with_revocation_epoch).
/// Server-side stores do not need it: their `destroy` deletes the record.
///
/// ```
/// use session_core::{KeyRing, RevocationEpoch, SessionConfig, SessionManager, Storage};
///
/// # fn main() -> Result<(), session_core::ConfigError> {
/// let epoch = RevocationEpoch::new(3); // e.g. read from your database
/// let manager = SessionManager::new(Storage::Cookie, KeyRing::generate(), SessionConfig::default())?
///     .with_revocation_epoch(epoch.clone());
/// // Later: every cookie issued so far stops working.
/// assert_eq!(epoch.raise(), 4);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct RevocationEpoch(Arc<AtomicU64>);

impl RevocationEpoch {
    /// An epoch starting at `epoch`.
    pub fn new(epoch: u64) -> Self {
        Self(Arc::new(AtomicU64::new(epoch)))
    }

    /// The current epoch: cookies issued under a lower one are refused.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Raises the epoch to `epoch`, revoking every cookie issued under a lower one. The epoch
    /// never goes down: a lower value is ignored, so instances that learn of a raise late
    /// cannot bring revoked cookies back.
    pub fn set(&self, epoch: u64) {
        self.0.fetch_max(epoch, Ordering::AcqRel);
    }

    /// Raises the epoch by one, revoking every cookie issued so far; returns the new epoch.
    pub fn raise(&self) -> u64 {
        self.0.fetch_add(1, Ordering::AcqRel).saturating_add(1)
    }
}

impl fmt::Debug for RevocationEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RevocationEpoch")
            .field(&self.current())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_only_goes_up_and_clones_share_it() {
        let epoch = RevocationEpoch::new(5);
        let clone = epoch.clone();
        epoch.set(3);
        assert_eq!(clone.current(), 5);
        assert_eq!(clone.raise(), 6);
        epoch.set(9);
        assert_eq!(clone.current(), 9);
        assert_eq!(format!("{epoch:?}"), "RevocationEpoch(9)");
    }
}
