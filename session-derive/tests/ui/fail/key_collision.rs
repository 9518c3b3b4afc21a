#[derive(session_core::SessionSchema)]
#[session(prefix = "auth.")]
struct Auth {
    user_id: u64,
    #[session(rename = "user_id")]
    id: u64,
    name: String,
    #[session(rename = "name")]
    display_name: String,
}

fn main() {}
