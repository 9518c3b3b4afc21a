//! [`CountingStore`]: a memory store that counts the calls the engine makes and can be made to
//! fail, for the engine's tests (`engine.rs`, `update.rs`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::json;
use session_core::{Changes, IdDigest, MemoryStore, Record, SessionStore, StoreError, Swap};
use time::OffsetDateTime;

/// Counts every call that reaches the store, remembers the digests it saw, and can be made to
/// fail, to check what the engine asks of a store.
#[derive(Debug, Default)]
pub struct CountingStore {
    pub inner: MemoryStore,
    pub creates: AtomicUsize,
    pub loads: AtomicUsize,
    pub applies: AtomicUsize,
    pub touches: AtomicUsize,
    pub deletes: AtomicUsize,
    pub takes: AtomicUsize,
    /// `compare_and_set` calls.
    pub swaps: AtomicUsize,
    pub failing: AtomicBool,
    /// Makes every `compare_and_set` report a conflict with a value that keeps changing.
    pub conflicting: AtomicBool,
    /// How many of the next creates report a taken id, as if the minted id collided.
    pub collisions: AtomicUsize,
    pub digests: std::sync::Mutex<Vec<IdDigest>>,
}

impl CountingStore {
    pub fn calls(&self) -> [usize; 5] {
        [
            &self.creates,
            &self.loads,
            &self.applies,
            &self.touches,
            &self.deletes,
        ]
        .map(|c| c.load(Ordering::SeqCst))
    }

    pub fn reset(&self) {
        for c in [
            &self.creates,
            &self.loads,
            &self.applies,
            &self.touches,
            &self.deletes,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }

    fn check(&self, counter: &AtomicUsize) -> Result<(), StoreError> {
        counter.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::backend(std::io::Error::other(
                "connection refused to db.internal:5432 (password=hunter2)",
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        self.check(&self.creates)?;
        let collide = self
            .collisions
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if collide {
            return Ok(false);
        }
        self.digests.lock().unwrap().push(*id);
        self.inner.create(id, record).await
    }
    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        self.check(&self.loads)?;
        self.inner.load(id).await
    }
    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        self.check(&self.applies)?;
        self.inner.apply(id, changes).await
    }
    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.check(&self.touches)?;
        self.inner.touch(id, expires_at).await
    }
    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&serde_json::Value>,
        new: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError> {
        self.check(&self.swaps)?;
        if self.conflicting.load(Ordering::SeqCst) {
            let n = self.swaps.load(Ordering::SeqCst) - 1;
            return Ok(Swap::Conflict(Some(json!(format!("changed {n}")))));
        }
        self.inner.compare_and_set(id, key, expected, new).await
    }
    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        self.check(&self.takes)?;
        self.inner.take(id).await
    }
    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.check(&self.deletes)?;
        self.inner.delete(id).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.delete_expired().await
    }
}
