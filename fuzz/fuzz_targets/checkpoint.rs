//! Checkpoint bytes → parse → accept → restore → bounded run, with a structure-aware mutator.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

fuzz_target!(|data: &[u8]| chiwawa_fuzz::ckpt::run(data));

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    chiwawa_fuzz::ckpt::mutate(data, size, max_size, seed, &mut |d, s, m| fuzzer_mutate(d, s, m))
});
