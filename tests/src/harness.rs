//! [`Harness`]: one app (a framework, a store, an engine with a clock the test can move) and
//! [`Agent`]s, HTTP clients with their own cookie jar, like browsers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderValue, SET_COOKIE};
use reqwest::{Method, Response, Url};
use serde_json::Value;
use session_core::{KeyRing, SessionConfig, SessionManager, Storage};
use time::OffsetDateTime;

use crate::servers::{Framework, Server};
use crate::stores::StoreKind;

/// An app under test.
pub struct Harness {
    /// The framework serving it.
    pub framework: Framework,
    /// Where its sessions live.
    pub store: StoreKind,
    server: Server,
    offset: Arc<AtomicI64>,
}

impl Harness {
    /// The example app on `framework` and a fresh `store`, with the default configuration
    /// except `Secure` (the tests speak plain HTTP).
    pub async fn start(framework: Framework, store: StoreKind) -> Self {
        Self::start_with(framework, store, store.open().await, test_config()).await
    }

    /// The app over the given storage and configuration.
    pub async fn start_with(
        framework: Framework,
        store: StoreKind,
        storage: Storage,
        config: SessionConfig,
    ) -> Self {
        crate::logs::capture();
        let offset = Arc::new(AtomicI64::new(0));
        let clock = offset.clone();
        let manager = SessionManager::new(storage, KeyRing::generate(), config)
            .expect("a valid session configuration")
            .with_clock(move || {
                OffsetDateTime::now_utc() + time::Duration::seconds(clock.load(Ordering::SeqCst))
            });
        let server = framework.serve(Some(manager)).await;
        Self {
            framework,
            store,
            server,
            offset,
        }
    }

    /// Moves the engine's clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    /// A new client with an empty cookie jar.
    pub fn agent(&self) -> Agent {
        Agent::new(self.server.base())
    }

    /// A new API client without a token (and without a cookie jar); the app must be configured
    /// with [`TokenHeader::bearer`](session_core::TokenHeader::bearer).
    pub fn api_client(&self) -> ApiClient {
        ApiClient::new(self.server.base())
    }
}

/// A client as a mobile app or a script is: no cookie jar; it keeps the token the app sends in
/// the `Session-Token` response header (dropping it when the header comes empty) and sends it
/// back as `Authorization: Bearer <token>`, or `Authorization: Bearer` alone while it has none.
/// Clones share the token.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    client: reqwest::Client,
    token: Arc<std::sync::Mutex<Option<String>>>,
}

impl ApiClient {
    fn new(base: String) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build an HTTP client");
        Self {
            base,
            client,
            token: Arc::default(),
        }
    }

    /// A client of its own (not sharing the token) that holds `token`.
    pub fn with_token(&self, token: &str) -> Self {
        let client = Self::new(self.base.clone());
        *client.token.lock().expect("token") = Some(token.to_owned());
        client
    }

    /// The token the client holds now.
    pub fn token(&self) -> Option<String> {
        self.token.lock().expect("token").clone()
    }

    /// Sends a request with the token; `body` is sent as JSON. Keeps the token of the reply.
    pub async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let authorization = match self.token() {
            Some(token) => format!("Bearer {token}"),
            None => "Bearer".to_owned(),
        };
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, authorization);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let reply = Reply::read(request.send().await.expect("the app answers")).await;
        if let Some(token) = reply.session_token() {
            *self.token.lock().expect("token") = Some(token.to_owned()).filter(|t| !t.is_empty());
        }
        reply
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, json: &str) -> Reply {
        self.send(Method::PUT, path, Some(json)).await
    }

    /// `POST path` with an optional JSON body.
    pub async fn post(&self, path: &str, json: Option<&str>) -> Reply {
        self.send(Method::POST, path, json).await
    }
}

/// The configuration the suite uses: the defaults, without `Secure` (plain HTTP).
pub fn test_config() -> SessionConfig {
    SessionConfig::default().with_secure(false)
}

/// An HTTP client with a cookie jar, like a browser; it does not follow redirects, so tests
/// see every response.
#[derive(Clone)]
pub struct Agent {
    base: String,
    jar: Arc<Jar>,
    client: reqwest::Client,
}

impl Agent {
    /// A client for the app at `base`, with an empty jar.
    pub fn new(base: String) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build an HTTP client");
        Self { base, jar, client }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.base)).expect("a valid URL")
    }

    /// Sends a request; `body` is sent as is.
    pub async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        Reply::read(request.send().await.expect("the app answers")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, json: &str) -> Reply {
        self.send(Method::PUT, path, Some(json)).await
    }

    /// `POST path` with an optional JSON body.
    pub async fn post(&self, path: &str, json: Option<&str>) -> Reply {
        self.send(Method::POST, path, json).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// The `Cookie` header this client sends now, if any.
    pub fn cookie(&self) -> Option<String> {
        let value = self.jar.cookies(&self.url("/"))?;
        Some(value.to_str().expect("an ASCII cookie").to_owned())
    }

    /// A client with an empty jar but for the given `Cookie` header value (e.g. a saved or
    /// tampered cookie).
    pub fn with_cookie(&self, cookie: &str) -> Self {
        let agent = Self::new(self.base.clone());
        let header = HeaderValue::from_str(cookie).expect("a valid cookie header");
        agent
            .jar
            .set_cookies(&mut std::iter::once(&header), &agent.url("/"));
        agent
    }

    /// Sends `GET path` with exactly this `Cookie` header and no jar.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Reply {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build an HTTP client");
        let response = client
            .get(self.url(path))
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("the app answers");
        Reply::read(response).await
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Every `Set-Cookie` header value.
    pub set_cookies: Vec<String>,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Every `Vary` header value.
    pub vary: Vec<String>,
    /// The `Cache-Control` header values, joined with `, `; `None` without any.
    pub cache_control: Option<String>,
    /// Every `Session-Token` header value (the token header of
    /// [`TokenHeader::bearer`](session_core::TokenHeader::bearer)).
    pub session_tokens: Vec<String>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    async fn read(response: Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers();
        let set_cookies = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|value| value.to_str().expect("an ASCII Set-Cookie").to_owned())
            .collect();
        let content_type = headers
            .get("content-type")
            .map(|value| value.to_str().unwrap_or_default().to_owned());
        let all = |name: &str| -> Vec<String> {
            headers
                .get_all(name)
                .iter()
                .map(|value| value.to_str().unwrap_or_default().to_owned())
                .collect()
        };
        let vary = all("vary");
        let cache_control = Some(all("cache-control").join(", ")).filter(|v| !v.is_empty());
        let session_tokens = all(session_core::DEFAULT_TOKEN_RESPONSE_HEADER);
        let body = response.text().await.expect("a readable body");
        Self {
            status,
            set_cookies,
            content_type,
            vary,
            cache_control,
            session_tokens,
            body,
        }
    }

    /// The one `Session-Token` value, if any (empty: the session ended).
    pub fn session_token(&self) -> Option<&str> {
        assert!(
            self.session_tokens.len() <= 1,
            "two session tokens: {:?}",
            self.session_tokens
        );
        self.session_tokens.first().map(String::as_str)
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The one `Set-Cookie` for the session cookie (`session`, or `__Host-session` when the
    /// cookie is `Secure`), if any.
    pub fn session_cookie(&self) -> Option<&str> {
        let mut ours = self
            .set_cookies
            .iter()
            .filter(|value| value.starts_with("session=") || value.starts_with("__Host-session="));
        let first = ours.next();
        assert!(
            ours.next().is_none(),
            "two session cookies: {:?}",
            self.set_cookies
        );
        first.map(String::as_str)
    }
}
