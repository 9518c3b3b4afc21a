#[derive(session_core::SessionSchema)]
#[session(handle = "Auth")]
struct Auth {
    user_id: u64,
}

fn main() {
    // The handle falls back to `AuthSession`: using it raises no second error.
    let _ = AuthSession::USER_ID;
}
