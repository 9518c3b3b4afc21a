//! Redis store latency per call (one round trip each): `load` of a session of ten keys, `apply`
//! of one changed key, `touch`, and `create` of a fresh session, against the single node at
//! `SESSION_TEST_REDIS_URL` and, if `SESSION_TEST_REDIS_CLUSTER_URLS` is set, the cluster too.
//!
//! Run with `SESSION_TEST_REDIS_URL=redis://127.0.0.1:PORT cargo bench -p session-core
//! --features redis-store --bench redis_store`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use session_core::{Changes, IdDigest, Record, RedisStore, SessionStore, StoreError};
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
    Record::new(data, now, now + Duration::minutes(10))
}

fn bench_store(c: &mut Criterion, runtime: &Runtime, name: &str, store: RedisStore) {
    let id = random_digest();
    let record = record();
    assert!(run(runtime, store.create(&id, &record)));
    let mut created = vec![id];

    let mut group = c.benchmark_group(name);
    group.bench_function("load, 10 keys", |b| {
        b.iter(|| black_box(run(runtime, store.load(&id))))
    });
    let mut n = 0u64;
    group.bench_function("apply, 1 key", |b| {
        b.iter(|| {
            n += 1;
            let mut changes = Changes::expiry_only(record.expires_at);
            changes.set.insert("key0".into(), json!(n));
            assert!(run(runtime, store.apply(&id, &changes)));
        })
    });
    group.bench_function("touch", |b| {
        b.iter(|| assert!(run(runtime, store.touch(&id, record.expires_at))))
    });
    group.bench_function("create, 10 keys", |b| {
        b.iter(|| {
            let fresh = random_digest();
            assert!(run(runtime, store.create(&fresh, &record)));
            created.push(fresh);
        })
    });
    group.finish();

    for id in &created {
        run(runtime, store.delete(id));
    }
}

fn bench(c: &mut Criterion) {
    let url = std::env::var("SESSION_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "SESSION_TEST_REDIS_URL is not set: start Redis and export \
             SESSION_TEST_REDIS_URL=redis://127.0.0.1:PORT"
        )
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let prefix = format!("bench:{}:", &random_digest().to_hex()[..16]);
    let single = runtime
        .block_on(RedisStore::builder().with_key_prefix(&prefix).connect(&url))
        .expect("could not connect to SESSION_TEST_REDIS_URL");
    bench_store(c, &runtime, "redis", single);

    match std::env::var("SESSION_TEST_REDIS_CLUSTER_URLS") {
        Ok(urls) => {
            let cluster = runtime
                .block_on(
                    RedisStore::builder()
                        .with_key_prefix(&prefix)
                        .connect_cluster(urls.split(',')),
                )
                .expect("could not connect to SESSION_TEST_REDIS_CLUSTER_URLS");
            bench_store(c, &runtime, "redis cluster", cluster);
        }
        Err(_) => eprintln!("SESSION_TEST_REDIS_CLUSTER_URLS is not set: cluster not measured"),
    }
}

fn run<T>(runtime: &Runtime, call: impl Future<Output = Result<T, StoreError>>) -> T {
    runtime.block_on(call).expect("store call failed")
}

criterion_group!(benches, bench);
criterion_main!(benches);
