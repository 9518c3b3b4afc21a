//! Sessions carried in a request header (`SessionConfig::with_token_header`) for API and mobile
//! clients, through `SessionManager` as an adapter drives it: the token header and the `Cookie`
//! header in, the header `finish` names out.

use session_core::{
    KeyRing, MemoryStore, SessionConfig, SessionManager, SetCookie, Storage, TokenHeader,
};

fn manager(storage: impl Into<Storage>, config: SessionConfig) -> SessionManager {
    SessionManager::new(storage, KeyRing::from_secret(&[7; 32]).unwrap(), config).unwrap()
}

fn bearer() -> SessionConfig {
    SessionConfig::default().with_token_header(TokenHeader::bearer())
}

/// One request with these `Cookie` and token header values: runs `handler`, returns what
/// `finish` says to send.
async fn request<F, Fut>(
    manager: &SessionManager,
    cookie: Option<&str>,
    token: Option<&str>,
    handler: F,
) -> Option<SetCookie>
where
    F: FnOnce(session_core::Session) -> Fut,
    Fut: Future<Output = ()>,
{
    let session = manager.session_with_tokens(cookie.map(str::as_bytes), token.map(str::as_bytes));
    handler(session.clone()).await;
    manager.finish(&session, 200).await.unwrap()
}

/// What a test handler reads back: the value of `k`, if the session has one.
async fn read(manager: &SessionManager, cookie: Option<&str>, token: Option<&str>) -> Option<u32> {
    let session = manager.session_with_tokens(cookie.map(str::as_bytes), token.map(str::as_bytes));
    session.get::<u32>("k").await.unwrap()
}

async fn set_k(session: session_core::Session) {
    session.set("k", &1).await.unwrap();
}

/// The `name=value` pair of a `Set-Cookie` value.
fn pair(cookie: &SetCookie) -> String {
    assert!(!cookie.is_token_header(), "a cookie: {cookie:?}");
    cookie.as_str().split(';').next().unwrap().to_owned()
}

/// The `Authorization` value that sends back the token in `sent`.
fn bearer_of(sent: &SetCookie) -> String {
    assert_eq!(sent.header_name(), "session-token", "{sent:?}");
    assert!(!sent.as_str().is_empty(), "{sent:?}");
    format!("Bearer {}", sent.as_str())
}

#[tokio::test]
async fn an_api_client_gets_its_token_in_the_header_and_sends_it_back_as_a_bearer() {
    for storage in [Storage::from(MemoryStore::new()), Storage::Cookie] {
        let manager = manager(storage, bearer());
        let sent = request(&manager, None, Some("Bearer"), set_k)
            .await
            .expect("a new session");
        assert!(sent.is_token_header());
        assert!(
            !sent.as_str().contains(';'),
            "a bare token, no cookie attributes"
        );
        let token = bearer_of(&sent);
        assert_eq!(read(&manager, None, Some(&token)).await, Some(1));
        // The scheme is case-insensitive, the spaces around the token are not significant.
        let lower = format!("bearer   {}  ", sent.as_str());
        assert_eq!(read(&manager, None, Some(&lower)).await, Some(1));
        // The same token as a cookie works too: the cookie transport is still on.
        let cookie = format!("__Host-session={}", sent.as_str());
        assert_eq!(read(&manager, Some(&cookie), None).await, Some(1));
        // A read sends nothing back.
        let again = request(&manager, None, Some(&token), |s| async move {
            s.get::<u32>("k").await.unwrap();
        })
        .await;
        assert_eq!(again, None);
    }
}

#[tokio::test]
async fn a_login_sends_a_new_token_and_the_old_one_stops_working() {
    let manager = manager(MemoryStore::new(), bearer());
    let first = bearer_of(
        &request(&manager, None, Some("Bearer"), set_k)
            .await
            .unwrap(),
    );
    let cycled = request(&manager, None, Some(&first), |s| async move {
        s.cycle_id().await.unwrap();
    })
    .await
    .expect("a new id");
    let second = bearer_of(&cycled);
    assert_ne!(first, second);
    assert_eq!(
        read(&manager, None, Some(&first)).await,
        None,
        "the old token"
    );
    assert_eq!(read(&manager, None, Some(&second)).await, Some(1));

    let ended = request(&manager, None, Some(&second), |s| async move {
        s.destroy().await.unwrap();
    })
    .await
    .expect("the end of the session is sent");
    assert!(ended.is_removal() && ended.is_token_header(), "{ended:?}");
    assert_eq!(ended.as_str(), "", "an empty token: drop yours");
    assert_eq!(read(&manager, None, Some(&second)).await, None);
}

#[tokio::test]
async fn a_browser_without_the_header_still_gets_an_http_only_cookie() {
    let manager = manager(MemoryStore::new(), bearer());
    let sent = request(&manager, None, None, set_k).await.unwrap();
    assert_eq!(sent.header_name(), "set-cookie");
    assert!(sent.as_str().contains("HttpOnly"), "{sent:?}");
    assert_eq!(read(&manager, Some(&pair(&sent)), None).await, Some(1));
    // Another scheme in `Authorization` (an app's own Basic auth) is not ours: the answer
    // stays in the cookie.
    let sent = request(&manager, None, Some("Basic YWRhOnB3"), set_k)
        .await
        .unwrap();
    assert_eq!(sent.header_name(), "set-cookie");
}

#[tokio::test]
async fn with_the_cookie_transport_off_cookies_are_neither_read_nor_sent() {
    let config = SessionConfig::default()
        .with_token_header(TokenHeader::named("X-Session"))
        .with_cookie_transport(false);
    let with_cookies = manager(MemoryStore::new(), SessionConfig::default());
    let cookie = pair(&request(&with_cookies, None, None, set_k).await.unwrap());
    let manager = manager(MemoryStore::new(), config);
    assert_eq!(manager.token_request_header(), Some("x-session"));
    // Even a request without the header is answered in it.
    let sent = request(&manager, Some(&cookie), None, set_k).await.unwrap();
    assert_eq!(sent.header_name(), "x-session");
    let token = sent.as_str().to_owned();
    assert_eq!(read(&manager, None, Some(&token)).await, Some(1));
    let as_cookie = format!("session={token}");
    assert_eq!(
        read(&manager, Some(&as_cookie), None).await,
        None,
        "cookies are not read"
    );
}

#[tokio::test]
async fn a_cookie_and_a_token_of_different_sessions_give_a_fresh_session() {
    let manager = manager(MemoryStore::new(), bearer());
    let browser = pair(&request(&manager, None, None, set_k).await.unwrap());
    let api = bearer_of(
        &request(&manager, None, Some("Bearer"), set_k)
            .await
            .unwrap(),
    );
    assert_eq!(read(&manager, Some(&browser), Some(&api)).await, None);
    // The same session both ways is no conflict.
    let token = api.trim_start_matches("Bearer ");
    let same = format!("__Host-session={token}");
    assert_eq!(read(&manager, Some(&same), Some(&api)).await, Some(1));
}

#[tokio::test]
async fn a_token_signed_by_a_previous_key_is_reissued_in_the_header() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let dyn_store: std::sync::Arc<dyn session_core::SessionStore> = store.clone();
    let old = SessionManager::new(
        Storage::from(dyn_store.clone()),
        KeyRing::from_secret(&[1; 32]).unwrap(),
        bearer(),
    )
    .unwrap();
    let token = bearer_of(&request(&old, None, Some("Bearer"), set_k).await.unwrap());
    let rotated = SessionManager::new(
        Storage::from(dyn_store),
        KeyRing::from_secret(&[2; 32])
            .unwrap()
            .with_previous(&[1; 32])
            .unwrap(),
        bearer(),
    )
    .unwrap();
    let reissued = request(&rotated, None, Some(&token), |s| async move {
        assert_eq!(s.get::<u32>("k").await.unwrap(), Some(1));
    })
    .await
    .expect("re-signed under the current key");
    let new = bearer_of(&reissued);
    assert_ne!(new, token);
    assert_eq!(read(&rotated, None, Some(&new)).await, Some(1));
}

#[tokio::test]
async fn malformed_tokens_are_refused_without_touching_the_session() {
    let manager = manager(MemoryStore::new(), bearer());
    let token = bearer_of(
        &request(&manager, None, Some("Bearer"), set_k)
            .await
            .unwrap(),
    );
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        tampered.as_str(),
        "Bearer a;b",
        "Bearerx abc",
        "Bearer \u{e9}",
        &format!("Bearer {}", "a".repeat(9000)),
    ] {
        assert_eq!(read(&manager, None, Some(bad)).await, None, "{bad:.40}");
    }
}
