//! Prints what a checkpoint fuzz input holds, next to the facts of the guest it names (for
//! triaging `checkpoint` findings):
//!
//!     cd fuzz && cargo run --release --example show_ckpt -- [-v] FILE...
//!
//! Version-2 frames are shown in Wasm terms (function index, offset, resume kind, typed locals
//! and operands) and checked against the guest's stack maps (`!` marks a frame whose offset is
//! no point of its kind, or whose function the module does not define); version-1 inputs as
//! their internal pcs, frame pointers and raw slots. `-v` lists every function's points.

use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::format::{memory_pages, parse_checkpoint, SectionKind};
use chiwawa::compile::stackmap::PointKind;
use chiwawa::snapshot::v1::{MachineImageV1, StoreImageV1};
use chiwawa::snapshot::{MachineImage, Resume, StoreImage, Value};
use chiwawa::wasi::WasiState;
use chiwawa_fuzz::ckpt::lowering_of;
use chiwawa_fuzz::guests::{self, GuestInfo};

fn values(vs: &[Value]) -> String {
    let v: Vec<String> = vs.iter().take(24).map(|v| v.to_string()).collect();
    format!("[{}{}]", v.join(", "), if vs.len() > 24 { ", ..." } else { "" })
}

fn check(g: Option<&GuestInfo>, func: u32, offset: u32, at: Resume) -> &'static str {
    let Some(g) = g else { return "" };
    let kind = if at == Resume::SafePoint { PointKind::SafePoint } else { PointKind::Call };
    match g.funcs.get(func as usize) {
        Some(Some(ff)) if ff.points.iter().any(|p| p.offset == offset && p.kind == kind) => "",
        Some(Some(_)) => " ! no such point",
        _ => " ! not a defined function",
    }
}

fn main() {
    let mut verbose = false;
    for path in std::env::args().skip(1) {
        if path == "-v" {
            verbose = true;
            continue;
        }
        let data = std::fs::read(&path).expect("read input");
        println!("== {path} ({} bytes)", data.len());
        let c = match parse_checkpoint(&data) {
            Ok(c) => c,
            Err(e) => {
                println!("does not parse: {e}");
                continue;
            }
        };
        let version = c.header.format_version;
        let info = guests::by_hash(&c.header.module_hash);
        match info {
            Some(g) => {
                println!(
                    "guest {} ({} functions, {} imported; store: {} functions; globals {:?}; tables {:?} max {:?})",
                    g.name, g.nfuncs, g.nimported, g.store_funcs, g.global_types, g.table_types, g.table_max
                );
                if verbose {
                    for (i, f) in g.funcs.iter().enumerate() {
                        let Some(f) = f else { continue };
                        let pts: Vec<String> = f
                            .points
                            .iter()
                            .map(|p| {
                                format!(
                                    "{}0x{:x}/{}{}",
                                    if p.kind == PointKind::SafePoint { "S" } else { "C" },
                                    p.offset,
                                    p.entries.len(),
                                    p.callee.map(|c| format!("→{c}")).unwrap_or_default()
                                )
                            })
                            .collect();
                        println!("  func {i}: locals {:?} points {}", f.locals, pts.join(" "));
                    }
                }
            }
            None => println!("unknown module hash"),
        }
        println!(
            "header: version {version} flags {} generation {} (restored under {:?}) instructions {} module_len {}",
            c.header.flags,
            c.header.generation,
            lowering_of(&c.header),
            c.header.instructions,
            c.header.module_len
        );
        for s in &c.sections {
            match s.kind {
                SectionKind::Machine if version == 1 => match codec::decode::<MachineImageV1>(s.payload) {
                    Ok(mi) => println!(
                        "Machine (v1): ir {} phase {:?} started {} entry {:?} executed {} frames {:?} stack {} slots {:?}",
                        mi.ir_version,
                        mi.phase,
                        mi.started,
                        mi.entry,
                        mi.executed,
                        mi.frames,
                        mi.stack.len(),
                        &mi.stack[..mi.stack.len().min(16)]
                    ),
                    Err(e) => println!("Machine (v1): {e}"),
                },
                SectionKind::Machine => match codec::decode::<MachineImage>(s.payload) {
                    Ok(mi) => {
                        println!(
                            "Machine: phase {:?} started {} entry {:?} executed {} frames {}",
                            mi.phase,
                            mi.started,
                            mi.entry,
                            mi.executed,
                            mi.frames.len()
                        );
                        for (i, f) in mi.frames.iter().enumerate() {
                            println!(
                                "  frame {i}: func {} offset 0x{:x} {:?}{} locals {} stack {}",
                                f.func,
                                f.offset,
                                f.at,
                                check(info, f.func, f.offset, f.at),
                                values(&f.locals),
                                values(&f.stack)
                            );
                        }
                    }
                    Err(e) => println!("Machine: {e}"),
                },
                SectionKind::Store if version == 1 => match codec::decode::<StoreImageV1>(s.payload) {
                    Ok(si) => println!(
                        "Store (v1): globals {:?} tables {:?} instances {:?}",
                        si.globals,
                        si.tables.iter().map(|t| &t.elems).collect::<Vec<_>>(),
                        si.instances
                    ),
                    Err(e) => println!("Store (v1): {e}"),
                },
                SectionKind::Store => match codec::decode::<StoreImage>(s.payload) {
                    Ok(si) => println!(
                        "Store: globals {} tables {} instances {:?}",
                        values(&si.globals),
                        si.tables.iter().map(|t| values(&t.elems)).collect::<Vec<_>>().join(" "),
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
