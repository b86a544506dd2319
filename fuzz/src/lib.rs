//! Shared code of chiwawa's fuzz targets (see `docs/FUZZING.md`).
//!
//! * [`guests`]: the embedded WAT guests the `checkpoint` and `checkpoint_oracle` targets use
//!   (a checkpoint names its module by SHA-256, so that module must be one the target knows).
//! * [`run`]: calling exports of a chiwawa guest with zero arguments under an instruction budget.
//! * [`ckpt`]: the `checkpoint` target's body and its structure-aware mutator.
//! * [`smith`]: the wasm-smith configuration (Wasm 2.0 with SIMD, and parts of Wasm 3.0).
//! * [`diff`]: the wasmi side of the `differential` target and the comparison.
//! * [`oracle`]: the `checkpoint_oracle` target's body.
//!
//! Nothing here references libFuzzer, so the seed generator (`examples/gen_seeds.rs`) links
//! without it; the targets pass libFuzzer's own mutator in as a closure.

pub mod ckpt;
pub mod diff;
pub mod guests;
pub mod oracle;
pub mod run;
pub mod smith;

/// A small deterministic PRNG (xorshift64*) for the mutator and the oracle's cut points.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}
