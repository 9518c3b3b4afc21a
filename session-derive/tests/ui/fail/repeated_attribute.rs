#[derive(session_core::SessionSchema)]
#[session(prefix = "a.", prefix = "b.", handle = "A", handle = "B")]
struct Auth {
    #[session(rename = "id")]
    #[session(rename = "uid")]
    user_id: u64,
    #[session(renew_on_change, renew_on_change)]
    name: String,
    #[session(default, default = "zero")]
    visits: u32,
}

fn zero() -> u32 {
    0
}

fn main() {}
