// A struct used with `TypedSession` without `#[derive(SessionSchema)]`: every error says what
// is missing and how to add it.
use session_axum::{SessionError, TypedSession};

struct Auth {
    user_id: u64,
}

async fn whoami(TypedSession(auth): TypedSession<Auth>) -> Result<String, SessionError> {
    let _ = auth;
    Ok(String::new())
}

fn main() {
    let _ = whoami;
    let _ = Auth { user_id: 1 }.user_id;
}
