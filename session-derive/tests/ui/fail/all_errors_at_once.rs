// One build reports every mistake, each at its own token.
#[derive(session_core::SessionSchema)]
#[session(prefix = "auth.", prefx = "typo")]
struct Auth {
    #[session(renme = "id")]
    user_id: u64,
    #[session(rename = "user_id")]
    id: u64,
    #[session(default)]
    email: Option<String>,
    #[session(renew_on_change, renew_on_change)]
    name: String,
}

fn main() {
    // Uses of the handle add no errors of their own.
    fn use_it(auth: &AuthSession) {
        let _ = auth.user_id();
        let _ = auth.set_name(String::new());
    }
    let _ = use_it;
}
