//! [`Proxy`]: a TCP proxy between a store and its server, which a test can cut: every open
//! connection at once ([`Proxy::cut`]), or one connection in the middle of a command, after the
//! server has received the command and before its reply reaches the store
//! ([`Proxy::swallow_reply_to`], [`Proxy::swallow_reply_containing`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A loopback TCP proxy to one server. Connections are relayed byte for byte until the test
/// cuts them; connections opened after a cut are relayed normally, so drivers can reconnect.
/// Dropping it stops accepting and closes every connection.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    upstream: SocketAddr,
    /// Bumped by every cut; each connection closes when it changes.
    cuts: watch::Sender<u64>,
    /// The armed trap, sprung (and disarmed) by the first chunk that matches it.
    trap: Mutex<Option<Trap>>,
    open: AtomicUsize,
    swallowed: AtomicUsize,
}

/// Which chunk makes a connection swallow a reply.
enum Trap {
    /// The server's reply to the client chunk containing these bytes.
    Request(Vec<u8>),
    /// The server chunk containing these bytes.
    Reply(Vec<u8>),
}

impl Proxy {
    /// Listens on a free loopback port and relays every connection to `upstream`
    /// (`host:port`, as in a server URL).
    pub async fn start(upstream: &str) -> Self {
        let upstream = tokio::net::lookup_host(upstream)
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("cannot resolve the proxy's upstream {upstream:?}"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy to a free loopback port");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            upstream,
            cuts: watch::Sender::new(0),
            trap: Mutex::new(None),
            open: AtomicUsize::new(0),
            swallowed: AtomicUsize::new(0),
        });
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(accepting.clone(), client));
            }
        });
        Self {
            addr,
            shared,
            accept,
        }
    }

    /// `127.0.0.1:PORT`, to put in the store's URL in place of the server's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every open connection at once, in both directions; returns how many there were.
    pub fn cut(&self) -> usize {
        let open = self.shared.open.load(Ordering::SeqCst);
        self.shared.cuts.send_modify(|cuts| *cuts += 1);
        open
    }

    /// Arms a one-shot trap: the next client chunk containing `needle` still reaches the server,
    /// but the server's reply to it is swallowed and its connection closed, so the store loses
    /// the connection in the middle of that command, not knowing whether it ran.
    pub fn swallow_reply_to(&self, needle: &[u8]) {
        self.arm(Trap::Request(needle.to_vec()));
    }

    /// Arms a one-shot trap: the next server chunk containing `needle` is swallowed and its
    /// connection closed. For protocols whose commands are not recognisable on the wire (e.g.
    /// PostgreSQL's prepared statements) but whose replies are (`UPDATE 1`).
    pub fn swallow_reply_containing(&self, needle: &[u8]) {
        self.arm(Trap::Reply(needle.to_vec()));
    }

    /// How many replies the traps swallowed so far.
    pub fn swallowed(&self) -> usize {
        self.shared.swallowed.load(Ordering::SeqCst)
    }

    fn arm(&self, trap: Trap) {
        *self.shared.trap.lock().unwrap_or_else(|e| e.into_inner()) = Some(trap);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl Shared {
    /// Whether `chunk`, going to the server (`to_server`) or coming back, springs the trap.
    fn springs(&self, to_server: bool, chunk: &[u8]) -> bool {
        let mut trap = self.trap.lock().unwrap_or_else(|e| e.into_inner());
        let hit = match trap.as_ref() {
            Some(Trap::Request(needle)) => to_server && contains(chunk, needle),
            Some(Trap::Reply(needle)) => !to_server && contains(chunk, needle),
            None => false,
        };
        if hit {
            *trap = None;
        }
        hit
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Counts a connection as open while it lives.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Relays one connection until either side closes it, a cut, or a sprung trap; returning drops
/// both sockets, which closes them.
async fn relay(shared: Arc<Shared>, client: TcpStream) {
    let mut cuts = shared.cuts.subscribe();
    cuts.borrow_and_update();
    let Ok(server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    shared.open.fetch_add(1, Ordering::SeqCst);
    let _open = Open(shared.clone());
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (mut up, mut down) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    let mut swallow_next_reply = false;
    loop {
        tokio::select! {
            _ = cuts.changed() => return,
            read = client_read.read(&mut up) => {
                let Ok(n @ 1..) = read else { return };
                swallow_next_reply |= shared.springs(true, &up[..n]);
                if server_write.write_all(&up[..n]).await.is_err() {
                    return;
                }
            }
            read = server_read.read(&mut down) => {
                let Ok(n @ 1..) = read else { return };
                if swallow_next_reply || shared.springs(false, &down[..n]) {
                    shared.swallowed.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                if client_write.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
