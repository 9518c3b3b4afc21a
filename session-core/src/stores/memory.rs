//! [`MemoryStore`]: sessions in a bounded, concurrent in-process cache (moka), with no global
//! lock. Each session is updated under its own entry's lock, so concurrent requests writing
//! different keys of one session all keep their writes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::ops::compute::Op;
use moka::sync::Cache;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record};
use crate::store::SessionStore;

/// The default capacity: how many sessions a [`MemoryStore::new`] keeps at most.
pub const DEFAULT_CAPACITY: u64 = 100_000;

/// A bounded in-memory session store.
///
/// Sessions are evicted when they expire, and the least recently used are evicted once the
/// store holds `capacity` sessions. Sessions do not survive a restart and are not shared between
/// processes: use it for development, tests, and single-instance apps.
///
/// ```
/// use session_core::MemoryStore;
///
/// let store = MemoryStore::with_capacity(10_000);
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    cache: Cache<IdDigest, Arc<Record>>,
}

struct RecordExpiry;

impl RecordExpiry {
    fn remaining(record: &Record) -> Option<Duration> {
        let left = record.expires_at - OffsetDateTime::now_utc();
        Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
    }
}

impl Expiry<IdDigest, Arc<Record>> for RecordExpiry {
    fn expire_after_create(
        &self,
        _key: &IdDigest,
        value: &Arc<Record>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Self::remaining(value)
    }

    fn expire_after_update(
        &self,
        _key: &IdDigest,
        value: &Arc<Record>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Self::remaining(value)
    }
}

impl MemoryStore {
    /// A store holding at most [`DEFAULT_CAPACITY`] sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` sessions.
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(RecordExpiry)
                .build(),
        }
    }

    /// How many sessions the store holds (approximate: pending evictions may still count).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn live(record: &Record) -> bool {
        !record.is_expired_at(OffsetDateTime::now_utc())
    }

    /// Replaces a live record with `update(record)`, atomically for this entry; `false` if there
    /// is no live record.
    fn update(&self, id: &IdDigest, update: impl FnOnce(&mut Record)) -> bool {
        let mut updated = false;
        self.cache.entry(*id).and_compute_with(|entry| match entry {
            Some(entry) if Self::live(entry.value()) => {
                let mut record = Record::clone(entry.value());
                update(&mut record);
                updated = true;
                Op::Put(Arc::new(record))
            }
            Some(_) => Op::Remove,
            None => Op::Nop,
        });
        updated
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.cache.entry_count())
            .field("capacity", &self.cache.policy().max_capacity())
            .finish()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let mut created = false;
        self.cache.entry(*id).and_compute_with(|entry| match entry {
            Some(entry) if Self::live(entry.value()) => Op::Nop,
            _ => {
                created = true;
                Op::Put(Arc::new(record.clone()))
            }
        });
        Ok(created)
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        Ok(self
            .cache
            .get(id)
            .filter(|record| Self::live(record))
            .map(|record| Record::clone(&record)))
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        Ok(self.update(id, |record| record.apply(changes)))
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(self.update(id, |record| record.expires_at = expires_at))
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // Under the entry's lock, like `update`: an apply runs wholly before or after this.
        let mut taken = None;
        self.cache.entry(*id).and_compute_with(|entry| match entry {
            Some(entry) => {
                if Self::live(entry.value()) {
                    taken = Some(Record::clone(entry.value()));
                }
                Op::Remove
            }
            None => Op::Nop,
        });
        Ok(taken)
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.cache.invalidate(id);
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = OffsetDateTime::now_utc();
        let mut removed = 0;
        for (id, record) in self.cache.iter() {
            if record.is_expired_at(now) {
                self.cache.invalidate(&*id);
                removed += 1;
            }
        }
        self.cache.run_pending_tasks();
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn capacity_bounds_the_number_of_sessions() {
        let store = MemoryStore::with_capacity(10);
        let now = OffsetDateTime::now_utc();
        for i in 0..100u8 {
            let record = Record::new(Default::default(), now, now + time::Duration::hours(1));
            assert!(
                store
                    .create(&IdDigest::from_bytes([i; 32]), &record)
                    .await
                    .unwrap()
            );
        }
        assert!(store.len() <= 10, "{} sessions kept", store.len());
    }
}
