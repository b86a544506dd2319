//! Sets `cfg(chiwawa_tail_calls)` when the handlers' tail calls are sure to become jumps
//! (see `src/exec/handlers.rs`): an optimizing build (LLVM performs sibling-call optimization
//! from opt-level 2) for a target whose backend does it — x86_64, aarch64, riscv64, and wasm32
//! with the `tail-call` feature (`return_call`). Anything else uses the loop backend, which
//! runs the same handlers through one dispatch site.
use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    println!("cargo::rerun-if-env-changed=CARGO_CFG_TARGET_ARCH");
    println!("cargo::rerun-if-env-changed=CARGO_CFG_TARGET_FEATURE");
    println!("cargo::rustc-check-cfg=cfg(chiwawa_tail_calls)");
    let opt = env::var("OPT_LEVEL").unwrap_or_default();
    let optimizing = matches!(opt.as_str(), "2" | "3" | "s" | "z");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let target_ok = match arch.as_str() {
        "x86_64" | "aarch64" | "riscv64" => true,
        "wasm32" | "wasm64" => features.split(',').any(|f| f == "tail-call"),
        _ => false,
    };
    if optimizing && target_ok && env::var_os("CHIWAWA_LOOP_DISPATCH").is_none() {
        println!("cargo::rustc-cfg=chiwawa_tail_calls");
    }
    println!("cargo::rerun-if-env-changed=CHIWAWA_LOOP_DISPATCH");
}
