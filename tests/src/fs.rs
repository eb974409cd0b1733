//! Temporary directories and Maildir inspection.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A fresh, empty directory under [`std::env::temp_dir`], removed (with its contents)
/// when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new directory whose name contains `label`, the process id and a counter.
    ///
    /// # Panics
    /// If no directory can be created in the system's temporary directory.
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!(
                "smtp-proto-tests-{label}-{}-{n}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Self { path },
                // A leftover from an earlier process that had the same pid.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory as a string, for command-line arguments.
    ///
    /// # Panics
    /// If the path is not UTF-8 (the system's temporary directory would have to be).
    pub fn arg(&self) -> &str {
        self.path
            .to_str()
            .unwrap_or_else(|| panic!("temp dir {} is not UTF-8", self.path.display()))
    }

    /// Writes `content` to the file `name` inside the directory and returns its path.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, content)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Regular files directly inside `dir`, sorted by name; an absent directory is empty.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The contents of the delivered messages of a Maildir: the files in `dir/new`, sorted by
/// file name.
///
/// # Panics
/// If a listed file cannot be read.
pub fn maildir_messages(dir: &Path) -> Vec<Vec<u8>> {
    files_in(&dir.join("new"))
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())))
        .collect()
}

/// Asserts that the Maildir under `dir` holds exactly `expected` (in any order), byte for
/// byte. On a mismatch the message shows the first differing byte with some context, as
/// text.
///
/// # Panics
/// On a mismatch.
pub fn assert_maildir_eq(dir: &Path, expected: &[Vec<u8>]) {
    let mut stored = maildir_messages(dir);
    let mut expected = expected.to_vec();
    stored.sort();
    expected.sort();
    assert_eq!(
        stored.len(),
        expected.len(),
        "{} messages in {}/new, expected {}",
        stored.len(),
        dir.display(),
        expected.len()
    );
    for (got, want) in stored.iter().zip(&expected) {
        if got != want {
            let at = got
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            let context = |m: &[u8]| {
                let from = at.saturating_sub(80);
                let to = (at + 80).min(m.len());
                String::from_utf8_lossy(&m[from..to]).into_owned()
            };
            panic!(
                "stored message differs from the one sent at byte {at} (stored {} bytes, sent {}):\n--- stored\n{:?}\n--- sent\n{:?}",
                got.len(),
                want.len(),
                context(got),
                context(want)
            );
        }
    }
}

/// The files left in `dir/tmp` (deliveries in progress or abandoned).
pub fn maildir_tmp_files(dir: &Path) -> Vec<PathBuf> {
    files_in(&dir.join("tmp"))
}

/// Waits up to `timeout` for `dir/tmp` to be empty; returns the files still there.
pub fn wait_for_empty_tmp(dir: &Path, timeout: Duration) -> Vec<PathBuf> {
    let deadline = crate::now() + timeout;
    loop {
        let left = maildir_tmp_files(dir);
        if left.is_empty() || crate::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
