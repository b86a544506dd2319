//! Uninterrupted run vs a run checkpointed and restored at random instruction counts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chiwawa_fuzz::oracle::target(data));
