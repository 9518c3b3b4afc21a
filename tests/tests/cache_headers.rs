//! Cache headers on every framework: a response that used the session varies on `Cookie` and
//! is `Cache-Control: private` (unless the app set its own), so a CDN or proxy never hands one
//! user's page or session cookie to another (OWASP Session Management Cheat Sheet, "Web Content
//! Caching"). Untouched requests get neither header. The stores play no part here, so the
//! memory and cookie stores stand for all of them.

use session_tests::harness::Reply;
use session_tests::{Framework, Harness, StoreKind};

const PRIVATE: &str = "private";

fn varies_on_cookie(reply: &Reply) -> bool {
    reply
        .vary
        .iter()
        .flat_map(|value| value.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("cookie"))
}

async fn cache_headers(framework: Framework, store: StoreKind) {
    let app = Harness::start(framework, store).await;
    let agent = app.agent();

    let untouched = agent.get("/test/plain").await;
    assert_eq!(untouched.status, 200, "{untouched:?}");
    assert!(untouched.vary.is_empty(), "untouched: {untouched:?}");
    assert_eq!(untouched.cache_control, None, "untouched: {untouched:?}");

    let read_without_cookie = agent.get("/").await;
    assert!(
        varies_on_cookie(&read_without_cookie),
        "a page that read the session varies on Cookie: {read_without_cookie:?}"
    );
    assert_eq!(
        read_without_cookie.cache_control.as_deref(),
        Some(PRIVATE),
        "{read_without_cookie:?}"
    );

    let set = agent.get("/set").await;
    assert!(set.session_cookie().is_some(), "{set:?}");
    assert_eq!(set.cache_control.as_deref(), Some(PRIVATE), "{set:?}");
    assert!(varies_on_cookie(&set), "{set:?}");
    assert_eq!(
        set.vary
            .iter()
            .filter(|v| v.eq_ignore_ascii_case("cookie"))
            .count(),
        1,
        "Cookie is listed once: {set:?}"
    );

    let read = agent.get("/").await;
    assert_eq!(read.status, 200, "{read:?}");
    assert!(read.body.contains("something"), "{read:?}");
    assert!(varies_on_cookie(&read), "{read:?}");
    assert!(read.set_cookies.is_empty(), "{read:?}");
    assert_eq!(
        read.cache_control.as_deref(),
        Some(PRIVATE),
        "a page that shows session data is private even without a Set-Cookie: {read:?}"
    );

    let plain_with_cookie = agent.get("/test/plain").await;
    assert!(plain_with_cookie.vary.is_empty(), "{plain_with_cookie:?}");
    assert_eq!(
        plain_with_cookie.cache_control, None,
        "{plain_with_cookie:?}"
    );
}

macro_rules! cases {
    ($($name:ident: $framework:expr, $store:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            cache_headers($framework, $store).await;
        }
    )*};
}

cases! {
    axum_memory: Framework::Axum, StoreKind::Memory;
    axum_cookie: Framework::Axum, StoreKind::Cookie;
    actix_memory: Framework::Actix, StoreKind::Memory;
    actix_cookie: Framework::Actix, StoreKind::Cookie;
    rocket_memory: Framework::Rocket, StoreKind::Memory;
    rocket_cookie: Framework::Rocket, StoreKind::Cookie;
}
