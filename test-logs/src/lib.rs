//! Captures what one test thread logs through `tracing`, for the workspace's own tests.
//!
//! ```
//! let log = session_test_logs::capture();
//! tracing::warn!("the disk is full");
//! assert!(log.text().contains("WARN"));
//! assert!(log.text().contains("the disk is full"));
//! ```
//!
//! # Why not `tracing::subscriber::set_default`
//!
//! `tracing` decides once per line of code whether anyone wants its events, and asks the thread
//! that reaches the line first. With a thread's own subscriber (`set_default`) and no global one,
//! a sibling test that reaches the same `error!` first, on a thread without a subscriber, makes
//! that line "never wanted" for the whole process, and the capturing test sees an empty log
//! (tokio-rs/tracing#3611). That is how the actix adapter's log test failed on a busy CI machine.
//!
//! So the subscriber here is global, installed once, and it wants every event at `INFO` and
//! above from every thread. Its writer is what tells threads apart: what a capturing thread
//! logs goes to that thread's buffer, what any other thread logs is dropped, so tests running
//! in parallel do not see each other's lines.
//!
//! The capture follows the thread, not the task: it suits synchronous tests, `actix_web::test`
//! and `#[tokio::test]` on its default current-thread runtime, where the code under test runs
//! on the test's own thread.
//!
//! One window is left, and it is `tracing`'s: a line of code whose first use on another thread
//! is under way at the very instant the subscriber is installed can still be cached as unwanted.
//! Installing rebuilds every finished registration, and so does each [`capture`] call.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Once;

use tracing_subscriber::filter::LevelFilter;

thread_local! {
    /// The buffer of the capture running on this thread, if one is.
    static BUFFER: RefCell<Option<Rc<RefCell<Vec<u8>>>>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// What this thread logs from now on, at `INFO` and above, until the returned guard is dropped.
///
/// Lines are formatted as `tracing_subscriber::fmt` does, without colours:
/// `2026-12-04T21:06:46.123Z ERROR session_actix::error: could not save error=...`.
///
/// # Panics
///
/// If another global `tracing` subscriber was installed in this process first: this one must
/// be the process's default for the capture to work.
#[must_use = "the capture ends when the guard is dropped"]
pub fn capture() -> Captured {
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(LevelFilter::INFO)
            .with_writer(|| ThreadWriter)
            .try_init()
            .expect("session-test-logs must be the only global tracing subscriber of the process");
    });
    tracing::callsite::rebuild_interest_cache();
    let buffer = Rc::new(RefCell::new(Vec::new()));
    BUFFER.with(|slot| *slot.borrow_mut() = Some(Rc::clone(&buffer)));
    Captured { buffer }
}

/// A running capture; see [`capture`]. Dropping it ends the capture on this thread.
#[derive(Debug)]
pub struct Captured {
    buffer: Rc<RefCell<Vec<u8>>>,
}

impl Captured {
    /// Everything this thread has logged since the capture began.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.borrow()).into_owned()
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        BUFFER.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.as_ref().is_some_and(|b| Rc::ptr_eq(b, &self.buffer)) {
                *slot = None;
            }
        });
    }
}

/// Writes into the buffer of the capture on the current thread, or nowhere.
struct ThreadWriter;

impl io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        BUFFER.with(|slot| {
            if let Some(buffer) = slot.borrow().as_ref() {
                buffer.borrow_mut().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_sees_its_own_lines_and_no_other_threads() {
        let log = capture();
        tracing::warn!("mine");
        std::thread::spawn(|| {
            let other = capture();
            tracing::warn!("theirs");
            assert!(other.text().contains("theirs"));
            assert!(!other.text().contains("mine"));
        })
        .join()
        .unwrap();
        std::thread::spawn(|| tracing::error!("uncaptured"))
            .join()
            .unwrap();
        let text = log.text();
        assert!(text.contains("WARN") && text.contains("mine"), "{text}");
        assert!(
            !text.contains("theirs") && !text.contains("uncaptured"),
            "{text}"
        );
    }

    #[test]
    fn a_line_first_reached_by_a_thread_without_capture_is_still_captured_later() {
        fn the_line() {
            tracing::error!("reached twice");
        }
        // The capture first, then another thread is the first to reach the line: with a
        // thread's own subscriber (`set_default`), that thread would cache it as unwanted.
        let log = capture();
        std::thread::spawn(the_line).join().unwrap();
        the_line();
        assert_eq!(
            log.text().matches("reached twice").count(),
            1,
            "{}",
            log.text()
        );
    }

    #[test]
    fn below_info_is_left_out_and_nothing_is_kept_after_the_guard() {
        let log = capture();
        tracing::debug!("too fine");
        tracing::info!("kept");
        let text = log.text();
        drop(log);
        tracing::info!("after");
        assert!(
            text.contains("kept") && !text.contains("too fine"),
            "{text}"
        );
        let again = capture();
        assert_eq!(again.text(), "");
    }
}
