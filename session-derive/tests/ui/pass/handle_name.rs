//! `#[session(handle = "...")]` names the generated handle, so a schema called `Auth` can live
//! next to another crate's `AuthSession` (axum-login has one).

use session_core::SessionSchema;

/// Stands for the other crate's type: the derive must not generate a second `AuthSession`.
#[allow(dead_code)]
struct AuthSession;

#[derive(SessionSchema)]
#[session(prefix = "auth.", handle = "AuthHandle")]
struct Auth {
    #[session(renew_on_change)]
    user_id: u64,
}

/// A raw identifier works too.
#[derive(SessionSchema)]
#[session(handle = "r#Handle")]
struct Other {
    n: u8,
}

fn handle_is<T: SessionSchema<Handle = H>, H>() {}

fn main() {
    handle_is::<Auth, AuthHandle>();
    handle_is::<Other, Handle>();
    assert_eq!(AuthHandle::USER_ID.name(), "auth.user_id");
    assert_eq!(Handle::N.name(), "n");
    fn accessors(auth: &AuthHandle) {
        let _ = auth.user_id();
        let _ = auth.set_user_id(7);
    }
    let _ = accessors;
    let _ = AuthSession;
}
