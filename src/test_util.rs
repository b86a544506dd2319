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

/// The instruction kinds (`Op` tags) of the code every module of a wast script lowers to,
/// every function lowered (for tests that a script exercises a set of kinds).
pub fn lowered_kinds(script: &str) -> std::collections::HashSet<u16> {
    let buf = wast::parser::ParseBuffer::new(script).unwrap();
    let script: wast::Wast<'_> = wast::parser::parse(&buf).unwrap();
    let mut seen = std::collections::HashSet::new();
    for d in script.directives {
        if let wast::WastDirective::Module(mut m) = d {
            let m = crate::parse::Module::new(&m.encode().unwrap()).unwrap();
            for f in &m.lower_all().unwrap().0 {
                seen.extend(f.code().iter().map(|i| i.op()));
            }
        }
    }
    seen
}
