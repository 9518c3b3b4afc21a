//! Every attribute at once: `prefix`, `crate` (through a re-export, as the framework adapters
//! provide), `rename`, both forms of `default`, `renew_on_change`, and `Option` fields.

mod reexport {
    pub use session_core::*;
}

fn default_theme() -> String {
    String::from("dark")
}

#[derive(session_core::SessionSchema)]
#[session(prefix = "prefs.", crate = "reexport")]
struct Prefs {
    #[session(rename = "colour-scheme", default = "default_theme")]
    theme: String,
    #[session(default)]
    font_size: u8,
    language: Option<String>,
    nested: std::option::Option<Vec<Option<u8>>>,
    #[session(renew_on_change)]
    owner: Option<u64>,
}

fn main() {
    assert_eq!(PrefsSession::THEME.name(), "prefs.colour-scheme");
    // `Option<T>` fields hold `T`: the getter returns `Option<T>`, not `Option<Option<T>>`.
    let _: reexport::Key<String> = PrefsSession::LANGUAGE;
    let _: reexport::Key<Vec<Option<u8>>> = PrefsSession::NESTED;
    let _: reexport::Key<u64> = PrefsSession::OWNER;
    let _: reexport::Key<u8> = PrefsSession::FONT_SIZE;
    fn getters(prefs: &PrefsSession) {
        let _: std::pin::Pin<Box<dyn std::future::Future<Output = reexport::Result<String>> + Send + '_>> =
            Box::pin(prefs.theme());
        let _: std::pin::Pin<Box<dyn std::future::Future<Output = reexport::Result<Option<String>>> + Send + '_>> =
            Box::pin(prefs.language());
        let _ = prefs.set_owner(5);
        let _ = prefs.set_language(String::new());
    }
    let _ = getters;
}
