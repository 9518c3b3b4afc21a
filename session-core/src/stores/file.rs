//! [`FileStore`]: one JSON file per session in a directory, named by the id digest. Writes go to
//! a temporary file that is renamed over the session file, under a per-digest lock that holds
//! across threads and processes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::error::StoreError;
use crate::id::IdDigest;
use crate::record::{Changes, Record};
use crate::store::SessionStore;

/// The extension of session files: `<digest hex>.json`.
const SESSION_EXT: &str = ".json";
/// The extension of temporary files: `<digest hex>.<pid and counter in hex>.tmp`.
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

/// `OpenOptions` for a new private file (`0600` on Unix).
fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
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
    /// fails, with an error naming the path, if `dir` exists but is not a directory or if the
    /// directory or its `.locks` subdirectory cannot be created.
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
        let lock_dir = dir.join(LOCK_DIR);
        create_private_dir(&lock_dir)
            .map_err(|e| path_error("could not create the lock directory", &lock_dir, e))?;
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
                    .map_err(|e| path_error("could not open the lock file", &lock_path, e))?,
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
        match fs::read(&path) {
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
        // Unique among this host's writers; a leftover of a crashed process that had the same
        // pid is simply overwritten.
        static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
        let temp = self.dir.join(format!(
            "{}.{:x}{:x}{TEMP_EXT}",
            id.to_hex(),
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let path = self.session_path(id);
        let written = private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .and_then(|mut file| file.write_all(&bytes))
            .map_err(|e| path_error("could not write the temporary session file", &temp, e))
            .and_then(|()| {
                fs::rename(&temp, &path)
                    .map_err(|e| path_error("could not rename the temporary file over", &path, e))
            });
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Writes `record` to a new session file; `false` if one exists.
    fn create_new(&self, id: &IdDigest, record: &Record) -> Result<bool, StoreError> {
        let bytes = serde_json::to_vec(record).map_err(StoreError::Codec)?;
        let path = self.session_path(id);
        let mut file = match private_file().write(true).create_new(true).open(&path) {
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
                let stale = fs::metadata(&path)
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
    }
}
