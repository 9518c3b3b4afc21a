//! The request lifecycle through `SessionManager`, observed the way an adapter sees it: the
//! `Cookie` header in, the `Set-Cookie` header out, and the calls that reach the store (counted
//! by an instrumented store).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration as StdDuration;

use base64::Engine as _;
use serde_json::json;
use session_core::{
    CookieLifetime, Error, Expiry, IdDigest, KeyRing, SessionConfig, SessionManager, SessionStore,
    SetCookie, Storage,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

mod common;
use common::counting::CountingStore;

/// A test app: a manager over a counting store, with a clock the test moves forward.
struct App {
    manager: SessionManager,
    store: Arc<CountingStore>,
    offset: Arc<AtomicI64>,
}

impl App {
    fn new(config: SessionConfig) -> Self {
        Self::with_keys(config, KeyRing::from_secret(&[7; 32]).unwrap())
    }

    fn with_keys(config: SessionConfig, keys: KeyRing) -> Self {
        let store = Arc::new(CountingStore::default());
        let dyn_store: Arc<dyn SessionStore> = store.clone();
        Self::over(Storage::from(dyn_store), keys, config, store)
    }

    fn cookie_store(config: SessionConfig) -> Self {
        let keys = KeyRing::from_secret(&[7; 32]).unwrap();
        Self::over(Storage::Cookie, keys, config, Arc::default())
    }

    fn over(
        storage: Storage,
        keys: KeyRing,
        config: SessionConfig,
        store: Arc<CountingStore>,
    ) -> Self {
        let offset = Arc::new(AtomicI64::new(0));
        let clock = offset.clone();
        let manager = SessionManager::new(storage, keys, config)
            .unwrap()
            .with_clock(move || {
                OffsetDateTime::now_utc() + Duration::seconds(clock.load(Ordering::SeqCst))
            });
        Self {
            manager,
            store,
            offset,
        }
    }

    fn advance(&self, by: Duration) {
        self.offset.fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }

    /// Runs one request carrying `cookie` (a `name=value` pair) through `handler`.
    async fn request<F, Fut>(
        &self,
        cookie: Option<&str>,
        status: u16,
        handler: F,
    ) -> Option<SetCookie>
    where
        F: FnOnce(session_core::Session) -> Fut,
        Fut: Future<Output = ()>,
    {
        let session = self.manager.session(cookie.map(str::as_bytes));
        handler(session.clone()).await;
        self.manager.finish(&session, status).await.unwrap()
    }

    /// Whether a request carrying `cookie` gets a new session (the cookie leads nowhere).
    async fn is_new(&self, cookie: &str) -> bool {
        let session = self.manager.session([cookie.as_bytes()]);
        session.is_new().await.unwrap()
    }

    /// Starts a session holding `user = "ada"` and returns its cookie pair.
    async fn login(&self) -> String {
        let set = self
            .request(
                None,
                200,
                |s| async move { s.set("user", "ada").await.unwrap() },
            )
            .await
            .expect("a new session sets a cookie");
        pair(&set)
    }
}

/// The `name=value` part of a `Set-Cookie` value: what the browser sends back.
fn pair(set_cookie: &SetCookie) -> String {
    set_cookie.as_str().split(';').next().unwrap().to_owned()
}

fn attribute<'a>(set_cookie: &'a SetCookie, name: &str) -> Option<&'a str> {
    set_cookie
        .as_str()
        .split(';')
        .skip(1)
        .map(str::trim)
        .find_map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            key.eq_ignore_ascii_case(name).then_some(value)
        })
}

const NO_CALLS: [usize; 5] = [0; 5];
const ONE_LOAD: [usize; 5] = [0, 1, 0, 0, 0];

#[tokio::test]
async fn untouched_request_costs_no_store_call_and_sets_no_cookie() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.store.reset();
    assert_eq!(app.request(Some(&cookie), 200, |_| async {}).await, None);
    assert_eq!(app.request(None, 200, |_| async {}).await, None);
    assert_eq!(app.store.calls(), NO_CALLS);
}

#[tokio::test]
async fn untouched_request_works_while_the_store_is_down() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.store.failing.store(true, Ordering::SeqCst);
    assert_eq!(app.request(Some(&cookie), 200, |_| async {}).await, None);
}

#[tokio::test]
async fn read_only_request_is_one_load_and_no_cookie() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.store.reset();
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            assert_eq!(
                s.get::<String>("user").await.unwrap().as_deref(),
                Some("ada")
            );
            assert!(s.has("user").await.unwrap());
        })
        .await;
    assert_eq!(set, None);
    assert_eq!(app.store.calls(), ONE_LOAD);
}

#[tokio::test]
async fn writing_request_is_one_load_and_one_apply_and_sends_no_cookie() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.store.reset();
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            s.set("n", &1).await.unwrap()
        })
        .await;
    assert_eq!(
        set, None,
        "within the touch interval a write re-sends no cookie"
    );
    assert_eq!(app.store.calls(), [0, 1, 1, 0, 0]);
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(
            s.get::<u32>("n").await.unwrap(),
            Some(1),
            "the write landed"
        );
    })
    .await;
}

#[tokio::test]
async fn a_write_refreshes_the_cookie_and_the_expiry_once_per_touch_interval() {
    let app = App::new(SessionConfig::default().with_touch_interval(StdDuration::from_secs(60)));
    let cookie = app.login().await;
    let expiry = |s: session_core::Session| async move { s.expires_at().await.unwrap() };
    let created = app.manager.session([cookie.as_bytes()]);
    let first = expiry(created).await;

    app.advance(Duration::seconds(30));
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            s.set("a", &1).await.unwrap()
        })
        .await;
    assert_eq!(set, None, "30 s after the last refresh: no cookie");
    let session = app.manager.session([cookie.as_bytes()]);
    assert_eq!(
        expiry(session).await,
        first,
        "the stored expiry moves with the cookie, not on every write"
    );

    app.advance(Duration::seconds(31));
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            s.set("b", &2).await.unwrap()
        })
        .await
        .expect("61 s after the last refresh a write re-sends the cookie");
    assert_eq!(pair(&set), cookie, "a plain write keeps the id");
    assert_eq!(attribute(&set, "Max-Age"), Some("86400"));
    let session = app.manager.session([cookie.as_bytes()]);
    assert_eq!(expiry(session).await, first + Duration::seconds(61));
}

#[tokio::test]
async fn reading_a_fresh_session_creates_nothing() {
    let app = App::new(SessionConfig::default());
    let set = app
        .request(None, 200, |s| async move {
            assert_eq!(s.get::<u32>("n").await.unwrap(), None);
            assert!(s.is_new().await.unwrap());
        })
        .await;
    assert_eq!(set, None);
    assert_eq!(
        app.store.calls(),
        NO_CALLS,
        "no cookie came, so nothing was loaded"
    );
}

#[tokio::test]
async fn new_session_cookie_has_secure_defaults() {
    let app = App::new(SessionConfig::default());
    let set = app
        .request(None, 200, |s| async move { s.set("k", "v").await.unwrap() })
        .await
        .unwrap();
    assert!(set.as_str().starts_with("__Host-session="), "{set:?}");
    assert_eq!(attribute(&set, "HttpOnly"), Some(""));
    assert_eq!(attribute(&set, "Secure"), Some(""));
    assert_eq!(attribute(&set, "SameSite"), Some("Lax"));
    assert_eq!(attribute(&set, "Path"), Some("/"));
    assert_eq!(attribute(&set, "Max-Age"), Some("86400"));
    assert_eq!(attribute(&set, "Domain"), None);
    assert_eq!(
        app.store.calls(),
        [1, 0, 0, 0, 0],
        "one create, nothing else"
    );
}

#[tokio::test]
async fn configured_attributes_and_host_prefix_reach_the_cookie() {
    let config = SessionConfig::default()
        .with_cookie_name("sid")
        .with_host_prefix(true)
        .with_same_site(session_core::SameSite::Strict)
        .with_cookie_lifetime(CookieLifetime::BrowserSession);
    let app = App::new(config);
    let set = app
        .request(None, 200, |s| async move { s.set("k", "v").await.unwrap() })
        .await
        .unwrap();
    assert!(set.as_str().starts_with("__Host-sid="));
    assert_eq!(attribute(&set, "SameSite"), Some("Strict"));
    assert_eq!(
        attribute(&set, "Max-Age"),
        None,
        "a browser-session cookie has no Max-Age"
    );
    assert_eq!(attribute(&set, "Expires"), None);

    let with_domain = App::new(
        SessionConfig::default()
            .with_domain("example.com")
            .with_path("/app"),
    );
    let set = with_domain
        .request(None, 200, |s| async move { s.set("k", "v").await.unwrap() })
        .await
        .unwrap();
    assert_eq!(attribute(&set, "Domain"), Some("example.com"));
    assert_eq!(attribute(&set, "Path"), Some("/app"));
}

#[tokio::test]
async fn the_store_sees_only_the_digest_of_the_id() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    // The signed value is a 44-character HMAC followed by the 43-character id.
    let value = cookie.split_once('=').unwrap().1;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&value[44..])
        .unwrap();
    assert_eq!(id.len(), 32, "ids are 256 bits");
    let expected = IdDigest::from_bytes(Sha256::digest(&id).into());
    assert_eq!(*app.store.digests.lock().unwrap(), [expected]);
}

#[tokio::test]
async fn values_persist_across_requests_with_read_your_writes() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.request(Some(&cookie), 200, |s| async move {
        s.set("cart", &vec!["apple", "pear"]).await.unwrap();
        assert_eq!(
            s.get::<Vec<String>>("cart").await.unwrap().unwrap(),
            ["apple", "pear"]
        );
        assert!(s.delete("user").await.unwrap());
        assert!(!s.delete("user").await.unwrap());
        assert!(!s.has("user").await.unwrap());
    })
    .await;
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(
            s.entries().await.unwrap(),
            *json!({"cart": ["apple", "pear"]}).as_object().unwrap()
        );
        assert_eq!(s.keys().await.unwrap(), ["cart"]);
    })
    .await;
}

#[tokio::test]
async fn clear_removes_every_key_but_keeps_the_session() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.request(Some(&cookie), 200, |s| async move {
        s.clear().await.unwrap();
        s.set("after", &true).await.unwrap();
    })
    .await;
    app.request(Some(&cookie), 200, |s| async move {
        assert!(!s.is_new().await.unwrap());
        assert_eq!(
            s.entries().await.unwrap(),
            *json!({"after": true}).as_object().unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn an_unknown_but_validly_signed_id_is_never_adopted() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.store.inner.delete_expired().await.unwrap();
    // Forget the session server-side, then come back with its (validly signed) cookie.
    let digest = app.store.digests.lock().unwrap()[0];
    app.store.inner.delete(&digest).await.unwrap();
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            assert!(s.is_new().await.unwrap());
            assert_eq!(s.get::<String>("user").await.unwrap(), None);
            s.set("k", "v").await.unwrap();
        })
        .await
        .unwrap();
    assert_ne!(pair(&set), cookie, "the client's id was adopted");
}

#[tokio::test]
async fn an_idle_session_expires_even_if_the_store_still_has_it() {
    let app =
        App::new(SessionConfig::default().with_expiry(Expiry::Idle(StdDuration::from_secs(600))));
    let cookie = app.login().await;
    app.advance(Duration::seconds(599));
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("ada")
        );
    })
    .await;
    // The read above pushed the idle deadline back (touch interval 60 s).
    app.advance(Duration::seconds(599));
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("ada"),
            "touch kept it alive"
        );
    })
    .await;
    app.advance(Duration::seconds(601));
    // The memory store uses the real clock and still holds the record; the engine refuses it.
    assert!(
        app.is_new(&cookie).await,
        "an idle-expired session was served"
    );
}

#[tokio::test]
async fn the_absolute_lifetime_ends_an_active_session() {
    let expiry = Expiry::IdleAndAbsolute {
        idle: StdDuration::from_secs(600),
        absolute: StdDuration::from_secs(3600),
    };
    let app = App::new(SessionConfig::default().with_expiry(expiry));
    let cookie = app.login().await;
    for _ in 0..11 {
        app.advance(Duration::seconds(300));
        app.request(Some(&cookie), 200, |s| async move {
            assert!(
                !s.is_new().await.unwrap(),
                "an active session expired early"
            );
            s.set("seen", &true).await.unwrap();
        })
        .await;
    }
    app.advance(Duration::seconds(300)); // 3600 s after creation
    assert!(
        app.is_new(&cookie).await,
        "the absolute lifetime was not enforced"
    );
}

#[tokio::test]
async fn expiry_accessors_report_the_deadlines() {
    let expiry = Expiry::IdleAndAbsolute {
        idle: StdDuration::from_secs(600),
        absolute: StdDuration::from_secs(900),
    };
    let app = App::new(SessionConfig::default().with_expiry(expiry));
    let cookie = app.login().await;
    app.advance(Duration::seconds(400));
    app.request(Some(&cookie), 200, |s| async move {
        let created = s.created_at().await.unwrap();
        assert_eq!(
            s.expires_at().await.unwrap() - created,
            Duration::seconds(600)
        );
        s.set("k", &1).await.unwrap();
    })
    .await;
    app.request(Some(&cookie), 200, |s| async move {
        let created = s.created_at().await.unwrap();
        // min(now + idle, created + absolute) = created + 900
        assert_eq!(
            s.expires_at().await.unwrap() - created,
            Duration::seconds(900)
        );
    })
    .await;
}

#[tokio::test]
async fn reads_touch_the_store_at_most_once_per_interval() {
    let config = SessionConfig::default().with_touch_interval(StdDuration::from_secs(60));
    let app = App::new(config);
    let cookie = app.login().await;
    app.store.reset();
    let read = |s: session_core::Session| async move {
        s.get::<String>("user").await.unwrap();
    };
    app.advance(Duration::seconds(30));
    assert_eq!(app.request(Some(&cookie), 200, read).await, None);
    assert_eq!(app.store.calls(), ONE_LOAD, "no touch within the interval");

    app.advance(Duration::seconds(31));
    let set = app
        .request(Some(&cookie), 200, read)
        .await
        .expect("a touch refreshes the cookie");
    assert_eq!(attribute(&set, "Max-Age"), Some("86400"));
    assert_eq!(app.store.calls(), [0, 2, 0, 1, 0]);

    // 58, not 59: expiries are stored in whole seconds, so the touch's time is known only to
    // the second, and 59 s on the test clock was sometimes 60 s by the stored one (flaky).
    app.advance(Duration::seconds(58));
    assert_eq!(app.request(Some(&cookie), 200, read).await, None);
    assert_eq!(
        app.store.calls(),
        [0, 3, 0, 1, 0],
        "the touch restarted the interval"
    );
}

#[tokio::test]
async fn a_browser_session_cookie_is_not_resent_on_touch_or_write() {
    let app =
        App::new(SessionConfig::default().with_cookie_lifetime(CookieLifetime::BrowserSession));
    let cookie = app.login().await;
    app.advance(Duration::seconds(120));
    let read = app
        .request(Some(&cookie), 200, |s| async move {
            s.get::<String>("user").await.unwrap();
        })
        .await;
    assert_eq!(read, None);
    assert_eq!(
        app.store.touches.load(Ordering::SeqCst),
        1,
        "the store expiry still moves"
    );
    let write = app
        .request(Some(&cookie), 200, |s| async move {
            s.set("k", &1).await.unwrap()
        })
        .await;
    assert_eq!(write, None);
}

#[tokio::test]
async fn a_server_error_persists_nothing_by_default() {
    let app = App::new(SessionConfig::default());
    let set = app
        .request(None, 500, |s| async move { s.set("k", "v").await.unwrap() })
        .await;
    assert_eq!(set, None);
    assert_eq!(app.store.calls(), NO_CALLS);

    let cookie = app.login().await;
    app.request(Some(&cookie), 503, |s| async move {
        s.set("user", "mallory").await.unwrap()
    })
    .await;
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("ada")
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_error_persists_when_configured() {
    let app = App::new(SessionConfig::default().with_persist_on_server_error(true));
    let set = app
        .request(None, 500, |s| async move { s.set("k", "v").await.unwrap() })
        .await;
    assert!(set.is_some());
    assert_eq!(app.store.creates.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn destroy_deletes_the_record_and_sends_a_removal_cookie() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    let set = app
        .request(
            Some(&cookie),
            200,
            |s| async move { s.destroy().await.unwrap() },
        )
        .await
        .expect("destroy sends a cookie");
    assert!(set.is_removal());
    assert_eq!(attribute(&set, "Max-Age"), Some("0"));
    assert!(set.as_str().starts_with("__Host-session=;"));
    assert_eq!(app.store.deletes.load(Ordering::SeqCst), 1);
    assert_eq!(
        app.store.inner.len(),
        0,
        "the record is gone from the store"
    );
    assert!(app.is_new(&cookie).await, "a destroyed session came back");
}

#[tokio::test]
async fn values_set_after_destroy_start_a_new_session() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            s.destroy().await.unwrap();
            assert_eq!(s.get::<String>("user").await.unwrap(), None);
            s.set("fresh", &1).await.unwrap();
        })
        .await
        .unwrap();
    assert!(!set.is_removal());
    assert_ne!(pair(&set), cookie);
    app.request(Some(&pair(&set)), 200, |s| async move {
        assert_eq!(
            s.entries().await.unwrap(),
            *json!({"fresh": 1}).as_object().unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn cycle_id_keeps_the_data_under_a_new_id_and_the_old_one_stops_working() {
    let app = App::new(SessionConfig::default());
    let old = app.login().await;
    let set = app
        .request(Some(&old), 200, |s| async move {
            s.set("role", "admin").await.unwrap();
            s.cycle_id().await.unwrap();
        })
        .await
        .unwrap();
    let new = pair(&set);
    assert_ne!(new, old);
    app.request(Some(&new), 200, |s| async move {
        assert_eq!(
            s.entries().await.unwrap(),
            *json!({"user": "ada", "role": "admin"}).as_object().unwrap()
        );
    })
    .await;
    let stale = app
        .request(Some(&old), 200, |s| async move {
            assert!(s.is_new().await.unwrap(), "the old id still works");
        })
        .await;
    assert_eq!(stale, None);
    // The new record, and the old id's forwarding pointer: the second record created, marked
    // as a pointer, holding only the new digest, and gone within a minute.
    assert_eq!(app.store.inner.len(), 2, "the new record and the pointer");
    let digests = app.store.digests.lock().unwrap().clone();
    let pointer = app.store.inner.load(&digests[1]).await.unwrap().unwrap();
    assert_eq!(
        serde_json::Value::Object(pointer.data),
        json!({session_core::FORWARDING_POINTER_KEY: true, "to": digests[2].to_hex()})
    );
    assert!(pointer.expires_at <= OffsetDateTime::now_utc() + Duration::seconds(61));
    assert_eq!(app.store.inner.load(&digests[0]).await.unwrap(), None);
}

#[tokio::test]
async fn cycle_id_applies_deletes_made_in_the_same_request() {
    let app = App::new(SessionConfig::default());
    let old = app.login().await;
    app.request(Some(&old), 200, |s| async move {
        s.set("cart", &[1, 2]).await.unwrap()
    })
    .await;
    let set = app
        .request(Some(&old), 200, |s| async move {
            assert!(s.delete("cart").await.unwrap());
            s.cycle_id().await.unwrap();
        })
        .await
        .unwrap();
    app.request(Some(&pair(&set)), 200, |s| async move {
        assert_eq!(
            s.entries().await.unwrap(),
            *json!({"user": "ada"}).as_object().unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn cycle_id_keeps_keys_written_concurrently_before_it() {
    let app = App::new(SessionConfig::default());
    let old = app.login().await;
    // Request A loads the session and will cycle it...
    let a = app.manager.session([old.as_bytes()]);
    assert_eq!(
        a.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    // ...while request B changes `user` and adds `theme`, and finishes first.
    app.request(Some(&old), 200, |s| async move {
        s.set("user", "grace").await.unwrap();
        s.set("theme", "dark").await.unwrap();
    })
    .await;
    a.cycle_id().await.unwrap();
    let set = app.manager.finish(&a, 200).await.unwrap().unwrap();
    app.request(Some(&pair(&set)), 200, |s| async move {
        let expected = json!({"user": "grace", "theme": "dark"});
        assert_eq!(
            s.entries().await.unwrap(),
            *expected.as_object().unwrap(),
            "B's writes were lost"
        );
    })
    .await;
}

/// Request A loads the session behind `cookie`; request B runs `b` on it and finishes first;
/// then A writes a key and finishes. Returns what A's response would set.
async fn write_after_concurrent_request<F, Fut>(app: &App, cookie: &str, b: F) -> Option<SetCookie>
where
    F: FnOnce(session_core::Session) -> Fut,
    Fut: Future<Output = ()>,
{
    let a = app.manager.session([cookie.as_bytes()]);
    assert!(!a.is_new().await.unwrap());
    app.request(Some(cookie), 200, b).await;
    a.set("late", &1).await.unwrap();
    app.manager.finish(&a, 200).await.unwrap()
}

#[tokio::test]
async fn a_destroyed_session_is_not_resurrected_by_a_concurrent_request() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    let destroy = |s: session_core::Session| async move { s.destroy().await.unwrap() };
    assert_eq!(
        write_after_concurrent_request(&app, &cookie, destroy).await,
        None
    );
    assert_eq!(
        app.store.inner.len(),
        0,
        "the destroyed session was written back"
    );
}

#[tokio::test]
async fn a_cycled_session_is_not_resurrected_by_a_concurrent_request() {
    let app = App::new(SessionConfig::default());
    let old = app.login().await;
    let old_digest = app.store.digests.lock().unwrap()[0];
    let cycle = |s: session_core::Session| async move { s.cycle_id().await.unwrap() };
    assert_eq!(
        write_after_concurrent_request(&app, &old, cycle).await,
        None,
        "the late write must not send the old id back to the browser"
    );
    assert_eq!(
        app.store.inner.load(&old_digest).await.unwrap(),
        None,
        "the old id was written back"
    );
    assert!(app.is_new(&old).await, "the old cookie still works");
    // The late write followed the cycle to the new id (the third record created).
    let new_digest = app.store.digests.lock().unwrap()[2];
    let moved = app.store.inner.load(&new_digest).await.unwrap().unwrap();
    assert_eq!(
        serde_json::Value::Object(moved.data),
        json!({"user": "ada", "late": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_writing_different_keys_keep_every_write() {
    let app = Arc::new(App::new(SessionConfig::default()));
    let cookie = app.login().await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (app, cookie) = (app.clone(), cookie.clone());
            tokio::spawn(async move {
                app.request(Some(&cookie), 200, |s| async move {
                    s.set(&format!("key{i}"), &i).await.unwrap();
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    app.request(Some(&cookie), 200, |s| async move {
        let entries = s.entries().await.unwrap();
        for i in 0..50 {
            assert_eq!(
                entries.get(&format!("key{i}")),
                Some(&json!(i)),
                "key{i} was lost"
            );
        }
        assert_eq!(entries.get("user"), Some(&json!("ada")));
    })
    .await;
}

#[tokio::test]
async fn a_rotated_key_still_reads_old_cookies_and_reissues_them() {
    let old_secret = [1u8; 32];
    let new_secret = [2u8; 32];
    let shared = Arc::new(CountingStore::default());
    let make = |keys: KeyRing| {
        let store: Arc<dyn SessionStore> = shared.clone();
        SessionManager::new(store, keys, SessionConfig::default()).unwrap()
    };
    let before = make(KeyRing::from_secret(&old_secret).unwrap());
    let session = before.session(std::iter::empty::<&[u8]>());
    session.set("user", "ada").await.unwrap();
    let old_cookie = pair(&before.finish(&session, 200).await.unwrap().unwrap());

    let rotated = make(
        KeyRing::from_secret(&new_secret)
            .unwrap()
            .with_previous(&old_secret)
            .unwrap(),
    );
    let session = rotated.session([old_cookie.as_bytes()]);
    assert_eq!(
        session.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    let reissued = rotated
        .finish(&session, 200)
        .await
        .unwrap()
        .expect("an old-key cookie is re-issued");
    let new_cookie = pair(&reissued);
    assert_ne!(new_cookie, old_cookie);

    // The re-issued cookie works without the old key; the old cookie does not.
    let after = make(KeyRing::from_secret(&new_secret).unwrap());
    let session = after.session([new_cookie.as_bytes()]);
    assert_eq!(
        session.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    let session = after.session([old_cookie.as_bytes()]);
    assert!(session.is_new().await.unwrap());
}

#[tokio::test]
async fn store_failures_are_errors_and_never_leak_into_display() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.store.failing.store(true, Ordering::SeqCst);
    let session = app.manager.session([cookie.as_bytes()]);
    let err = session.get::<String>("user").await.unwrap_err();
    assert!(matches!(err, Error::Store(_)));
    assert_eq!(err.to_string(), "the session store failed");

    // A failure while saving is reported to the adapter.
    app.store.failing.store(false, Ordering::SeqCst);
    let session = app.manager.session([cookie.as_bytes()]);
    session.set("k", &1).await.unwrap();
    app.store.failing.store(true, Ordering::SeqCst);
    assert!(matches!(
        app.manager.finish(&session, 200).await,
        Err(Error::Store(_))
    ));
}

#[tokio::test]
async fn debug_output_never_shows_tokens_or_secrets() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    // Past the touch interval, so the write re-sends the same id's cookie.
    app.advance(Duration::seconds(120));
    let session = app.manager.session([cookie.as_bytes()]);
    session.set("k", &1).await.unwrap();
    let set = app.manager.finish(&session, 200).await.unwrap().unwrap();
    assert_eq!(pair(&set), cookie);
    let value = cookie.split_once('=').unwrap().1;
    for shown in [
        format!("{session:?}"),
        format!("{:?}", app.manager),
        format!("{set:?}"),
    ] {
        assert!(!shown.contains(value), "{shown}");
        assert!(!shown.contains(&value[44..]), "{shown}");
    }
}

#[tokio::test]
async fn a_colliding_id_is_retried_with_a_fresh_one() {
    let app = App::new(SessionConfig::default());
    app.store.collisions.store(3, Ordering::SeqCst);
    let cookie = app.login().await;
    assert_eq!(
        app.store.creates.load(Ordering::SeqCst),
        4,
        "three refusals, then success"
    );
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(
            s.get::<String>("user").await.unwrap().as_deref(),
            Some("ada")
        );
    })
    .await;
}

#[tokio::test]
async fn a_store_that_never_creates_is_an_error_not_a_loop() {
    let app = App::new(SessionConfig::default());
    app.store.collisions.store(usize::MAX, Ordering::SeqCst);
    let session = app.manager.session(std::iter::empty::<&[u8]>());
    session.set("k", &1).await.unwrap();
    let err = app.manager.finish(&session, 200).await.unwrap_err();
    assert!(matches!(err, Error::IdCollision { attempts: 8 }), "{err}");
}

#[tokio::test]
async fn finishing_twice_saves_once() {
    let app = App::new(SessionConfig::default());
    let session = app.manager.session(std::iter::empty::<&[u8]>());
    session.set("k", &1).await.unwrap();
    assert!(app.manager.finish(&session, 200).await.unwrap().is_some());
    assert_eq!(app.manager.finish(&session, 200).await.unwrap(), None);
    assert_eq!(app.store.inner.len(), 1, "a second session was created");
}

#[tokio::test]
async fn a_change_after_finish_is_refused_not_lost_silently() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    let session = app.manager.session([cookie.as_bytes()]);
    let late = session.clone();
    assert_eq!(
        session.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    app.manager.finish(&session, 200).await.unwrap();
    assert!(matches!(late.set("k", &1).await, Err(Error::Finished)));
    assert!(matches!(late.delete("user").await, Err(Error::Finished)));
    assert!(matches!(late.destroy().await, Err(Error::Finished)));
    // Reads still work.
    assert_eq!(
        late.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );

    // The same for a session nobody touched before the request finished.
    let untouched = app.manager.session([cookie.as_bytes()]);
    app.manager.finish(&untouched, 200).await.unwrap();
    assert!(matches!(untouched.set("k", &1).await, Err(Error::Finished)));
}

mod cookie_store {
    use super::*;

    #[tokio::test]
    async fn the_whole_session_round_trips_in_the_cookie() {
        let app = App::cookie_store(SessionConfig::default());
        let set = app
            .request(None, 200, |s| async move {
                s.set("user", &json!({"id": 7, "name": "Ada"}))
                    .await
                    .unwrap();
            })
            .await
            .unwrap();
        assert!(!set.as_str().contains("Ada"), "the cookie is encrypted");
        assert_eq!(attribute(&set, "Max-Age"), Some("86400"));
        let cookie = pair(&set);
        let untouched = app.request(Some(&cookie), 200, |_| async {}).await;
        assert_eq!(untouched, None);
        let read = app
            .request(Some(&cookie), 200, |s| async move {
                assert_eq!(
                    s.get::<serde_json::Value>("user").await.unwrap(),
                    Some(json!({"id": 7, "name": "Ada"}))
                );
            })
            .await;
        assert_eq!(
            read, None,
            "a read within the touch interval re-sends nothing"
        );
    }

    #[tokio::test]
    async fn a_replayed_expired_cookie_is_refused() {
        let app = App::cookie_store(
            SessionConfig::default().with_expiry(Expiry::Idle(StdDuration::from_secs(600))),
        );
        let set = app
            .request(None, 200, |s| async move { s.set("k", &1).await.unwrap() })
            .await
            .unwrap();
        app.advance(Duration::seconds(601));
        assert!(
            app.is_new(&pair(&set)).await,
            "an expired cookie was accepted"
        );
    }

    #[tokio::test]
    async fn reads_extend_the_cookie_once_per_interval() {
        let app = App::cookie_store(SessionConfig::default());
        let cookie = pair(
            &app.request(None, 200, |s| async move { s.set("k", &1).await.unwrap() })
                .await
                .unwrap(),
        );
        app.advance(Duration::seconds(120));
        let touched = app
            .request(Some(&cookie), 200, |s| async move {
                s.get::<u32>("k").await.unwrap();
            })
            .await
            .expect("the expiry moved, so the cookie is re-sent");
        assert_ne!(pair(&touched), cookie);
    }

    #[tokio::test]
    async fn destroy_and_emptying_send_a_removal_cookie() {
        let app = App::cookie_store(SessionConfig::default());
        let cookie = pair(
            &app.request(None, 200, |s| async move { s.set("k", &1).await.unwrap() })
                .await
                .unwrap(),
        );
        let destroyed = app
            .request(
                Some(&cookie),
                200,
                |s| async move { s.destroy().await.unwrap() },
            )
            .await
            .unwrap();
        assert!(destroyed.is_removal());
        let emptied = app
            .request(Some(&cookie), 200, |s| async move {
                s.delete("k").await.unwrap();
            })
            .await
            .unwrap();
        assert!(emptied.is_removal());
    }

    #[tokio::test]
    async fn a_rotated_key_reads_old_cookies_and_reissues_them() {
        let old = KeyRing::from_secret(&[1; 32]).unwrap();
        let before = SessionManager::new(Storage::Cookie, old, SessionConfig::default()).unwrap();
        let session = before.session(std::iter::empty::<&[u8]>());
        session.set("k", "v").await.unwrap();
        let cookie = pair(&before.finish(&session, 200).await.unwrap().unwrap());

        let ring = KeyRing::from_secret(&[2; 32])
            .unwrap()
            .with_previous(&[1; 32])
            .unwrap();
        let after = SessionManager::new(Storage::Cookie, ring, SessionConfig::default()).unwrap();
        let session = after.session([cookie.as_bytes()]);
        assert_eq!(
            session.get::<String>("k").await.unwrap().as_deref(),
            Some("v")
        );
        let reissued = after
            .finish(&session, 200)
            .await
            .unwrap()
            .expect("re-issued under the new key");

        let only_new = SessionManager::new(
            Storage::Cookie,
            KeyRing::from_secret(&[2; 32]).unwrap(),
            SessionConfig::default(),
        )
        .unwrap();
        let session = only_new.session([pair(&reissued).as_bytes()]);
        assert_eq!(
            session.get::<String>("k").await.unwrap().as_deref(),
            Some("v")
        );
    }

    #[tokio::test]
    async fn a_server_error_sends_no_cookie() {
        let app = App::cookie_store(SessionConfig::default());
        let set = app
            .request(None, 500, |s| async move { s.set("k", &1).await.unwrap() })
            .await;
        assert_eq!(set, None);
    }
}

/// A login (an id cycle) late in an anonymous session's life starts a new absolute lifetime:
/// the user is not logged out minutes after logging in, on either kind of store.
#[tokio::test]
async fn a_login_restarts_the_absolute_lifetime() {
    let expiry = Expiry::IdleAndAbsolute {
        idle: StdDuration::from_secs(3600),
        absolute: StdDuration::from_secs(8 * 3600),
    };
    let config = SessionConfig::default().with_expiry(expiry);
    for app in [App::new(config.clone()), App::cookie_store(config.clone())] {
        let mut cookie = app.login().await;
        for _ in 0..15 {
            app.advance(Duration::minutes(30)); // 7.5 hours in all
            if let Some(set) = app
                .request(Some(&cookie), 200, |s| async move {
                    s.set("seen", &true).await.unwrap();
                })
                .await
            {
                cookie = pair(&set);
            }
        }
        let set = app
            .request(Some(&cookie), 200, |s| async move {
                assert!(!s.is_new().await.unwrap(), "the anonymous session is alive");
                s.set("role", "admin").await.unwrap();
                s.cycle_id().await.unwrap();
            })
            .await
            .expect("a cycle sends the new id");
        let cookie = pair(&set);
        app.advance(Duration::minutes(50)); // 8 h 20 min after the anonymous session began
        assert!(
            !app.is_new(&cookie).await,
            "logged out 50 minutes after login"
        );
    }
}

/// The cookie store: a cookie copied earlier and replayed is refused once the revocation epoch
/// was raised, while newly issued cookies work.
#[tokio::test]
async fn raising_the_revocation_epoch_refuses_every_earlier_cookie_store_cookie() {
    let epoch = session_core::RevocationEpoch::new(1);
    let mut app = App::cookie_store(SessionConfig::default());
    app.manager = app.manager.clone().with_revocation_epoch(epoch.clone());
    let copied = app.login().await;
    assert!(!app.is_new(&copied).await);
    epoch.raise();
    assert!(app.is_new(&copied).await, "a revoked cookie was accepted");
    let fresh = app.login().await;
    assert!(
        !app.is_new(&fresh).await,
        "a cookie of the new epoch is refused"
    );
}

/// Cookie tossing: a request that carries two valid session cookies of different sessions
/// (one planted by an attacker, say) uses neither and gets a fresh session, on both kinds of
/// store; the same cookie sent twice is still one session.
#[tokio::test]
async fn two_valid_session_cookies_of_different_sessions_are_ambiguous() {
    for app in [
        App::new(SessionConfig::default()),
        App::cookie_store(SessionConfig::default()),
    ] {
        let victim = app.login().await;
        let attacker = app
            .request(
                None,
                200,
                |s| async move { s.set("user", "eve").await.unwrap() },
            )
            .await
            .expect("a new session sets a cookie");
        let attacker = pair(&attacker);
        for header in [
            format!("{attacker}; {victim}"),
            format!("{victim}; {attacker}"),
        ] {
            assert!(
                app.is_new(&header).await,
                "one of two sessions was picked: {header}"
            );
        }
        assert!(!app.is_new(&format!("{victim}; {victim}")).await);
        // Junk before the real cookie beyond what is tried: not the browser's own either.
        let name = victim.split('=').next().unwrap();
        let junk: String = (0..4).map(|i| format!("{name}=junk{i}; ")).collect();
        assert!(app.is_new(&format!("{junk}{attacker}")).await);
        assert!(!app.is_new(&format!("{name}=junk; {victim}")).await);
    }
}

/// A session cannot outgrow its configured limits on any store: the write that would is refused
/// with a typed error and changes nothing.
#[tokio::test]
async fn writes_past_the_size_and_key_limits_are_refused() {
    let config = SessionConfig::default()
        .with_max_session_bytes(1000)
        .with_max_keys(2);
    for app in [App::new(config.clone()), App::cookie_store(config.clone())] {
        app.request(None, 200, |s| async move {
            let err = s.set("big", &"x".repeat(1000)).await.unwrap_err();
            assert!(
                matches!(err, Error::SessionTooLarge { max: 1000, .. }),
                "{err:?}"
            );
            assert!(!s.has("big").await.unwrap());
            s.set("a", &1).await.unwrap();
            s.set("b", &2).await.unwrap();
            let err = s.set("c", &3).await.unwrap_err();
            assert!(matches!(err, Error::TooManyKeys { max: 2 }), "{err:?}");
            s.set("a", &"y".repeat(900)).await.unwrap();
            assert_eq!(s.keys().await.unwrap(), ["a", "b"]);
        })
        .await;
    }
}

/// The cookie store's absolute lifetime: 7 days by default however often the cookie is
/// re-minted, the idle timeout instead when that is longer, and the configured absolute
/// lifetime when there is one.
#[tokio::test]
async fn a_cookie_store_cookie_dies_at_its_absolute_deadline() {
    // Default: refreshed by a write every 12 hours, it lives 7 days and no longer.
    let app = App::cookie_store(SessionConfig::default());
    let mut cookie = app.login().await;
    let mut served_hours = 0;
    for n in 0..20 {
        app.advance(Duration::hours(12));
        if app.is_new(&cookie).await {
            break;
        }
        served_hours += 12;
        if let Some(set) = app
            .request(Some(&cookie), 200, move |s| async move {
                s.set("n", &n).await.unwrap();
            })
            .await
        {
            cookie = pair(&set);
        }
    }
    assert_eq!(
        served_hours,
        6 * 24 + 12,
        "the last request served is before 7 days"
    );

    // An idle timeout of 10 days is longer than the default lifetime: it decides.
    let idle = Expiry::Idle(StdDuration::from_secs(10 * 24 * 3600));
    let app = App::cookie_store(SessionConfig::default().with_expiry(idle));
    let cookie = app.login().await;
    app.advance(Duration::days(9));
    assert!(
        !app.is_new(&cookie).await,
        "refused before its 10-day deadline"
    );
    app.advance(Duration::days(1));
    assert!(app.is_new(&cookie).await, "served past its 10-day deadline");

    // A configured absolute lifetime replaces the default one.
    let expiry = Expiry::IdleAndAbsolute {
        idle: StdDuration::from_secs(3600),
        absolute: StdDuration::from_secs(2 * 3600),
    };
    let app = App::cookie_store(SessionConfig::default().with_expiry(expiry));
    let mut cookie = app.login().await;
    for n in 0..3 {
        app.advance(Duration::minutes(30));
        let set = app
            .request(Some(&cookie), 200, move |s| async move {
                assert!(!s.is_new().await.unwrap(), "refused before two hours");
                s.set("n", &n).await.unwrap();
            })
            .await;
        if let Some(set) = set {
            cookie = pair(&set);
        }
    }
    app.advance(Duration::minutes(31));
    assert!(
        app.is_new(&cookie).await,
        "served past its two-hour deadline"
    );
}

#[tokio::test]
async fn reload_sees_concurrent_writes_and_keeps_this_requests_own() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    let a = app.manager.session([cookie.as_bytes()]);
    a.set("mine", &1).await.unwrap();
    a.set("user", "mine too").await.unwrap();
    // Request B, running meanwhile, writes a key and overwrites another.
    app.request(Some(&cookie), 200, |s| async move {
        s.set("theirs", &2).await.unwrap();
        s.set("user", "grace").await.unwrap();
    })
    .await;
    assert_eq!(a.get::<i64>("theirs").await.unwrap(), None, "not yet seen");
    assert!(a.reload().await.unwrap());
    let entries = serde_json::Value::Object(a.entries().await.unwrap());
    assert_eq!(
        entries,
        json!({"user": "mine too", "mine": 1, "theirs": 2}),
        "B's new key is seen, A's own writes win"
    );
    app.manager.finish(&a, 200).await.unwrap();
    app.request(Some(&cookie), 200, |s| async move {
        let entries = serde_json::Value::Object(s.entries().await.unwrap());
        assert_eq!(entries, json!({"user": "mine too", "mine": 1, "theirs": 2}));
    })
    .await;
}

#[tokio::test]
async fn reload_reports_when_there_is_nothing_newer_to_read() {
    let app = App::new(SessionConfig::default());
    let fresh = app.manager.session(std::iter::empty::<&[u8]>());
    assert!(!fresh.reload().await.unwrap(), "a session not stored yet");

    let cookie = app.login().await;
    let late = app.manager.session([cookie.as_bytes()]);
    late.set("late", &1).await.unwrap();
    app.request(
        Some(&cookie),
        200,
        |s| async move { s.destroy().await.unwrap() },
    )
    .await;
    assert!(!late.reload().await.unwrap(), "a destroyed session");
    assert_eq!(
        late.get::<i64>("late").await.unwrap(),
        Some(1),
        "the handle keeps what it had"
    );

    let cookies = App::cookie_store(SessionConfig::default());
    let set = cookies
        .request(None, 200, |s| async move { s.set("k", &1).await.unwrap() })
        .await
        .unwrap();
    let session = cookies.manager.session([pair(&set).as_bytes()]);
    assert!(!session.reload().await.unwrap(), "a cookie-store session");
    assert_eq!(session.get::<i64>("k").await.unwrap(), Some(1));
}

#[tokio::test]
async fn freshness_is_set_on_proof_of_identity_and_goes_stale() {
    let window = StdDuration::from_secs(300);
    for app in [
        App::new(SessionConfig::default()),
        App::cookie_store(SessionConfig::default()),
    ] {
        let set = app
            .request(None, 200, |s| async move {
                assert_eq!(s.fresh_at().await.unwrap(), None);
                assert!(!s.is_fresh_within(window).await.unwrap(), "never proved");
                s.mark_fresh().await.unwrap();
                s.cycle_id().await.unwrap();
            })
            .await
            .expect("a new session");
        let cookie = pair(&set);
        let marked = OffsetDateTime::now_utc().unix_timestamp();
        app.advance(Duration::seconds(299));
        app.request(Some(&cookie), 200, |s| async move {
            let at = s.fresh_at().await.unwrap().expect("marked");
            assert!((at.unix_timestamp() - marked).abs() <= 1, "{at}");
            assert!(s.is_fresh_within(window).await.unwrap(), "299 s old");
            assert_eq!(
                s.get_value(session_core::FRESH_AT_KEY).await.unwrap(),
                Some(json!(at.unix_timestamp())),
                "kept as Unix seconds under FRESH_AT_KEY"
            );
        })
        .await;
        app.advance(Duration::seconds(2));
        app.request(Some(&cookie), 200, |s| async move {
            assert!(!s.is_fresh_within(window).await.unwrap(), "301 s old");
            assert!(s.is_fresh_within(window * 2).await.unwrap());
        })
        .await;
    }
}

const DAY: i64 = 24 * 60 * 60;

/// The expiry a fresh request on `cookie` loads: what the store (or the cookie) holds.
async fn loaded_expiry(app: &App, cookie: &str) -> Option<OffsetDateTime> {
    let session = app.manager.session([cookie.as_bytes()]);
    if session.is_new().await.unwrap() {
        return None;
    }
    Some(session.expires_at().await.unwrap())
}

/// "Remember me" on every kind of storage: a two-week cookie and expiry, rolling past the
/// configured day of idleness, and cut at the maximum lifetime (30 days) after the login
/// however active the session is.
#[tokio::test]
async fn a_remembered_session_outlives_the_idle_timeout_up_to_the_maximum_lifetime() {
    let remember = session_core::Lifetime::Remember(StdDuration::from_secs(14 * DAY as u64));
    for app in [
        App::new(SessionConfig::default()),
        App::cookie_store(SessionConfig::default()),
    ] {
        let set = app
            .request(None, 200, |s| async move {
                s.set("user", "ada").await.unwrap();
                s.set_lifetime(remember).await.unwrap();
                assert_eq!(s.lifetime().await.unwrap(), remember);
            })
            .await
            .expect("a new session");
        assert_eq!(attribute(&set, "Max-Age"), Some("1209600"), "{set:?}");
        let mut cookie = pair(&set);
        let now = OffsetDateTime::now_utc();
        let expiry = loaded_expiry(&app, &cookie).await.expect("stored");
        assert!((expiry - now - Duration::days(14)).abs() <= Duration::seconds(2));

        // Twelve days apart (past the configured one day of idleness, within 14): alive, and
        // each visit moves the expiry and the cookie on: 14 days on day 12; on day 24 only 6,
        // to the 30 days after the login.
        for expected in [14 * DAY, 6 * DAY] {
            app.advance(Duration::days(12));
            let set = app
                .request(Some(&cookie), 200, |s| async move {
                    assert_eq!(
                        s.get::<String>("user").await.unwrap().as_deref(),
                        Some("ada")
                    );
                })
                .await
                .expect("the visit moves the expiry and re-sends the cookie");
            let max_age: i64 = attribute(&set, "Max-Age").unwrap().parse().unwrap();
            assert!((max_age - expected).abs() <= 2, "{max_age}, not {expected}");
            cookie = pair(&set);
        }
        // Day 30 and a minute: past the maximum lifetime, however recent the last visit.
        app.advance(Duration::days(6) + Duration::minutes(1));
        assert!(app.is_new(&cookie).await, "lived past the maximum lifetime");
    }
}

/// Without "remember me" the same session ends after the configured day of idleness: the
/// lifetime is the session's own, not the app's.
#[tokio::test]
async fn a_session_not_remembered_keeps_the_configured_expiry() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(
            s.lifetime().await.unwrap(),
            session_core::Lifetime::Configured
        );
    })
    .await;
    app.advance(Duration::days(1) + Duration::minutes(1));
    assert!(app.is_new(&cookie).await);
}

/// "Forget me when the browser closes": a cookie without `Max-Age`, and the server's expiry
/// as configured; changing the lifetime of a stored session gives it a new id.
#[tokio::test]
async fn a_browser_session_lifetime_drops_max_age_and_cycles_the_id() {
    for app in [
        App::new(SessionConfig::default()),
        App::cookie_store(SessionConfig::default()),
    ] {
        let cookie = app.login().await;
        let set = app
            .request(Some(&cookie), 200, |s| async move {
                s.set_lifetime(session_core::Lifetime::BrowserSession)
                    .await
                    .unwrap();
            })
            .await
            .expect("a changed lifetime sends the cookie");
        assert_eq!(attribute(&set, "Max-Age"), None, "{set:?}");
        let new = pair(&set);
        if !matches!(app.manager.storage(), Storage::Cookie) {
            assert!(app.is_new(&cookie).await, "the old id stopped working");
        }
        let expiry = loaded_expiry(&app, &new).await.expect("stored");
        let now = OffsetDateTime::now_utc();
        assert!((expiry - now - Duration::days(1)).abs() <= Duration::seconds(2));
        // Asking for the lifetime the session already has changes nothing.
        let again = app
            .request(Some(&new), 200, |s| async move {
                s.set_lifetime(session_core::Lifetime::BrowserSession)
                    .await
                    .unwrap();
            })
            .await;
        assert_eq!(again, None);
    }
}

/// A lifetime the configuration does not allow is refused, naming the bounds, and changes
/// nothing; a longer one forged through the raw API is cut to the maximum.
#[tokio::test]
async fn lifetimes_out_of_range_are_refused_and_forged_ones_are_capped() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            for secs in [60, 31 * DAY as u64] {
                let lifetime = session_core::Lifetime::Remember(StdDuration::from_secs(secs));
                let error = s.set_lifetime(lifetime).await.unwrap_err();
                assert!(
                    matches!(error, Error::LifetimeOutOfRange { requested_secs, min_secs: 60, max_secs: 2_592_000 } if requested_secs == secs),
                    "{error:?}"
                );
                assert!(error.to_string().contains("with_max_lifetime"), "{error}");
            }
            assert_eq!(s.get_value(session_core::LIFETIME_KEY).await.unwrap(), None);
        })
        .await;
    assert_eq!(set, None, "nothing changed");

    let set = app
        .request(Some(&cookie), 200, |s| async move {
            s.set(session_core::LIFETIME_KEY, &(3650 * DAY))
                .await
                .unwrap();
            s.cycle_id().await.unwrap();
            assert_eq!(
                s.lifetime().await.unwrap(),
                session_core::Lifetime::Remember(StdDuration::from_secs(30 * DAY as u64))
            );
        })
        .await
        .unwrap();
    assert_eq!(attribute(&set, "Max-Age"), Some("2592000"), "{set:?}");
    app.advance(Duration::days(30) + Duration::minutes(1));
    assert!(app.is_new(&pair(&set)).await);
}

/// A request that loaded the session before a "remember me" login cycled it, and writes after
/// it: its changes follow the new id, and the 30-day expiry stays, rather than the one day it
/// computed from the lifetime it knew.
#[tokio::test]
async fn a_write_racing_a_remember_me_login_keeps_the_long_expiry() {
    let app = App::new(SessionConfig::default());
    let cookie = app.login().await;
    let stale = app.manager.session([cookie.as_bytes()]);
    stale.set("cart", &3).await.unwrap();
    let set = app
        .request(Some(&cookie), 200, |s| async move {
            s.set_lifetime(session_core::Lifetime::Remember(StdDuration::from_secs(
                30 * DAY as u64,
            )))
            .await
            .unwrap();
        })
        .await
        .expect("the login sends the new id");
    assert_eq!(app.manager.finish(&stale, 200).await.unwrap(), None);
    let new = pair(&set);
    app.advance(Duration::days(2));
    app.request(Some(&new), 200, |s| async move {
        assert!(
            !s.is_new().await.unwrap(),
            "the racing write shortened the expiry"
        );
        assert_eq!(s.get::<u32>("cart").await.unwrap(), Some(3));
    })
    .await;
}

/// `clear` drops the session's own lifetime with its keys.
#[tokio::test]
async fn clear_drops_the_sessions_own_lifetime() {
    let app = App::new(SessionConfig::default());
    let set = app
        .request(None, 200, |s| async move {
            s.set("user", "ada").await.unwrap();
            s.set_lifetime(session_core::Lifetime::BrowserSession)
                .await
                .unwrap();
        })
        .await
        .unwrap();
    assert_eq!(attribute(&set, "Max-Age"), None);
    let cookie = pair(&set);
    app.request(Some(&cookie), 200, |s| async move {
        s.clear().await.unwrap();
        s.set("theme", "dark").await.unwrap();
        assert_eq!(
            s.lifetime().await.unwrap(),
            session_core::Lifetime::Configured
        );
    })
    .await;
    app.request(Some(&cookie), 200, |s| async move {
        assert_eq!(s.get_value(session_core::LIFETIME_KEY).await.unwrap(), None);
    })
    .await;
}
