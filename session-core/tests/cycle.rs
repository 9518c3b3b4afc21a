//! `cycle_id` racing other requests on the same session, through `SessionManager` on the memory
//! store, with the interleavings forced: a store wrapper holds chosen calls until the test lets
//! them go, so each case runs exactly the order it names, whatever the scheduler does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};
use session_core::{
    Changes, IdDigest, KeyRing, MemoryStore, Record, Session, SessionConfig, SessionManager,
    SessionStore, SetCookie, StoreError, Swap,
};
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// The store's side of a gate: announce that the call got here, then wait to be let go.
struct Gate {
    reached: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

impl Gate {
    async fn pass(self) {
        let _ = self.reached.send(());
        let _ = self.release.await;
    }
}

/// The test's side of a gate.
struct Held {
    reached: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl Held {
    /// Waits until the held call has arrived.
    async fn reached(&mut self) {
        (&mut self.reached)
            .await
            .expect("the held store call never happened");
    }

    /// Lets the held call continue.
    fn release(self) {
        let _ = self.release.send(());
    }
}

fn gate() -> (Gate, Held) {
    let (reached_tx, reached_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel();
    (
        Gate {
            reached: reached_tx,
            release: release_rx,
        },
        Held {
            reached: reached_rx,
            release: release_tx,
        },
    )
}

/// A memory store that can hold the n-th `create` before it runs, the next `take` before it
/// runs, and the next `load` after it has read (returning what it read then); and can make the
/// next `take` fail. Counts the applies that returned `false`; remembers the digest of every
/// `create`.
#[derive(Debug, Default)]
struct GatedStore {
    inner: MemoryStore,
    creates: AtomicUsize,
    failed_applies: AtomicUsize,
    fail_take: AtomicBool,
    gates: Mutex<Gates>,
    created: Mutex<Vec<IdDigest>>,
}

#[derive(Default)]
struct Gates {
    create: HashMap<usize, Gate>,
    take: Option<Gate>,
    load: Option<Gate>,
}

impl std::fmt::Debug for Gates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gates")
    }
}

impl GatedStore {
    /// Holds the `n`-th create (counting from 1 since the store was made).
    fn hold_create(&self, n: usize) -> Held {
        let (gate, held) = gate();
        self.gates.lock().unwrap().create.insert(n, gate);
        held
    }

    /// Holds the next take.
    fn hold_take(&self) -> Held {
        let (gate, held) = gate();
        self.gates.lock().unwrap().take = Some(gate);
        held
    }

    /// Holds the next load once it has read, before it returns.
    fn hold_next_load(&self) -> Held {
        let (gate, held) = gate();
        self.gates.lock().unwrap().load = Some(gate);
        held
    }

    fn created(&self, n: usize) -> IdDigest {
        self.created.lock().unwrap()[n - 1]
    }
}

#[async_trait]
impl SessionStore for GatedStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let n = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
        let gate = self.gates.lock().unwrap().create.remove(&n);
        if let Some(gate) = gate {
            gate.pass().await;
        }
        self.created.lock().unwrap().push(*id);
        self.inner.create(id, record).await
    }
    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let loaded = self.inner.load(id).await?;
        let gate = self.gates.lock().unwrap().load.take();
        if let Some(gate) = gate {
            gate.pass().await;
        }
        Ok(loaded)
    }
    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        let applied = self.inner.apply(id, changes).await?;
        if !applied {
            self.failed_applies.fetch_add(1, Ordering::SeqCst);
        }
        Ok(applied)
    }
    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.inner.touch(id, expires_at).await
    }
    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&serde_json::Value>,
        new: Option<&serde_json::Value>,
    ) -> Result<Swap, StoreError> {
        self.inner.compare_and_set(id, key, expected, new).await
    }
    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        let gate = self.gates.lock().unwrap().take.take();
        if let Some(gate) = gate {
            gate.pass().await;
        }
        if self.fail_take.swap(false, Ordering::SeqCst) {
            return Err(StoreError::backend("the store went away"));
        }
        self.inner.take(id).await
    }
    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.inner.delete_expired().await
    }
}

struct App {
    manager: SessionManager,
    store: Arc<GatedStore>,
}

impl App {
    fn new() -> Self {
        let store = Arc::new(GatedStore::default());
        let dyn_store: Arc<dyn SessionStore> = store.clone();
        let manager =
            SessionManager::new(dyn_store, KeyRing::generate(), SessionConfig::default()).unwrap();
        Self { manager, store }
    }

    /// A session holding `user = "ada"` (the store's first create); its cookie pair.
    async fn login(&self) -> String {
        let session = self.manager.session(std::iter::empty::<&[u8]>());
        session.set("user", "ada").await.unwrap();
        pair(&self.manager.finish(&session, 200).await.unwrap().unwrap())
    }

    /// A request carrying `cookie` that has loaded its (existing) session.
    async fn loaded(&self, cookie: &str) -> Session {
        let session = self.manager.session([cookie.as_bytes()]);
        assert!(!session.is_new().await.unwrap(), "the session exists");
        session
    }

    /// Finishes `session` on another task.
    fn finish(&self, session: Session) -> tokio::task::JoinHandle<Option<SetCookie>> {
        let manager = self.manager.clone();
        tokio::spawn(async move { manager.finish(&session, 200).await.unwrap() })
    }

    /// What the store holds under `digest`, as JSON.
    async fn stored(&self, digest: &IdDigest) -> Option<Value> {
        let record = self.store.inner.load(digest).await.unwrap()?;
        Some(Value::Object(record.data))
    }

    /// Everything a request with `cookie` sees.
    async fn entries(&self, cookie: &str) -> Value {
        let session = self.manager.session([cookie.as_bytes()]);
        Value::Object(session.entries().await.unwrap())
    }
}

fn pair(set_cookie: &SetCookie) -> String {
    set_cookie.as_str().split(';').next().unwrap().to_owned()
}

/// The regression the forwarding pointer exists for: a request that loaded the session before
/// the cycle and writes after the old record was taken, but before the new one exists, used to
/// lose its keys. Now it finds the pointer, waits until the cycle names the new id, and lands
/// there; it sends no cookie, so the browser keeps the new id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_between_the_take_and_the_new_record_lands_in_the_new_session() {
    let app = App::new();
    let old = app.login().await;
    let writer = app.loaded(&old).await;
    let cycler = app.loaded(&old).await;
    cycler.set("role", "admin").await.unwrap();
    cycler.cycle_id().await.unwrap();

    // Creates: 1 the login, 2 the pointer, 3 the new record.
    let mut new_record = app.store.hold_create(3);
    let cycling = app.finish(cycler);
    new_record.reached().await;
    assert_eq!(
        app.stored(&app.store.created(1)).await,
        None,
        "the old record is taken before the new one is created"
    );
    assert_eq!(
        app.stored(&app.store.created(2)).await,
        Some(json!({"__forwarding_pointer": true})),
        "the pointer exists, is marked as one, and names no id yet"
    );

    // The writer's apply to the old id fails; it reads the empty pointer and is held there.
    writer.set("late", &1).await.unwrap();
    let mut pointer_read = app.store.hold_next_load();
    let writing = app.finish(writer);
    pointer_read.reached().await;
    new_record.release();
    let new = pair(&cycling.await.unwrap().expect("the cycle sends the new id"));
    pointer_read.release();
    assert_eq!(
        writing.await.unwrap(),
        None,
        "the writer must not send the old id back"
    );

    assert_ne!(new, old);
    assert_eq!(
        app.entries(&new).await,
        json!({"user": "ada", "role": "admin", "late": 1}),
        "the late write was lost"
    );
    assert_eq!(app.entries(&old).await, json!({}), "the old id still works");
    assert_eq!(
        app.stored(&app.store.created(2)).await,
        Some(json!({"__forwarding_pointer": true, "to": app.store.created(3).to_hex()})),
        "the pointer names the new record"
    );
}

/// A write that lands after the pointer exists but before the take is in the taken record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_just_before_the_take_is_carried_to_the_new_id() {
    let app = App::new();
    let old = app.login().await;
    let writer = app.loaded(&old).await;
    let cycler = app.loaded(&old).await;
    cycler.cycle_id().await.unwrap();

    let mut take = app.store.hold_take();
    let cycling = app.finish(cycler);
    take.reached().await;
    writer.set("early", &true).await.unwrap();
    assert_eq!(app.finish(writer).await.unwrap(), None);
    take.release();
    let new = pair(&cycling.await.unwrap().expect("the cycle sends the new id"));
    assert_eq!(
        app.entries(&new).await,
        json!({"user": "ada", "early": true})
    );
    assert_eq!(app.entries(&old).await, json!({}));
}

/// A session destroyed after the pointer was made but before the take: the cycle gives up and
/// sends no cookie, and a writer that comes later brings nothing back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_racing_the_cycle_leaves_nothing_behind() {
    let app = App::new();
    let old = app.login().await;
    let writer = app.loaded(&old).await;
    let cycler = app.loaded(&old).await;
    cycler.set("role", "admin").await.unwrap();
    cycler.cycle_id().await.unwrap();
    let destroyer = app.loaded(&old).await;

    let mut take = app.store.hold_take();
    let cycling = app.finish(cycler);
    take.reached().await;
    destroyer.destroy().await.unwrap();
    let removal = app.finish(destroyer).await.unwrap().unwrap();
    assert!(removal.is_removal());
    take.release();
    assert_eq!(
        cycling.await.unwrap(),
        None,
        "a cycle of a destroyed session sends no cookie"
    );

    writer.set("late", &1).await.unwrap();
    assert_eq!(app.finish(writer).await.unwrap(), None);
    assert_eq!(app.entries(&old).await, json!({}), "the session came back");
    // Only the pointer, marked destroyed and naming no id, is left; it expires within a minute.
    assert_eq!(app.store.inner.len(), 1, "something was left or revived");
    assert_eq!(
        app.stored(&app.store.created(2)).await,
        Some(json!({"__forwarding_pointer": true, "destroyed": true}))
    );
}

/// Two requests cycling one session at once: the one whose take gets the record makes the one
/// new id (here the second, while the first is held before its take); the other sends no
/// cookie and its changes land in the new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_cycles_make_one_new_id_and_keep_both_changes() {
    let app = App::new();
    let old = app.login().await;
    let first = app.loaded(&old).await;
    let second = app.loaded(&old).await;
    first.set("a", &1).await.unwrap();
    first.cycle_id().await.unwrap();
    second.set("b", &2).await.unwrap();
    second.cycle_id().await.unwrap();

    let mut take = app.store.hold_take();
    let cycling = app.finish(first);
    take.reached().await;
    let new = pair(
        &app.finish(second)
            .await
            .unwrap()
            .expect("the second cycle took the record"),
    );
    take.release();
    assert_eq!(
        cycling.await.unwrap(),
        None,
        "the first cycle found the record gone and follows the second"
    );
    assert_eq!(
        app.entries(&new).await,
        json!({"user": "ada", "a": 1, "b": 2})
    );
    assert_eq!(app.store.inner.len(), 2, "the new record and one pointer");
    assert_eq!(app.entries(&old).await, json!({}));
}

/// A cycle that failed after making its pointer (here its take fails) must not stop the next
/// login from giving the session a new id: otherwise an attacker who planted the id could
/// cancel a cycle of it and keep the id valid through the victim's login (session fixation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_that_failed_midway_does_not_stop_the_next_one() {
    let app = App::new();
    let old = app.login().await;
    let failing = app.loaded(&old).await;
    failing.cycle_id().await.unwrap();
    app.store.fail_take.store(true, Ordering::SeqCst);
    let manager = app.manager.clone();
    assert!(manager.finish(&failing, 200).await.is_err());
    assert_eq!(
        app.stored(&app.store.created(2)).await,
        Some(json!({"__forwarding_pointer": true})),
        "the failed cycle's pointer names no id"
    );

    let login = app.loaded(&old).await;
    login.set("role", "admin").await.unwrap();
    login.cycle_id().await.unwrap();
    let new = pair(
        &app.finish(login)
            .await
            .unwrap()
            .expect("the login cycles the id"),
    );
    assert_ne!(new, old);
    assert_eq!(
        app.entries(&old).await,
        json!({}),
        "the planted id still works"
    );
    assert_eq!(
        app.entries(&new).await,
        json!({"user": "ada", "role": "admin"})
    );
}

/// After the new session is destroyed, a write that follows the pointer finds no new record
/// (it reads the new record's expiry first) and drops its changes: it never creates the new
/// session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_write_never_recreates_a_destroyed_new_session() {
    let app = App::new();
    let old = app.login().await;
    let writer = app.loaded(&old).await;
    let cycler = app.loaded(&old).await;
    cycler.cycle_id().await.unwrap();
    let new = pair(&app.finish(cycler).await.unwrap().unwrap());
    let new_digest = app.store.created(3);
    let logout = app.loaded(&new).await;
    logout.destroy().await.unwrap();
    app.finish(logout).await.unwrap();

    writer.set("late", &1).await.unwrap();
    assert_eq!(app.finish(writer).await.unwrap(), None);
    assert_eq!(
        app.stored(&new_digest).await,
        None,
        "the new session came back"
    );
    assert_eq!(app.entries(&new).await, json!({}));
    assert_eq!(
        app.store.failed_applies.load(Ordering::SeqCst),
        2,
        "one apply to the old id, and the logout's mark on the new id's forwarding pointer \
         (there is none: nothing cycled the new id); none to the destroyed new id"
    );
}

/// A logout (`destroy`) that loaded the session before a login cycled its id, and lands after
/// the cycle has finished: the new id held the user, and used to survive the logout. Now the
/// destroy follows the old id's forwarding pointer and deletes the new record too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_landing_after_a_finished_cycle_deletes_the_new_id() {
    let app = App::new();
    let old = app.login().await;
    let destroyer = app.loaded(&old).await;
    let cycler = app.loaded(&old).await;
    cycler.set("role", "admin").await.unwrap();
    cycler.cycle_id().await.unwrap();
    let new = pair(&app.finish(cycler).await.unwrap().unwrap());
    assert_eq!(
        app.entries(&new).await,
        json!({"user": "ada", "role": "admin"})
    );

    destroyer.destroy().await.unwrap();
    let removal = app.finish(destroyer).await.unwrap().unwrap();
    assert!(removal.is_removal());
    assert_eq!(
        app.entries(&new).await,
        json!({}),
        "the new id survived the logout"
    );
    assert_eq!(app.stored(&app.store.created(3)).await, None);
    // Only the old id's pointer is left (marked destroyed); it expires within a minute.
    assert_eq!(
        app.store.inner.len(),
        1,
        "something was left: {:?}",
        app.store
    );
}

/// The same race with the destroy landing while the cycle is between taking the old record and
/// creating the new one: the destroy marks the pointer, the cycle sees the mark after naming its
/// new id, deletes the new record and answers with a removal cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_landing_inside_a_cycle_makes_the_cycle_delete_its_new_id() {
    let app = App::new();
    let old = app.login().await;
    let destroyer = app.loaded(&old).await;
    let cycler = app.loaded(&old).await;
    cycler.cycle_id().await.unwrap();

    let mut create = app.store.hold_create(3);
    let cycling = app.finish(cycler);
    create.reached().await;
    destroyer.destroy().await.unwrap();
    assert!(app.finish(destroyer).await.unwrap().unwrap().is_removal());
    create.release();
    let answer = cycling
        .await
        .unwrap()
        .expect("the cycle answers with a cookie");
    assert!(
        answer.is_removal(),
        "the cycle gave out a live id after the logout"
    );
    assert_eq!(
        app.stored(&app.store.created(3)).await,
        None,
        "the new id survived"
    );
    assert_eq!(
        app.store.inner.len(),
        1,
        "something was left: {:?}",
        app.store
    );
}
