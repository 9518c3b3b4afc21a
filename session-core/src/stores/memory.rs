//! [`MemoryStore`]: sessions in a bounded in-process map, split into shards that each have their
//! own lock, so there is no global lock. A session is read and changed under its shard's lock,
//! so concurrent requests writing different keys of one session all keep their writes.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::size_of;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};
use crate::store::SessionStore;

/// The default capacity: how many sessions a [`MemoryStore::new`] keeps at most.
pub const DEFAULT_CAPACITY: u64 = 100_000;

/// The default byte capacity: about how much memory (256 MiB) the sessions of a
/// [`MemoryStore::new`] take at most, by the estimate [`MemoryStore::approx_bytes`] describes.
pub const DEFAULT_BYTE_CAPACITY: u64 = 256 * 1024 * 1024;

/// The most shards a store is split into; small stores get fewer, so that each shard's share of
/// the capacity stays meaningful.
const MAX_SHARDS: u64 = 64;
/// The fewest sessions a shard is sized for.
const MIN_SHARD_CAPACITY: u64 = 16;
/// The fewest bytes a shard is sized for: sixteen sessions at the engine's default limit of
/// 64 KiB each, since a session larger than its shard's share of the bytes is refused.
const MIN_SHARD_BYTES: u64 = 1024 * 1024;
/// Stale entries a shard's expiry heaps may hold beyond twice its sessions before one is rebuilt.
const HEAP_SLACK: usize = 64;

/// An expiry heap's entry: (expiry as Unix time in nanoseconds, digest), soonest first.
type HeapEntry = Reverse<(i128, IdDigest)>;

/// Estimated bytes of one session besides its keys and values: its slot in the map (with the
/// spare room a hash table keeps) and its entries in the expiry heaps.
const SESSION_OVERHEAD: usize = 2 * size_of::<(IdDigest, Entry)>() + 2 * size_of::<HeapEntry>();
/// Estimated bytes of one key besides its text and its value's contents: the key's `String`,
/// the `Value`, and the map's own bookkeeping around them.
const KEY_OVERHEAD: usize = size_of::<String>() + size_of::<Value>() + 16;

/// A bounded in-memory session store.
///
/// The store is bounded twice: in sessions ([`capacity`](Self::capacity), default
/// [`DEFAULT_CAPACITY`]) and in bytes ([`byte_capacity`](Self::byte_capacity), default
/// [`DEFAULT_BYTE_CAPACITY`]), by an estimate of the memory each session takes (see
/// [`approx_bytes`](Self::approx_bytes)). Both are split evenly over the store's shards. A
/// session larger than its shard's share of the bytes
/// ([`max_session_bytes`](Self::max_session_bytes)) is refused: `create` or `apply` returns a
/// [`StoreError`] whose message names the limit, and the stored session is left as it was.
///
/// # Eviction
///
/// Expired sessions are dropped when they are next looked up, and whenever a new session enters
/// their shard: each shard keeps its sessions' expiries in heaps, soonest first, so finding the
/// expired ones costs nothing while there are none (and
/// [`delete_expired`](SessionStore::delete_expired) drops them all).
///
/// When a `create`, or an `apply` that makes a session larger, would take a shard over its
/// share of either capacity, the store evicts other sessions of that shard, in this order:
///
/// 1. **Probation** first: sessions never used since they were created. A session created by
///    `create` (a new visitor's first write, and also the record a login moves to under its
///    new id) starts here.
/// 2. **Protected** only when no probation session is left: sessions that came back, that is,
///    that a later successful `load`, `apply` or `touch` found. A logged-in user's session is
///    promoted by the browser's next request after the login.
///
/// Within each class the session closest to expiring goes first, which with idle expiry is the
/// least recently used. The session being written is never evicted to make room for itself. So
/// a flood of clients that take a fresh session and never come back only evicts one another,
/// and the users who came back keep their sessions (like a segmented LRU, or 2Q).
///
/// This is no defence against a client that keeps sending its cookies back: each session it
/// revisits is promoted like a real user's, and enough of them evict real users' sessions in
/// the end. Put a rate limit in front of the application (per client, on requests that create
/// sessions) as well.
///
/// Sessions do not survive a restart and are not shared between processes: use it for
/// development, tests, and single-instance apps.
///
/// ```
/// use session_core::MemoryStore;
///
/// let store = MemoryStore::with_capacity(10_000);
/// assert!(store.is_empty());
/// // At most 10,000 sessions, and about 64 MiB.
/// let store = MemoryStore::with_limits(10_000, 64 * 1024 * 1024);
/// assert_eq!(store.byte_capacity(), 64 * 1024 * 1024);
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    /// Sessions per shard; the shards together never exceed the store's capacity.
    shard_capacity: usize,
    /// Estimated bytes per shard; the shards together never exceed the store's byte capacity.
    shard_bytes: usize,
    capacity: u64,
    byte_capacity: u64,
}

/// Where a session stands in the eviction order: probation sessions go before protected ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Not used since it was created.
    Probation,
    /// Found again by a `load`, `apply` or `touch` after it was created.
    Protected,
}

struct Entry {
    record: Record,
    /// The record's estimated size, in bytes (see [`record_size`]).
    size: usize,
    class: Class,
}

#[derive(Default)]
struct Shard {
    sessions: HashMap<IdDigest, Entry, BuildHasherDefault<DigestHasher>>,
    /// The estimated sizes of all the sessions, in bytes.
    bytes: usize,
    /// The expiries of the probation sessions, soonest first. An entry whose session is gone,
    /// was promoted, or has moved its expiry since is stale: it is skipped when it comes to the
    /// top, and all of them go when the heap is rebuilt.
    probation: BinaryHeap<HeapEntry>,
    /// The expiries of the protected sessions, stale entries likewise.
    protected: BinaryHeap<HeapEntry>,
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

/// Why a `create` or `apply` was refused: the session alone is larger than its shard's share of
/// the store's byte capacity.
#[derive(Debug)]
struct TooLarge {
    size: usize,
    shard_bytes: usize,
    byte_capacity: u64,
    shards: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the memory store refused a session of about {} bytes: it is larger than one shard's \
             share of the store's byte capacity ({} bytes split over {} shards, {} bytes each); \
             raise the byte capacity with `MemoryStore::with_limits`, or store less in the \
             session (`SessionConfig::with_max_session_bytes` bounds it)",
            self.size, self.byte_capacity, self.shards, self.shard_bytes
        )
    }
}

impl std::error::Error for TooLarge {}

impl MemoryStore {
    /// A store holding at most [`DEFAULT_CAPACITY`] sessions and about
    /// [`DEFAULT_BYTE_CAPACITY`] bytes.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_CAPACITY, DEFAULT_BYTE_CAPACITY)
    }

    /// A store holding at most `capacity` sessions (at least one) and about
    /// [`DEFAULT_BYTE_CAPACITY`] bytes.
    pub fn with_capacity(capacity: u64) -> Self {
        Self::with_limits(capacity, DEFAULT_BYTE_CAPACITY)
    }

    /// A store holding at most `capacity` sessions (at least one) and about `bytes` bytes, by
    /// the estimate [`approx_bytes`](Self::approx_bytes) describes.
    ///
    /// The store is split into up to 64 shards, fewer for small limits, so that each shard has
    /// room for at least 16 sessions and 1 MiB. A session larger than
    /// [`max_session_bytes`](Self::max_session_bytes), its shard's share of `bytes`, is refused.
    pub fn with_limits(capacity: u64, bytes: u64) -> Self {
        let capacity = capacity.max(1);
        let shards = (capacity / MIN_SHARD_CAPACITY)
            .min(bytes / MIN_SHARD_BYTES)
            .clamp(1, MAX_SHARDS);
        let shard_capacity = usize::try_from(capacity / shards).unwrap_or(usize::MAX);
        let shard_bytes = usize::try_from(bytes / shards).unwrap_or(usize::MAX);
        Self {
            inner: Arc::new(Inner {
                shards: (0..shards).map(|_| Mutex::default()).collect(),
                shard_capacity,
                shard_bytes,
                capacity,
                byte_capacity: bytes,
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

    /// About how many bytes of memory this store keeps its sessions in at most, by the estimate
    /// [`approx_bytes`](Self::approx_bytes) describes.
    pub fn byte_capacity(&self) -> u64 {
        self.inner.byte_capacity
    }

    /// The largest session this store accepts, in estimated bytes: one shard's share of the
    /// [`byte_capacity`](Self::byte_capacity). A `create` or `apply` that would make a session
    /// larger fails with a [`StoreError`].
    ///
    /// This counts memory, not JSON text, so it is not the measure of
    /// [`SessionConfig::with_max_session_bytes`](crate::SessionConfig::with_max_session_bytes):
    /// a long array of small numbers takes a whole `serde_json::Value` (32 bytes) here for every
    /// two bytes of JSON. At the defaults (64 shards of 4 MiB, sessions of at most 64 KiB of
    /// JSON) no session the engine accepts is refused here.
    pub fn max_session_bytes(&self) -> u64 {
        self.inner.shard_bytes as u64
    }

    /// An estimate of the memory the store's sessions take, in bytes, expired ones not yet
    /// dropped included; the store keeps it at or under its
    /// [`byte_capacity`](Self::byte_capacity).
    ///
    /// Each session counts a fixed overhead (its map slot and bookkeeping, a few hundred
    /// bytes), and for each key the key's length, a fixed per-key overhead, and its value's
    /// contents: the text of strings, and for arrays and objects their elements, keys and values
    /// in the same way. It is kept up to date as sessions change (a write costs only the keys it
    /// changes), not measured from the allocator, so the true figure differs by the allocator's
    /// own overhead and by spare capacity inside collections.
    pub fn approx_bytes(&self) -> u64 {
        self.inner
            .shards
            .iter()
            .map(|shard| lock(shard).bytes as u64)
            .sum()
    }

    fn shard(&self, id: &IdDigest) -> MutexGuard<'_, Shard> {
        let shards = &self.inner.shards;
        // The last byte picks the shard; the hasher folds all of them for the map inside it.
        lock(&shards[usize::from(id.as_bytes()[31]) % shards.len()])
    }

    fn too_large(&self, size: usize) -> StoreError {
        StoreError::backend(TooLarge {
            size,
            shard_bytes: self.inner.shard_bytes,
            byte_capacity: self.inner.byte_capacity,
            shards: self.inner.shards.len(),
        })
    }

    /// Runs `write` on the live session under `id`; `false` if there is none.
    fn write(&self, id: &IdDigest, write: Write<'_>) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc();
        self.shard(id)
            .write(id, now, self.inner.shard_bytes, write)
            .map_err(|size| self.too_large(size))
    }
}

/// A change to a live session.
enum Write<'a> {
    Apply(&'a Changes),
    Touch(OffsetDateTime),
}

/// An expiry as the heaps order it.
fn heap_key(expires_at: OffsetDateTime) -> i128 {
    expires_at.unix_timestamp_nanos()
}

/// The estimated size of a session holding `record`, in bytes.
fn record_size(record: &Record) -> usize {
    SESSION_OVERHEAD + map_size(&record.data)
}

fn map_size(map: &Map<String, Value>) -> usize {
    map.iter().map(|(key, value)| key_size(key, value)).sum()
}

/// The estimated bytes of one key and its value inside a map.
fn key_size(key: &str, value: &Value) -> usize {
    KEY_OVERHEAD + key.len() + value_size(value)
}

/// The estimated bytes `value` holds outside its own `Value`.
fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(text) => text.len(),
        Value::Array(items) => items
            .iter()
            .map(|item| size_of::<Value>() + value_size(item))
            .sum(),
        Value::Object(map) => map_size(map),
    }
}

/// The estimated size `entry` will have once `changes` are applied, counting only the keys the
/// changes name: what is left of the record is the keys they do not name, plus `set`.
fn size_after(entry: &Entry, changes: &Changes) -> usize {
    let data = &entry.record.data;
    let mut size = entry.size;
    if changes.clear {
        size = SESSION_OVERHEAD;
    } else {
        let mut seen = BTreeSet::new();
        let replaced = changes.set.keys();
        // Each key once: one both removed and set is counted as set, a repeated one once.
        let removed = changes.remove.iter().filter(|key| {
            !changes.set.contains_key(key.as_str())
                && (changes.remove.len() < 2 || seen.insert(key.as_str()))
        });
        for key in replaced.chain(removed) {
            if let Some(old) = data.get(key) {
                size = size.saturating_sub(key_size(key, old));
            }
        }
    }
    size + changes
        .set
        .iter()
        .map(|(key, value)| key_size(key, value))
        .sum::<usize>()
}

impl Shard {
    fn heap(&mut self, class: Class) -> &mut BinaryHeap<HeapEntry> {
        match class {
            Class::Probation => &mut self.probation,
            Class::Protected => &mut self.protected,
        }
    }

    /// Adds a session (or replaces the one under `id`).
    fn insert(&mut self, id: IdDigest, entry: Entry) {
        self.push_expiry(entry.class, id, entry.record.expires_at);
        self.bytes += entry.size;
        if let Some(old) = self.sessions.insert(id, entry) {
            self.bytes = self.bytes.saturating_sub(old.size);
        }
    }

    fn remove(&mut self, id: &IdDigest) -> Option<Entry> {
        let entry = self.sessions.remove(id)?;
        self.bytes = self.bytes.saturating_sub(entry.size);
        Some(entry)
    }

    fn push_expiry(&mut self, class: Class, id: IdDigest, expires_at: OffsetDateTime) {
        if self.heap(class).len() >= 2 * self.sessions.len() + HEAP_SLACK {
            // Mostly stale entries (sessions deleted, taken, promoted, or whose expiry moved):
            // rebuild, which costs one entry per session and happens at most once per that
            // many pushes.
            let current = self
                .sessions
                .iter()
                .filter(|(_, entry)| entry.class == class)
                .map(|(id, entry)| Reverse((heap_key(entry.record.expires_at), *id)))
                .collect();
            *self.heap(class) = current;
        }
        self.heap(class).push(Reverse((heap_key(expires_at), id)));
    }

    /// Removes the session of `class` with the soonest expiry, if that expiry is at or before
    /// `limit` (any, for `None`), passing over `keep`; `false` if there is none. Stale heap
    /// entries on the way are dropped.
    fn pop_soonest(&mut self, class: Class, limit: Option<i128>, keep: Option<&IdDigest>) -> bool {
        let heap = match class {
            Class::Probation => &mut self.probation,
            Class::Protected => &mut self.protected,
        };
        let mut kept = None;
        let mut victim = None;
        while let Some(&Reverse((at, id))) = heap.peek() {
            if limit.is_some_and(|limit| at > limit) {
                break;
            }
            heap.pop();
            let current = self.sessions.get(&id).is_some_and(|entry| {
                entry.class == class && heap_key(entry.record.expires_at) == at
            });
            if !current {
                continue;
            }
            if keep == Some(&id) {
                kept = Some(Reverse((at, id)));
                continue;
            }
            victim = Some(id);
            break;
        }
        if let Some(kept) = kept {
            heap.push(kept);
        }
        victim.is_some_and(|id| self.remove(&id).is_some())
    }

    /// Evicts one session other than `keep`, in the store's eviction order: the probation
    /// session closest to expiring, or if there is none, the protected one. `false` if there is
    /// no other session.
    fn evict(&mut self, keep: Option<&IdDigest>) -> bool {
        self.pop_soonest(Class::Probation, None, keep)
            || self.pop_soonest(Class::Protected, None, keep)
    }

    /// Drops every session expired at `now`; returns how many.
    fn sweep(&mut self, now: OffsetDateTime) -> u64 {
        let now = heap_key(now);
        let mut dropped = 0;
        for class in [Class::Probation, Class::Protected] {
            while self.pop_soonest(class, Some(now), None) {
                dropped += 1;
            }
        }
        dropped
    }

    /// Promotes the live session under `id` and runs `write` on it, then evicts other sessions
    /// if it grew the shard past `max_bytes`. `Ok(false)` if there is no live session;
    /// `Err(size)`, changing nothing, if the session would grow past `max_bytes` on its own.
    fn write(
        &mut self,
        id: &IdDigest,
        now: OffsetDateTime,
        max_bytes: usize,
        write: Write<'_>,
    ) -> Result<bool, usize> {
        let Some(entry) = self.sessions.get_mut(id) else {
            return Ok(false);
        };
        if entry.record.is_expired_at(now) {
            self.remove(id);
            return Ok(false);
        }
        let before = (entry.class, entry.record.expires_at);
        let old_size = entry.size;
        match write {
            Write::Apply(changes) => {
                let size = size_after(entry, changes);
                if size > max_bytes {
                    return Err(size);
                }
                entry.record.apply(changes);
                entry.size = size;
            }
            Write::Touch(expires_at) => entry.record.expires_at = expires_at,
        }
        entry.class = Class::Protected;
        let (size, expires_at) = (entry.size, entry.record.expires_at);
        self.bytes = self.bytes.saturating_sub(old_size) + size;
        if before != (Class::Protected, expires_at) {
            self.push_expiry(Class::Protected, *id, expires_at);
        }
        if self.bytes > max_bytes {
            self.sweep(now);
            while self.bytes > max_bytes && self.evict(Some(id)) {}
        }
        Ok(true)
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic never leaves a shard half-changed (each change is one map operation, and the byte
    // count is only an estimate), so a poisoned lock is safe to keep using.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (mut held, mut bytes) = (0, 0);
        for shard in &*self.inner.shards {
            let shard = lock(shard);
            held += shard.sessions.len();
            bytes += shard.bytes;
        }
        f.debug_struct("MemoryStore")
            .field("sessions", &held)
            .field("capacity", &self.inner.capacity)
            .field("approx_bytes", &bytes)
            .field("byte_capacity", &self.inner.byte_capacity)
            .finish()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let size = record_size(record);
        let (capacity, max_bytes) = (self.inner.shard_capacity, self.inner.shard_bytes);
        if size > max_bytes {
            return Err(self.too_large(size));
        }
        let now = OffsetDateTime::now_utc();
        let mut shard = self.shard(id);
        if shard
            .sessions
            .get(id)
            .is_some_and(|live| !live.record.is_expired_at(now))
        {
            return Ok(false);
        }
        shard.sweep(now);
        while (shard.sessions.len() >= capacity || shard.bytes + size > max_bytes)
            && shard.evict(None)
        {}
        let entry = Entry {
            record: record.clone(),
            size,
            class: Class::Probation,
        };
        shard.insert(*id, entry);
        Ok(true)
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let mut shard = self.shard(id);
        let Some(entry) = shard.sessions.get_mut(id) else {
            return Ok(None);
        };
        if entry.record.is_expired_at(now) {
            shard.remove(id);
            return Ok(None);
        }
        let record = entry.record.clone();
        if entry.class == Class::Probation {
            // It came back: from now on it is evicted only after every probation session.
            entry.class = Class::Protected;
            shard.push_expiry(Class::Protected, *id, record.expires_at);
        }
        Ok(Some(record))
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        self.write(id, Write::Apply(changes))
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.write(id, Write::Touch(expires_at))
    }

    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<Swap, StoreError> {
        // Compared and written under one hold of the shard's lock, like every other write.
        let now = OffsetDateTime::now_utc();
        let mut shard = self.shard(id);
        let Some(entry) = shard
            .sessions
            .get(id)
            .filter(|entry| !entry.record.is_expired_at(now))
        else {
            return Ok(Swap::Missing);
        };
        let current = entry.record.data.get(key);
        if current != expected {
            return Ok(Swap::Conflict(current.cloned()));
        }
        let mut changes = Changes::expiry_only(entry.record.expires_at);
        match new {
            Some(new) => drop(changes.set.insert(key.to_owned(), new.clone())),
            None => changes.remove.push(key.to_owned()),
        }
        match shard.write(id, now, self.inner.shard_bytes, Write::Apply(&changes)) {
            Ok(true) => Ok(Swap::Swapped),
            Ok(false) => Ok(Swap::Missing),
            Err(size) => Err(self.too_large(size)),
        }
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // Under the shard's lock, like `write`: an apply runs wholly before or after this.
        let now = OffsetDateTime::now_utc();
        let taken = self.shard(id).remove(id);
        Ok(taken
            .map(|entry| entry.record)
            .filter(|record| !record.is_expired_at(now)))
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.shard(id).remove(id);
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
    use serde_json::json;

    fn record(expires_in: time::Duration) -> Record {
        let now = OffsetDateTime::now_utc();
        Record::new(Default::default(), now, now + expires_in)
    }

    fn id(n: u8) -> IdDigest {
        IdDigest::from_bytes([n; 32])
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
        let soon = id(1);
        store
            .create(&soon, &record(time::Duration::minutes(1)))
            .await
            .unwrap();
        for i in 2..=3u8 {
            store
                .create(&id(i), &record(time::Duration::hours(1)))
                .await
                .unwrap();
        }
        let newest = id(4);
        store
            .create(&newest, &record(time::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(store.len(), 3);
        assert!(store.load(&soon).await.unwrap().is_none(), "evicted first");
        assert!(store.load(&newest).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_session_that_came_back_is_evicted_after_every_new_one() {
        let store = MemoryStore::with_capacity(3);
        // Closest to expiring, but loaded again after it was created.
        let returning = id(1);
        store
            .create(&returning, &record(time::Duration::minutes(1)))
            .await
            .unwrap();
        assert!(store.load(&returning).await.unwrap().is_some());
        for i in 2..=20u8 {
            store
                .create(&id(i), &record(time::Duration::hours(1)))
                .await
                .unwrap();
        }
        assert!(store.load(&returning).await.unwrap().is_some());
        assert_eq!(held(&store), 3);
    }

    #[tokio::test]
    async fn apply_and_touch_promote_like_load() {
        let store = MemoryStore::with_capacity(4);
        for i in 1..=4u8 {
            store
                .create(&id(i), &record(time::Duration::minutes(i.into())))
                .await
                .unwrap();
        }
        let soon = OffsetDateTime::now_utc() + time::Duration::minutes(1);
        assert!(store.touch(&id(1), soon).await.unwrap());
        assert!(
            store
                .apply(&id(2), &Changes::expiry_only(soon))
                .await
                .unwrap()
        );
        // Two new sessions evict the two that never came back, though they expire later.
        for i in 5..=6u8 {
            store
                .create(&id(i), &record(time::Duration::hours(1)))
                .await
                .unwrap();
        }
        let kept: Vec<bool> = [1, 2, 3, 4, 5, 6].map(|i| lock_held(&store, &id(i))).into();
        assert_eq!(kept, [true, true, false, false, true, true]);
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

    /// Whether the store holds `id`, looked up without `load`, which would promote it.
    fn lock_held(store: &MemoryStore, id: &IdDigest) -> bool {
        store.shard(id).sessions.contains_key(id)
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
        let ids: Vec<_> = (1..=3u8).map(id).collect();
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
        let newest = id(9);
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
        let id = id(7);
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
        let entries = shard.probation.len() + shard.protected.len();
        assert!(
            entries <= 3 + HEAP_SLACK,
            "{entries} heap entries for one session"
        );
    }

    #[tokio::test]
    async fn promotions_leave_no_pile_of_stale_probation_entries() {
        let store = MemoryStore::with_capacity(16);
        for round in 0..10_000u32 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&round.to_le_bytes());
            let id = IdDigest::from_bytes(bytes);
            store
                .create(&id, &record(time::Duration::hours(1)))
                .await
                .unwrap();
            assert!(store.load(&id).await.unwrap().is_some());
        }
        let shard = lock(&store.inner.shards[0]);
        let sessions = shard.sessions.len();
        for heap in [&shard.probation, &shard.protected] {
            assert!(
                heap.len() <= 2 * sessions + HEAP_SLACK + 1,
                "{} heap entries for {sessions} sessions",
                heap.len()
            );
        }
    }

    /// Checks that every session's size is what a fresh estimate gives, and that the shard's
    /// count is their sum.
    fn assert_sizes_exact(store: &MemoryStore) {
        for shard in &*store.inner.shards {
            let shard = lock(shard);
            let mut sum = 0;
            for entry in shard.sessions.values() {
                assert_eq!(entry.size, record_size(&entry.record));
                sum += entry.size;
            }
            assert_eq!(shard.bytes, sum);
        }
    }

    #[tokio::test]
    async fn the_byte_count_follows_every_change_exactly() {
        let store = MemoryStore::with_capacity(100);
        let at = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let changes = |set: Value, remove: &[&str], clear: bool| {
            let mut changes = Changes::expiry_only(at);
            changes.set = set.as_object().cloned().unwrap_or_default();
            changes.remove = remove.iter().map(|key| (*key).to_owned()).collect();
            changes.clear = clear;
            changes
        };
        let data = json!({"a": 1, "b": "two", "c": [1, {"d": "e"}], "f": {"g": null}});
        let mut first = record(time::Duration::hours(1));
        first.data = data.as_object().cloned().unwrap();
        store.create(&id(1), &first).await.unwrap();
        store
            .create(&id(2), &record(time::Duration::hours(1)))
            .await
            .unwrap();
        assert_sizes_exact(&store);
        let steps = [
            changes(
                json!({"a": "longer than one", "h": [true, false]}),
                &[],
                false,
            ),
            changes(json!({}), &["b", "missing", "b"], false),
            // A key both removed and set (never sent by the engine) ends up set.
            changes(json!({"c": "short"}), &["c", "c", "f"], false),
            changes(json!({"z": {"deep": [[["x"]]]}}), &["a"], true),
            changes(json!({}), &[], true),
            changes(json!({"again": "value"}), &[], false),
        ];
        for step in &steps {
            assert!(store.apply(&id(1), step).await.unwrap());
            assert_sizes_exact(&store);
        }
        assert!(store.touch(&id(2), at).await.unwrap());
        store.take(&id(1)).await.unwrap();
        store.delete(&id(2)).await.unwrap();
        assert_sizes_exact(&store);
        assert_eq!(store.approx_bytes(), 0);
    }

    #[test]
    fn the_estimate_counts_what_a_session_holds() {
        let empty = record(time::Duration::hours(1));
        assert_eq!(record_size(&empty), SESSION_OVERHEAD);
        let mut text = empty.clone();
        text.data.insert("k".into(), json!("x".repeat(1000)));
        assert_eq!(
            record_size(&text),
            SESSION_OVERHEAD + KEY_OVERHEAD + 1 + 1000
        );
        // Small numbers are two bytes of JSON each but a whole `Value` in memory.
        let mut numbers = empty.clone();
        numbers.data.insert("k".into(), json!(vec![1; 1000]));
        assert_eq!(
            record_size(&numbers),
            SESSION_OVERHEAD + KEY_OVERHEAD + 1 + 1000 * size_of::<Value>()
        );
    }

    #[tokio::test]
    async fn a_session_larger_than_its_shard_is_refused_and_left_as_it_was() {
        let store = MemoryStore::with_limits(16, 1024 * 1024);
        assert_eq!(store.max_session_bytes(), 1024 * 1024);
        let big = json!("x".repeat(600 * 1024));
        let mut half = record(time::Duration::hours(1));
        half.data.insert("a".into(), big.clone());
        assert!(store.create(&id(1), &half).await.unwrap());

        let mut grow = Changes::expiry_only(half.expires_at);
        grow.set.insert("b".into(), big.clone());
        let error = store.apply(&id(1), &grow).await.unwrap_err();
        let message = crate::ErrorChain::new(&error).to_string();
        assert!(message.contains("1048576 bytes"), "{message}");
        assert!(message.contains("MemoryStore::with_limits"), "{message}");
        let kept = store.load(&id(1)).await.unwrap().unwrap();
        assert_eq!(kept, half, "a refused apply changes nothing");

        let mut both = half.clone();
        both.data.insert("b".into(), big);
        assert!(store.create(&id(2), &both).await.is_err());
        assert!(store.load(&id(2)).await.unwrap().is_none());
        assert_sizes_exact(&store);
    }

    #[tokio::test]
    async fn a_growing_session_evicts_others_and_never_itself() {
        // One shard of 1 MiB; the growing session is the closest to expiring and never came
        // back, yet only the others make way for it.
        let store = MemoryStore::with_limits(16, 1024 * 1024);
        let grower = id(1);
        store
            .create(&grower, &record(time::Duration::minutes(1)))
            .await
            .unwrap();
        let chunk = json!("x".repeat(100 * 1024));
        for i in 2..=9u8 {
            let mut other = record(time::Duration::hours(1));
            other.data.insert("v".into(), chunk.clone());
            assert!(store.create(&id(i), &other).await.unwrap());
        }
        let at = OffsetDateTime::now_utc() + time::Duration::minutes(1);
        for n in 0..9 {
            let mut grow = Changes::expiry_only(at);
            grow.set.insert(format!("k{n}"), chunk.clone());
            assert!(store.apply(&grower, &grow).await.unwrap());
            assert!(store.approx_bytes() <= store.byte_capacity());
            assert_sizes_exact(&store);
        }
        assert!(lock_held(&store, &grower));
        // Nine chunks of its own and one other session's fill the 1 MiB.
        assert_eq!(held(&store), 2, "the others were evicted to make room");
    }

    #[test]
    fn small_byte_capacities_use_fewer_shards() {
        let store = MemoryStore::with_limits(100_000, 4 * 1024 * 1024);
        assert_eq!(store.inner.shards.len(), 4);
        assert_eq!(store.max_session_bytes(), 1024 * 1024);
        let store = MemoryStore::new();
        assert_eq!(store.inner.shards.len(), 64);
        assert_eq!(store.max_session_bytes(), DEFAULT_BYTE_CAPACITY / 64);
    }

    #[test]
    fn debug_shows_counts_only() {
        let store = MemoryStore::with_limits(10, 1024);
        assert_eq!(
            format!("{store:?}"),
            "MemoryStore { sessions: 0, capacity: 10, approx_bytes: 0, byte_capacity: 1024 }"
        );
    }
}
