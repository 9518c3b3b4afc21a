//! The contract every server-side store honours ([`SessionStore`]), and [`Storage`], the choice
//! between the cookie store and a server-side store.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record};

/// A server-side session store.
///
/// Records are keyed by the [`IdDigest`] of the session id, never by the id itself. Every method
/// must be safe to call concurrently from many tasks, for the same session too, and must honour
/// these rules (the `test_suite` module, feature `test-suite`, checks each of them):
///
/// - **create** inserts only if no live record has this digest, and says whether it inserted.
/// - **load** returns `None` for a missing record and for one whose `expires_at` has passed.
/// - **apply** merges [`Changes`] into the record atomically, per key: keys the changes do not
///   name keep their current value, whatever another request wrote. If the record is missing or
///   expired it does nothing and returns `false`, so a deleted session is never brought back.
/// - **touch** moves a live record's expiry, like an `apply` with no key changes.
/// - **delete** removes the record; deleting a missing record is not an error.
/// - **delete_expired** removes expired records and returns how many it removed (stores with
///   native expiry may return 0).
///
/// A store is usable as `Arc<dyn SessionStore>`. To check a store of your own, run the shared
/// suite with `store_test_suite!` (feature `test-suite`).
#[async_trait]
pub trait SessionStore: fmt::Debug + Send + Sync + 'static {
    /// Inserts `record` under `id` if no live record has that digest. Returns `true` if it
    /// inserted, `false` if the digest is taken (the engine then mints another id).
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError>;

    /// The live record under `id`, or `None` if it is missing or expired.
    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError>;

    /// Merges `changes` into the live record under `id`, atomically. Returns `false`, writing
    /// nothing, if there is no live record.
    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError>;

    /// Sets the expiry of the live record under `id`. Returns `false`, writing nothing, if there
    /// is no live record.
    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError>;

    /// Removes the record under `id`, if any.
    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError>;

    /// Removes every expired record; returns how many were removed.
    async fn delete_expired(&self) -> Result<u64, StoreError>;
}

/// Where sessions live: in an encrypted cookie, or in a server-side [`SessionStore`].
///
/// Anything that implements `SessionStore`, and `Arc<dyn SessionStore>`, converts into a
/// `Storage`, so `SessionManager::new` takes either a store or [`Storage::Cookie`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Storage {
    /// The whole session, encrypted and authenticated (AES-256-GCM), in the cookie itself.
    ///
    /// Nothing is kept on the server, so a cookie cannot be revoked before it expires: `destroy`
    /// and `cycle_id` replace the browser's cookie, but a copy taken earlier stays valid until
    /// its expiry. Concurrent requests each send back a whole record, so the last response to
    /// arrive wins. Sessions are limited to what fits in a 4096-byte cookie.
    #[cfg(feature = "cookie-store")]
    Cookie,
    /// A server-side store; the cookie holds only the signed session id.
    Server(Arc<dyn SessionStore>),
}

impl<S: SessionStore> From<S> for Storage {
    fn from(store: S) -> Self {
        Self::Server(Arc::new(store))
    }
}

impl From<Arc<dyn SessionStore>> for Storage {
    fn from(store: Arc<dyn SessionStore>) -> Self {
        Self::Server(store)
    }
}
