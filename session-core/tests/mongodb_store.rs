//! The MongoDB store runs the shared store contract suite, plus checks of what the collection
//! holds, key escaping, bad input, the TTL index, expired-id reuse, damaged documents and a down
//! server.
//!
//! Needs a server speaking the MongoDB wire protocol at `SESSION_TEST_MONGODB_URL`. Every store
//! instance gets a fresh collection with a random name, so tests can run in parallel on one
//! server.

use std::time::{Duration as StdDuration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mongodb::bson::{DateTime, Document, doc};
use serde_json::{Map, Value, json};
use session_core::{
    Changes, IdDigest, KeyRing, MongoStore, Record, SessionConfig, SessionManager, SessionStore,
    StoreError,
};
use sha2::{Digest, Sha256};
use time::Duration;

mod common;
use common::{fresh_id, now, object, random_hex};

/// The database every test collection lives in.
const DATABASE: &str = "session_core_tests";

/// The test server's connection string.
fn url() -> String {
    std::env::var("SESSION_TEST_MONGODB_URL").unwrap_or_else(|_| {
        panic!(
            "SESSION_TEST_MONGODB_URL is not set: run `scripts/test`, which starts SecantusDB (a \
             MongoDB-wire-protocol server), or start one and export \
             SESSION_TEST_MONGODB_URL=mongodb://127.0.0.1:PORT"
        )
    })
}

/// A store on a fresh, randomly named collection (TTL index created).
async fn fresh_store() -> MongoStore {
    let collection = format!("sessions_{}", random_hex(8));
    MongoStore::connect(&url(), DATABASE, &collection)
        .await
        .expect("could not connect to the test MongoDB server")
}

session_core::store_test_suite!(fresh_store().await);

fn live(data: Value) -> Record {
    let now = now();
    Record::new(object(data), now, now + Duration::hours(1))
}

fn expired(data: Value) -> Record {
    let now = now();
    Record::new(
        object(data),
        now - Duration::hours(2),
        now - Duration::seconds(1),
    )
}

fn set_changes(set: Value, remove: &[&str]) -> Changes {
    let mut changes = Changes::expiry_only(now() + Duration::hours(2));
    changes.set = object(set);
    changes.remove = remove.iter().map(|k| (*k).to_owned()).collect();
    changes
}

/// The raw document under `id`, as the server holds it.
async fn raw(store: &MongoStore, id: &IdDigest) -> Option<Document> {
    store
        .collection()
        .find_one(doc! { "_id": id.to_hex() })
        .await
        .expect("find_one failed")
}

/// The field names of a raw document's `data` sub-document.
fn data_fields(document: &Document) -> Vec<String> {
    let mut fields: Vec<_> = document
        .get_document("data")
        .expect("`data` is a sub-document")
        .keys()
        .cloned()
        .collect();
    fields.sort();
    fields
}

/// Keys whose characters matter to MongoDB or to the escaping.
const TRICKY_KEYS: [&str; 12] = [
    "",
    ".",
    "a.b",
    "$",
    "$set",
    "a$b",
    "nul\0byte",
    "quote\"'key",
    "ключ 🔑",
    "100%",
    "%2E",
    "~",
];

#[tokio::test]
async fn the_document_holds_the_digest_escaped_keys_and_json_text() {
    let store = fresh_store().await;
    let id = fresh_id();
    let record = live(json!({"a.b": 1.0, "$set": {"x.y": u64::MAX}, "": "empty"}));
    assert!(store.create(&id, &record).await.unwrap());

    let document = raw(&store, &id).await.expect("the document exists");
    assert_eq!(document.get_str("_id").unwrap(), id.to_hex());
    assert_eq!(data_fields(&document), ["~", "~%24set", "~a%2Eb"]);
    let data = document.get_document("data").unwrap();
    assert_eq!(data.get_str("~a%2Eb").unwrap(), "1.0");
    assert_eq!(
        data.get_str("~%24set").unwrap(),
        r#"{"x.y":18446744073709551615}"#
    );
    assert_eq!(data.get_str("~").unwrap(), r#""empty""#);
    let dates = |field| document.get_datetime(field).unwrap().timestamp_millis();
    assert_eq!(
        dates("created_at"),
        record.created_at.unix_timestamp() * 1000
    );
    assert_eq!(
        dates("expires_at"),
        record.expires_at.unix_timestamp() * 1000
    );
    assert_eq!(document.len(), 4, "unexpected fields in {document}");
}

#[tokio::test]
async fn the_collection_holds_the_digest_of_the_cookie_id_never_the_id() {
    let store = fresh_store().await;
    let collection = store.collection().clone();
    let manager = SessionManager::new(
        store,
        KeyRing::generate(),
        SessionConfig::default().with_secure(false),
    )
    .unwrap();

    let session = manager.session(std::iter::empty::<&[u8]>());
    session.set("user", &json!({"name": "Ada"})).await.unwrap();
    let cookie = manager.finish(&session, 200).await.unwrap().unwrap();
    let pair = cookie.as_str().split(';').next().unwrap().to_owned();
    // A signed cookie value is the base64 HMAC followed by the id (43 base64url characters).
    let raw_id = &pair[pair.len() - 43..];
    let id_bytes = URL_SAFE_NO_PAD.decode(raw_id).unwrap();
    let digest = IdDigest::from_bytes(Sha256::digest(&id_bytes).into());

    let documents: Vec<Document> = {
        let mut cursor = collection.find(doc! {}).await.unwrap();
        let mut all = Vec::new();
        while cursor.advance().await.unwrap() {
            all.push(cursor.deserialize_current().unwrap());
        }
        all
    };
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].get_str("_id").unwrap(), digest.to_hex());
    assert!(
        !format!("{documents:?}").contains(raw_id),
        "the raw session id is stored"
    );

    // The engine reads the session back through the store.
    let next = manager.session([pair.as_bytes()]);
    let user: Value = next.get("user").await.unwrap().unwrap();
    assert_eq!(user, json!({"name": "Ada"}));
}

#[tokio::test]
async fn tricky_keys_round_trip_through_create_apply_and_remove() {
    let store = fresh_store().await;
    let id = fresh_id();
    let data: Map<String, Value> = TRICKY_KEYS
        .iter()
        .map(|k| ((*k).to_owned(), json!(format!("created {k}"))))
        .collect();
    let record = live(Value::Object(data));
    assert!(store.create(&id, &record).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), Some(record.clone()));

    // Overwrite every key, one request at a time, then remove them in turn.
    let mut expected = record;
    for key in TRICKY_KEYS {
        let changes = set_changes(json!({ key: {"updated": key} }), &[]);
        assert!(store.apply(&id, &changes).await.unwrap(), "{key:?}");
        expected.apply(&changes);
        assert_eq!(
            store.load(&id).await.unwrap(),
            Some(expected.clone()),
            "{key:?}"
        );
    }
    let document = raw(&store, &id).await.unwrap();
    assert_eq!(data_fields(&document).len(), TRICKY_KEYS.len());
    for key in TRICKY_KEYS {
        let changes = set_changes(json!({}), &[key]);
        assert!(store.apply(&id, &changes).await.unwrap(), "{key:?}");
        expected.apply(&changes);
        assert_eq!(
            store.load(&id).await.unwrap(),
            Some(expected.clone()),
            "{key:?}"
        );
    }
    assert!(expected.data.is_empty());
    assert!(data_fields(&raw(&store, &id).await.unwrap()).is_empty());
}

#[tokio::test]
async fn bad_input_is_stored_and_returned_exactly() {
    let store = fresh_store().await;
    let id = fresh_id();
    let long_key = "k".repeat(10 * 1024);
    let megabyte = "v".repeat(1024 * 1024);
    let nested = json!({"a.b": {"$c": {"": [1, 1.0, "d.e"]}}, "$where": "x"});
    let data = json!({
        "dot.key": "a",
        "$dollar": "b",
        "quote\"'": "quote\"'value",
        "nul\0": "nul\0value",
        "": "empty key",
        "ключ 🔑": "значение 🔒",
        long_key.clone(): "long key",
        "megabyte": megabyte,
        "u64_max": u64::MAX,
        "i64_min": i64::MIN,
        "one_float": 1.0,
        "one_int": 1,
        "small": 0.1,
        "huge": 1.7976931348623157e308,
        "negative_zero": -0.0,
        "nested": nested,
    });
    let record = live(data.clone());
    assert!(store.create(&id, &record).await.unwrap());
    let loaded = store.load(&id).await.unwrap().expect("the record exists");
    assert_eq!(loaded, record);
    // `Value` equality treats 1 and 1.0 alike; the text does not.
    assert_eq!(
        serde_json::to_string(&loaded.data).unwrap(),
        serde_json::to_string(&record.data).unwrap()
    );

    // The same values written by `apply`, under a second id.
    let other = fresh_id();
    assert!(store.create(&other, &live(json!({}))).await.unwrap());
    let changes = set_changes(data, &[]);
    assert!(store.apply(&other, &changes).await.unwrap());
    let loaded = store
        .load(&other)
        .await
        .unwrap()
        .expect("the record exists");
    assert_eq!(
        serde_json::to_string(&loaded.data).unwrap(),
        serde_json::to_string(&changes.set).unwrap()
    );

    // And `clear` with the same values replaces the whole `data` sub-document.
    let mut clear = set_changes(json!({"only": {"x.y": {"$z": u64::MAX}}}), &[]);
    clear.clear = true;
    assert!(store.apply(&other, &clear).await.unwrap());
    let loaded = store
        .load(&other)
        .await
        .unwrap()
        .expect("the record exists");
    assert_eq!(
        Value::Object(loaded.data.clone()),
        json!({"only": {"x.y": {"$z": u64::MAX}}})
    );

    // A value nested deeper than serde_json reads back is refused, and nothing is written.
    let deep = (0..200).fold(json!(1), |inner, _| json!([inner]));
    let error = store
        .apply(&other, &set_changes(json!({ "deep": deep }), &[]))
        .await
        .expect_err("a too-deep value must be refused");
    assert!(matches!(error, StoreError::Codec(_)), "{error:?}");
    let after = store
        .load(&other)
        .await
        .unwrap()
        .expect("the record exists");
    assert_eq!(after, loaded);
}

#[tokio::test]
async fn create_replaces_an_expired_document_but_never_a_live_one() {
    let store = fresh_store().await;
    let id = fresh_id();
    assert!(
        store
            .create(&id, &expired(json!({"old": 1})))
            .await
            .unwrap()
    );
    assert!(
        raw(&store, &id).await.is_some(),
        "the expired document is kept"
    );

    let fresh = live(json!({"new": 2}));
    assert!(
        store.create(&id, &fresh).await.unwrap(),
        "create must reuse an id whose document has expired"
    );
    assert_eq!(store.load(&id).await.unwrap(), Some(fresh.clone()));
    assert!(!store.create(&id, &live(json!({"third": 3}))).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), Some(fresh));
}

#[tokio::test]
async fn concurrent_creates_of_one_id_insert_exactly_once() {
    let store = fresh_store().await;
    let id = fresh_id();
    assert!(
        store
            .create(&id, &expired(json!({"old": 1})))
            .await
            .unwrap()
    );
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create(&id, &live(json!({ "winner": i }))).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "one create must win over the expired document");
}

#[tokio::test]
async fn delete_expired_counts_what_it_removed() {
    let store = fresh_store().await;
    for _ in 0..3 {
        assert!(
            store
                .create(&fresh_id(), &expired(json!({})))
                .await
                .unwrap()
        );
    }
    let alive = fresh_id();
    assert!(store.create(&alive, &live(json!({"a": 1}))).await.unwrap());
    assert_eq!(store.delete_expired().await.unwrap(), 3);
    assert_eq!(store.delete_expired().await.unwrap(), 0);
    assert!(store.load(&alive).await.unwrap().is_some());
    assert_eq!(
        store.collection().count_documents(doc! {}).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn migrate_creates_the_ttl_index_and_can_run_again() {
    let store = fresh_store().await; // `connect` ran `migrate` once
    store.migrate().await.expect("a second migrate failed");
    store.migrate().await.expect("a third migrate failed");
    let mut cursor = store.collection().list_indexes().await.unwrap();
    let mut ttl = Vec::new();
    while cursor.advance().await.unwrap() {
        let index = cursor.deserialize_current().unwrap();
        if index.keys == doc! { "expires_at": 1 } {
            ttl.push(index);
        }
    }
    assert_eq!(ttl.len(), 1, "{ttl:?}");
    let options = ttl[0].options.as_ref().expect("the index has options");
    assert_eq!(options.name.as_deref(), Some("expires_at_ttl"));
    assert_eq!(options.expire_after, Some(StdDuration::ZERO));
}

#[tokio::test]
async fn damaged_documents_load_as_missing() {
    let store = fresh_store().await;
    let future = DateTime::from_millis(DateTime::now().timestamp_millis() + 3_600_000);
    let damaged = [
        doc! { "data": { "not-escaped": "1" }, "created_at": future, "expires_at": future },
        doc! { "data": { "~k": 5 }, "created_at": future, "expires_at": future },
        doc! { "data": { "~k": "{broken" }, "created_at": future, "expires_at": future },
        doc! { "data": "text", "created_at": future, "expires_at": future },
        doc! { "data": {}, "created_at": "yesterday", "expires_at": future },
        doc! { "data": {}, "expires_at": future },
    ];
    for body in damaged {
        let id = fresh_id();
        let mut document = doc! { "_id": id.to_hex() };
        document.extend(body.clone());
        store.collection().insert_one(document).await.unwrap();
        assert_eq!(store.load(&id).await.unwrap(), None, "{body}");
    }
}

#[tokio::test]
async fn a_down_server_fails_promptly_naming_the_host_not_the_password() {
    // Port 1 on loopback: nothing listens there.
    let started = Instant::now();
    let error = MongoStore::connect("mongodb://alice:s3cr3t@127.0.0.1:1/", "app", "sessions")
        .await
        .expect_err("connecting to a closed port must fail");
    let elapsed = started.elapsed();
    let mut text = format!("{error}");
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        text.push_str(&format!(" | {e} {e:?}"));
        source = e.source();
    }
    assert!(
        text.contains("127.0.0.1:1"),
        "the error does not name the host: {text}"
    );
    assert!(
        !text.contains("s3cr3t"),
        "the error shows the password: {text}"
    );
    // The driver's default would be 30 s; `connect` sets 5 s.
    assert!(elapsed < StdDuration::from_secs(25), "took {elapsed:?}");
}

#[tokio::test]
async fn migrate_over_a_conflicting_index_says_what_to_do() {
    let store = fresh_store().await;
    let collection = store.collection().clone();
    collection.drop_index("expires_at_ttl").await.unwrap();
    let other = mongodb::IndexModel::builder()
        .keys(doc! { "expires_at": 1 })
        .options(
            mongodb::options::IndexOptions::builder()
                .name("expires_at_ttl".to_owned())
                .expire_after(StdDuration::from_secs(60))
                .build(),
        )
        .build();
    collection.create_index(other).await.unwrap();
    let error = MongoStore::new(collection).migrate().await.unwrap_err();
    let text = common::chain(&error);
    assert!(text.contains("drop it and migrate again"), "{text}");
}

/// Actix-web runs one runtime per worker thread: a store built on the main runtime must serve
/// them all, and once its runtime is gone it must fail, not hang.
#[test]
fn a_store_serves_other_runtimes_and_fails_cleanly_once_its_own_is_gone() {
    let runtime = |threads| {
        let mut builder = match threads {
            0 => tokio::runtime::Builder::new_current_thread(),
            n => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(n);
                builder
            }
        };
        builder.enable_all().build().unwrap()
    };
    let main = runtime(2);
    let store = main.block_on(fresh_store());
    let worker = runtime(0);
    let id = fresh_id();
    let record = live(json!({"a": 1}));
    assert!(worker.block_on(store.create(&id, &record)).unwrap());
    assert_eq!(worker.block_on(store.load(&id)).unwrap(), Some(record));

    drop(main);
    let outcome = worker.block_on(async {
        tokio::time::timeout(StdDuration::from_secs(20), store.load(&id)).await
    });
    let result = outcome.expect("a store whose runtime is gone hung");
    assert!(result.is_err(), "{result:?}");
}
