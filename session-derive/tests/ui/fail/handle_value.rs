#[derive(session_core::SessionSchema)]
#[session(handle = "Auth Handle")]
struct Auth {
    user_id: u64,
}

#[derive(session_core::SessionSchema)]
#[session(handle = 5)]
struct Prefs {
    theme: String,
}

#[derive(session_core::SessionSchema)]
#[session(handle)]
struct Cart {
    items: Vec<u64>,
}

fn main() {}
