//! Test-only routes, framework-free like the example's own (`session_examples::app`), added to
//! the example's routes by each framework's server in [`crate::servers`]:
//!
//! | route | behaviour |
//! |---|---|
//! | `GET /test/plain` | `plain`, without asking for a session |
//! | `GET /test/fail` | sets `doomed`, then answers 500 |
//! | `POST /test/destroy` | destroys the session |
//! | `GET /test/has/{key}` | `{"has": bool}` |

use serde_json::json;
use session_core::Session;
use session_examples::app::{Body, Reply};

/// `GET /test/plain`.
pub fn plain() -> Reply {
    Reply {
        status: 200,
        body: Body::Text("plain"),
    }
}

/// `GET /test/fail`: a handler that changes the session and then fails.
pub async fn fail(session: &Session) -> Reply {
    match session.set("doomed", &true).await {
        Ok(()) => Reply::internal_error(),
        Err(error) => Reply::from_error(&error),
    }
}

/// `POST /test/destroy`.
pub async fn destroy(session: &Session) -> Reply {
    match session.destroy().await {
        Ok(()) => Reply {
            status: 200,
            body: Body::Json(json!({ "status": "destroyed" })),
        },
        Err(error) => Reply::from_error(&error),
    }
}

/// `GET /test/has/{key}`.
pub async fn has(session: &Session, key: &str) -> Reply {
    match session.has(key).await {
        Ok(has) => Reply {
            status: 200,
            body: Body::Json(json!({ "has": has })),
        },
        Err(error) => Reply::from_error(&error),
    }
}
