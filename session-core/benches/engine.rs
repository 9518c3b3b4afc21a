//! Engine round trips per request: `session()` from the Cookie header, the handler's work, and
//! `finish()`, for an untouched, a read-only, a modified (get then set) and an incremented
//! (`incr`) session on the memory store, and a
//! 1 KiB session in the cookie store (decode only, and decode + encode).
//!
//! Run with `cargo bench -p session-core --bench engine`.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::{KeyRing, MemoryStore, SessionConfig, SessionManager, Storage};

/// Polls a future that never waits (the memory and cookie stores complete synchronously) without
/// a runtime, so the runtime's own overhead stays out of the numbers.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// A manager over `storage` and the cookie (`name=value`) of a session holding `data`.
fn setup(storage: Storage, data: &[(&str, serde_json::Value)]) -> (SessionManager, String) {
    let manager =
        SessionManager::new(storage, KeyRing::generate(), SessionConfig::default()).unwrap();
    let session = manager.session(std::iter::empty::<&[u8]>());
    let cookie = run(async {
        for (key, value) in data {
            session.set(key, value).await.unwrap();
        }
        manager.finish(&session, 200).await.unwrap().unwrap()
    });
    let pair = cookie.as_str().split(';').next().unwrap().to_owned();
    (manager, pair)
}

fn header(pair: &str) -> String {
    format!("theme=dark; {pair}; lang=en")
}

/// A request that reads the integer `n`.
fn read_request(manager: &SessionManager, header: &str) {
    let session = manager.session([header.as_bytes()]);
    let n: u64 = run(session.get("n")).unwrap().unwrap();
    black_box(n);
    black_box(run(manager.finish(&session, 200)).unwrap());
}

/// A request that reads the integer `n` and adds 1 to it atomically (`incr`: a compare-and-set
/// in the store, and nothing left to write at the end).
fn incr_request(manager: &SessionManager, header: &str) {
    let session = manager.session([header.as_bytes()]);
    black_box(run(session.incr("n", 1)).unwrap());
    black_box(run(manager.finish(&session, 200)).unwrap());
}

/// A request that reads the integer `n` and writes `n + 1`.
fn write_request(manager: &SessionManager, header: &str) {
    let session = manager.session([header.as_bytes()]);
    run(async {
        let n: u64 = session.get("n").await.unwrap().unwrap();
        session.set("n", &(n + 1)).await.unwrap();
    });
    black_box(run(manager.finish(&session, 200)).unwrap());
}

fn memory_store(c: &mut Criterion) {
    let (manager, pair) = setup(
        MemoryStore::new().into(),
        &[("n", 0.into()), ("user", "ada".into())],
    );
    let header = header(&pair);
    let mut group = c.benchmark_group("memory_store");
    group.bench_function("untouched", |b| {
        b.iter(|| {
            let session = manager.session([header.as_bytes()]);
            black_box(run(manager.finish(&session, 200)).unwrap())
        })
    });
    group.bench_function("read_only", |b| b.iter(|| read_request(&manager, &header)));
    group.bench_function("modified", |b| b.iter(|| write_request(&manager, &header)));
    group.bench_function("incremented", |b| {
        b.iter(|| incr_request(&manager, &header))
    });
    group.finish();
}

fn cookie_store(c: &mut Criterion) {
    // A session whose JSON is about 1 KiB.
    let blob = "x".repeat(1000);
    let (manager, pair) = setup(Storage::Cookie, &[("n", 0.into()), ("blob", blob.into())]);
    let header = header(&pair);
    let mut group = c.benchmark_group("cookie_store_1kib");
    group.bench_function("decode", |b| b.iter(|| read_request(&manager, &header)));
    group.bench_function("decode_and_encode", |b| {
        b.iter(|| write_request(&manager, &header))
    });
    group.finish();
}

criterion_group!(benches, memory_store, cookie_store);
criterion_main!(benches);
