//! The SQLite store: the shared contract suite (on a fresh database file per store, and on an
//! in-memory database), what the table holds after a request, migrations, table-name
//! validation, bad input, damaged rows and error messages.

use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{Map, json};
use session_core::{
    Changes, Expiry, KeyRing, Record, SessionConfig, SessionManager, SessionStore, SqliteStore,
};
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use time::OffsetDateTime;

mod common;
use common::{
    assert_exact, bad_input, fresh_id, now, object, random_hex, record, store_and_cycle_a_session,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A path for a fresh database file under the system's temporary directory. Files left by runs
/// more than an hour ago are removed on first use.
fn temp_db() -> PathBuf {
    static SWEEP: Once = Once::new();
    let dir = std::env::temp_dir().join("session-core-sqlite-tests");
    SWEEP.call_once(|| {
        std::fs::create_dir_all(&dir).expect("cannot create the test directory");
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    });
    dir.join(format!("{}.db", random_hex(8)))
}

fn url(path: &std::path::Path) -> String {
    format!("sqlite:{}", path.display())
}

/// A migrated store on a fresh database file.
async fn fresh_store() -> SqliteStore {
    let store = SqliteStore::connect(&url(&temp_db()))
        .await
        .expect("cannot open a temporary SQLite database");
    store.migrate().await.expect("migrate failed");
    store
}

/// A migrated store on a fresh in-memory database.
async fn memory_store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("cannot open an in-memory SQLite database");
    store.migrate().await.expect("migrate failed");
    store
}

// ---------------------------------------------------------------------------------------------
// The contract suite
// ---------------------------------------------------------------------------------------------

mod file_contract {
    session_core::store_test_suite!(super::fresh_store().await);
}

mod memory_contract {
    session_core::store_test_suite!(super::memory_store().await);
}

// ---------------------------------------------------------------------------------------------
// What the database holds
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_table_holds_the_digest_data_and_expiry_never_the_id() {
    let store = fresh_store().await;
    let pool = store.pool().clone();
    let idle = Duration::from_secs(3600);
    let config = SessionConfig::default().with_expiry(Expiry::Idle(idle));
    let manager = SessionManager::new(store, KeyRing::generate(), config).unwrap();

    let session = manager.session(std::iter::empty::<&[u8]>());
    session.set("user", &json!({"id": 7})).await.unwrap();
    let before = OffsetDateTime::now_utc().unix_timestamp();
    let cookie = manager.finish(&session, 200).await.unwrap().unwrap();

    // The signed cookie value is a 44-character HMAC followed by the 43-character id.
    let value = cookie
        .as_str()
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&value[44..])
        .unwrap();
    let digest: [u8; 32] = Sha256::digest(&id).into();

    let rows = sqlx::query("SELECT id, data, created_at, expires_at FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let stored_id: Vec<u8> = row.get("id");
    assert_eq!(
        stored_id, digest,
        "the row is keyed by the SHA-256 of the id"
    );
    assert_ne!(stored_id, id);
    let data: String = row.get("data");
    assert_eq!(data, r#"{"user":{"id":7}}"#);
    assert!(!data.contains(&value[44..]));
    let created_at: i64 = row.get("created_at");
    let expires_at: i64 = row.get("expires_at");
    assert!((before..=before + 2).contains(&created_at));
    assert_eq!(
        expires_at,
        created_at + 3600,
        "expires_at is created_at + idle"
    );

    // Nothing in the file holds the raw id either.
    let all: Vec<String> = sqlx::query("SELECT hex(id) || data FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let raw_hex: String = id.iter().map(|b| format!("{b:02X}")).collect();
    assert!(all.iter().all(|text| !text.contains(&raw_hex)));
}

#[tokio::test]
async fn migrate_twice_keeps_the_data_and_creates_the_expiry_index() {
    let store = fresh_store().await;
    let id = fresh_id();
    let record = record(object(json!({"kept": true})));
    assert!(store.create(&id, &record).await.unwrap());
    store
        .migrate()
        .await
        .expect("a second migrate must succeed");
    store.clone().migrate().await.expect("a third migrate too");
    assert_eq!(store.load(&id).await.unwrap(), Some(record));

    let index: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' \
         AND sql LIKE '%expires_at%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|row| row.get(0))
    .collect();
    assert_eq!(index, ["sessions_expires_at_idx"]);
}

#[tokio::test]
async fn a_file_database_uses_wal_and_a_busy_timeout() {
    let store = fresh_store().await;
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    let timeout: i64 = sqlx::query("PRAGMA busy_timeout")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert!(timeout >= 1000, "busy_timeout is {timeout} ms");
}

#[tokio::test]
async fn delete_expired_returns_how_many_rows_it_removed() {
    let store = fresh_store().await;
    let now = now();
    let expired = Record::new(Map::new(), now - time::Duration::hours(2), now);
    for _ in 0..3 {
        assert!(store.create(&fresh_id(), &expired).await.unwrap());
    }
    let live = fresh_id();
    assert!(store.create(&live, &record(Map::new())).await.unwrap());
    assert_eq!(store.delete_expired().await.unwrap(), 3);
    assert_eq!(store.delete_expired().await.unwrap(), 0);
    let count: i64 = sqlx::query("SELECT count(*) FROM sessions")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}

#[tokio::test]
async fn create_replaces_an_expired_row_but_never_a_live_one() {
    let store = fresh_store().await;
    let id = fresh_id();
    let now = now();
    let expired = Record::new(
        object(json!({"old": 1})),
        now - time::Duration::hours(2),
        now,
    );
    assert!(store.create(&id, &expired).await.unwrap());
    let fresh = record(object(json!({"new": 1})));
    assert!(store.create(&id, &fresh).await.unwrap(), "expired row kept");
    assert!(!store.create(&id, &record(Map::new())).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), Some(fresh));
}

// ---------------------------------------------------------------------------------------------
// Table names
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn table_names_are_validated_and_nothing_is_injected() {
    let store = fresh_store().await;
    sqlx::query("CREATE TABLE y (v INTEGER)")
        .execute(store.pool())
        .await
        .unwrap();
    for bad in [
        "x; DROP TABLE y",
        "x\"; DROP TABLE y; --",
        "x'; DROP TABLE y; --",
        "main.sessions",
        "",
        "1abc",
        "a-b",
        "ключ",
        &"a".repeat(64),
    ] {
        let error = store
            .clone()
            .with_table_name(bad)
            .expect_err("an invalid table name was accepted");
        let message = error.to_string();
        assert!(
            message.contains("is not valid") && message.contains("ASCII letters"),
            "{message}"
        );
    }
    let exists: i64 = sqlx::query("SELECT count(*) FROM sqlite_master WHERE name = 'y'")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(exists, 1, "table y was dropped");

    // A valid name, a reserved word in mixed case, is used as given.
    let custom = store.clone().with_table_name("Order").unwrap();
    assert_eq!(custom.table_name(), "Order");
    custom.migrate().await.unwrap();
    let id = fresh_id();
    let record = record(object(json!({"a": 1})));
    assert!(custom.create(&id, &record).await.unwrap());
    assert_eq!(custom.load(&id).await.unwrap(), Some(record));
    assert_eq!(store.load(&id).await.unwrap(), None, "tables are separate");
    let count: i64 = sqlx::query(r#"SELECT count(*) FROM "Order""#)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}

// ---------------------------------------------------------------------------------------------
// Bad input and damaged rows
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_input_round_trips_exactly() {
    let store = fresh_store().await;
    let id = fresh_id();
    let original = record(bad_input());
    assert!(store.create(&id, &original).await.unwrap());
    assert_exact(&store.load(&id).await.unwrap().unwrap(), &original);

    // A merge that sets and removes awkward keys.
    let mut changes = Changes::expiry_only(now() + time::Duration::hours(2));
    changes.set = object(json!({
        "a.b": -0.0,
        "nul\0key": {"$set": "\0"},
        "new\0": 1e19,
        "": u64::MAX,
    }));
    changes.remove = vec![
        "$set".into(),
        "\0".into(),
        "k".repeat(10 * 1024),
        "absent".into(),
    ];
    assert!(store.apply(&id, &changes).await.unwrap());
    let mut expected = original.clone();
    expected.apply(&changes);
    assert_exact(&store.load(&id).await.unwrap().unwrap(), &expected);

    // A clear that writes them back.
    changes.clear = true;
    changes.set = bad_input();
    changes.remove.clear();
    assert!(store.apply(&id, &changes).await.unwrap());
    expected.apply(&changes);
    assert_exact(&store.load(&id).await.unwrap().unwrap(), &expected);
}

#[tokio::test]
async fn a_damaged_row_is_treated_as_missing() {
    let store = fresh_store().await;
    let expires = now().unix_timestamp() + 3600;
    for (data, why) in [
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        (r#"{"a": 1"#, "truncated"),
    ] {
        let id = fresh_id();
        sqlx::query("INSERT INTO sessions VALUES (?1, ?2, ?3, ?4)")
            .bind(&id.as_bytes()[..])
            .bind(data)
            .bind(expires - 3600)
            .bind(expires)
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.load(&id).await.unwrap(), None, "{why}");
        let mut changes = Changes::expiry_only(now() + time::Duration::hours(1));
        changes.set.insert("b".into(), json!(2));
        assert!(!store.apply(&id, &changes).await.unwrap(), "{why}");
    }
    let id = fresh_id();
    sqlx::query("INSERT INTO sessions VALUES (?1, '{}', ?2, ?3)")
        .bind(&id.as_bytes()[..])
        .bind(i64::MAX)
        .bind(i64::MAX)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        store.load(&id).await.unwrap(),
        None,
        "timestamp out of range"
    );
}

// ---------------------------------------------------------------------------------------------
// Connections and errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unopenable_database_is_an_error_naming_the_path() {
    let path = "/nonexistent-session-core-dir/sessions.db";
    let error = SqliteStore::connect(&format!("sqlite:{path}"))
        .await
        .expect_err("opened a database in a missing directory");
    let message = common::chain(&error);
    assert!(message.contains(path), "{message}");
    assert!(message.contains("SQLite"), "{message}");

    let error = SqliteStore::connect("sqlite:x.db?mode=nonsense")
        .await
        .expect_err("accepted a bad URL");
    assert!(
        common::chain(&error).contains("not a valid SQLite URL"),
        "{error}"
    );
}

#[tokio::test]
async fn a_failing_statement_names_the_operation_and_the_table() {
    let store = fresh_store()
        .await
        .with_table_name("never_migrated")
        .unwrap();
    let error = store.load(&fresh_id()).await.unwrap_err();
    let message = common::chain(&error);
    assert!(message.contains("load"), "{message}");
    assert!(message.contains("never_migrated"), "{message}");
    assert!(
        std::error::Error::source(&error).is_some(),
        "the driver error is kept"
    );
}

#[tokio::test]
async fn debug_shows_the_database_and_table() {
    let path = temp_db();
    let store = SqliteStore::connect(&url(&path)).await.unwrap();
    let debug = format!("{store:?}");
    assert!(debug.contains(&path.display().to_string()), "{debug}");
    assert!(debug.contains("sessions"), "{debug}");
    let debug = format!("{:?}", memory_store().await);
    assert!(debug.contains(":memory:"), "{debug}");
}

#[tokio::test]
async fn stores_are_usable_behind_arc_dyn() {
    let store: Arc<dyn SessionStore> = Arc::new(fresh_store().await);
    let id = fresh_id();
    assert!(store.create(&id, &record(Map::new())).await.unwrap());
    assert!(
        store
            .touch(&id, now() + time::Duration::hours(3))
            .await
            .unwrap()
    );
}

/// After a login cycles the id, the table holds the session and the old id's forwarding
/// pointer; the query the docs give (`FORWARDING_POINTER_KEY`) tells them apart.
#[tokio::test]
async fn forwarding_pointers_are_recognisable_in_the_table() {
    let store = fresh_store().await;
    let pool = store.pool().clone();
    store_and_cycle_a_session(store).await;

    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let row = sqlx::query(sql).fetch_one(&pool).await.unwrap();
            row.get::<i64, _>(0)
        }
    };
    assert_eq!(count("SELECT count(*) FROM sessions").await, 2);
    assert_eq!(
        count(
            "SELECT count(*) FROM sessions \
             WHERE json_extract(data, '$.__forwarding_pointer') IS NULL"
        )
        .await,
        1,
        "one session besides the pointer"
    );
    let data: String = sqlx::query(
        "SELECT data FROM sessions WHERE json_extract(data, '$.__forwarding_pointer') IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .get(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&data).unwrap(),
        json!({"user": "ada", "role": "admin"})
    );
    assert_eq!(session_core::FORWARDING_POINTER_KEY, "__forwarding_pointer");
}
