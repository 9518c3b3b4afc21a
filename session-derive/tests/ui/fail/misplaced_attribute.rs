#[derive(session_core::SessionSchema)]
#[session(rename = "auth")]
struct Auth {
    #[session(prefix = "user.")]
    user_id: u64,
    #[session(handle = "NameHandle")]
    name: String,
}

fn main() {}
