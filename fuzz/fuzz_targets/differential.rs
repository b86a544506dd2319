//! wasm-smith modules on chiwawa and wasmi: results, traps, final memories and globals.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chiwawa_fuzz::diff::target(data));
