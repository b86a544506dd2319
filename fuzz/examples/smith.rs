//! Writes the module a fuzz input stands for, for triage (`python3 fuzz/triage.py OUT.wasm`):
//!
//!     cd fuzz && cargo run --release --example smith -- TARGET INPUT OUT.wasm
//!
//! `smith compare MODULE.wat|wasm -` runs one module of your own on chiwawa and wasmi.
//!
//! TARGET is `differential`, `module` or `checkpoint_oracle` (the same wasm-smith
//! configuration and input layout as that target). With `differential`, also prints the
//! comparison chiwawa vs wasmi; with `checkpoint_oracle`, the lowerings and both runs.

use arbitrary::Unstructured;
use chiwawa_fuzz::{diff, guests, smith};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, target, input, out] = &args[..] else {
        eprintln!("usage: smith TARGET INPUT OUT.wasm");
        std::process::exit(2);
    };
    let data = std::fs::read(input).expect("read input");
    if target == "compare" {
        // A module of its own (.wasm, or .wat text): chiwawa vs wasmi, OUT unused.
        let bytes = if data.starts_with(b"\0asm") {
            data
        } else {
            guests::wat_to_wasm(std::str::from_utf8(&data).expect("UTF-8 text"))
        };
        match diff::compare(&bytes) {
            Ok(r) => println!("agree: {:?}", r.log),
            Err(m) => println!("DISAGREE: {m}"),
        }
        return;
    }
    let bytes = match target.as_str() {
        "module" if data.starts_with(b"\0asm") => data.clone(),
        "module" => smith::module(&mut Unstructured::new(&data), false).expect("wasm-smith"),
        "differential" => smith::module(&mut Unstructured::new(&data), true).expect("wasm-smith"),
        "checkpoint_oracle" => chiwawa_fuzz::oracle::decode_input(&data).expect("an oracle input").0,
        other => panic!("unknown target {other}"),
    };
    std::fs::write(out, &bytes).expect("write module");
    eprintln!("wrote {} bytes to {out}", bytes.len());
    if target == "checkpoint_oracle" {
        let (_, command, lowerings, seed) =
            chiwawa_fuzz::oracle::decode_input(&data).expect("an oracle input");
        let mut rng = chiwawa_fuzz::Rng::new(seed);
        println!("lowerings: {lowerings:?}");
        let a = chiwawa_fuzz::oracle::run_plan(&bytes, command, None, lowerings);
        let b = chiwawa_fuzz::oracle::run_plan(&bytes, command, Some(&mut rng), lowerings);
        if let (Some(a), Some(b)) = (a, b) {
            println!("uninterrupted: {:?} exhausted {} executed {}", a.calls, a.exhausted, a.state.executed);
            println!(
                "{} round trips ({} across lowerings): {:?} exhausted {} executed {}",
                b.restores, b.crossings, b.calls, b.exhausted, b.state.executed
            );
            println!("same: {}", a.calls == b.calls && a.state == b.state);
        }
    }
    if target == "differential" {
        match diff::compare(&bytes) {
            Ok(r) => {
                for l in &r.log {
                    println!("{l}");
                }
                println!("agree ({} calls compared; stopped: {:?})", r.compared, r.stopped);
            }
            Err(m) => println!("DISAGREE: {m}"),
        }
    }
}
