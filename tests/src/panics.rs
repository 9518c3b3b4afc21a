//! Records panics on the threads that serve the app, so a fault test can check that none
//! happened: a panic inside a store's blocking task, for one, would otherwise reach the client
//! only as an ordinary 500.

use std::sync::{Mutex, Once};

static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INSTALLED: Once = Once::new();

/// Installs the recording panic hook for the whole test process (once), in front of the
/// default one, which still prints every panic.
pub fn watch() {
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("<unnamed>");
            // The test's own thread is named after the test: its panics are failed assertions.
            // The app runs on Tokio's worker and blocking threads (and actix-web's own).
            if name.starts_with("tokio-runtime-worker") || name.starts_with("actix") {
                PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {info}"));
            }
            previous(info);
        }));
    });
}

/// The panics recorded on the app's threads so far (in any test of this process).
pub fn on_app_threads() -> Vec<String> {
    PANICS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
