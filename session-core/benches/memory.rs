//! The memory store at capacity: `create` into a store that is full (so every create first
//! evicts a session) against one with room, `load` from a full store, and `apply` of one key to
//! a small session and to a large (about 60 KiB) one, for the default capacity of 100,000
//! sessions. The fresh-session scenario of `bench/load` runs at capacity after its first second
//! or two, so this is the path that bounds it.
//!
//! Run with `cargo bench -p session-core --all-features --bench memory`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use session_core::{Changes, IdDigest, MemoryStore, Record, SessionStore};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

const CAPACITY: u64 = 100_000;

/// Distinct, uniformly spread digests without a system call each (a counter through SHA-256
/// would do too; this is cheaper and just as uniform for a hash map).
fn digest(n: u64) -> IdDigest {
    let mut bytes = [0u8; 32];
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    for chunk in bytes.chunks_mut(8) {
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    IdDigest::from_bytes(bytes)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
}

/// A live session of one key, like the one `/write` creates, expiring `minutes` from now.
fn record(minutes: i64) -> Record {
    let now = now();
    let mut data = Map::new();
    data.insert("n".to_owned(), json!(1));
    Record::new(data, now, now + Duration::minutes(minutes))
}

/// A session near the engine's default 64 KiB limit: a cart of 2,000 small objects (about
/// 60 KiB of JSON) and a counter.
fn large_record() -> Record {
    let mut record = record(1440);
    let cart: Vec<Value> = (0..2_000)
        .map(|n| json!({"sku": n, "name": format!("item {n}"), "qty": 1}))
        .collect();
    record.data.insert("cart".to_owned(), Value::Array(cart));
    record
}

fn filled(runtime: &Runtime, count: u64) -> MemoryStore {
    let store = MemoryStore::with_capacity(CAPACITY);
    for n in 0..count {
        // Expiries spread over a day, as in a store whose sessions were last used at
        // different times.
        let created = runtime.block_on(store.create(&digest(n), &record(60 + (n % 1440) as i64)));
        assert!(created.expect("the memory store never fails"));
    }
    store
}

fn memory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a Tokio runtime");
    let fresh = record(1440);
    let mut group = c.benchmark_group("memory store");

    let full = filled(&runtime, CAPACITY);
    let mut next = CAPACITY;
    group.bench_function("create, full (evicts one)", |b| {
        b.iter(|| {
            next += 1;
            black_box(runtime.block_on(full.create(&digest(next), &fresh)))
        });
    });
    let mut probe = 0;
    group.bench_function("load, full", |b| {
        b.iter(|| {
            // Digests the store still holds: the latest ones created above.
            probe = (probe + 1) % 1000;
            black_box(runtime.block_on(full.load(&digest(next - probe))))
        });
    });

    // One key written back, as by a request that changed one value; the expiry moves too.
    let mut counter = 0u64;
    let mut one_key = move || {
        counter += 1;
        let mut changes = Changes::expiry_only(now() + Duration::minutes(1440));
        changes.set.insert("n".to_owned(), json!(counter));
        changes
    };
    let small = digest(next);
    group.bench_function("apply one key, small session, full", |b| {
        b.iter(|| {
            let changes = one_key();
            let applied = runtime.block_on(full.apply(&small, &changes));
            assert!(applied.expect("the memory store never fails"));
        });
    });
    next += 1;
    let large = digest(next);
    let created = runtime.block_on(full.create(&large, &large_record()));
    assert!(created.expect("the memory store never fails"));
    group.bench_function("apply one key, 60 KiB session, full", |b| {
        b.iter(|| {
            let changes = one_key();
            let applied = runtime.block_on(full.apply(&large, &changes));
            assert!(applied.expect("the memory store never fails"));
        });
    });
    drop(full);

    group.bench_function("create, half full", |b| {
        b.iter_batched(
            || (filled(&runtime, CAPACITY / 2), CAPACITY),
            |(store, mut n)| {
                for _ in 0..1000 {
                    n += 1;
                    black_box(runtime.block_on(store.create(&digest(n), &fresh)))
                        .expect("the memory store never fails");
                }
                store
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, memory);
criterion_main!(benches);
