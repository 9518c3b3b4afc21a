//! [`MemoryStore`]: sessions in a bounded in-process map, split into shards that each have their
//! own lock, so there is no global lock. A session is read and changed under its shard's lock,
//! so concurrent requests writing different keys of one session all keep their writes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record};
use crate::store::SessionStore;

/// The default capacity: how many sessions a [`MemoryStore::new`] keeps at most.
pub const DEFAULT_CAPACITY: u64 = 100_000;

/// The most shards a store is split into; small stores get fewer, so that each shard's share of
/// the capacity stays meaningful.
const MAX_SHARDS: u64 = 64;
/// The fewest sessions a shard is sized for.
const MIN_SHARD_CAPACITY: u64 = 16;
/// How many sessions an eviction looks at to pick the one closest to expiring.
const EVICTION_SAMPLE: usize = 16;
/// After this many new sessions a shard drops all its expired ones, so expired sessions go
/// away even while the store is not full.
const SWEEP_EVERY: u32 = 1024;

/// A bounded in-memory session store.
///
/// Expired sessions are dropped when they are next looked up, and by a sweep of each shard after
/// every 1024 new sessions in it (and by [`delete_expired`](SessionStore::delete_expired)). Once
/// the store holds `capacity` sessions, a new one replaces the session closest to expiring among
/// a small sample, which with idle expiry is close to the least recently used. Sessions do not
/// survive a restart and are not shared between processes: use it for development, tests, and
/// single-instance apps.
///
/// ```
/// use session_core::MemoryStore;
///
/// let store = MemoryStore::with_capacity(10_000);
/// assert!(store.is_empty());
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    /// Sessions per shard; the shards together never exceed the store's capacity.
    shard_capacity: usize,
    capacity: u64,
}

#[derive(Default)]
struct Shard {
    sessions: HashMap<IdDigest, Record, BuildHasherDefault<DigestHasher>>,
    created_since_sweep: u32,
}

/// Hashes an [`IdDigest`] by folding its bytes. A digest is the SHA-256 of an id the server
/// minted (a client cannot pick one), so its bytes are already uniform and need no keyed hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(23) ^ u64::from_le_bytes(word);
        }
    }
}

impl MemoryStore {
    /// A store holding at most [`DEFAULT_CAPACITY`] sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding at most `capacity` sessions (at least one).
    pub fn with_capacity(capacity: u64) -> Self {
        let capacity = capacity.max(1);
        let shards = (capacity / MIN_SHARD_CAPACITY).clamp(1, MAX_SHARDS);
        let shard_capacity = usize::try_from(capacity / shards).unwrap_or(usize::MAX);
        Self {
            inner: Arc::new(Inner {
                shards: (0..shards).map(|_| Mutex::default()).collect(),
                shard_capacity,
                capacity,
            }),
        }
    }

    /// How many live sessions the store holds. It drops the expired ones first, so it takes
    /// time in proportion to the store's size.
    pub fn len(&self) -> u64 {
        let now = OffsetDateTime::now_utc();
        let mut held = 0;
        for shard in &*self.inner.shards {
            let mut shard = lock(shard);
            shard.sweep(now);
            held += shard.sessions.len() as u64;
        }
        held
    }

    /// Whether the store holds no live session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most sessions this store keeps.
    pub fn capacity(&self) -> u64 {
        self.inner.capacity
    }

    fn shard(&self, id: &IdDigest) -> MutexGuard<'_, Shard> {
        let shards = &self.inner.shards;
        // The last byte picks the shard; the hasher folds all of them for the map inside it.
        lock(&shards[usize::from(id.as_bytes()[31]) % shards.len()])
    }

    /// Runs `update` on the live record under `id`; `false` if there is none.
    fn update(&self, id: &IdDigest, update: impl FnOnce(&mut Record)) -> bool {
        let now = OffsetDateTime::now_utc();
        let mut shard = self.shard(id);
        match shard.sessions.get_mut(id) {
            Some(record) if !record.is_expired_at(now) => {
                update(record);
                true
            }
            Some(_) => {
                shard.sessions.remove(id);
                false
            }
            None => false,
        }
    }
}

impl Shard {
    fn sweep(&mut self, now: OffsetDateTime) -> u64 {
        let before = self.sessions.len();
        self.sessions.retain(|_, record| !record.is_expired_at(now));
        self.created_since_sweep = 0;
        (before - self.sessions.len()) as u64
    }

    /// Makes room for one more session: drops the one closest to expiring among a sample (an
    /// expired one, if the sample holds any).
    fn evict_one(&mut self) {
        let victim = self
            .sessions
            .iter()
            .take(EVICTION_SAMPLE)
            .min_by_key(|(_, record)| record.expires_at)
            .map(|(id, _)| *id);
        if let Some(id) = victim {
            self.sessions.remove(&id);
        }
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic never leaves a shard half-changed (each change is one map operation), so a
    // poisoned lock is safe to keep using.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held: usize = self
            .inner
            .shards
            .iter()
            .map(|shard| lock(shard).sessions.len())
            .sum();
        f.debug_struct("MemoryStore")
            .field("sessions", &held)
            .field("capacity", &self.inner.capacity)
            .finish()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc();
        let capacity = self.inner.shard_capacity;
        let mut shard = self.shard(id);
        match shard.sessions.get(id) {
            Some(live) if !live.is_expired_at(now) => return Ok(false),
            Some(_) => {}
            None => {
                shard.created_since_sweep += 1;
                if shard.created_since_sweep >= SWEEP_EVERY {
                    shard.sweep(now);
                }
                while shard.sessions.len() >= capacity {
                    shard.evict_one();
                }
            }
        }
        shard.sessions.insert(*id, record.clone());
        Ok(true)
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let mut shard = self.shard(id);
        match shard.sessions.get(id) {
            Some(record) if !record.is_expired_at(now) => Ok(Some(record.clone())),
            Some(_) => {
                shard.sessions.remove(id);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        Ok(self.update(id, |record| record.apply(changes)))
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(self.update(id, |record| record.expires_at = expires_at))
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // Under the shard's lock, like `update`: an apply runs wholly before or after this.
        let now = OffsetDateTime::now_utc();
        let taken = self.shard(id).sessions.remove(id);
        Ok(taken.filter(|record| !record.is_expired_at(now)))
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.shard(id).sessions.remove(id);
        Ok(())
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        let now = OffsetDateTime::now_utc();
        Ok(self
            .inner
            .shards
            .iter()
            .map(|shard| lock(shard).sweep(now))
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expires_in: time::Duration) -> Record {
        let now = OffsetDateTime::now_utc();
        Record::new(Default::default(), now, now + expires_in)
    }

    #[tokio::test]
    async fn capacity_bounds_the_number_of_sessions() {
        for capacity in [1, 10, 100, 5_000] {
            let store = MemoryStore::with_capacity(capacity);
            for i in 0..capacity * 3 {
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&i.to_le_bytes());
                bytes[31] = (i % 251) as u8;
                let created = store
                    .create(
                        &IdDigest::from_bytes(bytes),
                        &record(time::Duration::hours(1)),
                    )
                    .await
                    .unwrap();
                assert!(created);
            }
            let held = store.len();
            assert!(
                held <= capacity,
                "{held} sessions kept, capacity {capacity}"
            );
            assert!(
                held >= capacity / 2,
                "{held} sessions kept, capacity {capacity}: the store should fill up"
            );
        }
    }

    #[tokio::test]
    async fn a_full_store_evicts_the_session_closest_to_expiring() {
        let store = MemoryStore::with_capacity(3);
        let soon = IdDigest::from_bytes([1; 32]);
        store
            .create(&soon, &record(time::Duration::minutes(1)))
            .await
            .unwrap();
        for i in 2..=3u8 {
            let id = IdDigest::from_bytes([i; 32]);
            store
                .create(&id, &record(time::Duration::hours(1)))
                .await
                .unwrap();
        }
        let newest = IdDigest::from_bytes([4; 32]);
        store
            .create(&newest, &record(time::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(store.len(), 3);
        assert!(store.load(&soon).await.unwrap().is_none(), "evicted first");
        assert!(store.load(&newest).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn expired_sessions_are_swept_without_being_looked_up() {
        let store = MemoryStore::with_capacity(100_000);
        let expired = {
            let now = OffsetDateTime::now_utc();
            Record::new(Default::default(), now, now)
        };
        for i in 0..200u32 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            store
                .create(&IdDigest::from_bytes(bytes), &expired)
                .await
                .unwrap();
        }
        // Enough new sessions in every shard to trigger each shard's sweep.
        for i in 0..(SWEEP_EVERY as usize * MAX_SHARDS as usize) {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
            bytes[8] = 1;
            bytes[31] = (i % 256) as u8;
            store
                .create(
                    &IdDigest::from_bytes(bytes),
                    &record(time::Duration::hours(1)),
                )
                .await
                .unwrap();
        }
        let held: usize = store
            .inner
            .shards
            .iter()
            .map(|shard| lock(shard).sessions.len())
            .sum();
        assert_eq!(held, SWEEP_EVERY as usize * MAX_SHARDS as usize);
    }

    #[test]
    fn debug_shows_counts_only() {
        let store = MemoryStore::with_capacity(10);
        assert_eq!(
            format!("{store:?}"),
            "MemoryStore { sessions: 0, capacity: 10 }"
        );
    }
}
