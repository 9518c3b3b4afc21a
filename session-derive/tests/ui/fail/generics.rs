#[derive(session_core::SessionSchema)]
struct Auth<T> {
    user: T,
}

#[derive(session_core::SessionSchema)]
struct Borrowed<'a> {
    name: &'a str,
}

fn main() {}
