//! Replays every fuzz input kept in the repository (`fuzz/corpus/<target>/` and
//! `fuzz/artifacts/<target>/`) through the same functions the libFuzzer targets call
//! (`smtp_proto_tests::fuzzing`), on the stable toolchain. A crash found once stays a failing
//! test until it is fixed; an empty corpus directory is a failure too.
#![allow(clippy::unwrap_used)]

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use smtp_proto_tests::fuzzing;

/// The repository root, from this crate's directory (`tests/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The regular files under `dir` (none if it does not exist), dot files excepted.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

/// Runs `target` on every corpus and artifact file of `name`; fails with the list of
/// inputs that panicked.
fn replay(name: &str, target: fn(&[u8])) {
    let fuzz = root().join("fuzz");
    let corpus = inputs(&fuzz.join("corpus").join(name));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name} is empty");
    let artifacts = inputs(&fuzz.join("artifacts").join(name));
    let mut failures = Vec::new();
    for path in corpus.iter().chain(&artifacts) {
        let data = std::fs::read(path).unwrap();
        if panic::catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
            failures.push(path.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs of {name} fail:\n{}",
        failures.len(),
        corpus.len() + artifacts.len(),
        failures.join("\n")
    );
}

#[test]
fn server_bytes() {
    replay("server_bytes", fuzzing::server_bytes);
}

#[test]
fn split_invariance() {
    replay("split_invariance", fuzzing::split_invariance);
}

#[test]
fn tls_session() {
    replay("tls_session", fuzzing::tls_session);
}

#[test]
fn parsers() {
    replay("parsers", fuzzing::parsers);
}

#[test]
fn client_replies() {
    replay("client_replies", fuzzing::client_replies);
}

#[test]
fn proxy_header() {
    replay("proxy_header", fuzzing::proxy_header);
}

#[test]
fn content_kernels() {
    replay("content_kernels", fuzzing::content_kernels);
}
