//! Latency of `load` and `apply` on the SQL stores: SQLite on a fresh file under the system's
//! temporary directory, and PostgreSQL at `SESSION_TEST_POSTGRES_URL` (on a fresh table,
//! dropped at the end). Each session holds ten small keys; `apply` sets one key and removes
//! another, as a typical request would.
//!
//! Run with `cargo bench -p session-core --features sqlite-store,postgres-store --bench
//! sql_stores`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use session_core::{Changes, IdDigest, PostgresStore, Record, SessionStore, SqliteStore};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A live session of ten small keys under a fresh id.
async fn seed(store: &dyn SessionStore) -> IdDigest {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let id = IdDigest::from_bytes(bytes);
    let data: Map<String, Value> = (0..10)
        .map(|i| (format!("key{i}"), json!({"n": i, "name": "some text"})))
        .collect();
    let now = OffsetDateTime::now_utc();
    let record = Record::new(data, now, now + Duration::hours(1));
    assert!(store.create(&id, &record).await.unwrap());
    id
}

fn changes() -> Changes {
    let mut changes = Changes::expiry_only(OffsetDateTime::now_utc() + Duration::hours(1));
    changes.set.insert("key3".into(), json!({"n": 33}));
    changes.remove.push("absent".into());
    changes
}

fn bench_store(c: &mut Criterion, name: &str, rt: &Runtime, store: &dyn SessionStore) {
    let id = rt.block_on(seed(store));
    let update = changes();
    let mut group = c.benchmark_group(name);
    group.bench_function("load", |b| {
        b.iter(|| black_box(rt.block_on(store.load(&id)).unwrap().unwrap()))
    });
    group.bench_function("apply", |b| {
        b.iter(|| assert!(rt.block_on(store.apply(&id, &update)).unwrap()))
    });
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = std::env::temp_dir().join("session-core-sqlite-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", random_hex()));
    let store = rt.block_on(async {
        let store = SqliteStore::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    });
    bench_store(c, "sqlite", &rt, &store);
    rt.block_on(store.pool().close());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn postgres(c: &mut Criterion) {
    let url = std::env::var("SESSION_TEST_POSTGRES_URL").expect(
        "SESSION_TEST_POSTGRES_URL is not set: run `scripts/test`, which starts PostgreSQL, \
         or start one and export SESSION_TEST_POSTGRES_URL",
    );
    let rt = runtime();
    let store = rt.block_on(async {
        let store = PostgresStore::connect(&url)
            .await
            .unwrap()
            .with_table_name(&format!("bench_sessions_{}", random_hex()))
            .unwrap();
        store.migrate().await.unwrap();
        store
    });
    bench_store(c, "postgres", &rt, &store);
    rt.block_on(async {
        sqlx::query(&format!("DROP TABLE \"{}\"", store.table_name()))
            .execute(store.pool())
            .await
            .unwrap();
    });
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
