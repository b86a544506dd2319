//! Chooses the interpreter's dispatch (see `src/exec/handlers.rs`): `cfg(chiwawa_tail_calls)`
//! when the handlers' tail calls are sure to become jumps — an optimizing build (LLVM performs
//! sibling-call optimization from opt-level 2) for a native target whose backend does it
//! (x86_64, aarch64, riscv64). Everything else, wasm32 included, uses the switch backend (one
//! `loop { match }` over the same handlers): compiled to wasm with the `tail-call` feature the
//! threaded version runs 2-3x slower under Wasmtime, whose `return_call_indirect` is costly.
//! `CHIWAWA_SWITCH_DISPATCH=1` forces the switch backend (to measure or test it natively).
use std::env;

#[path = "build/isa.rs"]
mod isa;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=build/isa.rs");
    isa::generate(std::path::Path::new(&env::var("OUT_DIR").expect("OUT_DIR")));
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    println!("cargo::rerun-if-env-changed=CARGO_CFG_TARGET_ARCH");
    println!("cargo::rerun-if-env-changed=CHIWAWA_SWITCH_DISPATCH");
    println!("cargo::rustc-check-cfg=cfg(chiwawa_tail_calls)");
    let opt = env::var("OPT_LEVEL").unwrap_or_default();
    let optimizing = matches!(opt.as_str(), "2" | "3" | "s" | "z");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let native_tail_calls = matches!(arch.as_str(), "x86_64" | "aarch64" | "riscv64");
    if optimizing && native_tail_calls && env::var_os("CHIWAWA_SWITCH_DISPATCH").is_none() {
        println!("cargo::rustc-cfg=chiwawa_tail_calls");
    }
}
