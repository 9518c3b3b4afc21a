//! The schema of DESIGN.md, used through a real request in a crate that imports nothing: each
//! generated accessor has the signature the docs promise.

#[derive(Debug, PartialEq, session_core::SessionSchema)]
#[session(prefix = "auth.")]
struct Auth {
    #[session(renew_on_change)]
    user_id: u64,
    name: String,
    #[session(default)]
    visits: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let manager = session_core::SessionManager::new(
        session_core::MemoryStore::new(),
        session_core::KeyRing::generate(),
        session_core::SessionConfig::default(),
    )
    .unwrap();
    let session = manager.session(Vec::<&[u8]>::new());
    let auth = AuthSession::from(session.clone());

    let absent: session_core::Result<Option<u64>> = auth.user_id().await;
    assert_eq!(absent.unwrap(), None);
    let visits: session_core::Result<u32> = auth.visits().await;
    assert_eq!(visits.unwrap(), 0);
    let set: session_core::Result<()> = auth.set_user_id(7).await;
    set.unwrap();
    auth.set_name(String::from("Ada")).await.unwrap();
    auth.set_visits(2).await.unwrap();
    let has: session_core::Result<bool> = auth.has_name().await;
    assert!(has.unwrap());
    let deleted: session_core::Result<bool> = auth.delete_visits().await;
    assert!(deleted.unwrap());

    let key: session_core::Key<u64> = AuthSession::USER_ID;
    assert_eq!(key.name(), "auth.user_id");
    assert_eq!(
        <Auth as session_core::SessionSchema>::KEYS,
        ["auth.user_id", "auth.name", "auth.visits"]
    );
    let all: Auth = auth.load_all().await.unwrap();
    assert_eq!(
        all,
        Auth {
            user_id: 7,
            name: String::from("Ada"),
            visits: 0
        }
    );
    auth.save_all(&all).await.unwrap();
    assert!(manager.finish(&session, 200).await.unwrap().is_some());
}
