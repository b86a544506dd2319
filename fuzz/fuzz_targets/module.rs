//! Module bytes (raw, or wasm-smith from the input) → validate, lower, instantiate, run exports.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chiwawa_fuzz::run::module_target(data));
