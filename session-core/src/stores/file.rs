//! [`FileStore`]: one JSON file per session in a directory, named by the id digest. Writes go to
//! a temporary file that is renamed over the session file, under a per-digest lock that holds
//! across threads and processes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record, Swap};
use crate::store::SessionStore;

/// The extension of session files: `<digest hex>.json`.
const SESSION_EXT: &str = ".json";
/// The extension of temporary files: `<digest hex>.<16 random hex digits>.tmp`.
const TEMP_EXT: &str = ".tmp";
/// The subdirectory holding the lock files.
const LOCK_DIR: &str = ".locks";
/// How many lock files (and in-process locks) digests are spread over: one per first byte.
const LOCK_SHARDS: usize = 256;
/// A temporary file older than this was left by a writer that crashed; `delete_expired` removes
/// it. Writers finish in milliseconds.
const STALE_TEMP_AGE: Duration = Duration::from_secs(10 * 60);

/// A session store keeping one file per session in a directory.
///
/// Each session is a JSON file named `<digest>.json`, where `<digest>` is the 64-hex-digit
/// [`IdDigest`] of the session id, so the directory never holds a usable session id. On Unix
/// files are created with mode `0600`, and a directory the store creates with mode `0700`.
///
/// - **The directory must be private.** On Unix, [`new`](Self::new) refuses a session
///   directory (or `.locks` subdirectory) that group or others can write to, or that is owned
///   by another user than the one this process creates files as: whoever can write there can
///   plant files and symlinks, replace sessions or delete them. The error names the directory
///   and the command that fixes it. The check is made once, at start-up; the directories above
///   it are not checked.
/// - **Nothing planted in it is followed.** The store never follows a symbolic link in its
///   directory: session files, lock files and temporary files are opened with `O_NOFOLLOW`, and
///   temporary files are created exclusively (`O_CREAT | O_EXCL`, which also refuses a
///   symlink) under names with 64 random bits, so nobody can predict them. A symlink (or
///   anything but a regular file) where a session file should be makes operations on that
///   session fail with an error naming it, rather than reading or writing what it points at.
/// - **Writes are atomic.** `apply` and `touch` write the new record to a temporary file in the
///   same directory and rename it over the session file, so a reader sees the old record or
///   the new one, and a crashed process never leaves a half-written record. Files are not
///   fsynced: after a power loss, records written just before may be lost or truncated, and a
///   truncated file is treated as missing (the user gets a fresh session).
/// - **Concurrent requests keep each other's keys.** Every change to a session (create, apply,
///   touch, take, delete) runs under an exclusive lock for its digest: an in-process lock plus an
///   advisory file lock (`File::lock`) on one of 256 lock files in `<dir>/.locks/`, chosen by
///   the digest's first byte. Several processes (or several `FileStore`s) may therefore share
///   one directory on a local file system. Do not delete `.locks` while stores are running.
/// - **Damaged files are ignored.** A file that does not parse is treated as missing and logged
///   at `warn` with its digest; `create` may then reuse the digest, and
///   [`delete_expired`](SessionStore::delete_expired) removes it.
/// - **Expired files stay until swept.** Loads never return an expired record, but only
///   `delete_expired` removes the files: call it periodically (see below).
///
/// Blocking file I/O runs on Tokio's blocking thread pool (`spawn_blocking`), so the store needs
/// a Tokio runtime.
///
/// ```no_run
/// use std::time::Duration;
/// use session_core::{FileStore, KeyRing, SessionConfig, SessionManager, SessionStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = FileStore::new("/var/lib/my-app/sessions")?;
///
/// // Sweep expired sessions every ten minutes.
/// let sweeper = store.clone();
/// tokio::spawn(async move {
///     let mut every = tokio::time::interval(Duration::from_secs(600));
///     loop {
///         every.tick().await;
///         if let Err(error) = sweeper.delete_expired().await {
///             eprintln!("session sweep failed: {error}");
///         }
///     }
/// });
///
/// let manager = SessionManager::new(store, KeyRing::from_env()?, SessionConfig::default())?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    lock_dir: PathBuf,
    /// One per lock file: serializes this store's own threads, and caches the open lock file.
    shards: Vec<Arc<Mutex<Option<File>>>>,
}

/// What a session file holds.
enum Stored {
    Missing,
    Corrupt(serde_json::Error),
    Record(Record),
}

/// An I/O error with the operation and the path that failed, kept inside `io::Error` so that
/// [`StoreError::Io`] carries it (with the original error as its source).
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", .path.display())]
struct PathError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: io::Error,
}

fn path_error(action: &'static str, path: &Path, source: io::Error) -> StoreError {
    let kind = source.kind();
    StoreError::Io(io::Error::new(
        kind,
        PathError {
            action,
            path: path.to_owned(),
            source,
        },
    ))
}

/// `OpenOptions` that, on Unix, refuse to follow a symbolic link at the last component of the
/// path (`O_NOFOLLOW`), plus `extra_flags`: the open fails with `ELOOP` instead of reaching
/// whatever a planted symlink points at.
fn no_follow(#[cfg_attr(not(unix), allow(unused_variables))] extra_flags: i32) -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | extra_flags);
    options
}

/// `OpenOptions` for a private file (`0600` on Unix when created), never following a symlink.
fn private_file() -> OpenOptions {
    let mut options = no_follow(0);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates the private file `path` for writing; fails if anything exists at `path`, a
/// symlink included (`O_CREAT | O_EXCL` never follows one, even a dangling one), so nothing is
/// ever written through a planted link.
fn new_private_file(path: &Path) -> io::Result<File> {
    private_file().write(true).create_new(true).open(path)
}

/// `error`, with a word of explanation if it is `O_NOFOLLOW` refusing a symbolic link.
fn explain_symlink(error: io::Error) -> io::Error {
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            error.kind(),
            format!(
                "{error}: it is a symbolic link, and the store never follows one in its \
                 directory; remove it"
            ),
        );
    }
    error
}

/// The whole content of the regular file at `path`, without following a symlink (and without
/// blocking on a FIFO planted in its place).
fn read_regular_file(path: &Path) -> io::Result<Vec<u8>> {
    #[cfg(unix)]
    let mut options = no_follow(libc::O_NONBLOCK);
    #[cfg(not(unix))]
    let mut options = no_follow(0);
    let mut file = options.read(true).open(path).map_err(explain_symlink)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(
            "it is not a regular file (a directory or device in its place?); remove it",
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// 16 hex digits from the operating system's random number generator, for the names of
/// temporary files: a name nobody can predict is a name nobody can plant a file at.
fn random_suffix() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| {
        io::Error::other(format!(
            "the operating system's random number generator failed: {e}"
        ))
    })?;
    Ok(format!("{:016x}", u64::from_be_bytes(bytes)))
}

/// Why the store refuses a directory, with what fixes it.
#[cfg(unix)]
#[derive(Debug, thiserror::Error)]
enum UnsafeDir {
    #[error(
        "{what} {path} is writable by group or others (mode {mode:04o}); run `chmod 700 {path}`",
        path = .path.display()
    )]
    Writable {
        what: &'static str,
        path: PathBuf,
        mode: u32,
    },
    #[error(
        "{what} {path} is owned by uid {owner}, not by uid {uid} that this process runs as; run \
         `chown {uid} {path}` or give the store a directory of its own",
        path = .path.display()
    )]
    Foreign {
        what: &'static str,
        path: PathBuf,
        owner: u32,
        uid: u32,
    },
    #[error(
        "{what} {path} is not a directory but a symbolic link or a file; remove it and the \
         store creates the directory",
        path = .path.display()
    )]
    NotADirectory { what: &'static str, path: PathBuf },
}

#[cfg(unix)]
impl From<UnsafeDir> for StoreError {
    fn from(reason: UnsafeDir) -> Self {
        StoreError::Io(io::Error::new(io::ErrorKind::PermissionDenied, reason))
    }
}

/// The user id this process creates files as (its effective, or file-system, uid), read from a
/// file it creates in `dir` and removes again: `geteuid` itself is only reachable through
/// `unsafe` or a dependency, and this is exactly the owner the store's files will have.
#[cfg(unix)]
fn own_uid(dir: &Path) -> Result<u32, StoreError> {
    use std::os::unix::fs::MetadataExt as _;
    let probe = dir.join(format!(
        "{}.{}{TEMP_EXT}",
        IdDigest::from_bytes([0; 32]).to_hex(),
        random_suffix()?
    ));
    let action = "could not create a file in the session directory (it must be writable by the \
                  user this process runs as)";
    let file = new_private_file(&probe).map_err(|e| path_error(action, &probe, e))?;
    let uid = file.metadata().map(|meta| meta.uid());
    drop(file);
    let removed = fs::remove_file(&probe);
    let uid = uid.map_err(|e| path_error(action, &probe, e))?;
    removed.map_err(|e| path_error("could not remove", &probe, e))?;
    Ok(uid)
}

/// Refuses `meta` (of the directory `path`, called `what`) if it is not a directory, if group
/// or others can write to it, or if it is not owned by `uid` (when given).
#[cfg(unix)]
fn check_private_dir(
    what: &'static str,
    path: &Path,
    meta: &fs::Metadata,
    uid: Option<u32>,
) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt as _;
    if !meta.is_dir() {
        return Err(UnsafeDir::NotADirectory {
            what,
            path: path.to_owned(),
        }
        .into());
    }
    if meta.mode() & 0o022 != 0 {
        return Err(UnsafeDir::Writable {
            what,
            path: path.to_owned(),
            mode: meta.mode() & 0o7777,
        }
        .into());
    }
    if let Some(uid) = uid
        && meta.uid() != uid
    {
        return Err(UnsafeDir::Foreign {
            what,
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        }
        .into());
    }
    Ok(())
}

/// Creates `path` and its missing parents (`0700` on Unix).
fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// The digest a session file name (`<64 lowercase hex>.json`) stands for.
fn session_file_digest(name: &str) -> Option<IdDigest> {
    let hex = name.strip_suffix(SESSION_EXT)?;
    IdDigest::from_hex(hex).filter(|id| id.to_hex() == hex)
}

/// Whether `name` is one of this store's temporary files (`<64 hex>.<hex>.tmp`).
fn is_temp_file(name: &str) -> bool {
    name.strip_suffix(TEMP_EXT)
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(hex, suffix)| {
            IdDigest::from_hex(hex).is_some() && suffix.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

impl FileStore {
    /// A store keeping its sessions in `dir`, which is created (with its parents) if missing.
    ///
    /// This constructor is synchronous and touches the file system: call it at start-up. It
    /// fails, with an error naming the path, if `dir` exists but is not a directory, if the
    /// directory or its `.locks` subdirectory cannot be created, or (on Unix) if either is
    /// writable by group or others or owned by another user than this process runs as.
    /// `dir` itself may be a symbolic link to the directory; `.locks` may not.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        if let Ok(meta) = fs::metadata(&dir)
            && !meta.is_dir()
        {
            return Err(path_error(
                "could not use the session directory",
                &dir,
                io::Error::new(
                    io::ErrorKind::NotADirectory,
                    "the path exists and is not a directory; choose another path",
                ),
            ));
        }
        create_private_dir(&dir)
            .map_err(|e| path_error("could not create the session directory", &dir, e))?;
        #[cfg(unix)]
        let uid = {
            const WHAT: &str = "session directory";
            let meta = fs::metadata(&dir)
                .map_err(|e| path_error("could not read the session directory", &dir, e))?;
            // The mode first: nothing is created in a directory others can write to.
            check_private_dir(WHAT, &dir, &meta, None)?;
            let uid = own_uid(&dir)?;
            check_private_dir(WHAT, &dir, &meta, Some(uid))?;
            uid
        };
        let lock_dir = dir.join(LOCK_DIR);
        create_private_dir(&lock_dir)
            .map_err(|e| path_error("could not create the lock directory", &lock_dir, e))?;
        #[cfg(unix)]
        {
            // Not followed: lock files must be created in this directory, not where a link
            // planted in its place points.
            let meta = fs::symlink_metadata(&lock_dir)
                .map_err(|e| path_error("could not read the lock directory", &lock_dir, e))?;
            check_private_dir("lock directory", &lock_dir, &meta, Some(uid))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                dir,
                lock_dir,
                shards: (0..LOCK_SHARDS)
                    .map(|_| Arc::new(Mutex::new(None)))
                    .collect(),
            }),
        })
    }

    /// The directory the sessions are kept in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Runs `op` on the blocking thread pool.
    async fn blocking<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || op(&inner))
            .await
            .map_err(StoreError::backend)?
    }

    /// Runs `op` on the blocking thread pool under the exclusive lock for `id`.
    async fn locked<T: Send + 'static>(
        &self,
        id: IdDigest,
        op: impl FnOnce(&Inner, &IdDigest) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        // Waiting for the in-process lock here, not on a blocking thread, keeps a burst of
        // requests for one session from filling the blocking pool.
        let mut guard = Arc::clone(self.inner.shard(&id)).lock_owned().await;
        self.blocking(move |inner| inner.with_file_lock(&id, &mut guard, || op(inner, &id)))
            .await
    }
}

impl Inner {
    fn shard(&self, id: &IdDigest) -> &Arc<Mutex<Option<File>>> {
        &self.shards[usize::from(id.as_bytes()[0])]
    }

    fn session_path(&self, id: &IdDigest) -> PathBuf {
        self.dir.join(format!("{}{SESSION_EXT}", id.to_hex()))
    }

    fn lock_path(&self, id: &IdDigest) -> PathBuf {
        self.lock_dir.join(format!("{:02x}.lock", id.as_bytes()[0]))
    }

    /// Runs `op` holding the file lock for `id`; `slot` is that shard's in-process lock, already
    /// held, with the lock file cached in it.
    fn with_file_lock<T>(
        &self,
        id: &IdDigest,
        slot: &mut Option<File>,
        op: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lock_path = self.lock_path(id);
        let file = match slot {
            Some(file) => file,
            None => slot.insert(
                private_file()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&lock_path)
                    .map_err(|e| {
                        path_error(
                            "could not open the lock file",
                            &lock_path,
                            explain_symlink(e),
                        )
                    })?,
            ),
        };
        file.lock()
            .map_err(|e| path_error("could not lock", &lock_path, e))?;
        let result = op();
        if let Err(error) = file.unlock() {
            // Closing the file releases the lock.
            tracing::warn!(lock = %lock_path.display(), %error, "could not unlock; closing the lock file");
            *slot = None;
        }
        result
    }

    /// Runs `op` under the exclusive lock for `id`, from a blocking thread.
    fn with_lock_blocking<T>(
        &self,
        id: &IdDigest,
        op: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.shard(id).blocking_lock();
        self.with_file_lock(id, &mut guard, op)
    }

    fn read(&self, id: &IdDigest) -> Result<Stored, StoreError> {
        let path = self.session_path(id);
        match read_regular_file(&path) {
            Ok(bytes) => Ok(match serde_json::from_slice(&bytes) {
                Ok(record) => Stored::Record(record),
                Err(error) => Stored::Corrupt(error),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Stored::Missing),
            Err(e) => Err(path_error("could not read the session file", &path, e)),
        }
    }

    /// The live record under `id`; a damaged file counts as missing (and is logged).
    fn read_live(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        Ok(match self.read(id)? {
            Stored::Record(record) if !record.is_expired_at(OffsetDateTime::now_utc()) => {
                Some(record)
            }
            Stored::Corrupt(error) => {
                tracing::warn!(session = %id, %error, "session file is damaged; treated as missing");
                None
            }
            _ => None,
        })
    }

    /// Writes `record` to a temporary file and renames it over the session file.
    fn replace(&self, id: &IdDigest, record: &Record) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(record).map_err(StoreError::Codec)?;
        let temp = self.dir.join(format!(
            "{}.{}{TEMP_EXT}",
            id.to_hex(),
            random_suffix().map_err(|e| path_error(
                "could not name a temporary file in",
                &self.dir,
                e
            ))?
        ));
        let action = "could not write the temporary session file";
        // A new file or nothing: never one that exists, nor the target of a symlink.
        let mut file =
            new_private_file(&temp).map_err(|e| path_error(action, &temp, explain_symlink(e)))?;
        let path = self.session_path(id);
        let written = file
            .write_all(&bytes)
            .map_err(|e| path_error(action, &temp, e))
            .and_then(|()| {
                fs::rename(&temp, &path)
                    .map_err(|e| path_error("could not rename the temporary file over", &path, e))
            });
        drop(file);
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Writes `record` to a new session file; `false` if one exists.
    fn create_new(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let bytes = serde_json::to_vec(record).map_err(StoreError::Codec)?;
        let path = self.session_path(id);
        let mut file = match new_private_file(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(path_error("could not create the session file", &path, e)),
        };
        if let Err(e) = file.write_all(&bytes) {
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(path_error("could not write the session file", &path, e));
        }
        Ok(true)
    }

    fn remove(&self, id: &IdDigest) -> Result<(), StoreError> {
        let path = self.session_path(id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(path_error("could not remove the session file", &path, e))
            }
            _ => Ok(()),
        }
    }

    /// Changes the live record under `id` with `update`; `false` if there is none.
    fn update(&self, id: &IdDigest, update: impl FnOnce(&mut Record)) -> Result<bool, StoreError> {
        let Some(mut record) = self.read_live(id)? else {
            return Ok(false);
        };
        update(&mut record);
        self.replace(id, &record)?;
        Ok(true)
    }

    /// Whether the session file under `id` is expired or damaged (so the sweep removes it).
    fn is_dead(&self, id: &IdDigest, now: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(match self.read(id)? {
            Stored::Missing => false,
            Stored::Corrupt(_) => true,
            Stored::Record(record) => record.is_expired_at(now),
        })
    }

    /// Removes the session file under `id` if it is expired or damaged; whether it did.
    fn sweep_one(&self, id: &IdDigest, now: OffsetDateTime) -> Result<bool, StoreError> {
        // Checked without the lock first, so live sessions cost no locking, then again under it.
        if !self.is_dead(id, now)? {
            return Ok(false);
        }
        self.with_lock_blocking(id, || {
            if !self.is_dead(id, now)? {
                return Ok(false);
            }
            self.remove(id)?;
            Ok(true)
        })
    }

    fn sweep(&self) -> Result<u64, StoreError> {
        let now = OffsetDateTime::now_utc();
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| path_error("could not list the session directory", &self.dir, e))?;
        let mut removed = 0;
        for entry in entries {
            let entry = entry
                .map_err(|e| path_error("could not list the session directory", &self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if let Some(id) = session_file_digest(name) {
                match self.sweep_one(&id, now) {
                    Ok(true) => removed += 1,
                    Ok(false) => {}
                    // One unreadable file must not stop the sweep of the others.
                    Err(error) => {
                        tracing::warn!(session = %id, %error, "could not sweep a session file")
                    }
                }
            } else if is_temp_file(name) {
                let path = entry.path();
                let stale = fs::symlink_metadata(&path)
                    .and_then(|meta| meta.modified())
                    .ok()
                    .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                    .is_some_and(|age| age > STALE_TEMP_AGE);
                if stale && let Err(error) = fs::remove_file(&path) {
                    tracing::warn!(file = %path.display(), %error, "could not remove a stale temporary file");
                }
            }
        }
        Ok(removed)
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

#[async_trait]
impl SessionStore for FileStore {
    async fn create(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let record = record.clone();
        self.locked(*id, move |inner, id| {
            match inner.read(id)? {
                Stored::Record(old) if !old.is_expired_at(OffsetDateTime::now_utc()) => {
                    return Ok(false);
                }
                Stored::Missing => {}
                Stored::Corrupt(error) => {
                    tracing::warn!(session = %id, %error, "session file is damaged; replaced");
                    inner.remove(id)?;
                }
                Stored::Record(_) => inner.remove(id)?,
            }
            inner.create_new(id, &record)
        })
        .await
    }

    async fn load(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // No lock: writers rename complete files into place, so a read sees a whole record.
        let id = *id;
        self.blocking(move |inner| inner.read_live(&id)).await
    }

    async fn apply(&self, id: &IdDigest, changes: &Changes) -> Result<bool, StoreError> {
        let changes = changes.clone();
        self.locked(*id, move |inner, id| {
            inner.update(id, |record| record.apply(&changes))
        })
        .await
    }

    async fn touch(&self, id: &IdDigest, expires_at: OffsetDateTime) -> Result<bool, StoreError> {
        self.locked(*id, move |inner, id| {
            inner.update(id, |record| record.expires_at = expires_at)
        })
        .await
    }

    async fn compare_and_set(
        &self,
        id: &IdDigest,
        key: &str,
        expected: Option<&Value>,
        new: Option<&Value>,
    ) -> Result<Swap, StoreError> {
        let (key, expected, new) = (key.to_owned(), expected.cloned(), new.cloned());
        // Under the lock `apply` takes: read, compare, and write the file only on a match.
        self.locked(*id, move |inner, id| {
            let Some(mut record) = inner.read_live(id)? else {
                return Ok(Swap::Missing);
            };
            let swap = record.compare_and_set(&key, expected.as_ref(), new.as_ref());
            if swap == Swap::Swapped {
                inner.replace(id, &record)?;
            }
            Ok(swap)
        })
        .await
    }

    async fn take(&self, id: &IdDigest) -> Result<Option<Record>, StoreError> {
        // Under the lock `apply` takes: an apply runs wholly before the read or after the unlink.
        self.locked(*id, |inner, id| {
            let record = inner.read_live(id)?;
            inner.remove(id)?;
            Ok(record)
        })
        .await
    }

    async fn delete(&self, id: &IdDigest) -> Result<(), StoreError> {
        self.locked(*id, |inner, id| inner.remove(id)).await
    }

    /// Removes expired session files, and damaged ones, returning how many it removed. Also
    /// removes temporary files left by a crashed writer (older than ten minutes), which are not
    /// counted. A file that cannot be read or removed is logged at `warn` and skipped.
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.blocking(Inner::sweep).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_recognised_exactly() {
        let id = IdDigest::from_bytes([0xab; 32]);
        let hex = id.to_hex();
        assert_eq!(session_file_digest(&format!("{hex}.json")), Some(id));
        assert_eq!(
            session_file_digest(&format!("{}.json", hex.to_uppercase())),
            None
        );
        assert_eq!(session_file_digest(&format!("{hex}.tmp")), None);
        assert_eq!(session_file_digest("notes.json"), None);
        assert!(is_temp_file(&format!("{hex}.0123456789abcdef.tmp")));
        assert!(!is_temp_file(&format!("{hex}.json")));
        assert!(!is_temp_file("upload.tmp"));
        assert!(!is_temp_file(&format!("{hex}.not-hex.tmp")));
        let suffix = random_suffix().unwrap();
        assert!(is_temp_file(&format!("{hex}.{suffix}.tmp")), "{suffix}");
        assert_ne!(suffix, random_suffix().unwrap());
    }

    /// What the store's writes rely on: an exclusive create refuses a symlink at the path,
    /// dangling or not, and leaves its target alone; `O_NOFOLLOW` is not even needed for that
    /// (POSIX: with `O_CREAT | O_EXCL` "symbolic links are not followed"), which the bare
    /// `create_new` below shows. Reads and the lock files, which are not created exclusively,
    /// need `O_NOFOLLOW`.
    #[cfg(unix)]
    #[test]
    fn exclusive_creates_and_reads_never_follow_a_symlink() {
        let dir = std::env::temp_dir().join(format!(
            "session-file-store-unit-{}-{}",
            std::process::id(),
            random_suffix().unwrap()
        ));
        create_private_dir(&dir).unwrap();
        let target = dir.join("target");
        fs::write(&target, b"untouched").unwrap();
        let (to_file, dangling) = (dir.join("to-file"), dir.join("dangling"));
        std::os::unix::fs::symlink(&target, &to_file).unwrap();
        std::os::unix::fs::symlink(dir.join("created"), &dangling).unwrap();

        for link in [&to_file, &dangling] {
            let error = new_private_file(link).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AlreadyExists, "{link:?}");
            let bare = OpenOptions::new().write(true).create_new(true).open(link);
            assert_eq!(bare.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        }
        let error = read_regular_file(&to_file).unwrap_err();
        assert_eq!(error.raw_os_error(), None, "explained: {error}");
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(
            read_regular_file(&dir).is_err(),
            "a directory is not a session file"
        );
        let opened = private_file()
            .read(true)
            .write(true)
            .create(true)
            .open(&dangling);
        assert!(
            opened.is_err(),
            "a lock-file open followed a dangling symlink"
        );

        assert_eq!(fs::read(&target).unwrap(), b"untouched");
        assert!(!dir.join("created").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
