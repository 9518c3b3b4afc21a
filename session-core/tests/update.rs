//! `Session::update` and `Session::incr` through the engine: when an update goes to the store at
//! once (a compare-and-set) and when it is saved with the request, what concurrent requests,
//! an id cycle and a destroy do to it, and its errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use session_core::{Error, KeyRing, Session, SessionConfig, SessionManager, SessionStore, Storage};

mod common;
use common::counting::CountingStore as Store;

struct App {
    manager: SessionManager,
    store: Arc<Store>,
}

impl App {
    fn new(config: SessionConfig) -> Self {
        let store = Arc::new(Store::default());
        let storage = Storage::from(store.clone() as Arc<dyn SessionStore>);
        Self::over(storage, config, store)
    }

    fn cookie_store() -> Self {
        Self::over(Storage::Cookie, SessionConfig::default(), Arc::default())
    }

    fn over(storage: Storage, config: SessionConfig, store: Arc<Store>) -> Self {
        let keys = KeyRing::from_secret(&[9; 32]).unwrap();
        let manager = SessionManager::new(storage, keys, config).unwrap();
        Self { manager, store }
    }

    fn session(&self, cookie: Option<&str>) -> Session {
        self.manager.session(cookie.map(str::as_bytes))
    }

    /// Finishes `session` with a 200 and returns the cookie pair it sets, if any.
    async fn finish(&self, session: &Session) -> Option<String> {
        let set = self.manager.finish(session, 200).await.unwrap()?;
        Some(set.as_str().split(';').next().unwrap().to_owned())
    }

    /// A stored session holding `user = "ada"`; its cookie pair.
    async fn stored(&self) -> String {
        let session = self.session(None);
        session.set("user", "ada").await.unwrap();
        self.finish(&session)
            .await
            .expect("a new session sets a cookie")
    }

    async fn entries(&self, cookie: &str) -> Value {
        let session = self.session(Some(cookie));
        Value::Object(session.entries().await.unwrap())
    }

    fn counts(&self) -> (usize, usize) {
        let count = |c: &AtomicUsize| c.load(Ordering::SeqCst);
        (count(&self.store.applies), count(&self.store.swaps))
    }
}

#[tokio::test]
async fn an_update_of_a_stored_key_is_one_compare_and_set_and_is_read_back() {
    let app = App::new(SessionConfig::default());
    let cookie = app.stored().await;
    let session = app.session(Some(&cookie));
    assert_eq!(session.incr("n", 1).await.unwrap(), 1);
    assert_eq!(session.incr("n", 41).await.unwrap(), 42);
    assert_eq!(
        session.get::<i64>("n").await.unwrap(),
        Some(42),
        "read your update"
    );
    assert_eq!(app.counts(), (0, 2), "(applies, compare-and-sets)");
    assert_eq!(
        app.finish(&session).await,
        None,
        "nothing left to write, no cookie"
    );
    assert_eq!(app.counts(), (0, 2), "the update is not written again");
    assert_eq!(app.entries(&cookie).await, json!({"user": "ada", "n": 42}));
}

#[tokio::test]
async fn an_update_the_store_cannot_see_yet_is_saved_with_the_request() {
    let app = App::new(SessionConfig::default());
    // A new session: stored at the end of the request, with its cookie.
    let session = app.session(None);
    assert_eq!(session.incr("n", 1).await.unwrap(), 1);
    let cookie = app
        .finish(&session)
        .await
        .expect("a new session sets a cookie");
    assert_eq!(app.counts(), (0, 0));
    assert_eq!(app.entries(&cookie).await, json!({"n": 1}));

    // A key this request set, or a session it cleared: the request's own change, updated.
    let session = app.session(Some(&cookie));
    session.set("n", &10).await.unwrap();
    assert_eq!(session.incr("n", 1).await.unwrap(), 11);
    session.set("m", &1).await.unwrap();
    app.finish(&session).await;
    assert_eq!(
        app.counts(),
        (1, 0),
        "one apply at the end, no compare-and-set"
    );
    assert_eq!(app.entries(&cookie).await, json!({"n": 11, "m": 1}));

    let session = app.session(Some(&cookie));
    session.clear().await.unwrap();
    assert_eq!(
        session.incr("n", 1).await.unwrap(),
        1,
        "cleared: counts from 0"
    );
    app.finish(&session).await;
    assert_eq!(app.counts(), (2, 0));
    assert_eq!(app.entries(&cookie).await, json!({"n": 1}));
}

#[tokio::test]
async fn the_cookie_store_updates_within_its_cookie() {
    let app = App::cookie_store();
    let session = app.session(None);
    assert_eq!(session.incr("n", 1).await.unwrap(), 1);
    let cookie = app
        .finish(&session)
        .await
        .expect("the cookie holds the session");
    let session = app.session(Some(&cookie));
    let list = session
        .update("list", |list: Option<Vec<i64>>| {
            let mut list = list.unwrap_or_default();
            list.push(7);
            list
        })
        .await
        .unwrap();
    assert_eq!(list, [7]);
    assert_eq!(session.incr("n", 1).await.unwrap(), 2);
    let cookie = app
        .finish(&session)
        .await
        .expect("a changed session sends its cookie");
    assert_eq!(app.entries(&cookie).await, json!({"n": 2, "list": [7]}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_incrementing_one_key_all_count() {
    let app = Arc::new(App::new(SessionConfig::default()));
    let cookie = app.stored().await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, cookie) = (app.clone(), cookie.clone());
            tokio::spawn(async move {
                let session = app.session(Some(&cookie));
                // Loaded first, as a handler reading the session would, so that every request
                // starts from a stale value.
                session.get::<i64>("n").await.unwrap();
                tokio::task::yield_now().await;
                let n = session.incr("n", 1).await.unwrap();
                assert_eq!(app.finish(&session).await, None);
                n
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=50).collect::<Vec<i64>>(),
        "each request saw its own count"
    );
    assert_eq!(app.entries(&cookie).await["n"], json!(50));
}

#[tokio::test]
async fn an_update_racing_an_id_cycle_follows_the_session_to_its_new_id() {
    let app = App::new(SessionConfig::default());
    let old = app.stored().await;
    let late = app.session(Some(&old));
    late.get::<String>("user").await.unwrap();
    let login = app.session(Some(&old));
    login.cycle_id().await.unwrap();
    let new = app
        .finish(&login)
        .await
        .expect("the cycle sends the new id");
    assert_eq!(late.incr("n", 1).await.unwrap(), 1);
    assert_eq!(
        app.finish(&late).await,
        None,
        "the late request sends no cookie"
    );
    assert_eq!(app.entries(&new).await, json!({"user": "ada", "n": 1}));
    assert!(
        app.session(Some(&old)).is_new().await.unwrap(),
        "the old id is dead"
    );
}

#[tokio::test]
async fn an_update_of_a_session_destroyed_meanwhile_is_session_gone_and_saves_nothing() {
    let app = App::new(SessionConfig::default());
    let cookie = app.stored().await;
    let late = app.session(Some(&cookie));
    late.get::<String>("user").await.unwrap();
    let logout = app.session(Some(&cookie));
    logout.destroy().await.unwrap();
    app.finish(&logout).await;
    let error = late.incr("n", 1).await.unwrap_err();
    assert!(
        matches!(error, Error::SessionGone { ref key } if key == "n"),
        "{error:?}"
    );
    assert!(error.to_string().contains("destroyed"), "{error}");
    app.finish(&late).await;
    assert_eq!(app.store.inner.len(), 0, "the destroyed session came back");
}

#[tokio::test]
async fn bad_updates_are_errors_that_change_nothing() {
    let config = SessionConfig::default().with_max_session_bytes(200);
    let app = App::new(config);
    let cookie = app.stored().await;
    let session = app.session(Some(&cookie));
    session.set("big", &i64::MAX).await.unwrap();
    session.set("text", "seven").await.unwrap();
    app.finish(&session).await;

    let session = app.session(Some(&cookie));
    let error = session.incr("text", 1).await.unwrap_err();
    assert!(
        matches!(error, Error::WrongType { ref key, .. } if key == "text"),
        "{error:?}"
    );
    let error = session.incr("big", 1).await.unwrap_err();
    assert!(
        matches!(error, Error::Overflow { ref key } if key == "big"),
        "{error:?}"
    );
    assert!(error.to_string().contains("overflow"), "{error}");
    let error = session
        .update("huge", |_: Option<String>| "x".repeat(500))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::SessionTooLarge { .. }), "{error:?}");
    assert_eq!(session.get::<String>("huge").await.unwrap(), None);
    app.finish(&session).await;
    assert_eq!(app.counts().1, 0, "nothing bad reached the store");
    assert_eq!(
        app.entries(&cookie).await,
        json!({"user": "ada", "big": i64::MAX, "text": "seven"})
    );

    let finished = app.session(Some(&cookie));
    finished.get::<String>("user").await.unwrap();
    app.finish(&finished).await;
    let error = finished.incr("n", 1).await.unwrap_err();
    assert!(matches!(error, Error::Finished), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn a_key_that_never_stops_changing_is_an_update_conflict() {
    let app = App::new(SessionConfig::default());
    let cookie = app.stored().await;
    app.store.conflicting.store(true, Ordering::SeqCst);
    let session = app.session(Some(&cookie));
    let runs = AtomicUsize::new(0);
    let error = session
        .update("n", |_: Option<Value>| {
            runs.fetch_add(1, Ordering::SeqCst);
            json!(1)
        })
        .await
        .unwrap_err();
    let Error::UpdateConflict { ref key, attempts } = error else {
        panic!("{error:?}");
    };
    assert_eq!(key, "n");
    assert!(attempts > 10, "gave up after {attempts} attempts");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        attempts as usize,
        "f ran once per attempt"
    );
    // What the store last reported is what the request reads.
    assert_eq!(
        session.get::<String>("n").await.unwrap(),
        Some(format!("changed {}", attempts - 1))
    );
}

#[tokio::test]
async fn of_two_requests_taking_one_value_at_once_one_gets_it() {
    let app = App::new(SessionConfig::default());
    let cookie = app.stored().await;
    let session = app.session(Some(&cookie));
    session.set("flash", "hello").await.unwrap();
    app.finish(&session).await;
    let (a, b) = (app.session(Some(&cookie)), app.session(Some(&cookie)));
    // Both load the session, and so the value, before either takes it.
    assert!(a.has("flash").await.unwrap() && b.has("flash").await.unwrap());
    assert_eq!(
        a.take::<String>("flash").await.unwrap().as_deref(),
        Some("hello")
    );
    assert_eq!(b.take::<String>("flash").await.unwrap(), None, "taken once");
    assert!(
        !b.has("flash").await.unwrap(),
        "b reads what the store holds now"
    );
    // The removal is in the store at once, and stays even if the response fails.
    app.manager.finish(&a, 500).await.unwrap();
    app.finish(&b).await;
    assert_eq!(app.entries(&cookie).await, json!({"user": "ada"}));
}
