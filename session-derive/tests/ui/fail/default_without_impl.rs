#[derive(serde::Serialize, serde::Deserialize)]
struct NoDefault {
    level: u8,
}

fn wrong_type() -> String {
    String::new()
}

#[derive(session_core::SessionSchema)]
struct Prefs {
    #[session(default)]
    level: NoDefault,
    #[session(default = "wrong_type")]
    size: u32,
}

fn main() {}
