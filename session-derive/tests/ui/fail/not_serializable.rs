struct Secret {
    bytes: Vec<u8>,
}

#[derive(session_core::SessionSchema)]
struct Vault {
    secret: Secret,
    count: u32,
}

fn main() {}
