//! The handle has the struct's visibility, so a schema declared in one module is usable from
//! another; every generated public item is documented, and a schema used only through its
//! handle raises no dead-code warning (all warnings are denied here).
#![deny(warnings)]

/// The session schemas of this app.
pub mod schemas {
    /// Who is logged in.
    #[derive(session_core::SessionSchema)]
    pub struct Login {
        /// The user's id.
        pub user_id: u64,
    }

    /// Crate-visible only.
    #[derive(session_core::SessionSchema)]
    pub(crate) struct Internal {
        pub(crate) step: u8,
    }

    /// No fields at all.
    #[derive(session_core::SessionSchema)]
    pub struct Nothing {}
}

/// Uses the handles from outside their module.
pub(crate) fn use_them(login: &schemas::LoginSession, internal: &schemas::InternalSession) {
    let _ = login.user_id();
    let _ = internal.set_step(1);
    let _: &[&str] = <schemas::Nothing as session_core::SessionSchema>::KEYS;
}

fn main() {
    let _ = use_them;
}
