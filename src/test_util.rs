//! Helpers shared by unit tests (compiled only for tests).

/// A temporary directory. `tempfile::tempdir()` uses `std::env::temp_dir()`, which panics on
/// WASI; honour `TMPDIR` (the wasm32 test runner preopens it) instead.
pub fn tempdir() -> tempfile::TempDir {
    match std::env::var_os("TMPDIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .unwrap()
}
