//! The memory store runs the shared store contract suite, at the default limits and at small
//! ones, and keeps its bounds: in bytes under repeated large writes, and in sessions under a
//! flood of new ones without evicting the users who came back.

mod common;

use std::time::Duration as StdDuration;

use serde_json::{Value, json};
use session_core::{
    Changes, ErrorChain, Expiry, IdDigest, KeyRing, MemoryStore, Record, SessionConfig,
    SessionManager, SessionStore,
};
use time::Duration;

use common::{fresh_id, now};

session_core::store_test_suite!(session_core::MemoryStore::new());

/// The same contract with one small shard, where writes come near the byte limit (the suite's
/// largest session holds a 1 MiB value).
mod small {
    session_core::store_test_suite!(session_core::MemoryStore::with_limits(16, 2 * 1024 * 1024));
}

const MIB: u64 = 1024 * 1024;

fn expiring_in(minutes: i64) -> Record {
    let now = now();
    Record::new(Default::default(), now, now + Duration::minutes(minutes))
}

/// Changes that write `value` under `key`, keeping the session for an hour.
fn write(key: &str, value: &Value) -> Changes {
    let mut changes = Changes::expiry_only(now() + Duration::hours(1));
    changes.set.insert(key.to_owned(), value.clone());
    changes
}

/// The JSON text of every session in `ids` the store still holds (a measure independent of the
/// store's own estimate, which counts more than this).
async fn json_held(store: &MemoryStore, ids: &[IdDigest]) -> u64 {
    let mut total = 0;
    for id in ids {
        if let Some(record) = store.load(id).await.unwrap() {
            total += serde_json::to_string(&record.data).unwrap().len() as u64;
        }
    }
    total
}

#[tokio::test]
async fn repeated_large_writes_to_one_session_stay_under_the_byte_capacity() {
    let store = MemoryStore::with_limits(1_000, MIB);
    let id = fresh_id();
    assert!(store.create(&id, &expiring_in(60)).await.unwrap());
    let chunk = json!("x".repeat(100 * 1024));
    let mut refused = 0;
    for n in 0..30 {
        // A new key each time, so the session only grows, as with repeated 1 MiB writes.
        match store.apply(&id, &write(&format!("k{n}"), &chunk)).await {
            Ok(applied) => assert!(applied),
            Err(error) => {
                refused += 1;
                let message = ErrorChain::new(&error).to_string();
                assert!(message.contains("MemoryStore::with_limits"), "{message}");
            }
        }
        assert!(store.approx_bytes() <= store.byte_capacity());
        assert!(json_held(&store, &[id]).await <= store.byte_capacity());
    }
    assert!(refused > 0, "a session can never outgrow the store");
    // A refused write left the session as it was: still there, still usable.
    let record = store.load(&id).await.unwrap().unwrap();
    assert!(record.data.len() >= 9, "{} keys kept", record.data.len());
}

#[tokio::test]
async fn repeated_large_writes_to_many_sessions_stay_under_the_byte_capacity() {
    let store = MemoryStore::with_limits(1_000, 4 * MIB);
    let ids: Vec<IdDigest> = (0..64).map(|_| fresh_id()).collect();
    for id in &ids {
        assert!(store.create(id, &expiring_in(60)).await.unwrap());
    }
    let chunk = json!("x".repeat(100 * 1024));
    for round in 0..5 {
        for id in &ids {
            // `false` once a session was evicted to make room for others.
            let _ = store
                .apply(id, &write(&format!("k{round}"), &chunk))
                .await
                .unwrap();
            assert!(store.approx_bytes() <= store.byte_capacity());
        }
        assert!(json_held(&store, &ids).await <= store.byte_capacity());
    }
    // Without the byte bound these 64 sessions would hold 32 MiB.
    assert!(
        store.approx_bytes() >= store.byte_capacity() / 2,
        "it fills up"
    );
}

#[tokio::test]
async fn a_session_that_came_back_survives_a_flood_of_new_ones() {
    let capacity = 100;
    let store = MemoryStore::with_capacity(capacity);
    // Closer to expiring than any flood session, as a user's session last used a while ago is.
    let user = fresh_id();
    assert!(store.create(&user, &expiring_in(30)).await.unwrap());
    assert!(store.load(&user).await.unwrap().is_some());
    for _ in 0..capacity * 3 {
        assert!(store.create(&fresh_id(), &expiring_in(60)).await.unwrap());
    }
    assert!(store.len() <= capacity);
    assert!(
        store.load(&user).await.unwrap().is_some(),
        "the flood evicted a session that came back"
    );
}

#[tokio::test]
async fn when_every_session_came_back_the_closest_to_expiring_goes_first() {
    let store = MemoryStore::with_capacity(3);
    let ids: Vec<IdDigest> = (0..3).map(|_| fresh_id()).collect();
    for (minutes, id) in [10, 20, 30].into_iter().zip(&ids) {
        assert!(store.create(id, &expiring_in(minutes)).await.unwrap());
        assert!(store.load(id).await.unwrap().is_some());
    }
    // Everything came back: the new session takes the place of the soonest to expire.
    let first = fresh_id();
    assert!(store.create(&first, &expiring_in(60)).await.unwrap());
    // Now a session that never came back is there, and it goes before the protected ones,
    // although it expires last.
    let second = fresh_id();
    assert!(store.create(&second, &expiring_in(60)).await.unwrap());
    let kept = [ids[0], ids[1], ids[2], first, second];
    let mut held = Vec::new();
    for id in &kept {
        held.push(store.load(id).await.unwrap().is_some());
    }
    assert_eq!(held, [false, true, true, false, true]);
}

fn manager(store: &MemoryStore, idle: StdDuration) -> SessionManager {
    let config = SessionConfig::default().with_expiry(Expiry::Idle(idle));
    SessionManager::new(store.clone(), KeyRing::generate(), config).unwrap()
}

/// The `name=value` pair of a `Set-Cookie`, as the browser sends it back.
fn cookie_pair(set_cookie: &session_core::SetCookie) -> String {
    set_cookie.as_str().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_logged_in_session_survives_a_flood_of_fresh_sessions() {
    let capacity = 64;
    let store = MemoryStore::with_capacity(capacity);
    let app = manager(&store, StdDuration::from_secs(3600));
    // The flood's sessions expire later than the user's, standing in for the time that passes
    // between the user's last request and the flood.
    let flood = manager(&store, StdDuration::from_secs(7200));

    // An anonymous visit, then a login that gives the session a new id.
    let session = app.session(Vec::<&[u8]>::new());
    session.set("cart", &["apple"]).await.unwrap();
    let visit = app.finish(&session, 200).await.unwrap().unwrap();
    let visit = cookie_pair(&visit);
    let session = app.session([visit.as_bytes()]);
    session.set("user", &"ada").await.unwrap();
    session.cycle_id().await.unwrap();
    let login = app.finish(&session, 200).await.unwrap().unwrap();
    let login = cookie_pair(&login);
    // The browser's next request reads the session.
    let session = app.session([login.as_bytes()]);
    assert_eq!(session.get::<String>("user").await.unwrap().unwrap(), "ada");
    app.finish(&session, 200).await.unwrap();

    for _ in 0..capacity * 3 {
        let session = flood.session(Vec::<&[u8]>::new());
        session.set("n", &1).await.unwrap();
        assert!(flood.finish(&session, 200).await.unwrap().is_some());
    }
    assert!(store.len() <= capacity);

    let session = app.session([login.as_bytes()]);
    assert_eq!(
        session.get::<String>("user").await.unwrap().as_deref(),
        Some("ada"),
        "the flood logged the user out"
    );
}
