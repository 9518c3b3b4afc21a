//! [`Tmpfs`]: a small tmpfs of the test's own for the file-system faults, which a test makes
//! read-only and writable again, or fills and empties again; unmounted when dropped. Mounting
//! needs root: root ignores file permissions, so a read-only mode bit would prove nothing.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::stores::random_hex;

/// A tmpfs mounted on a fresh directory under the system's temporary directory.
pub struct Tmpfs {
    dir: PathBuf,
    read_only: bool,
    filler: Option<PathBuf>,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount` takes it: `256k`, `1m`). Fails, saying that the
    /// fault tests need root, when the test is not root or the mount is refused.
    pub fn mount(size: &str) -> Self {
        let uid = std::fs::metadata("/proc/self").map(|meta| meta.uid());
        assert!(
            matches!(uid, Ok(0)),
            "the file-system fault tests need root, to mount a tmpfs they can make read-only and \
             fill (CI runs them as root); this test runs as uid {uid:?}: run it as root"
        );
        let dir = std::env::temp_dir().join(format!("session-faults-fs-{}", random_hex(8)));
        std::fs::create_dir_all(&dir).expect("create the mount point");
        let tmpfs = Self {
            dir,
            read_only: false,
            filler: None,
        };
        let options = format!("size={size},mode=0700");
        tmpfs.run(&["mount", "-t", "tmpfs", "-o", &options, "tmpfs", tmpfs.dir()]);
        tmpfs
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Makes the directory read-only: every file opened by path from now on is read-only, and
    /// nothing can be created, renamed or removed in it.
    ///
    /// This is a read-only bind mount of the directory on top of itself, not `mount -o
    /// remount,ro`: the kernel refuses a read-only remount (EBUSY) while any file on it is
    /// open for writing, as the file store's lock files and SQLite's database always are. So
    /// a descriptor opened before this call keeps its write access; tests that need none open
    /// (SQLite) wait until their pool has closed its connections.
    pub fn read_only(&mut self) {
        assert!(!self.read_only, "the tmpfs is already read-only");
        self.run(&["mount", "--bind", self.dir(), self.dir()]);
        self.read_only = true;
        self.run(&["mount", "-o", "remount,bind,ro", self.dir()]);
    }

    /// Makes the directory writable again (removes the read-only bind mount).
    pub fn writable(&mut self) {
        assert!(self.read_only, "the tmpfs is not read-only");
        self.run(&["umount", self.dir()]);
        self.read_only = false;
    }

    /// Fills the file system with a filler file, up to the last byte; returns its size.
    pub fn fill(&mut self) -> u64 {
        let path = self.dir.join("filler");
        let mut file = File::create(&path).expect("create the filler file");
        self.filler = Some(path);
        let chunk = vec![0xa5; 64 * 1024];
        let mut written = 0;
        loop {
            match file.write(&chunk) {
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the tmpfs failed otherwise than by being full: {e}"),
            }
        }
        written
    }

    /// Frees the space again (removes the filler file).
    pub fn unfill(&mut self) {
        if let Some(path) = self.filler.take() {
            std::fs::remove_file(path).expect("remove the filler file");
        }
    }

    /// The mount point as text (a temporary directory's path: ASCII).
    fn dir(&self) -> &str {
        self.dir.to_str().expect("an ASCII temporary directory")
    }

    /// Runs a command (`mount` or `umount`) and fails the test, saying why, if it fails.
    fn run(&self, command: &[&str]) {
        let output = Command::new(command[0])
            .args(&command[1..])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", command[0]));
        assert!(
            output.status.success(),
            "`{}` failed ({}): {}; the file-system fault tests need root and a kernel that \
             lets root mount a tmpfs (CI runs them as root)",
            command.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let umount = |args: &[&str]| {
            Command::new("umount")
                .args(args)
                .arg(&self.dir)
                .output()
                .is_ok_and(|output| output.status.success())
        };
        if self.read_only {
            let _ = umount(&[]);
        }
        // A store being dropped may still hold files open (sqlx closes SQLite connections on
        // its own threads): detach the mount then, the kernel frees it once they are closed.
        if !umount(&[]) {
            let _ = umount(&["--lazy"]);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}
