#[derive(session_core::SessionSchema)]
struct Prefs {
    #[session(default)]
    theme: Option<String>,
}

fn main() {}
