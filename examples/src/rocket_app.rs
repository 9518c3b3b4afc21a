//! The example app on Rocket: the routes of [`crate::app`], served through `session-rocket`.

use std::io::Cursor;

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{Route, delete, get, post, put, routes};
use session_rocket::{Session, TypedSession};

use crate::app::{self, Account, Body, Reply};

/// The example's routes, to mount at `/`. The session fairing is attached by the caller:
/// `rocket::build().attach(SessionFairing::new(manager)).mount("/", routes())`.
pub fn routes() -> Vec<Route> {
    routes![
        index,
        set,
        login,
        profile,
        logout,
        check,
        sudo,
        sessions,
        logout_everywhere,
        kv_all,
        kv_get,
        kv_put,
        kv_incr,
        kv_delete
    ]
}

/// A framework-free [`Reply`] as a Rocket responder.
#[derive(Debug)]
pub struct Respond(pub Reply);

impl<'r> Responder<'r, 'static> for Respond {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let reply = self.0;
        let mut response = Response::build();
        response.status(Status::from_code(reply.status).unwrap_or(Status::InternalServerError));
        match reply.body {
            Body::Html(html) => {
                response
                    .header(ContentType::HTML)
                    .sized_body(html.len(), Cursor::new(html));
            }
            Body::Json(value) => {
                let json = value.to_string();
                response
                    .header(ContentType::JSON)
                    .sized_body(json.len(), Cursor::new(json));
            }
            Body::Text(text) => {
                response
                    .header(ContentType::Plain)
                    .sized_body(text.len(), Cursor::new(text));
            }
            Body::Redirect(location) => {
                response.header(Header::new("Location", location));
            }
            Body::Empty => {}
        }
        response.ok()
    }
}

/// Reads a request body of at most [`app::BODY_LIMIT`] bytes; `Err` is the reply for a body
/// that is too large or unreadable.
pub async fn read_body(data: Data<'_>) -> Result<Vec<u8>, Respond> {
    match data.open(app::BODY_LIMIT.bytes()).into_bytes().await {
        Ok(bytes) if bytes.is_complete() => Ok(bytes.into_inner()),
        Ok(_) => Err(Respond(Reply {
            status: 413,
            body: Body::Text("Payload Too Large"),
        })),
        Err(_) => Err(Respond(Reply {
            status: 400,
            body: Body::Text("Bad Request"),
        })),
    }
}

#[get("/")]
async fn index(session: Session) -> Respond {
    Respond(app::index(&session).await)
}

#[get("/set")]
async fn set(session: Session) -> Respond {
    Respond(app::set(&session).await)
}

#[post("/login", data = "<data>")]
async fn login(account: TypedSession<Account>, data: Data<'_>) -> Respond {
    match read_body(data).await {
        Ok(body) => Respond(app::login(&account, &body).await),
        Err(reply) => reply,
    }
}

#[get("/profile")]
async fn profile(account: TypedSession<Account>) -> Respond {
    Respond(app::profile(&account).await)
}

#[post("/logout")]
async fn logout(account: TypedSession<Account>) -> Respond {
    Respond(app::logout(&account).await)
}

#[get("/sudo")]
async fn sudo(account: TypedSession<Account>) -> Respond {
    Respond(app::sudo(&account).await)
}

#[get("/sessions")]
async fn sessions(account: TypedSession<Account>) -> Respond {
    Respond(app::sessions(&account).await)
}

#[post("/logout-everywhere")]
async fn logout_everywhere(account: TypedSession<Account>) -> Respond {
    Respond(app::logout_everywhere(&account).await)
}

#[get("/check")]
async fn check(account: TypedSession<Account>) -> Respond {
    Respond(app::check(&account).await)
}

#[get("/kv")]
async fn kv_all(session: Session) -> Respond {
    Respond(app::kv_all(&session).await)
}

#[get("/kv/<key>")]
async fn kv_get(session: Session, key: &str) -> Respond {
    Respond(app::kv_get(&session, key).await)
}

#[put("/kv/<key>", data = "<data>")]
async fn kv_put(session: Session, key: &str, data: Data<'_>) -> Respond {
    match read_body(data).await {
        Ok(body) => Respond(app::kv_put(&session, key, &body).await),
        Err(reply) => reply,
    }
}

#[post("/kv/<key>/incr")]
async fn kv_incr(session: Session, key: &str) -> Respond {
    Respond(app::kv_incr(&session, key).await)
}

#[delete("/kv/<key>")]
async fn kv_delete(session: Session, key: &str) -> Respond {
    Respond(app::kv_delete(&session, key).await)
}
