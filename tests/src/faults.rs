//! Servers the fault tests can stop and start: throw-away servers of the test's own (a
//! `redis-server`, a three-node Redis Cluster, a SecantusDB), and the PostgreSQL fault server
//! that `scripts/services` runs with a control script.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stores::{env, random_hex};

/// A free loopback port (free when asked: the server started on it binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A fresh directory under the system's temporary directory.
fn fresh_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("session-faults-{what}-{}", random_hex(8)));
    std::fs::create_dir_all(&dir).expect("create a server's directory");
    dir
}

/// Polls `ready` every 20 ms for up to 30 s; fails saying `what` did not happen.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A `redis-server` on a free loopback port, without persistence, killed when dropped.
pub struct ThrowAwayRedis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl ThrowAwayRedis {
    /// Starts one (`SESSION_TEST_REDIS_SERVER` is the binary).
    pub fn start() -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
            dir: fresh_dir("redis"),
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
        wait_until(&format!("{binary} listens"), || listening(self.port));
    }

    /// Kills the server (its data is gone: no persistence).
    pub fn kill(&mut self) {
        kill(&mut self.child);
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

/// A Redis Cluster of the test's own: three master nodes, no replicas, on free loopback ports,
/// without persistence. Killed when dropped.
pub struct ThrowAwayCluster {
    nodes: Vec<ClusterNode>,
    dir: PathBuf,
}

struct ClusterNode {
    port: u16,
    /// The cluster bus port, chosen free too (`cluster-port`).
    bus: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl ThrowAwayCluster {
    /// Starts three nodes (`SESSION_TEST_REDIS_SERVER`, and the `redis-cli` next to it), makes
    /// them a cluster and waits for `cluster_state:ok`.
    pub fn start() -> Self {
        let dir = fresh_dir("cluster");
        let nodes = (0..3)
            .map(|i| {
                let node_dir = dir.join(i.to_string());
                std::fs::create_dir_all(&node_dir).expect("create a node's directory");
                ClusterNode {
                    port: free_port(),
                    bus: free_port(),
                    dir: node_dir,
                    child: None,
                }
            })
            .collect();
        let mut cluster = Self { nodes, dir };
        cluster.spawn();
        let mut create = Command::new(redis_cli());
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        cluster.wait_ok();
        cluster
    }

    /// Starts every node, from its directory (so with its `nodes.conf`), and waits until each
    /// listens.
    fn spawn(&mut self) {
        let binary = env(
            "SESSION_TEST_REDIS_SERVER",
            "Redis (and sets the redis-server path)",
        );
        for node in &mut self.nodes {
            let child = Command::new(&binary)
                .args(["--bind", "127.0.0.1", "--port", &node.port.to_string()])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ])
                .args(["--cluster-port", &node.bus.to_string()])
                .args(["--cluster-node-timeout", "2000"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&node.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {binary}: {e}"));
            node.child = Some(child);
        }
        for node in &self.nodes {
            wait_until(&format!("cluster node {} listens", node.port), || {
                listening(node.port)
            });
        }
    }

    /// Waits until every node reports `cluster_state:ok`.
    fn wait_ok(&self) {
        for node in &self.nodes {
            wait_until(
                &format!("cluster node {} reaches cluster_state:ok", node.port),
                || redis_cli_on(node.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok"),
            );
        }
    }

    /// Kills every node at once (the data is gone: no persistence; `nodes.conf` stays).
    pub fn kill(&mut self) {
        for node in &mut self.nodes {
            kill(&mut node.child);
        }
    }

    /// Starts every node again on the same ports, with the same `nodes.conf` and directories,
    /// and waits for `cluster_state:ok`.
    pub fn restart(&mut self) {
        self.spawn();
        self.wait_ok();
    }

    /// `redis://127.0.0.1:PORT` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect()
    }

    /// Closes every client connection on every node (`CLIENT KILL TYPE normal`); returns how
    /// many were closed.
    pub fn kill_clients(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| {
                let killed = redis_cli_on(node.port, &["CLIENT", "KILL", "TYPE", "normal"]);
                killed
                    .trim()
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("CLIENT KILL answered {killed:?}"))
            })
            .sum()
    }

    /// Holds every write command (scripts included) on every node until
    /// [`unpause`](Self::unpause), or 30 s (`CLIENT PAUSE 30000 WRITE`).
    pub fn pause_writes(&self) {
        for node in &self.nodes {
            let reply = redis_cli_on(node.port, &["CLIENT", "PAUSE", "30000", "WRITE"]);
            assert_eq!(reply.trim(), "OK", "CLIENT PAUSE");
        }
    }

    /// Lets held commands run again (`CLIENT UNPAUSE`).
    pub fn unpause(&self) {
        for node in &self.nodes {
            redis_cli_on(node.port, &["CLIENT", "UNPAUSE"]);
        }
    }

    /// How many clients wait in a blocking or held command, over every node.
    pub fn blocked_clients(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| {
                redis_cli_on(node.port, &["INFO", "clients"])
                    .lines()
                    .find_map(|line| line.strip_prefix("blocked_clients:"))
                    .and_then(|count| count.trim().parse::<u64>().ok())
                    .expect("INFO clients has blocked_clients")
            })
            .sum()
    }
}

impl Drop for ThrowAwayCluster {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `redis-cli` next to `SESSION_TEST_REDIS_SERVER`.
fn redis_cli() -> PathBuf {
    let server = env(
        "SESSION_TEST_REDIS_SERVER",
        "Redis (and sets the redis-server path)",
    );
    Path::new(&server).with_file_name("redis-cli")
}

/// Runs one command with `redis-cli` on the node at `port`; its output (empty if it could not
/// connect).
fn redis_cli_on(port: u16, command: &[&str]) -> String {
    let output = Command::new(redis_cli())
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(command)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A SecantusDB (MongoDB wire protocol) of the test's own, on a free loopback port with its own
/// storage directory, killed (`SIGKILL`) when dropped.
///
/// It keeps its data in that directory and syncs its log on every commit (`--sync-on-commit`),
/// so every write it acknowledged is there after a kill and a restart. Without that flag it
/// flushes its log every moment or so (as `mongod` does for `j: false` writes), and a write
/// acknowledged just before a `SIGKILL` is lost: checked with SecantusDB 0.7.0b3.
pub struct ThrowAwayMongo {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl ThrowAwayMongo {
    /// Starts one (`SESSION_TEST_MONGODB_SERVER` is the `secantusd-py` console script).
    pub fn start() -> Self {
        let dir = fresh_dir("mongodb");
        // An explicit (empty) configuration stops it picking up a secantusd.toml from elsewhere.
        std::fs::write(dir.join("secantusd.toml"), "").expect("write an empty configuration");
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
        };
        server.restart();
        server
    }

    /// Starts the server (again) on the same port and storage, and waits until it listens.
    pub fn restart(&mut self) {
        let binary = env(
            "SESSION_TEST_MONGODB_SERVER",
            "SecantusDB (and sets the secantusd-py path)",
        );
        let child = Command::new(&binary)
            .current_dir(&self.dir)
            .arg("--config")
            .arg(self.dir.join("secantusd.toml"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(self.dir.join("data"))
            .arg("--sync-on-commit")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {binary}: {e}"));
        self.child = Some(child);
        wait_until(&format!("{binary} listens"), || listening(self.port));
    }

    /// Kills the server with `SIGKILL`: no clean shutdown.
    pub fn kill(&mut self) {
        kill(&mut self.child);
    }

    /// `mongodb://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }
}

impl Drop for ThrowAwayMongo {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
