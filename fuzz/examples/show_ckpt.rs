//! Prints what a checkpoint fuzz input holds, next to the facts of the guest it names (for
//! triaging `checkpoint` findings):
//!
//!     cd fuzz && cargo run --release --example show_ckpt -- FILE...

use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::format::{memory_pages, parse_checkpoint, SectionKind};
use chiwawa::snapshot::{MachineImage, StoreImage};
use chiwawa::wasi::WasiState;
use chiwawa_fuzz::guests;

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("read input");
        println!("== {path} ({} bytes)", data.len());
        let c = match parse_checkpoint(&data) {
            Ok(c) => c,
            Err(e) => {
                println!("does not parse: {e}");
                continue;
            }
        };
        let info = guests::by_hash(&c.header.module_hash);
        match info {
            Some(g) => println!(
                "guest {} ({} store functions; wasm functions {:?}; code lengths {:?}; {} globals, {} tables)",
                g.name,
                g.nfuncs,
                g.wasm_funcs,
                g.code.iter().flatten().collect::<Vec<_>>(),
                g.nglobals,
                g.ntables
            ),
            None => println!("unknown module hash"),
        }
        println!(
            "header: flags {} instructions {} module_len {}",
            c.header.flags, c.header.instructions, c.header.module_len
        );
        for s in &c.sections {
            match s.kind {
                SectionKind::Machine => match codec::decode::<MachineImage>(s.payload) {
                    Ok(mi) => println!(
                        "Machine: ir {} phase {:?} started {} entry {:?} executed {} frames {:?} stack {} slots {:?}",
                        mi.ir_version,
                        mi.phase,
                        mi.started,
                        mi.entry,
                        mi.executed,
                        mi.frames,
                        mi.stack.len(),
                        &mi.stack[..mi.stack.len().min(16)]
                    ),
                    Err(e) => println!("Machine: {e}"),
                },
                SectionKind::Store => match codec::decode::<StoreImage>(s.payload) {
                    Ok(si) => println!(
                        "Store: globals {:?} tables {:?} instances {:?}",
                        si.globals,
                        si.tables.iter().map(|t| &t.elems).collect::<Vec<_>>(),
                        si.instances
                    ),
                    Err(e) => println!("Store: {e}"),
                },
                SectionKind::Memory => match memory_pages(s.payload) {
                    Ok((m, _)) => println!("Memory: {m:?}"),
                    Err(e) => println!("Memory: {e}"),
                },
                SectionKind::Wasi => match codec::decode::<WasiState>(s.payload) {
                    Ok(w) => println!("Wasi: {w:?}"),
                    Err(e) => println!("Wasi: {e}"),
                },
                k => println!("{k}: {} bytes", s.payload.len()),
            }
        }
    }
}
