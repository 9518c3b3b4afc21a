//! MongoDB store latency per call: `load` of a session of ten keys, `apply` of one changed key,
//! `touch`, and `create` of a fresh session, against the server at `SESSION_TEST_MONGODB_URL`.
//!
//! Run with `SESSION_TEST_MONGODB_URL=mongodb://127.0.0.1:PORT cargo bench -p session-core
//! --features mongodb-store --bench mongodb_store`.

use std::future::IntoFuture;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use session_core::{Changes, IdDigest, MongoStore, Record, SessionStore};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

fn random_digest() -> IdDigest {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    IdDigest::from_bytes(bytes)
}

/// A live record of ten small keys.
fn record() -> Record {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let data: Map<String, Value> = (0..10)
        .map(|i| (format!("key{i}"), json!({"n": i, "name": "a value"})))
        .collect();
    Record::new(data, now, now + Duration::hours(1))
}

fn bench(c: &mut Criterion) {
    let url = std::env::var("SESSION_TEST_MONGODB_URL").unwrap_or_else(|_| {
        panic!(
            "SESSION_TEST_MONGODB_URL is not set: start SecantusDB or MongoDB and export \
             SESSION_TEST_MONGODB_URL=mongodb://127.0.0.1:PORT"
        )
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let collection = format!("bench_{}", random_digest().to_hex());
    let store = runtime
        .block_on(MongoStore::connect(&url, "session_core_bench", &collection))
        .expect("could not connect to the MongoDB server");
    let id = random_digest();
    let record = record();
    assert!(runtime.block_on(store.create(&id, &record)).unwrap());

    let mut group = c.benchmark_group("mongodb");
    group.bench_function("load, 10 keys", |b| {
        b.iter(|| black_box(run(&runtime, store.load(&id))))
    });
    let mut n = 0u64;
    group.bench_function("apply, 1 key", |b| {
        b.iter(|| {
            n += 1;
            let mut changes = Changes::expiry_only(record.expires_at);
            changes.set.insert("key0".into(), json!(n));
            assert!(run(&runtime, store.apply(&id, &changes)));
        })
    });
    group.bench_function("touch", |b| {
        b.iter(|| assert!(run(&runtime, store.touch(&id, record.expires_at))))
    });
    group.bench_function("create", |b| {
        b.iter(|| assert!(run(&runtime, store.create(&random_digest(), &record))))
    });
    group.finish();

    runtime
        .block_on(store.collection().drop().into_future())
        .expect("could not drop the benchmark collection");
}

fn run<T>(runtime: &Runtime, call: impl Future<Output = Result<T, session_core::StoreError>>) -> T {
    runtime.block_on(call).expect("store call failed")
}

criterion_group!(benches, bench);
criterion_main!(benches);
