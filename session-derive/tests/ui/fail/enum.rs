#[derive(session_core::SessionSchema)]
enum Auth {
    Guest,
    User { id: u64 },
}

fn main() {}
