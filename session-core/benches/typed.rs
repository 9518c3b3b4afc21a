//! The typed layer's cost: a generated getter and setter against the raw `get`/`set` on the same
//! key of the same loaded session, and a whole read request through each. The typed layer should
//! cost nothing measurable (target: within 5%).
//!
//! Run with `cargo bench -p session-core --bench typed`.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::{KeyRing, MemoryStore, Session, SessionConfig, SessionManager, SessionSchema};

#[derive(SessionSchema)]
#[session(prefix = "bench.")]
struct Counter {
    n: u64,
}

/// Polls a future that never waits (the memory store completes synchronously) without a
/// runtime, so the runtime's own overhead stays out of the numbers.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// A manager over a memory store and the `Cookie` header of a session holding `bench.n = 1`.
fn setup() -> (SessionManager, String) {
    let manager = SessionManager::new(
        MemoryStore::new(),
        KeyRing::generate(),
        SessionConfig::default(),
    )
    .unwrap();
    let session = manager.session(std::iter::empty::<&[u8]>());
    let cookie = run(async {
        session.set("bench.n", &1_u64).await.unwrap();
        manager.finish(&session, 200).await.unwrap().unwrap()
    });
    let pair = cookie.as_str().split(';').next().unwrap().to_owned();
    (manager, pair)
}

/// A session of `manager` that is already loaded, as in the middle of a handler.
fn loaded(manager: &SessionManager, header: &str) -> Session {
    let session = manager.session([header.as_bytes()]);
    assert_eq!(run(session.get::<u64>("bench.n")).unwrap(), Some(1));
    session
}

fn calls(c: &mut Criterion) {
    let (manager, header) = setup();
    let session = loaded(&manager, &header);
    let typed = CounterSession::from(session.clone());
    let mut group = c.benchmark_group("typed_vs_raw");
    group.bench_function("raw_get", |b| {
        b.iter(|| black_box(run(session.get::<u64>("bench.n")).unwrap()))
    });
    group.bench_function("typed_get", |b| {
        b.iter(|| black_box(run(black_box(&typed).n()).unwrap()))
    });
    group.bench_function("raw_set", |b| {
        b.iter(|| run(session.set("bench.n", &black_box(2_u64))).unwrap())
    });
    group.bench_function("typed_set", |b| {
        b.iter(|| run(black_box(&typed).set_n(black_box(2))).unwrap())
    });
    group.finish();
}

fn requests(c: &mut Criterion) {
    let (manager, header) = setup();
    let mut group = c.benchmark_group("read_request");
    group.bench_function("raw", |b| {
        b.iter(|| {
            let session = manager.session([header.as_bytes()]);
            black_box(run(session.get::<u64>("bench.n")).unwrap());
            black_box(run(manager.finish(&session, 200)).unwrap());
        })
    });
    group.bench_function("typed", |b| {
        b.iter(|| {
            let session = manager.session([header.as_bytes()]);
            black_box(run(CounterSession::from(session.clone()).n()).unwrap());
            black_box(run(manager.finish(&session, 200)).unwrap());
        })
    });
    group.finish();
}

criterion_group!(benches, calls, requests);
criterion_main!(benches);
