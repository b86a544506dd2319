//! What the stack maps (issue 16: checkpoints in Wasm terms) cost in memory, next to the lowered
//! code itself, for each module given: functions, resume positions (safe points and call
//! sites), bytes of stack maps in all and per function, and the share of the code's size.
//!
//!     cargo run --release --example stackmap_cost -- MODULE.wasm...
//!
//! Prints a markdown table (docs/PERFORMANCE.md, "Stack maps").

use chiwawa::compile::Lowering;
use chiwawa::session::load_module_bytes;
use chiwawa::Module;
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: stackmap_cost MODULE.wasm...".into());
    }
    println!("| module | lowering | functions | resume positions | code (bytes) | stack maps (bytes) | maps / code | per function (mean, max) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for p in &paths {
        let bytes = load_module_bytes(std::path::Path::new(p))?;
        for lowering in [Lowering::Optimized, Lowering::Plain] {
            let m = Module::with_lowering(&bytes, lowering)?;
            let (all, _) = m.lower_all()?;
            let (mut code, mut maps, mut points, mut max) = (0usize, 0usize, 0usize, 0usize);
            for f in &all {
                code += std::mem::size_of_val(f.code()) + std::mem::size_of_val(f.offsets());
                let b = f.stack_map().heap_bytes();
                maps += b;
                max = max.max(b);
                points += f.stack_map().points().len();
            }
            let n = all.len().max(1);
            let name = std::path::Path::new(p).file_name().unwrap_or_default().to_string_lossy();
            println!(
                "| {name} | {lowering:?} | {} | {points} | {code} | {maps} | {:.1} % | {}, {max} |",
                all.len(),
                100.0 * maps as f64 / code.max(1) as f64,
                maps / n,
            );
        }
    }
    Ok(())
}
