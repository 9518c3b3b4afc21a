//! The sessions of one user (`Session::set_owner`): listed with their times, revoked one by one,
//! all but the current one, or all, and kept in step with logins (`cycle_id`), logouts
//! (`destroy`) and expiry, through `SessionManager` as an adapter drives it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use session_core::{
    Error, KeyRing, MemoryStore, Session, SessionConfig, SessionInfo, SessionManager, SetCookie,
    Storage,
};
use time::{Duration, OffsetDateTime};

/// A manager over a memory store, with a clock the test moves forward.
struct App {
    manager: SessionManager,
    offset: Arc<AtomicI64>,
}

impl App {
    fn new() -> Self {
        Self::over(Storage::from(MemoryStore::new()))
    }

    fn over(storage: Storage) -> Self {
        let offset = Arc::new(AtomicI64::new(0));
        let clock = offset.clone();
        let manager = SessionManager::new(storage, KeyRing::generate(), SessionConfig::default())
            .unwrap()
            .with_clock(move || {
                OffsetDateTime::now_utc() + Duration::seconds(clock.load(Ordering::SeqCst))
            });
        Self { manager, offset }
    }

    fn advance(&self, by: Duration) {
        self.offset.fetch_add(by.whole_seconds(), Ordering::SeqCst);
    }

    /// One request carrying `cookie` through `handler`; the cookie pair it set, if any.
    async fn request<F, Fut>(&self, cookie: Option<&str>, handler: F) -> Option<String>
    where
        F: FnOnce(Session) -> Fut,
        Fut: Future<Output = ()>,
    {
        let session = self.manager.session(cookie.map(str::as_bytes));
        handler(session.clone()).await;
        let sent: Option<SetCookie> = self.manager.finish(&session, 200).await.unwrap();
        sent.map(|cookie| cookie.as_str().split(';').next().unwrap().to_owned())
    }

    /// A new device's login as `owner`: its cookie pair.
    async fn login(&self, owner: &'static str) -> String {
        self.request(None, |s| async move {
            s.set("user", owner).await.unwrap();
            s.set_owner(owner).await.unwrap();
        })
        .await
        .expect("a new session")
    }

    /// Whether `cookie` still leads to a session.
    async fn alive(&self, cookie: &str) -> bool {
        let session = self.manager.session([cookie.as_bytes()]);
        !session.is_new().await.unwrap()
    }

    /// The sessions of the owner of `cookie`'s session, as that session sees them.
    async fn sessions(&self, cookie: &str) -> Vec<SessionInfo> {
        let session = self.manager.session([cookie.as_bytes()]);
        session.sessions().await.unwrap()
    }
}

#[tokio::test]
async fn a_users_sessions_are_listed_with_their_times_and_the_current_one_marked() {
    let app = App::new();
    let phone = app.login("ada").await;
    app.advance(Duration::minutes(5));
    let laptop = app.login("ada").await;
    let bob = app.login("bob").await;

    let listed = app.sessions(&laptop).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        listed.iter().map(|info| info.current).collect::<Vec<_>>(),
        [false, true],
        "oldest first, the asking one current"
    );
    assert_eq!(
        listed[1].created_at - listed[0].created_at,
        Duration::minutes(5)
    );
    for info in &listed {
        assert_eq!(info.handle.len(), 64, "a digest, never a token: {info:?}");
        assert!(!phone.contains(&info.handle) && !laptop.contains(&info.handle));
        assert_eq!(info.last_seen, info.created_at);
        assert_eq!(info.expires_at - info.created_at, Duration::days(1));
    }
    assert_eq!(app.sessions(&bob).await.len(), 1);
    assert_eq!(app.manager.sessions_of("ada").await.unwrap().len(), 2);
    assert!(app.manager.sessions_of("eve").await.unwrap().is_empty());

    // A visit moves the last-seen time (once per touch interval, with the expiry).
    app.advance(Duration::hours(2));
    app.request(Some(&phone), |s| async move {
        s.get::<String>("user").await.unwrap();
    })
    .await;
    let listed = app.manager.sessions_of("ada").await.unwrap();
    assert_eq!(
        listed[0].last_seen - listed[0].created_at,
        Duration::hours(2) + Duration::minutes(5)
    );
}

#[tokio::test]
async fn a_login_moves_the_entry_and_logout_and_expiry_drop_it() {
    let app = App::new();
    let first = app.login("ada").await;
    let handle = app.sessions(&first).await[0].handle.clone();
    // Logging in again on the same device cycles the id: one session still, a new handle.
    let again = app
        .request(Some(&first), |s| async move {
            s.cycle_id().await.unwrap();
        })
        .await
        .unwrap();
    let listed = app.sessions(&again).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_ne!(listed[0].handle, handle);
    assert!(listed[0].current);

    let other = app.login("ada").await;
    app.request(Some(&other), |s| async move { s.destroy().await.unwrap() })
        .await;
    assert_eq!(
        app.manager.sessions_of("ada").await.unwrap().len(),
        1,
        "logged out"
    );

    // `remove_owner` takes a session out; giving it another owner moves it.
    app.request(Some(&again), |s| async move {
        assert!(s.remove_owner().await.unwrap());
        assert_eq!(s.owner().await.unwrap(), None);
    })
    .await;
    assert!(app.manager.sessions_of("ada").await.unwrap().is_empty());
    app.request(Some(&again), |s| async move {
        s.set_owner("bob").await.unwrap();
    })
    .await;
    assert_eq!(app.manager.sessions_of("bob").await.unwrap().len(), 1);

    app.advance(Duration::days(1) + Duration::minutes(1));
    assert!(
        app.manager.sessions_of("bob").await.unwrap().is_empty(),
        "expired"
    );
}

#[tokio::test]
async fn revoking_one_others_or_all_ends_exactly_those_sessions() {
    let app = App::new();
    let devices = [
        app.login("ada").await,
        app.login("ada").await,
        app.login("ada").await,
    ];
    let bob = app.login("bob").await;
    let bobs = app.sessions(&bob).await[0].handle.clone();

    assert!(
        !app.manager.revoke("ada", &bobs).await.unwrap(),
        "someone else's"
    );
    assert!(!app.manager.revoke("ada", "not a handle").await.unwrap());
    assert!(app.alive(&bob).await);

    let listed = app.sessions(&devices[0]).await;
    let first = listed
        .iter()
        .find(|info| info.current)
        .unwrap()
        .handle
        .clone();
    assert!(app.manager.revoke("ada", &first).await.unwrap());
    assert!(!app.alive(&devices[0]).await, "its cookie leads nowhere");
    assert!(
        !app.manager.revoke("ada", &first).await.unwrap(),
        "already gone"
    );

    let session = app.manager.session([devices[2].as_bytes()]);
    assert_eq!(session.revoke_other_sessions().await.unwrap(), 1);
    assert!(!app.alive(&devices[1]).await);
    assert!(app.alive(&devices[2]).await, "the current one stays");

    app.login("ada").await;
    assert_eq!(app.manager.revoke_all("ada").await.unwrap(), 2);
    assert!(!app.alive(&devices[2]).await);
    assert!(app.manager.sessions_of("ada").await.unwrap().is_empty());
    assert!(app.alive(&bob).await, "other users keep theirs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_of_one_user_are_all_listed() {
    let app = Arc::new(App::new());
    let logins: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.login("ada").await })
        })
        .collect();
    let mut cookies = Vec::new();
    for login in logins {
        cookies.push(login.await.unwrap());
    }
    assert_eq!(app.manager.sessions_of("ada").await.unwrap().len(), 50);
    assert_eq!(app.manager.revoke_all("ada").await.unwrap(), 50);
    for cookie in &cookies {
        assert!(!app.alive(cookie).await);
    }
}

#[tokio::test]
async fn bad_owners_are_refused_and_the_cookie_store_cannot_list() {
    let app = App::new();
    app.request(None, |s| async move {
        for owner in [String::new(), "x".repeat(257)] {
            let error = s.set_owner(&owner).await.unwrap_err();
            assert!(matches!(error, Error::BadOwner { .. }), "{error:?}");
        }
        assert_eq!(s.owner().await.unwrap(), None);
    })
    .await;

    let cookies = App::over(Storage::Cookie);
    let cookie = cookies.login("ada").await;
    let session = cookies.manager.session([cookie.as_bytes()]);
    assert_eq!(session.owner().await.unwrap().as_deref(), Some("ada"));
    let error = session.sessions().await.unwrap_err();
    assert!(matches!(error, Error::NeedsServerStore { .. }), "{error:?}");
    assert!(error.to_string().contains("server-side store"), "{error}");
    assert!(matches!(
        cookies.manager.revoke_all("ada").await,
        Err(Error::NeedsServerStore { .. })
    ));
}
