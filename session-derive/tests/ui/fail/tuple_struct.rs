#[derive(session_core::SessionSchema)]
struct Auth(u64, String);

fn main() {}
