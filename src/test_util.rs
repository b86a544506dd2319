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

/// The unit tests' one PRNG: xorshift64*, deterministic (seeded by each test).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
