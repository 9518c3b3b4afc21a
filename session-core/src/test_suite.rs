//! The contract suite every [`SessionStore`] must pass, public so that third-party stores run
//! exactly the checks the built-in ones run (feature `test-suite`).
//!
//! Each case is an `async fn` taking the store as `Arc<dyn SessionStore>`; failures panic with a
//! message saying which rule broke. Cases use fresh random ids, so they may share one store (and
//! one database). The [`store_test_suite!`](crate::store_test_suite) macro turns them all into
//! `#[test]` functions:
//!
//! ```
//! mod memory_store_contract {
//!     session_core::store_test_suite!(session_core::MemoryStore::new());
//! }
//! ```
//!
//! The expression is evaluated inside an async block, once per case, so it may `.await`.

use std::future::Future;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::id::SessionId;
use crate::record::whole_seconds;
use crate::{Changes, IdDigest, Record, SessionStore, Swap};

/// The store under test.
pub type Store = Arc<dyn SessionStore>;

/// Runs `future` to completion on a fresh two-thread Tokio runtime (used by
/// [`store_test_suite!`](crate::store_test_suite), so callers need no Tokio set-up).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the test suite needs a Tokio runtime")
        .block_on(future)
}

/// Generates one `#[test]` per contract case for the store that `$make` builds.
///
/// `$make` is evaluated inside an async block, so it may `.await` (e.g. to connect).
#[macro_export]
macro_rules! store_test_suite {
    ($make:expr) => {
        $crate::store_test_suite!(@cases $make;
            create_then_load_returns_the_record,
            create_never_overwrites_a_live_record,
            load_of_a_missing_record_is_none,
            load_of_an_expired_record_is_none,
            values_round_trip_exactly,
            apply_merges_per_key,
            apply_removes_and_clears,
            apply_to_a_missing_record_creates_nothing,
            apply_to_an_expired_record_creates_nothing,
            concurrent_applies_to_different_keys_are_all_kept,
            delete_is_final_and_nothing_resurrects,
            delete_of_a_missing_record_is_ok,
            cycle_moves_the_data_to_a_new_id,
            take_returns_the_record_and_leaves_nothing,
            take_of_a_missing_or_expired_record_is_none,
            take_racing_applies_loses_no_acknowledged_write,
            touch_moves_the_expiry_only,
            touch_of_a_missing_record_creates_nothing,
            delete_expired_keeps_live_records,
            nul_in_keys_and_values_round_trips_through_every_operation,
            compare_and_set_writes_only_over_the_expected_value,
            compare_and_set_matches_values_read_back_from_the_store,
            compare_and_set_on_a_missing_or_expired_record_creates_nothing,
            concurrent_compare_and_set_increments_are_all_kept,
            compare_and_set_deletes_only_over_the_expected_value,
            concurrent_compare_and_set_deletes_of_one_key_succeed_once,
            take_racing_compare_and_set_loses_no_acknowledged_write
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::test_suite::block_on(async {
                    let store: $crate::test_suite::Store = ::std::sync::Arc::new($make);
                    $crate::test_suite::$case(store).await;
                });
            }
        )*
    };
}

fn fresh_id() -> IdDigest {
    SessionId::generate()
        .expect("the OS random source works")
        .digest()
}

fn now() -> OffsetDateTime {
    whole_seconds(OffsetDateTime::now_utc())
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test data must be an object, not {other}"),
    }
}

fn live(data: Value) -> Record {
    let now = now();
    Record::new(map(data), now, now + Duration::hours(1))
}

fn changes(set: Value, remove: &[&str]) -> Changes {
    Changes {
        clear: false,
        set: map(set),
        remove: remove.iter().map(|k| (*k).to_owned()).collect(),
        expires_at: now() + Duration::hours(2),
    }
}

async fn load(store: &Store, id: &IdDigest) -> Option<Record> {
    store.load(id).await.expect("load failed")
}

async fn create(store: &Store, id: &IdDigest, record: &Record) {
    assert!(
        store.create(id, record).await.expect("create failed"),
        "create of a fresh id must return true"
    );
}

/// A created record loads back equal, timestamps included.
pub async fn create_then_load_returns_the_record(store: Store) {
    let id = fresh_id();
    let record = live(json!({"user": {"id": 7, "name": "Ada"}, "n": 1}));
    create(&store, &id, &record).await;
    assert_eq!(load(&store, &id).await, Some(record));
}

/// `create` is insert-if-absent: a second create with the same id returns `false` and leaves
/// the first record untouched.
pub async fn create_never_overwrites_a_live_record(store: Store) {
    let id = fresh_id();
    let first = live(json!({"owner": "first"}));
    create(&store, &id, &first).await;
    let inserted = store
        .create(&id, &live(json!({"owner": "second"})))
        .await
        .expect("create failed");
    assert!(!inserted, "create over a live record must return false");
    assert_eq!(load(&store, &id).await, Some(first));
}

/// Loading an id that was never created gives `None`.
pub async fn load_of_a_missing_record_is_none(store: Store) {
    assert_eq!(load(&store, &fresh_id()).await, None);
}

/// A record whose expiry has passed is never returned.
pub async fn load_of_an_expired_record_is_none(store: Store) {
    let id = fresh_id();
    let now = now();
    let record = Record::new(
        map(json!({"k": 1})),
        now - Duration::hours(2),
        now - Duration::seconds(1),
    );
    // Stores with native expiry may refuse or drop an already-expired record; either is fine.
    let _ = store.create(&id, &record).await.expect("create failed");
    assert_eq!(
        load(&store, &id).await,
        None,
        "an expired record was returned"
    );
}

/// Keys and values come back exactly: nesting, extreme numbers, unicode, `.`/`$`/NUL/quotes in
/// keys, the empty key, a 10 KB key and a 1 MB value.
pub async fn values_round_trip_exactly(store: Store) {
    let id = fresh_id();
    let large = "x".repeat(1 << 20);
    let mut data = json!({
        "": "empty key",
        "a.b": {"$c": [1, 2.5, -3, null, true], "x.y": {"$": {}}},
        "$set": "dollar",
        "quote\"'key\\": "quote\"'value\\",
        "nul\u{0}key": "nul\u{0}value",
        "ключ 🔑": "значение 🔒",
        "e\u{301}": "combining accent",
        "big": large,
        "u64": u64::MAX,
        "i64": i64::MIN,
        "floats": [0.1, -0.0, 1e19, 5e-324, f64::MAX, 1_819.941_200_000_000_2],
        "one point zero": 1.0,
        "one": 1,
    });
    if let Value::Object(map) = &mut data {
        map.insert("k".repeat(10 * 1024), json!("long key"));
    }
    let record = live(data);
    create(&store, &id, &record).await;
    assert_exact(load(&store, &id).await, &record);

    let update = changes(
        json!({"a.b": "replaced", "new.$key": [{"x": "y"}], "-0": -0.0}),
        &["$set"],
    );
    assert!(store.apply(&id, &update).await.expect("apply failed"));
    let mut expected = record;
    expected.apply(&update);
    assert_exact(load(&store, &id).await, &expected);
}

/// `loaded` is `want`, down to the JSON text of every value: `Value`'s equality treats `-0.0`
/// as equal to `0.0`, the text does not.
fn assert_exact(loaded: Option<Record>, want: &Record) {
    let loaded = loaded.expect("the record vanished");
    assert_eq!(
        &loaded, want,
        "the record changed on its way through the store"
    );
    assert_eq!(
        serde_json::to_string(&loaded.data).ok(),
        serde_json::to_string(&want.data).ok(),
        "a value changed its JSON text on its way through the store (-0.0 or a float?)"
    );
}

/// `apply` writes only the keys it names; the others keep their values.
pub async fn apply_merges_per_key(store: Store) {
    let id = fresh_id();
    create(&store, &id, &live(json!({"a": 1, "b": 2}))).await;
    let update = changes(json!({"b": 20, "c": 30}), &[]);
    assert!(store.apply(&id, &update).await.expect("apply failed"));
    let record = load(&store, &id).await.expect("record vanished");
    assert_eq!(
        Value::Object(record.data),
        json!({"a": 1, "b": 20, "c": 30})
    );
    assert_eq!(
        record.expires_at, update.expires_at,
        "apply must set the expiry"
    );
}

/// `apply` deletes the keys in `remove`, and `clear` empties the record before `set`.
pub async fn apply_removes_and_clears(store: Store) {
    let id = fresh_id();
    create(&store, &id, &live(json!({"a": 1, "b": 2, "c": 3}))).await;
    assert!(
        store
            .apply(&id, &changes(json!({}), &["a", "missing"]))
            .await
            .expect("apply failed")
    );
    let record = load(&store, &id).await.expect("record vanished");
    assert_eq!(Value::Object(record.data), json!({"b": 2, "c": 3}));

    let mut clear = changes(json!({"d": 4}), &[]);
    clear.clear = true;
    assert!(store.apply(&id, &clear).await.expect("apply failed"));
    let record = load(&store, &id)
        .await
        .expect("a cleared session still exists");
    assert_eq!(Value::Object(record.data), json!({"d": 4}));
}

/// `apply` on an id with no record returns `false` and creates nothing.
pub async fn apply_to_a_missing_record_creates_nothing(store: Store) {
    let id = fresh_id();
    let applied = store
        .apply(&id, &changes(json!({"a": 1}), &[]))
        .await
        .expect("apply failed");
    assert!(!applied, "apply to a missing record must return false");
    assert_eq!(load(&store, &id).await, None, "apply created a record");
}

/// `apply` on an expired record returns `false` and does not revive it.
pub async fn apply_to_an_expired_record_creates_nothing(store: Store) {
    let id = fresh_id();
    let now = now();
    let expired = Record::new(
        map(json!({"a": 1})),
        now - Duration::hours(1),
        now - Duration::seconds(1),
    );
    let _ = store.create(&id, &expired).await.expect("create failed");
    let applied = store
        .apply(&id, &changes(json!({"b": 2}), &[]))
        .await
        .expect("apply failed");
    assert!(!applied, "apply to an expired record must return false");
    assert_eq!(
        load(&store, &id).await,
        None,
        "apply revived an expired record"
    );
}

/// Fifty tasks each applying a different key to one session at the same time: all fifty kept.
pub async fn concurrent_applies_to_different_keys_are_all_kept(store: Store) {
    const TASKS: usize = 50;
    let id = fresh_id();
    create(&store, &id, &live(json!({"base": true}))).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let update = changes(json!({ format!("key{i}"): i }), &[]);
                store.apply(&id, &update).await.expect("apply failed")
            })
        })
        .collect();
    for task in tasks {
        assert!(
            task.await.expect("task panicked"),
            "apply to a live record returned false"
        );
    }
    let record = load(&store, &id).await.expect("record vanished");
    for i in 0..TASKS {
        assert_eq!(
            record.data.get(&format!("key{i}")),
            Some(&json!(i)),
            "key{i} was lost"
        );
    }
    assert_eq!(record.data.get("base"), Some(&json!(true)));
}

/// After `delete`, neither `apply` nor `touch` brings the session back.
pub async fn delete_is_final_and_nothing_resurrects(store: Store) {
    let id = fresh_id();
    create(&store, &id, &live(json!({"a": 1}))).await;
    store.delete(&id).await.expect("delete failed");
    assert_eq!(load(&store, &id).await, None);
    assert!(
        !store
            .apply(&id, &changes(json!({"b": 2}), &[]))
            .await
            .expect("apply failed")
    );
    assert!(
        !store
            .touch(&id, now() + Duration::hours(3))
            .await
            .expect("touch failed")
    );
    assert_eq!(load(&store, &id).await, None, "a deleted session came back");
}

/// Deleting an id with no record is not an error.
pub async fn delete_of_a_missing_record_is_ok(store: Store) {
    store
        .delete(&fresh_id())
        .await
        .expect("delete of a missing record failed");
}

/// Cycling (as the engine does it: take the old record, create it under a new id) keeps the
/// data under the new id only, and the old id cannot be written to afterwards.
pub async fn cycle_moves_the_data_to_a_new_id(store: Store) {
    let (old, new) = (fresh_id(), fresh_id());
    let record = live(json!({"user": 1}));
    create(&store, &old, &record).await;
    let current = store
        .take(&old)
        .await
        .expect("take failed")
        .expect("take of a live record returns it");
    create(&store, &new, &current).await;
    assert_eq!(load(&store, &new).await, Some(record));
    assert_eq!(load(&store, &old).await, None);
    assert!(
        !store
            .apply(&old, &changes(json!({"late": 1}), &[]))
            .await
            .expect("apply failed")
    );
    assert_eq!(
        load(&store, &old).await,
        None,
        "a write to the old id revived it"
    );
}

/// `take` returns the live record, exactly, and removes it: a second take, a load, an apply and
/// a touch all find nothing, and the id can be created afresh.
pub async fn take_returns_the_record_and_leaves_nothing(store: Store) {
    let id = fresh_id();
    let record = live(json!({"user": {"id": 7}, "a.b": "$c", "n": 1.5}));
    create(&store, &id, &record).await;
    let taken = store.take(&id).await.expect("take failed");
    assert_exact(taken, &record);
    assert_eq!(store.take(&id).await.expect("take failed"), None);
    assert_eq!(load(&store, &id).await, None, "take left the record");
    assert!(
        !store
            .apply(&id, &changes(json!({"b": 2}), &[]))
            .await
            .expect("apply failed"),
        "apply after take must return false"
    );
    assert!(
        !store
            .touch(&id, now() + Duration::hours(3))
            .await
            .expect("touch failed")
    );
    assert_eq!(load(&store, &id).await, None, "a taken session came back");
    create(&store, &id, &record).await;
}

/// `take` of an id with no record, or with an expired one, is `None`, and revives nothing.
pub async fn take_of_a_missing_or_expired_record_is_none(store: Store) {
    assert_eq!(store.take(&fresh_id()).await.expect("take failed"), None);
    let id = fresh_id();
    let now = now();
    let expired = Record::new(
        map(json!({"a": 1})),
        now - Duration::hours(1),
        now - Duration::seconds(1),
    );
    let _ = store.create(&id, &expired).await.expect("create failed");
    assert_eq!(
        store.take(&id).await.expect("take failed"),
        None,
        "take returned an expired record"
    );
    assert_eq!(load(&store, &id).await, None);
}

/// Many tasks apply different keys to one session while another task takes it: every apply
/// that returned `true` is in the taken record, and afterwards the store holds nothing under
/// the id (`load` is `None`, `apply` is `false`). Run for several sessions, with the take
/// started at different points among the applies.
pub async fn take_racing_applies_loses_no_acknowledged_write(store: Store) {
    const TASKS: usize = 40;
    for round in 0..4 {
        let id = fresh_id();
        create(&store, &id, &live(json!({"base": true}))).await;
        let start = Arc::new(tokio::sync::Barrier::new(TASKS + 1));
        let appliers: Vec<_> = (0..TASKS)
            .map(|i| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let update = changes(json!({ format!("key{i}"): i }), &[]);
                    (i, store.apply(&id, &update).await.expect("apply failed"))
                })
            })
            .collect();
        let taker = {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..round * 3 {
                    tokio::task::yield_now().await;
                }
                store.take(&id).await.expect("take failed")
            })
        };
        let mut acknowledged = Vec::new();
        for applier in appliers {
            let (i, applied) = applier.await.expect("an applier panicked");
            if applied {
                acknowledged.push(i);
            }
        }
        let taken = taker
            .await
            .expect("the taker panicked")
            .expect("take of a live record returns it");
        for i in &acknowledged {
            assert_eq!(
                taken.data.get(&format!("key{i}")),
                Some(&json!(i)),
                "key{i}: apply returned true, but the taken record does not have it"
            );
        }
        assert_eq!(taken.data.get("base"), Some(&json!(true)));
        assert_eq!(
            taken.data.len(),
            acknowledged.len() + 1,
            "the taken record holds a key whose apply returned false"
        );
        assert_eq!(load(&store, &id).await, None, "take left the record");
        assert!(
            !store
                .apply(&id, &changes(json!({"late": 1}), &[]))
                .await
                .expect("apply failed"),
            "apply after take must return false"
        );
        assert_eq!(load(&store, &id).await, None, "a taken session came back");
    }
}

/// `touch` moves the expiry and leaves the data alone.
pub async fn touch_moves_the_expiry_only(store: Store) {
    let id = fresh_id();
    let record = live(json!({"a": 1}));
    create(&store, &id, &record).await;
    let later = record.expires_at + Duration::hours(5);
    assert!(store.touch(&id, later).await.expect("touch failed"));
    let touched = load(&store, &id).await.expect("record vanished");
    assert_eq!(touched.expires_at, later);
    assert_eq!(touched.data, record.data);
    assert_eq!(touched.created_at, record.created_at);
}

/// `touch` on an id with no record returns `false` and creates nothing.
pub async fn touch_of_a_missing_record_creates_nothing(store: Store) {
    let id = fresh_id();
    assert!(
        !store
            .touch(&id, now() + Duration::hours(1))
            .await
            .expect("touch failed")
    );
    assert_eq!(load(&store, &id).await, None);
}

/// `delete_expired` removes expired records and keeps live ones.
pub async fn delete_expired_keeps_live_records(store: Store) {
    let (alive, dead) = (fresh_id(), fresh_id());
    let record = live(json!({"a": 1}));
    create(&store, &alive, &record).await;
    let now = now();
    let expired = Record::new(
        map(json!({"b": 2})),
        now - Duration::hours(1),
        now - Duration::seconds(1),
    );
    let _ = store.create(&dead, &expired).await.expect("create failed");
    store.delete_expired().await.expect("delete_expired failed");
    assert_eq!(
        load(&store, &alive).await,
        Some(record),
        "a live record was swept"
    );
    assert_eq!(load(&store, &dead).await, None);
}

/// NUL (`\0`) in keys and values, at the top level and nested, comes back exactly through
/// create, load, apply (set and remove) and take, on every store alike (PostgreSQL text and
/// JSONB cannot hold NUL, BSON field names cannot either): and keys that look like a store's
/// own escape of NUL (`\0`, `%00`, `\u0000`) stay distinct from it.
pub async fn nul_in_keys_and_values_round_trips_through_every_operation(store: Store) {
    let id = fresh_id();
    let record = live(json!({
        "\u{0}": "\u{0}",
        "\u{0}\u{0}": "two NULs",
        "nul\u{0}key": "nul\u{0}value",
        "a.\u{0}$b": {"in\u{0}ner": ["a\u{0}b", {"\u{0}": "\u{0}\u{0}"}]},
        "a\\0b": "a backslash and a zero, not a NUL",
        "a%00b": "a percent escape, not a NUL",
        "a\\u0000b": "a JSON escape spelled out, not a NUL",
        "a\u{0}b": "a real NUL",
        "\\": "a backslash",
        "~\u{0}": "a tilde and a NUL",
    }));
    create(&store, &id, &record).await;
    assert_exact(load(&store, &id).await, &record);

    let update = changes(
        json!({
            "nul\u{0}key": "replaced\u{0}",
            "new\u{0}": {"\u{0}": [null, "\u{0}"]},
            "a\\0b": "still not a NUL",
        }),
        &["\u{0}\u{0}", "a%00b", "missing\u{0}"],
    );
    assert!(store.apply(&id, &update).await.expect("apply failed"));
    let mut expected = record;
    expected.apply(&update);
    assert!(expected.data.contains_key("a\u{0}b") && !expected.data.contains_key("a%00b"));
    assert_exact(load(&store, &id).await, &expected);

    let taken = store.take(&id).await.expect("take failed");
    assert_exact(taken, &expected);
}

async fn compare_and_set(
    store: &Store,
    id: &IdDigest,
    key: &str,
    expected: Option<Value>,
    new: Value,
) -> Swap {
    store
        .compare_and_set(id, key, expected.as_ref(), Some(&new))
        .await
        .expect("compare_and_set failed")
}

/// `compare_and_set` writes only when the key holds the expected value (or is absent, when
/// `None` is expected), reports the current value otherwise, and leaves the other keys and the
/// expiry alone.
pub async fn compare_and_set_writes_only_over_the_expected_value(store: Store) {
    let id = fresh_id();
    let record = live(json!({"n": 1, "other": "kept"}));
    create(&store, &id, &record).await;
    let conflicts = [
        ("n", Some(json!(2)), Swap::Conflict(Some(json!(1)))),
        ("n", Some(json!("1")), Swap::Conflict(Some(json!(1)))),
        ("n", None, Swap::Conflict(Some(json!(1)))),
        ("absent", Some(json!(1)), Swap::Conflict(None)),
        ("absent", Some(Value::Null), Swap::Conflict(None)),
    ];
    for (key, expected, outcome) in conflicts {
        assert_eq!(
            compare_and_set(&store, &id, key, expected.clone(), json!(99)).await,
            outcome,
            "compare_and_set of {key:?} expecting {expected:?}"
        );
    }
    assert_eq!(
        load(&store, &id).await,
        Some(record.clone()),
        "a compare_and_set that conflicted wrote something"
    );
    let new = json!({"count": 2, "items": ["a"]});
    assert_eq!(
        compare_and_set(&store, &id, "n", Some(json!(1)), new.clone()).await,
        Swap::Swapped
    );
    assert_eq!(
        compare_and_set(&store, &id, "added", None, Value::Null).await,
        Swap::Swapped
    );
    assert_eq!(
        compare_and_set(&store, &id, "added", Some(Value::Null), json!(false)).await,
        Swap::Swapped,
        "a stored null is a value, and compares equal to an expected null"
    );
    let stored = load(&store, &id).await.expect("record vanished");
    assert_eq!(
        Value::Object(stored.data),
        json!({"n": new, "other": "kept", "added": false})
    );
    assert_eq!(stored.created_at, record.created_at);
    assert_eq!(
        stored.expires_at, record.expires_at,
        "compare_and_set moved the expiry"
    );
}

/// A value the store hands back (by `load`, or in a conflict) compares equal to what it holds,
/// whatever its shape: the engine's retries depend on it.
pub async fn compare_and_set_matches_values_read_back_from_the_store(store: Store) {
    let values = [
        json!({"z": 1, "a": [1.5, -0.0, 1e300, u64::MAX, i64::MIN], "m": {"y": null, "b": true}}),
        json!("quote \" backslash \\ NUL \u{0} é 🔑 </script>"),
        json!(0.1),
        json!([]),
        json!({}),
    ];
    for key in ["plain", "a.b$c", "nul\u{0}key", "~%00", ""] {
        let id = fresh_id();
        let data: Map<String, Value> = values
            .iter()
            .enumerate()
            .map(|(i, value)| (format!("{key}{i}"), value.clone()))
            .collect();
        create(
            &store,
            &id,
            &Record::new(data, now(), now() + Duration::hours(1)),
        )
        .await;
        let loaded = load(&store, &id).await.expect("record vanished");
        for (i, _) in values.iter().enumerate() {
            let name = format!("{key}{i}");
            let held = loaded.data.get(&name).cloned();
            // What a conflict reports must match too.
            let Swap::Conflict(reported) =
                compare_and_set(&store, &id, &name, Some(json!("no such value")), json!(0)).await
            else {
                panic!("{name:?}: a compare_and_set expecting another value did not conflict");
            };
            assert_eq!(
                reported, held,
                "{name:?}: the conflict reported another value"
            );
            assert_eq!(
                compare_and_set(&store, &id, &name, held.clone(), json!(i)).await,
                Swap::Swapped,
                "{name:?}: compare_and_set did not match the value the store returned ({held:?})"
            );
        }
        let after = load(&store, &id).await.expect("record vanished");
        for i in 0..values.len() {
            assert_eq!(after.data.get(&format!("{key}{i}")), Some(&json!(i)));
        }
    }
}

async fn compare_and_delete(
    store: &Store,
    id: &IdDigest,
    key: &str,
    expected: Option<Value>,
) -> Swap {
    store
        .compare_and_set(id, key, expected.as_ref(), None)
        .await
        .expect("compare_and_set failed")
}

/// `compare_and_set` with no new value deletes the key, only if it holds the expected value,
/// and leaves the other keys and the expiry alone.
pub async fn compare_and_set_deletes_only_over_the_expected_value(store: Store) {
    let id = fresh_id();
    let record = live(json!({"flash": "hi", "other": 1}));
    create(&store, &id, &record).await;
    assert_eq!(
        compare_and_delete(&store, &id, "flash", Some(json!("bye"))).await,
        Swap::Conflict(Some(json!("hi")))
    );
    assert_eq!(
        compare_and_delete(&store, &id, "flash", None).await,
        Swap::Conflict(Some(json!("hi")))
    );
    assert_eq!(
        load(&store, &id).await,
        Some(record.clone()),
        "a conflict deleted"
    );
    assert_eq!(
        compare_and_delete(&store, &id, "flash", Some(json!("hi"))).await,
        Swap::Swapped
    );
    assert_eq!(
        compare_and_delete(&store, &id, "flash", Some(json!("hi"))).await,
        Swap::Conflict(None),
        "deleted already"
    );
    assert_eq!(
        compare_and_delete(&store, &id, "never", None).await,
        Swap::Swapped,
        "an absent key, expected absent, stays absent"
    );
    let stored = load(&store, &id).await.expect("record vanished");
    assert_eq!(Value::Object(stored.data), json!({"other": 1}));
    assert_eq!(stored.expires_at, record.expires_at, "the expiry moved");
}

/// Twenty tasks delete one key with the value they all read, at once: exactly one succeeds
/// (a flash message is shown once), the others see it gone.
pub async fn concurrent_compare_and_set_deletes_of_one_key_succeed_once(store: Store) {
    const TASKS: usize = 20;
    for _ in 0..3 {
        let id = fresh_id();
        create(&store, &id, &live(json!({"flash": "Welcome back"}))).await;
        let start = Arc::new(tokio::sync::Barrier::new(TASKS));
        let takers: Vec<_> = (0..TASKS)
            .map(|_| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    compare_and_delete(&store, &id, "flash", Some(json!("Welcome back"))).await
                })
            })
            .collect();
        let mut swapped = 0;
        for taker in takers {
            match taker.await.expect("a taker panicked") {
                Swap::Swapped => swapped += 1,
                Swap::Conflict(None) => {}
                other => panic!("a concurrent delete of a deleted key gave {other:?}"),
            }
        }
        assert_eq!(swapped, 1, "the key was deleted {swapped} times");
        let record = load(&store, &id).await.expect("record vanished");
        assert!(record.data.is_empty(), "{:?}", record.data);
    }
}

/// `compare_and_set` on a missing, deleted or expired record is [`Swap::Missing`] and creates
/// nothing.
pub async fn compare_and_set_on_a_missing_or_expired_record_creates_nothing(store: Store) {
    let missing = fresh_id();
    assert_eq!(
        compare_and_set(&store, &missing, "k", None, json!(1)).await,
        Swap::Missing
    );
    assert_eq!(load(&store, &missing).await, None);

    let deleted = fresh_id();
    create(&store, &deleted, &live(json!({"k": 1}))).await;
    store.delete(&deleted).await.expect("delete failed");
    assert_eq!(
        compare_and_set(&store, &deleted, "k", Some(json!(1)), json!(2)).await,
        Swap::Missing
    );
    assert_eq!(load(&store, &deleted).await, None);

    let expired = fresh_id();
    let now = now();
    let record = Record::new(
        map(json!({"k": 1})),
        now - Duration::hours(2),
        now - Duration::seconds(1),
    );
    let _ = store
        .create(&expired, &record)
        .await
        .expect("create failed");
    for expected in [Some(json!(1)), None] {
        assert_eq!(
            compare_and_set(&store, &expired, "k", expected, json!(2)).await,
            Swap::Missing,
            "compare_and_set on an expired record"
        );
    }
    assert_eq!(
        load(&store, &expired).await,
        None,
        "an expired record came back"
    );
}

/// Increments `key` of `id` by one with a compare-and-set loop, as `Session::update` does;
/// `false` once the record is gone.
async fn increment(store: &Store, id: &IdDigest, key: &str) -> bool {
    let mut current = load(store, id).await.and_then(|r| r.data.get(key).cloned());
    loop {
        let next = json!(current.as_ref().and_then(Value::as_u64).unwrap_or(0) + 1);
        match compare_and_set(store, id, key, current.clone(), next).await {
            Swap::Swapped => return true,
            Swap::Conflict(held) => current = held,
            Swap::Missing => return false,
        }
    }
}

/// Fifty tasks each increment one key of one session with a compare-and-set loop, while other
/// tasks write other keys: the key ends at exactly fifty, and the other keys are all kept.
pub async fn concurrent_compare_and_set_increments_are_all_kept(store: Store) {
    const TASKS: usize = 50;
    let id = fresh_id();
    create(&store, &id, &live(json!({"base": true}))).await;
    let start = Arc::new(tokio::sync::Barrier::new(TASKS * 2));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let (incrementer, start_incrementing) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start_incrementing.wait().await;
            assert!(
                increment(&incrementer, &id, "n").await,
                "the record vanished"
            );
        }));
        let (writer, start_writing) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start_writing.wait().await;
            let update = changes(json!({ format!("key{i}"): i }), &[]);
            assert!(writer.apply(&id, &update).await.expect("apply failed"));
        }));
    }
    for task in tasks {
        task.await.expect("a task panicked");
    }
    let record = load(&store, &id).await.expect("record vanished");
    assert_eq!(
        record.data.get("n"),
        Some(&json!(TASKS)),
        "concurrent compare-and-set increments were lost"
    );
    for i in 0..TASKS {
        assert_eq!(
            record.data.get(&format!("key{i}")),
            Some(&json!(i)),
            "key{i} was lost"
        );
    }
}

/// Tasks increment one key with compare-and-set loops while another task takes the record:
/// the taken record holds exactly as many increments as reported [`Swap::Swapped`], and every
/// later attempt is [`Swap::Missing`].
pub async fn take_racing_compare_and_set_loses_no_acknowledged_write(store: Store) {
    const TASKS: usize = 20;
    for round in 0..3 {
        let id = fresh_id();
        create(&store, &id, &live(json!({}))).await;
        let start = Arc::new(tokio::sync::Barrier::new(TASKS + 1));
        let incrementers: Vec<_> = (0..TASKS)
            .map(|_| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let mut landed = 0u64;
                    while increment(&store, &id, "n").await {
                        landed += 1;
                        // An in-memory store never makes a task wait: let the taker run.
                        tokio::task::yield_now().await;
                    }
                    landed
                })
            })
            .collect();
        let taker = {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..(round + 1) * 20 {
                    tokio::task::yield_now().await;
                }
                store.take(&id).await.expect("take failed")
            })
        };
        let taken = taker
            .await
            .expect("the taker panicked")
            .expect("take of a live record returns it");
        let mut landed = 0;
        for incrementer in incrementers {
            landed += incrementer.await.expect("an incrementer panicked");
        }
        let held = taken.data.get("n").and_then(Value::as_u64).unwrap_or(0);
        assert_eq!(
            held, landed,
            "compare_and_set reported {landed} increments as written, the taken record holds {held}"
        );
        assert_eq!(load(&store, &id).await, None, "a taken session came back");
    }
}
