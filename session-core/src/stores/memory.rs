//! [`MemoryStore`]: sessions in a bounded in-process map, split into shards that each have their
//! own lock, so there is no global lock. A session is read and changed under its shard's lock,
//! so concurrent requests writing different keys of one session all keep their writes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
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
/// Stale entries a shard's expiry heap may hold beyond twice its sessions before it is rebuilt.
const HEAP_SLACK: usize = 64;

/// A bounded in-memory session store.
///
/// Expired sessions are dropped when they are next looked up, and whenever a new session enters
/// their shard: each shard keeps its sessions' expiries in a heap, soonest first, so finding
/// the expired ones costs nothing while there are none (and
/// [`delete_expired`](SessionStore::delete_expired) drops them all). Once the store holds
/// `capacity` sessions, a new one replaces the session closest to expiring, which with idle
/// expiry is the least recently used. Sessions do not survive a restart and are not shared
/// between processes: use it for development, tests, and single-instance apps.
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
    /// The expiry of every session, soonest first, as (Unix time in nanoseconds, digest). An
    /// entry whose session is gone or has moved its expiry since is stale: it is skipped when
    /// it comes to the top, and all of them go when the heap is rebuilt.
    expiries: BinaryHeap<Reverse<(i128, IdDigest)>>,
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
        let moved = match shard.sessions.get_mut(id) {
            Some(record) if !record.is_expired_at(now) => {
                let before = record.expires_at;
                update(record);
                (record.expires_at != before).then_some(record.expires_at)
            }
            Some(_) => {
                shard.sessions.remove(id);
                return false;
            }
            None => return false,
        };
        if let Some(expires_at) = moved {
            shard.push_expiry(*id, expires_at);
        }
        true
    }
}

/// An expiry as the heap orders it.
fn heap_key(expires_at: OffsetDateTime) -> i128 {
    expires_at.unix_timestamp_nanos()
}

impl Shard {
    /// Adds a session (or replaces the one under `id`).
    fn insert(&mut self, id: IdDigest, record: Record) {
        self.push_expiry(id, record.expires_at);
        self.sessions.insert(id, record);
    }

    fn push_expiry(&mut self, id: IdDigest, expires_at: OffsetDateTime) {
        if self.expiries.len() >= 2 * self.sessions.len() + HEAP_SLACK {
            // Mostly stale entries (sessions deleted, taken, or whose expiry moved): rebuild,
            // which costs one entry per session and happens at most once per that many pushes.
            self.expiries = self
                .sessions
                .iter()
                .map(|(id, record)| Reverse((heap_key(record.expires_at), *id)))
                .collect();
        }
        self.expiries.push(Reverse((heap_key(expires_at), id)));
    }

    /// Removes the session with the soonest expiry, if that expiry is at or before `limit`
    /// (any, for `None`); `false` if there is none. Stale heap entries on the way are dropped.
    fn pop_soonest(&mut self, limit: Option<i128>) -> bool {
        while let Some(&Reverse((at, id))) = self.expiries.peek() {
            if limit.is_some_and(|limit| at > limit) {
                return false;
            }
            self.expiries.pop();
            let current = self
                .sessions
                .get(&id)
                .is_some_and(|record| heap_key(record.expires_at) == at);
            if current {
                self.sessions.remove(&id);
                return true;
            }
        }
        false
    }

    /// Drops every session expired at `now`; returns how many.
    fn sweep(&mut self, now: OffsetDateTime) -> u64 {
        let now = heap_key(now);
        let mut dropped = 0;
        while self.pop_soonest(Some(now)) {
            dropped += 1;
        }
        dropped
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
        if shard
            .sessions
            .get(id)
            .is_some_and(|live| !live.is_expired_at(now))
        {
            return Ok(false);
        }
        shard.sweep(now);
        while shard.sessions.len() >= capacity && shard.pop_soonest(None) {}
        shard.insert(*id, record.clone());
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

    fn held(store: &MemoryStore) -> usize {
        // Counted without `len`, which sweeps first.
        store
            .inner
            .shards
            .iter()
            .map(|shard| lock(shard).sessions.len())
            .sum()
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
            bytes[31] = (i % 256) as u8;
            store
                .create(&IdDigest::from_bytes(bytes), &expired)
                .await
                .unwrap();
        }
        // One new session in every shard (the last byte picks the shard).
        for i in 0..=255u8 {
            let mut bytes = [0u8; 32];
            bytes[0] = 1;
            bytes[31] = i;
            store
                .create(
                    &IdDigest::from_bytes(bytes),
                    &record(time::Duration::hours(1)),
                )
                .await
                .unwrap();
        }
        assert_eq!(held(&store), 256);
    }

    #[tokio::test]
    async fn a_touched_session_outlives_untouched_ones_when_the_store_is_full() {
        let store = MemoryStore::with_capacity(3);
        let ids: Vec<_> = (1..=3u8).map(|i| IdDigest::from_bytes([i; 32])).collect();
        for (minutes, id) in [10, 20, 30].into_iter().zip(&ids) {
            let created = store
                .create(id, &record(time::Duration::minutes(minutes)))
                .await
                .unwrap();
            assert!(created);
        }
        // The soonest to expire is used again: its expiry moves past the others'.
        let later = OffsetDateTime::now_utc() + time::Duration::hours(2);
        assert!(store.touch(&ids[0], later).await.unwrap());
        let newest = IdDigest::from_bytes([9; 32]);
        store
            .create(&newest, &record(time::Duration::hours(1)))
            .await
            .unwrap();
        assert!(
            store.load(&ids[0]).await.unwrap().is_some(),
            "touched, kept"
        );
        assert!(
            store.load(&ids[1]).await.unwrap().is_none(),
            "now the soonest, evicted"
        );
        assert!(store.load(&ids[2]).await.unwrap().is_some());
        assert!(store.load(&newest).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn stale_expiries_do_not_pile_up() {
        let store = MemoryStore::with_capacity(16);
        let id = IdDigest::from_bytes([7; 32]);
        store
            .create(&id, &record(time::Duration::hours(1)))
            .await
            .unwrap();
        let start = OffsetDateTime::now_utc();
        for minute in 0..10_000 {
            let moved = start + time::Duration::hours(1) + time::Duration::minutes(minute);
            assert!(store.touch(&id, moved).await.unwrap());
        }
        let shard = store.shard(&id);
        assert_eq!(shard.sessions.len(), 1);
        assert!(
            shard.expiries.len() <= 2 + HEAP_SLACK,
            "{} heap entries for one session",
            shard.expiries.len()
        );
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
