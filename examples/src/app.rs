//! The example's session code, written once and served by all three frameworks: one function
//! per route, from a framework-free session handle to a framework-free [`Reply`]. Each
//! framework module only extracts the session and turns the `Reply` into its own response.
//!
//! The login flow uses the typed schema [`Account`]; `/kv` uses the raw key-value API.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use session_core::{Error, FRESH_AT_KEY, Lifetime, Session, SessionSchema};
#[cfg(doc)]
use session_core::{LIFETIME_KEY, OWNER_KEY};

/// The session key `/` shows and `/set` sets.
pub const TEST_KEY: &str = "test_key";
/// How recent a login `GET /sudo` accepts, in seconds: the "sudo mode" window.
pub const SUDO_WINDOW_SECS: u64 = 5 * 60;
/// How long `POST /login` with `"remember": true` keeps the session without use, in seconds:
/// 30 days, the configured maximum by default (the session also ends 30 days after the login).
pub const REMEMBER_ME_SECS: u64 = 30 * 24 * 60 * 60;
/// The largest request body the example accepts, in bytes (for `PUT /kv/{key}` and `POST /login`).
pub const BODY_LIMIT: usize = 1 << 20;

/// The login state, typed: `#[derive(SessionSchema)]` generates `AccountSession`, with
/// `user()`, `set_user(..)`, `has_user()`, `delete_user()` and the same for `is_authenticated`
/// and `welcome`.
#[derive(SessionSchema)]
pub struct Account {
    /// The logged-in user. Setting or deleting it gives the session a new id (login, logout).
    #[session(renew_on_change)]
    pub user: User,
    /// Whether the session belongs to a logged-in user; `false` when absent.
    #[session(default)]
    pub is_authenticated: bool,
    /// The greeting `POST /login` leaves for the next `GET /`, which shows it once (a flash).
    #[session(flash)]
    pub welcome: String,
}

/// The user stored by `POST /login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The name given at login, or `guest`.
    pub name: String,
}

/// The body `POST /login` accepts; it and its fields are optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    name: Option<String>,
    /// "Remember me": keep the session for [`REMEMBER_ME_SECS`] instead of the configured
    /// default (`true`), or only until the browser closes (`false`). Absent: the default.
    remember: Option<bool>,
}

/// A framework-free response: what each framework module turns into its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The body and its content type.
    pub body: Body,
}

/// The body of a [`Reply`].
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// `text/html; charset=utf-8`.
    Html(String),
    /// `application/json`.
    Json(Value),
    /// `text/plain; charset=utf-8`.
    Text(&'static str),
    /// No body (with status 204), or a redirect (with a 3xx status) to this location.
    Redirect(&'static str),
    /// No body.
    Empty,
}

impl Reply {
    fn html(body: String) -> Self {
        Self {
            status: 200,
            body: Body::Html(body),
        }
    }

    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Body::Json(body),
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: Body::Empty,
        }
    }

    /// The reply for a failed session call. Limits the client broke (a key too long, a value
    /// nested too deep: 400; a session or cookie too large, too many keys: 413) are a 4xx that
    /// says which, as are updates that cannot apply (409) or kept conflicting (503); anything
    /// else is an opaque 500, with the detail in the log only.
    pub fn from_error(error: &Error) -> Self {
        match error {
            Error::KeyTooLong { .. } | Error::TooDeep { .. } => {
                Self::json(400, json!({ "error": error.to_string() }))
            }
            Error::CookieTooLarge { .. }
            | Error::SessionTooLarge { .. }
            | Error::TooManyKeys { .. } => Self::json(413, json!({ "error": error.to_string() })),
            // An increment of something that is not an integer, or past its range; an update
            // that lost its session to a concurrent logout.
            Error::WrongType { .. } | Error::Overflow { .. } | Error::SessionGone { .. } => {
                Self::json(409, json!({ "error": error.to_string() }))
            }
            Error::UpdateConflict { .. } => Self::json(503, json!({ "error": error.to_string() })),
            // Listing or revoking sessions on the cookie store, which keeps none on the server.
            Error::NeedsServerStore { .. } => {
                Self::json(501, json!({ "error": error.to_string() }))
            }
            _ => {
                tracing::error!(
                    error = error as &dyn std::error::Error,
                    "a session call failed"
                );
                Self::internal_error()
            }
        }
    }

    /// The opaque 500 every framework's session layer also answers with.
    pub fn internal_error() -> Self {
        Self {
            status: 500,
            body: Body::Text("Internal Server Error"),
        }
    }
}

/// Runs a route's session code, turning its error into the reply for it.
async fn reply(route: impl Future<Output = Result<Reply, Error>>) -> Reply {
    route
        .await
        .unwrap_or_else(|error| Reply::from_error(&error))
}

/// `GET /`: the greeting of a login just made, once, and the value of `test_key`, or an
/// invitation to set it.
pub async fn index(session: &Session) -> Reply {
    reply(async {
        let welcome = AccountSession::from(session.clone()).welcome().await?;
        let text = match session.get_value(TEST_KEY).await? {
            None => "No value set. Go to /set to set a value".to_owned(),
            Some(Value::String(text)) => text,
            Some(other) => other.to_string(),
        };
        Ok(Reply::html(page(welcome.as_deref(), &text)))
    })
    .await
}

/// `GET /set`: sets `test_key` to `something` and redirects to `/`.
pub async fn set(session: &Session) -> Reply {
    reply(async {
        session.set(TEST_KEY, "something").await?;
        Ok(Reply {
            status: 303,
            body: Body::Redirect("/"),
        })
    })
    .await
}

/// `POST /login`: stores the user (from the optional JSON body `{"name": ..., "remember":
/// ...}`), `is_authenticated` and the greeting the next `GET /` shows; setting the user gives
/// the session a new id. With `"remember": true` the session lives [`REMEMBER_ME_SECS`] without
/// use (a 30-day cookie); with `false`, until the browser closes (a cookie without `Max-Age`).
pub async fn login(account: &AccountSession, body: &[u8]) -> Reply {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        LoginRequest::default()
    } else {
        match serde_json::from_slice::<LoginRequest>(body) {
            Ok(request) => request,
            Err(error) => return bad_request(&format!("the body is not a login request: {error}")),
        }
    };
    let name = request.name.unwrap_or_else(|| "guest".to_owned());
    if name.is_empty() || name.len() > 100 {
        return bad_request("name must be 1 to 100 bytes long");
    }
    let welcome = format!("Welcome back, {name}");
    let user = User { name };
    let lifetime = match request.remember {
        None => Lifetime::Configured,
        Some(true) => Lifetime::Remember(std::time::Duration::from_secs(REMEMBER_ME_SECS)),
        Some(false) => Lifetime::BrowserSession,
    };
    reply(async {
        account.set_lifetime(lifetime).await?;
        // Lists the session among the user's own (`GET /sessions`), for `/logout-everywhere`.
        account.set_owner(&user.name).await?;
        account.set_user(user.clone()).await?;
        account.set_is_authenticated(true).await?;
        account.set_welcome(welcome).await?;
        // The user just proved who they are (a real app checks a password here).
        account.mark_fresh().await?;
        Ok(Reply::json(
            200,
            json!({ "status": "logged in", "user": user }),
        ))
    })
    .await
}

/// `GET /profile`: the user when logged in, else 401.
pub async fn profile(account: &AccountSession) -> Reply {
    reply(async {
        Ok(match account.user().await? {
            Some(user) if account.is_authenticated().await? => {
                Reply::json(200, json!({ "user": user }))
            }
            _ => Reply::json(401, json!({ "error": "Not authenticated" })),
        })
    })
    .await
}

/// `POST /logout`: removes the user (which gives the session a new id), `is_authenticated` and
/// an unseen greeting.
pub async fn logout(account: &AccountSession) -> Reply {
    reply(async {
        account.delete_user().await?;
        account.delete_is_authenticated().await?;
        // A greeting the user never saw must not greet the next visitor of this browser.
        account.delete_welcome().await?;
        account.delete(FRESH_AT_KEY).await?;
        // The next user of this browser gets the default lifetime, not the "remember me".
        account.set_lifetime(Lifetime::Configured).await?;
        account.remove_owner().await?;
        Ok(Reply::json(200, json!({ "status": "logged out" })))
    })
    .await
}

/// `GET /sudo`: the check a sensitive action (a password change, a payment) makes: 200 with
/// the time of the login when the user logged in less than [`SUDO_WINDOW_SECS`] ago, 403 when
/// the login is older (a real app asks for the password again), 401 when not logged in.
pub async fn sudo(account: &AccountSession) -> Reply {
    reply(async {
        if !(account.has_user().await? && account.is_authenticated().await?) {
            return Ok(Reply::json(401, json!({ "error": "Not authenticated" })));
        }
        let window = std::time::Duration::from_secs(SUDO_WINDOW_SECS);
        Ok(if account.is_fresh_within(window).await? {
            let since = account.fresh_at().await?.map(|at| at.unix_timestamp());
            Reply::json(200, json!({ "fresh": true, "since": since }))
        } else {
            Reply::json(
                403,
                json!({ "error": "Your login is too old for this; log in again" }),
            )
        })
    })
    .await
}

/// `GET /sessions`: the logged-in user's live sessions, oldest first, as
/// `[{"handle", "createdAt", "lastSeen", "expiresAt", "current"}]` (times in Unix seconds); 401
/// when not logged in, 501 on the cookie store (which keeps no sessions to list).
pub async fn sessions(account: &AccountSession) -> Reply {
    reply(async {
        if !(account.has_user().await? && account.is_authenticated().await?) {
            return Ok(Reply::json(401, json!({ "error": "Not authenticated" })));
        }
        let sessions: Vec<Value> = account
            .sessions()
            .await?
            .into_iter()
            .map(|info| {
                json!({
                    "handle": info.handle,
                    "createdAt": info.created_at.unix_timestamp(),
                    "lastSeen": info.last_seen.unix_timestamp(),
                    "expiresAt": info.expires_at.unix_timestamp(),
                    "current": info.current,
                })
            })
            .collect();
        Ok(Reply::json(200, Value::Array(sessions)))
    })
    .await
}

/// `POST /logout-everywhere`: revokes every other session of the logged-in user (their
/// cookies lead nowhere from now on), then ends this one; `{"revoked": n}`, this one included.
/// 401 when not logged in, 501 on the cookie store (whose cookies cannot be revoked).
pub async fn logout_everywhere(account: &AccountSession) -> Reply {
    reply(async {
        if !(account.has_user().await? && account.is_authenticated().await?) {
            return Ok(Reply::json(401, json!({ "error": "Not authenticated" })));
        }
        let others = account.revoke_other_sessions().await?;
        account.destroy().await?;
        Ok(Reply::json(200, json!({ "revoked": others + 1 })))
    })
    .await
}

/// `GET /check`: whether there is a user and whether the session is authenticated.
pub async fn check(account: &AccountSession) -> Reply {
    reply(async {
        let has_user = account.has_user().await?;
        let is_authenticated = account.is_authenticated().await?;
        Ok(Reply::json(
            200,
            json!({ "hasUser": has_user, "isAuthenticated": is_authenticated }),
        ))
    })
    .await
}

/// `GET /kv`: every key and raw value of the session.
pub async fn kv_all(session: &Session) -> Reply {
    reply(async { Ok(Reply::json(200, Value::Object(session.entries().await?))) }).await
}

/// `GET /kv/{key}`: the raw value, or 404.
pub async fn kv_get(session: &Session, key: &str) -> Reply {
    reply(async {
        Ok(match session.get_value(key).await? {
            Some(value) => Reply::json(200, value),
            None => Reply::json(404, json!({ "error": "No such key" })),
        })
    })
    .await
}

/// The reply for a `/kv` write to a key of the typed login state ([`Account`]) or to one of
/// the engine's own keys (they start with `__`: the login's freshness [`FRESH_AT_KEY`], the
/// session's lifetime [`LIFETIME_KEY`], its owner [`OWNER_KEY`]…), if `key` is one: raw writes
/// must not forge a login (which would skip the id renewal `/login` does), a recent one, a
/// "remember me", or a place among another user's sessions.
fn protected(key: &str) -> Option<Reply> {
    let login_state = <Account as SessionSchema>::KEYS.contains(&key) || key.starts_with("__");
    login_state.then(|| {
        Reply::json(
            403,
            json!({ "error": format!("`{key}` is part of the login state; use /login and /logout") }),
        )
    })
}

/// `PUT /kv/{key}`: stores the JSON body under the key; 204. Keys of the login state are
/// refused with 403, an oversized session with 413.
pub async fn kv_put(session: &Session, key: &str, body: &[u8]) -> Reply {
    if let Some(refused) = protected(key) {
        return refused;
    }
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(value) => value,
        Err(error) => return bad_request(&format!("the body is not JSON: {error}")),
    };
    reply(async {
        session.set_value(key, value).await?;
        Ok(Reply::no_content())
    })
    .await
}

/// `POST /kv/{key}/incr`: adds 1 to the integer under the key (absent: 0) and returns the new
/// value, as JSON. Concurrent increments of one session are all counted (on a server-side
/// store; see [`Session::incr`]). A value that is not an integer is a 409; keys of the login
/// state are refused with 403.
pub async fn kv_incr(session: &Session, key: &str) -> Reply {
    if let Some(refused) = protected(key) {
        return refused;
    }
    reply(async { Ok(Reply::json(200, json!(session.incr(key, 1).await?))) }).await
}

/// `DELETE /kv/{key}`: removes the key; 204 whether or not it was there. Keys of the login
/// state are refused with 403.
pub async fn kv_delete(session: &Session, key: &str) -> Reply {
    if let Some(refused) = protected(key) {
        return refused;
    }
    reply(async {
        session.delete(key).await?;
        Ok(Reply::no_content())
    })
    .await
}

fn bad_request(message: &str) -> Reply {
    Reply::json(400, json!({ "error": message }))
}

/// `text` with the characters HTML gives a meaning escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The HTML page of `GET /`: the flash, if any, then the value, both escaped (any client can
/// set `test_key` through `/kv`).
fn page(flash: Option<&str>, text: &str) -> String {
    let flash = flash
        .map(|flash| format!("<p id=\"flash\">{}</p>", escape(flash)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>typed-sessions example</title></head>\
         <body>{flash}<p id=\"value\">{}</p></body></html>\n",
        escape(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_html() {
        let html = page(Some("<b>"), "<script>alert('x')</script> & \"y\"");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;")
        );
        assert!(html.contains("<p id=\"flash\">&lt;b&gt;</p>"));
        assert!(!html.contains("<script>"));
        assert!(!page(None, "x").contains("flash"));
    }
}
