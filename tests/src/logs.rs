//! Captures what the libraries log through `tracing`, so tests can check what reaches the log
//! (the install hint, the store error) as well as what reaches the client.

use std::io;
use std::sync::{Mutex, OnceLock};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

struct Capture;

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber for the whole test process (once).
pub fn capture() {
    capture_with("warn,session_core=info");
}

/// Installs the capturing subscriber with an `EnvFilter` directive, e.g. to capture everything
/// our crates log at `trace`. The first call in a process wins.
pub fn capture_with(filter: &str) {
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
}

/// Whether any captured log line contains `needle`. Tests run in parallel in one process, so
/// look for text unique to the test.
pub fn contain(needle: &str) -> bool {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&logs).contains(needle)
}

/// Everything captured so far.
pub fn text() -> String {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&logs).into_owned()
}
