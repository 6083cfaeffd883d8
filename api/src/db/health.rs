//! Whether the process can write what it collects: the outcome of the collector's latest write,
//! and, for SQLite, whether the file it writes is still the one it opened. A database that
//! answers reads can still refuse writes (a full disk, a read-only file system), and a SQLite
//! file deleted or replaced under a running process keeps answering from the old inode, whose
//! writes are lost: readiness says so, with the reason.

use std::{
    fs,
    io::ErrorKind,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::Mutex,
};

use chrono::{DateTime, Utc};

use crate::domain::timestamp;

/// The collector's latest write of each kind, shared with readiness.
#[derive(Debug, Default)]
pub struct WriteHealth {
    failing: Mutex<[Option<WriteFailure>; 2]>,
}

/// What the collector writes. Each kind's health is its own: a credits refresh that goes through
/// (it may write nothing at all) says nothing of the cycles, which may still fail on a full disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Cycle = 0,
    Credits = 1,
}

/// Why the collector's writes fail, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    pub since: DateTime<Utc>,
    pub reason: String,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the collector cannot write to the database (since {}): {}",
            timestamp::format(&self.since),
            self.reason
        )
    }
}

impl WriteHealth {
    /// A write of `writer` went through: what failed before for it is over.
    pub fn succeeded(&self, writer: Writer) {
        self.lock()[writer as usize] = None;
    }

    /// A write of `writer` failed for `reason` at `now`; a failure already running keeps its
    /// start.
    pub fn failed(&self, writer: Writer, reason: String, now: DateTime<Utc>) {
        let slot = &mut self.lock()[writer as usize];
        let since = slot.as_ref().map_or(now, |failure| failure.since);
        *slot = Some(WriteFailure { since, reason });
    }

    /// The failure running now (the oldest, if both kinds fail), if any.
    pub fn failure(&self) -> Option<WriteFailure> {
        self.lock()
            .iter()
            .flatten()
            .min_by_key(|f| f.since)
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [Option<WriteFailure>; 2]> {
        // A panic while holding this lock cannot leave the option half-written.
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The SQLite file the pool opened, and which file it was (device and inode).
#[derive(Debug, Clone)]
pub(crate) struct SqliteFile {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

/// Why the SQLite file the pool writes is not the one at its path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FileProblem {
    #[error(
        "the SQLite database file {0} is gone (deleted or moved): what is written now would be \
         lost; put it back or restart the service"
    )]
    Gone(PathBuf),
    #[error(
        "the SQLite database file {0} was replaced since the service opened it: the service \
         still reads and writes the old one; restart it"
    )]
    Replaced(PathBuf),
}

impl SqliteFile {
    /// The file at `path` as it is now (call once the pool has it open).
    pub(crate) fn opened(path: PathBuf) -> Self {
        let identity = identity(&path);
        Self { path, identity }
    }

    /// Whether the file at the path is still the one opened. (Only its metadata is read: opening
    /// and closing another descriptor of a SQLite file would drop the process's locks on it.)
    pub(crate) fn check(&self) -> Result<(), FileProblem> {
        match fs::metadata(&self.path) {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                Err(FileProblem::Gone(self.path.clone()))
            }
            Ok(meta)
                if self
                    .identity
                    .is_some_and(|id| id != (meta.dev(), meta.ino())) =>
            {
                Err(FileProblem::Replaced(self.path.clone()))
            }
            _ => Ok(()),
        }
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    fs::metadata(path).ok().map(|meta| (meta.dev(), meta.ino()))
}

/// Before SQLite opens `file`: that its directory exists and takes new files (the file itself,
/// if new, and WAL's `-wal` and `-shm` beside it). The error names the directory, the file and
/// why, with the directory's permissions. (The file itself is left to SQLite: opening and closing
/// a descriptor of it here would drop the locks another pool of this process holds on it.)
pub(crate) fn check_directory(file: &Path) -> Result<(), String> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "the directory {} of the SQLite database {} does not exist",
            dir.display(),
            file.display()
        ));
    }
    // Same name every time, so a process killed here leaves no litter of its own; one left over
    // is removed first. Created exclusively: a link planted under that name is not followed.
    let probe = dir.join(".pnode-api-write-probe");
    let _ = fs::remove_file(&probe);
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(err) => Err(format!(
            "cannot create files in {}, the directory of the SQLite database {} (its -wal and \
             -shm files go there): {err}{}",
            dir.display(),
            file.display(),
            permissions(dir)
        )),
    }
}

/// Why SQLite could not open `file` for writing: its error, with the file's permissions.
pub(crate) fn cannot_open(file: &Path, err: impl std::fmt::Display) -> String {
    format!(
        "cannot open the SQLite database {} for writing: {err}{}",
        file.display(),
        permissions(file)
    )
}

/// ` (mode 0444, owner uid 1000)` for `path`, or nothing when it cannot be read.
fn permissions(path: &Path) -> String {
    fs::metadata(path)
        .map(|meta| {
            format!(
                " (mode {:04o}, owner uid {})",
                meta.mode() & 0o7777,
                meta.uid()
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_its_start_until_a_write_succeeds() {
        let health = WriteHealth::default();
        let t0 = Utc::now();
        health.failed(Writer::Cycle, "disk full".into(), t0);
        health.failed(
            Writer::Cycle,
            "disk still full".into(),
            t0 + chrono::Duration::seconds(60),
        );
        let failure = health.failure().expect("failing");
        assert_eq!(failure.since, t0);
        assert_eq!(failure.reason, "disk still full");
        assert!(failure.to_string().contains("disk still full"), "{failure}");
        // A credits refresh that goes through does not end the cycles' failure.
        health.succeeded(Writer::Credits);
        assert_eq!(health.failure().map(|f| f.since), Some(t0));
        health.succeeded(Writer::Cycle);
        assert_eq!(health.failure(), None);
    }

    #[test]
    fn a_file_deleted_or_replaced_is_noticed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.db");
        fs::write(&path, b"one").expect("write");
        let file = SqliteFile::opened(path.clone());
        assert!(file.check().is_ok());

        // Another file, written while the first still exists (so it cannot reuse its inode).
        let aside = dir.path().join("other.db");
        fs::write(&aside, b"two").expect("write");

        fs::remove_file(&path).expect("remove");
        assert!(matches!(file.check(), Err(FileProblem::Gone(_))));

        fs::rename(&aside, &path).expect("rename");
        assert!(matches!(file.check(), Err(FileProblem::Replaced(_))));
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = check_directory(Path::new("/nonexistent-dir-for-test/p.db")).expect_err("no dir");
        assert!(err.contains("/nonexistent-dir-for-test"), "{err}");
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(check_directory(&dir.path().join("p.db")), Ok(()));
        assert_eq!(
            fs::read_dir(dir.path()).expect("list").count(),
            0,
            "no probe left"
        );
    }
}
