#[derive(session_core::SessionSchema)]
#[session(prefix = 5, crate = "not a path")]
struct Auth {
    #[session(rename = true)]
    user_id: u64,
    #[session(rename)]
    name: String,
    #[session(default = "not a path!")]
    visits: u32,
    #[session(renew_on_change = true)]
    role: String,
    #[session(rename = "")]
    email: String,
}

fn main() {}
