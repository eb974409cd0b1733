//! Support shared by the unit tests of blackhole's modules.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A unique path under the system temp dir, removed (with its contents) on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A fresh path that does not exist yet.
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!(
            "blackhole-{tag}-{}-{n}-{}",
            std::process::id(),
            fastrand::u64(..)
        )))
    }

    /// A fresh, existing, empty directory.
    pub(crate) fn created(tag: &str) -> Self {
        let dir = Self::new(tag);
        std::fs::create_dir_all(&dir.0).expect("temp dir");
        dir
    }

    /// Writes `contents` to the file `name` inside and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
