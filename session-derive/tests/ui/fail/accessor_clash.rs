#[derive(session_core::SessionSchema)]
struct Flags {
    admin: bool,
    has_admin: bool,
    load_all: bool,
}

fn main() {}
