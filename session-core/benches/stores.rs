//! Server-side store latency per call, measured the same way for every store: `load` of a
//! session of ten keys, `apply` of one changed key, `touch`, a `compare_and_set` that lands
//! (what one uncontended `Session::update` costs the store), and `create` of a fresh session.
//! Stores: file, SQLite (a file, WAL), Redis (single node and Cluster), PostgreSQL and MongoDB,
//! against the servers `scripts/services` starts.
//!
//! Run with `scripts/services start && eval "$(scripts/services env)" && cargo bench -p
//! session-core --features file-store,redis-store,sqlite-store,postgres-store,mongodb-store
//! --bench stores`.

use std::future::IntoFuture;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use session_core::{
    Changes, FileStore, IdDigest, MongoStore, PostgresStore, Record, RedisStore, SessionStore,
    SqliteStore, StoreError, Swap,
};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;

fn random_digest() -> IdDigest {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    IdDigest::from_bytes(bytes)
}

/// A short random name for a table, collection, key prefix or directory of this run.
fn run_name() -> String {
    random_digest().to_hex()[..16].to_owned()
}

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run `scripts/services start && eval \"$(scripts/services env)\"` \
             first"
        )
    })
}

/// A live record of ten small keys.
fn record() -> Record {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let data: Map<String, Value> = (0..10)
        .map(|i| (format!("key{i}"), json!({"n": i, "name": "a value"})))
        .collect();
    Record::new(data, now, now + Duration::hours(1))
}

fn run<T>(runtime: &Runtime, call: impl Future<Output = Result<T, StoreError>>) -> T {
    runtime.block_on(call).expect("store call failed")
}

/// The four calls on `store`, as the criterion group `name`; deletes what it created.
fn bench_store(c: &mut Criterion, runtime: &Runtime, name: &str, store: &dyn SessionStore) {
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
    // What one uncontended `Session::update` costs the store: one compare-and-set that lands.
    let mut counter = 0u64;
    group.bench_function("compare_and_set, 1 key", |b| {
        b.iter(|| {
            let (old, new) = (json!(counter), json!(counter + 1));
            let expected = (counter > 0).then_some(&old);
            let swap = run(
                runtime,
                store.compare_and_set(&id, "counter", expected, Some(&new)),
            );
            assert_eq!(swap, Swap::Swapped);
            counter += 1;
        })
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

fn stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let name = run_name();

    let dir: PathBuf = std::env::temp_dir().join(format!("session-core-bench-{name}"));
    let file = FileStore::new(&dir).expect("a temporary directory");
    bench_store(c, &runtime, "file", &file);
    let _ = std::fs::remove_dir_all(&dir);

    let sqlite_path = std::env::temp_dir().join(format!("session-core-bench-{name}.db"));
    let sqlite = runtime.block_on(async {
        let store = SqliteStore::connect(&format!("sqlite:{}", sqlite_path.display())).await?;
        store.migrate().await.map(|()| store)
    });
    let sqlite = sqlite.expect("a temporary SQLite database");
    bench_store(c, &runtime, "sqlite", &sqlite);
    runtime.block_on(sqlite.pool().close());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", sqlite_path.display()));
    }

    let prefix = format!("bench:{name}:");
    let redis = runtime
        .block_on(
            RedisStore::builder()
                .with_key_prefix(&prefix)
                .connect(&env("SESSION_TEST_REDIS_URL")),
        )
        .expect("could not connect to SESSION_TEST_REDIS_URL");
    bench_store(c, &runtime, "redis", &redis);
    let urls = env("SESSION_TEST_REDIS_CLUSTER_URLS");
    let cluster = runtime
        .block_on(
            RedisStore::builder()
                .with_key_prefix(&prefix)
                .connect_cluster(urls.split(',')),
        )
        .expect("could not connect to SESSION_TEST_REDIS_CLUSTER_URLS");
    bench_store(c, &runtime, "redis cluster", &cluster);

    let postgres = runtime.block_on(async {
        let store = PostgresStore::connect(&env("SESSION_TEST_POSTGRES_URL"))
            .await?
            .with_table_name(&format!("bench_sessions_{name}"))
            .map_err(StoreError::backend)?;
        store.migrate().await.map(|()| store)
    });
    let postgres = postgres.expect("could not set up SESSION_TEST_POSTGRES_URL");
    bench_store(c, &runtime, "postgres", &postgres);
    let drop_table = format!("DROP TABLE \"{}\"", postgres.table_name());
    runtime
        .block_on(sqlx::query(&drop_table).execute(postgres.pool()))
        .expect("could not drop the benchmark table");

    let mongodb = runtime
        .block_on(MongoStore::connect(
            &env("SESSION_TEST_MONGODB_URL"),
            "session_core_bench",
            &format!("bench_{name}"),
        ))
        .expect("could not connect to SESSION_TEST_MONGODB_URL");
    bench_store(c, &runtime, "mongodb", &mongodb);
    runtime
        .block_on(mongodb.collection().drop().into_future())
        .expect("could not drop the benchmark collection");
}

criterion_group!(benches, stores);
criterion_main!(benches);
