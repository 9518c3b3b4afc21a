//! The PostgreSQL store: the shared contract suite (a fresh table per store), what the table
//! holds after a request, migrations, table-name validation, bad input, the JSONB facts the
//! storage format works around, statements per operation (pg_stat_statements), errors that
//! never show the password, and recovery after the server goes down and comes back.
//!
//! Needs `SESSION_TEST_POSTGRES_URL`, and for the fault test `SESSION_TEST_POSTGRES_FAULT_URL`
//! and `SESSION_TEST_POSTGRES_FAULT_CTL` (`scripts/test` starts both servers).

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use session_core::{
    Changes, Expiry, KeyRing, PostgresStore, Record, SessionConfig, SessionManager, SessionStore,
};
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use time::OffsetDateTime;

mod common;
use common::{
    assert_exact, bad_input, fresh_id, now, object, random_hex, record, store_and_cycle_a_session,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The value of a server variable, or a failure that says how to get one.
fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run `scripts/test`, which starts PostgreSQL, or start one and \
             export {var}"
        )
    })
}

fn url() -> String {
    env("SESSION_TEST_POSTGRES_URL")
}

/// The password in a `postgres://user:password@host/db` URL (to check it never leaks).
fn password_of(url: &str) -> String {
    let credentials = url.split_once("://").unwrap().1.split_once('@').unwrap().0;
    credentials.split_once(':').unwrap().1.to_owned()
}

/// A migrated store on a table of its own (`sessions_<random hex>`).
async fn fresh_store() -> PostgresStore {
    let store = PostgresStore::connect(&url())
        .await
        .expect("cannot connect to SESSION_TEST_POSTGRES_URL")
        .with_table_name(&format!("sessions_{}", random_hex(8)))
        .unwrap();
    store.migrate().await.expect("migrate failed");
    store
}

/// The table's name quoted for SQL (test names are plain identifiers).
fn quoted(store: &PostgresStore) -> String {
    format!("\"{}\"", store.table_name())
}

// ---------------------------------------------------------------------------------------------
// The contract suite
// ---------------------------------------------------------------------------------------------

mod contract {
    session_core::store_test_suite!(super::fresh_store().await);
}

// ---------------------------------------------------------------------------------------------
// What the database holds
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_table_holds_the_digest_data_and_expiry_never_the_id() {
    let store = fresh_store().await;
    let (pool, table) = (store.pool().clone(), quoted(&store));
    let config = SessionConfig::default().with_expiry(Expiry::Idle(Duration::from_secs(3600)));
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

    let rows = sqlx::query(&format!(
        "SELECT id, data::text AS data, extract(epoch FROM created_at)::bigint AS created_at, \
         extract(epoch FROM expires_at)::bigint AS expires_at FROM {table}"
    ))
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
    let data: String = row.get("data");
    assert_eq!(
        data, r#"{"user": "{\"id\":7}"}"#,
        "each value is kept as JSON text"
    );
    let created_at: i64 = row.get("created_at");
    let expires_at: i64 = row.get("expires_at");
    assert!((before..=before + 2).contains(&created_at));
    assert_eq!(
        expires_at,
        created_at + 3600,
        "expires_at is created_at + idle"
    );

    let raw: i64 = sqlx::query(&format!(
        "SELECT count(*) FROM {table} WHERE id = $1 OR position($2 IN data::text) > 0"
    ))
    .bind(&id)
    .bind(&value[44..])
    .fetch_one(&pool)
    .await
    .unwrap()
    .get(0);
    assert_eq!(raw, 0, "the raw id is stored somewhere");
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
    let (a, b) = tokio::join!(store.migrate(), store.migrate());
    a.and(b).expect("concurrent migrates must succeed");
    assert_eq!(store.load(&id).await.unwrap(), Some(record));

    let index: Vec<String> = sqlx::query(
        "SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%expires_at%'",
    )
    .bind(store.table_name())
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|row| row.get(0))
    .collect();
    assert_eq!(index, [format!("{}_expires_at_idx", store.table_name())]);
}

#[tokio::test]
async fn delete_expired_returns_how_many_rows_it_removed() {
    let store = fresh_store().await;
    let now = now();
    let expired = Record::new(Map::new(), now - time::Duration::hours(2), now);
    for _ in 0..3 {
        assert!(store.create(&fresh_id(), &expired).await.unwrap());
    }
    assert!(
        store
            .create(&fresh_id(), &record(Map::new()))
            .await
            .unwrap()
    );
    assert_eq!(store.delete_expired().await.unwrap(), 3);
    assert_eq!(store.delete_expired().await.unwrap(), 0);
    let count: i64 = sqlx::query(&format!("SELECT count(*) FROM {}", quoted(&store)))
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
    let victim = format!("y_{}", random_hex(6));
    sqlx::query(&format!("CREATE TABLE {victim} (v int)"))
        .execute(store.pool())
        .await
        .unwrap();
    for bad in [
        "x; DROP TABLE y".to_owned(),
        format!("x; DROP TABLE {victim}"),
        format!("x\"; DROP TABLE {victim}; --"),
        format!("x'; DROP TABLE {victim}; --"),
        format!("public.{victim}; --"),
        "a.b.c".to_owned(),
        String::new(),
        "1abc".to_owned(),
        "ключ".to_owned(),
        "a".repeat(64),
    ] {
        let error = store
            .clone()
            .with_table_name(&bad)
            .expect_err("an invalid table name was accepted");
        let message = error.to_string();
        assert!(
            message.contains("is not valid") && message.contains("schema.table"),
            "{message}"
        );
    }
    let exists: bool = sqlx::query("SELECT to_regclass($1) IS NOT NULL")
        .bind(&victim)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert!(exists, "the victim table was dropped");

    // A schema-qualified, mixed-case, reserved-word name is used exactly as given.
    let schema = format!("s_{}", random_hex(6));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(store.pool())
        .await
        .unwrap();
    let custom = store
        .clone()
        .with_table_name(&format!("{schema}.Order"))
        .unwrap();
    custom.migrate().await.unwrap();
    let id = fresh_id();
    let record = record(object(json!({"a": 1})));
    assert!(custom.create(&id, &record).await.unwrap());
    assert_eq!(custom.load(&id).await.unwrap(), Some(record));
    assert_eq!(store.load(&id).await.unwrap(), None, "tables are separate");
    let count: i64 = sqlx::query(&format!(r#"SELECT count(*) FROM {schema}."Order""#))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}

// ---------------------------------------------------------------------------------------------
// Values
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
        "\\": "backslash key",
    }));
    changes.remove = vec![
        "$set".into(),
        "\0".into(),
        "\\0".into(),
        "k".repeat(10 * 1024),
        "absent".into(),
    ];
    assert!(store.apply(&id, &changes).await.unwrap());
    let mut expected = original.clone();
    expected.apply(&changes);
    assert!(expected.data.contains_key("back\\slash") && !expected.data.contains_key("\\0"));
    assert_exact(&store.load(&id).await.unwrap().unwrap(), &expected);

    // A clear that writes them back.
    changes.clear = true;
    changes.set = bad_input();
    changes.remove.clear();
    assert!(store.apply(&id, &changes).await.unwrap());
    expected.apply(&changes);
    assert_exact(&store.load(&id).await.unwrap().unwrap(), &expected);
}

/// What plain JSONB would lose, and why the store keeps each value as JSON text: if these ever
/// stop holding, the storage format could be simplified.
#[tokio::test]
async fn jsonb_alone_would_not_keep_every_value() {
    let pool = PgPool::connect(&url()).await.unwrap();
    let text = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_one(&pool)
                .await
                .map(|row| row.get::<String, _>(0))
        }
    };
    // Kept: trailing zeros, u64::MAX, i64::MIN.
    assert_eq!(text("SELECT '1.0'::jsonb::text").await.unwrap(), "1.0");
    assert_eq!(
        text("SELECT '[18446744073709551615,-9223372036854775808]'::jsonb::text")
            .await
            .unwrap(),
        "[18446744073709551615, -9223372036854775808]"
    );
    // Lost: the float 1e19 comes back as an integer (serde_json then reads a u64), -0.0 loses
    // its sign, and NUL cannot be stored at all.
    let float = serde_json::to_string(&json!(1e19)).unwrap();
    let back: String = sqlx::query("SELECT $1::jsonb::text")
        .bind(&float)
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(back, "10000000000000000000", "{float} came back as {back}");
    assert!(serde_json::from_str::<Value>(&back).unwrap().is_u64());
    assert_eq!(text("SELECT '-0.0'::jsonb::text").await.unwrap(), "0.0");
    assert!(text(r#"SELECT '"\u0000"'::jsonb::text"#).await.is_err());
    assert!(
        text(r#"SELECT '{"\u0000": 1}'::jsonb::text"#)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_damaged_row_is_treated_as_missing() {
    let store = fresh_store().await;
    for data in [r#"{"a": 1}"#, r#"{"a": "not json"}"#, r#"{"bad\\x": "1"}"#] {
        let id = fresh_id();
        sqlx::query(&format!(
            "INSERT INTO {} VALUES ($1, $2::jsonb, now(), now() + interval '1 hour')",
            quoted(&store)
        ))
        .bind(&id.as_bytes()[..])
        .bind(data)
        .execute(store.pool())
        .await
        .unwrap();
        assert_eq!(store.load(&id).await.unwrap(), None, "{data}");
    }
}

// ---------------------------------------------------------------------------------------------
// Statements per operation
// ---------------------------------------------------------------------------------------------

/// Calls per statement that mentions `table`, from pg_stat_statements.
async fn calls(pool: &PgPool, table: &str) -> HashMap<String, i64> {
    sqlx::query("SELECT query, calls FROM pg_stat_statements WHERE query LIKE '%' || $1 || '%'")
        .bind(table)
        .fetch_all(pool)
        .await
        .expect("cannot read pg_stat_statements")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// The statements whose call count changed between `before` and `after`, with the change.
fn executed(before: &HashMap<String, i64>, after: &HashMap<String, i64>) -> Vec<(String, i64)> {
    let mut changed: Vec<_> = after
        .iter()
        .map(|(query, n)| (query.clone(), n - before.get(query).copied().unwrap_or(0)))
        .filter(|(_, n)| *n != 0)
        .collect();
    changed.sort();
    changed
}

#[tokio::test]
async fn load_and_apply_are_one_statement_each() {
    let store = fresh_store().await;
    let pool = store.pool().clone();
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&pool)
        .await
        .expect(
            "cannot create the pg_stat_statements extension: the server needs \
             shared_preload_libraries = 'pg_stat_statements' and a superuser test user",
        );
    let table = store.table_name().to_owned();
    let id = fresh_id();
    assert!(
        store
            .create(&id, &record(object(json!({"a": 1, "b": 2}))))
            .await
            .unwrap()
    );

    let before = calls(&pool, &table).await;
    assert!(store.load(&id).await.unwrap().is_some());
    let after = calls(&pool, &table).await;
    let ran = executed(&before, &after);
    assert_eq!(ran.len(), 1, "load ran {ran:?}");
    assert_eq!(ran[0].1, 1, "load ran {ran:?}");
    assert!(ran[0].0.starts_with("SELECT"), "load ran {ran:?}");

    let mut changes = Changes::expiry_only(now() + time::Duration::hours(2));
    changes.set.insert("c".into(), json!(3));
    changes.remove.push("a".into());
    let before = after;
    assert!(store.apply(&id, &changes).await.unwrap());
    let after = calls(&pool, &table).await;
    let ran = executed(&before, &after);
    assert_eq!(ran.len(), 1, "apply ran {ran:?}");
    assert_eq!(ran[0].1, 1, "apply ran {ran:?}");
    assert!(ran[0].0.starts_with("UPDATE"), "apply ran {ran:?}");

    let data = store.load(&id).await.unwrap().unwrap().data;
    assert_eq!(Value::Object(data), json!({"b": 2, "c": 3}));
}

// ---------------------------------------------------------------------------------------------
// Connections, errors and faults
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn debug_and_errors_never_show_the_password() {
    let url = url();
    let password = password_of(&url);
    let store = fresh_store().await;
    let debug = format!("{store:?}");
    assert!(!debug.contains(&password), "{debug}");
    assert!(
        debug.contains("127.0.0.1") || debug.contains("localhost"),
        "{debug}"
    );
    assert!(debug.contains(store.table_name()), "{debug}");

    // A wrong password: the error names the user and host, not either password.
    let wrong = url.replacen(&format!(":{password}@"), ":Wrong-Pa55word@", 1);
    let error = PostgresStore::connect(&wrong)
        .await
        .expect_err("connected with a wrong password");
    let message = format!("{error} / {error:?}");
    assert!(
        !message.contains(&password) && !message.contains("Wrong-Pa55word"),
        "{message}"
    );
    assert!(
        message.contains('@') && message.contains("could not connect"),
        "{message}"
    );

    // Nothing listening: the error names the host and port.
    let error = PostgresStore::connect("postgres://app:Secret-Pa55@127.0.0.1:1/app")
        .await
        .expect_err("connected to port 1");
    let message = format!("{error} / {error:?}");
    assert!(message.contains("app@127.0.0.1:1/app"), "{message}");
    assert!(!message.contains("Secret-Pa55"), "{message}");

    // A failing statement names the operation and the table.
    let missing = store.clone().with_table_name("never_migrated").unwrap();
    let error = missing.load(&fresh_id()).await.unwrap_err();
    let message = common::chain(&error);
    assert!(
        message.contains("load") && message.contains("never_migrated"),
        "{message}"
    );
    assert!(!message.contains(&password), "{message}");
}

/// Runs the fault server's control script with `action` (`stop` or `start`).
fn control(action: &str) {
    let ctl = env("SESSION_TEST_POSTGRES_FAULT_CTL");
    let status = Command::new(&ctl)
        .arg(action)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {ctl} {action}: {e}"));
    assert!(status.success(), "{ctl} {action} failed: {status}");
}

/// Starts the fault server again when dropped, so a failing test does not leave it down.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // No assertion here: a second panic would abort the test binary.
            if let Ok(ctl) = std::env::var("SESSION_TEST_POSTGRES_FAULT_CTL") {
                let _ = Command::new(ctl).arg("start").status();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_fail_promptly_while_the_server_is_down_and_recover() {
    let url = env("SESSION_TEST_POSTGRES_FAULT_URL");
    let password = password_of(&url);
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(3))
        .connect(&url)
        .await
        .expect("cannot connect to SESSION_TEST_POSTGRES_FAULT_URL");
    let store = PostgresStore::new(pool)
        .with_table_name(&format!("sessions_{}", random_hex(8)))
        .unwrap();
    store.migrate().await.unwrap();
    let id = fresh_id();
    let record = record(object(json!({"a": 1})));
    assert!(store.create(&id, &record).await.unwrap());
    assert_eq!(store.load(&id).await.unwrap(), Some(record.clone()));

    let guard = RestartOnDrop;
    tokio::task::spawn_blocking(|| control("stop"))
        .await
        .unwrap();
    let mut changes = Changes::expiry_only(now() + time::Duration::hours(2));
    changes.set.insert("b".into(), json!(2));
    let limit = Duration::from_secs(20);
    let load = tokio::time::timeout(limit, store.load(&id))
        .await
        .expect("load hung while the server was down");
    let error = load.expect_err("load succeeded with the server down");
    let message = common::chain(&error);
    assert!(
        message.contains("load") && message.contains("sessions_"),
        "{message}"
    );
    assert!(!message.contains(&password), "{message}");
    let apply = tokio::time::timeout(limit, store.apply(&id, &changes))
        .await
        .expect("apply hung while the server was down");
    apply.expect_err("apply succeeded with the server down");

    tokio::task::spawn_blocking(|| control("start"))
        .await
        .unwrap();
    drop(guard);
    assert_eq!(
        store.load(&id).await.expect("load after the restart"),
        Some(record.clone())
    );
    assert!(
        store
            .apply(&id, &changes)
            .await
            .expect("apply after the restart")
    );
    let mut expected = record;
    expected.apply(&changes);
    assert_eq!(store.load(&id).await.unwrap(), Some(expected));
}

/// After a login cycles the id, the table holds the session and the old id's forwarding
/// pointer; the query the docs give (`FORWARDING_POINTER_KEY`) tells them apart.
#[tokio::test]
async fn forwarding_pointers_are_recognisable_in_the_table() {
    let store = fresh_store().await;
    let (pool, table) = (store.pool().clone(), quoted(&store));
    store_and_cycle_a_session(store).await;

    let all: i64 = sqlx::query(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(all, 2, "the session and the pointer");
    let sessions: Vec<Value> = sqlx::query(&format!(
        "SELECT data::text FROM {table} WHERE NOT data ? '__forwarding_pointer'"
    ))
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|row| serde_json::from_str(row.get::<&str, _>(0)).unwrap())
    .collect();
    // Each value is kept as the JSON text serde_json wrote (see `PostgresStore`).
    assert_eq!(sessions, [json!({"user": "\"ada\"", "role": "\"admin\""})]);
}
