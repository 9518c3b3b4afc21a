#[derive(session_core::SessionSchema)]
struct Auth {
    // A login field must not vanish when read.
    #[session(flash, renew_on_change)]
    user_id: u64,
    #[session(flash = true)]
    notice: String,
    #[session(flash, flash)]
    greeting: String,
}

fn main() {}
