#[derive(session_core::SessionSchema)]
#[session(prefx = "auth.")]
struct Auth {
    #[session(renme = "id")]
    user_id: u64,
    #[session(skip)]
    name: String,
}

fn main() {}
