#[derive(session_core::SessionSchema)]
struct Auth;

fn main() {}
