//! Servers the fault tests can stop and start: a throw-away `redis-server` of the test's own,
//! and the PostgreSQL fault server that `scripts/services` runs with a control script.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stores::{env, random_hex};

/// A `redis-server` on a free loopback port, without persistence, killed when dropped.
pub struct ThrowAwayRedis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl ThrowAwayRedis {
    /// Starts one (`SESSION_TEST_REDIS_SERVER` is the binary).
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let dir = std::env::temp_dir().join(format!("session-http-redis-{}", random_hex(8)));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.restart();
        server
    }

    /// Starts the server (again) on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        let binary = env(
            "SESSION_TEST_REDIS_SERVER",
            "Redis (and sets the redis-server path)",
        );
        let child = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {binary}: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{binary} did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (its data is gone: no persistence).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for ThrowAwayRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The PostgreSQL fault server: `SESSION_TEST_POSTGRES_FAULT_URL`, stopped and started through
/// `SESSION_TEST_POSTGRES_FAULT_CTL`. Started again when dropped during a panic, so a failing
/// test does not leave it down for the next one.
pub struct FaultPostgres {
    ctl: String,
    /// The server's URL.
    pub url: String,
}

impl FaultPostgres {
    /// The server, which `scripts/services` started.
    pub fn get() -> Self {
        Self {
            ctl: env(
                "SESSION_TEST_POSTGRES_FAULT_CTL",
                "the PostgreSQL fault server",
            ),
            url: env(
                "SESSION_TEST_POSTGRES_FAULT_URL",
                "the PostgreSQL fault server",
            ),
        }
    }

    /// Runs the control script with `stop` or `start`; it returns once the server is down or
    /// accepting connections.
    pub fn control(&self, action: &str) {
        let status = Command::new(&self.ctl)
            .arg(action)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {} {action}: {e}", self.ctl));
        assert!(status.success(), "{} {action} failed: {status}", self.ctl);
    }
}

impl Drop for FaultPostgres {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new(&self.ctl).arg("start").status();
        }
    }
}
