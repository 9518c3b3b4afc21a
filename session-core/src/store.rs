//! The contract every server-side store honours ([`SessionStore`]), and [`Storage`], the choice
//! between the cookie store and a server-side store.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};

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
/// - **compare_and_set** sets (or deletes) one key of the live record only if it holds an
///   expected value, atomically with every other write to the record, and otherwise reports
///   what it holds; [`Session::update`](crate::Session::update) retries it, so that concurrent
///   updates of one key are never lost, and [`Session::take`](crate::Session::take) deletes
///   with it, so that a value is taken once.
/// - **take** removes the live record and returns it, atomically with respect to `apply`:
///   every concurrent `apply` either returned `true` and its changes are in the returned
///   record, or returns `false`. A missing or expired record gives `None` (an expired one may be
///   removed too). Afterwards nothing is left under the digest.
/// - **delete** removes the record; deleting a missing record is not an error.
/// - **delete_expired** removes expired records and returns how many it removed (stores with
///   native expiry may return 0).
///
/// # What the engine builds on these rules
///
/// Requests write back only the keys they changed, through `apply`, so concurrent requests on
/// one session keep each other's keys. When a request cycles the id
/// ([`Session::cycle_id`](crate::Session::cycle_id)), the engine first `create`s a short-lived
/// forwarding record (at most 60 seconds) under a digest that only holders of the old id can
/// compute, then `take`s the old record, `create`s it under the new id, and makes the
/// forwarding record name the new id's digest. A request that loaded the session before the
/// cycle and whose `apply` to the old id returns `false` follows the forwarding record and
/// applies its changes to the new id, so its keys are not lost; no cookie is sent for it, so
/// the browser keeps the new id. The forwarding record is used only for such writes, never for
/// loads: a request that arrives after the cycle with the old cookie gets a fresh, empty
/// session. A destroyed session is never named by a forwarding record, and `apply` never
/// creates a record, so nothing brings it back. Forwarding records are ordinary records to the
/// store (their data is `{}` or `{"to": "<64 hex digits>"}`) and expire like any other.
///
/// The index of one owner's sessions ([`Session::set_owner`](crate::Session::set_owner)) is an
/// ordinary record too, under a digest derived from the owner's name that no id has: its data
/// holds [`OWNER_INDEX_KEY`](crate::OWNER_INDEX_KEY) and one key per session (the digest in
/// hex), added and removed with per-key `apply`s, so concurrent logins keep every entry.
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

    /// Sets `key` of the live record under `id` to `new` (`None`: deletes it) if it holds
    /// `expected` (`None`: if the key is absent), as one atomic step with respect to every other
    /// write to the record.
    ///
    /// Returns [`Swap::Swapped`] if it wrote; [`Swap::Conflict`] with the key's current value
    /// (`None` if absent) if the key held something else, writing nothing; [`Swap::Missing`]
    /// if there is no live record. Leaves the expiry and every other key alone. Values compare
    /// as JSON values; a store that keeps JSON text may compare the text `serde_json` writes,
    /// which is the same for equal values it wrote. A store that cannot tell whether a failed
    /// round trip wrote must return the error rather than try again: the engine would apply
    /// the update twice. The in-memory merge is [`Record::compare_and_set`].
    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&serde_json::Value>,
        new: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError>;

    /// Removes the live record under `id` and returns it; `None` if it is missing or expired.
    ///
    /// Must be atomic with respect to [`apply`](Self::apply) on the same `id`: an `apply` that
    /// returned `true` is in the returned record, and one that runs after the removal returns
    /// `false`. The engine cycles ids with it; a store that merely loads and then deletes would
    /// lose the keys of a request whose `apply` landed in between.
    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError>;

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
