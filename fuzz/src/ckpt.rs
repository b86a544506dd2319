//! The `checkpoint` target: checkpoint bytes → parse (CRCs) → accept → decode → validate →
//! restore → a bounded run; and its structure-aware mutator, which edits the *decoded*
//! sections and re-encodes them with valid CRCs so that inputs get past the CRC checks and
//! reach restore's semantic validation.

use crate::guests::{self, limits, wasi_config, GuestInfo};
use crate::Rng;
use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::format::{
    memory_pages, parse_checkpoint, CheckpointRef, CheckpointWriter, Header, SectionKind,
};
use chiwawa::guest::{Entry, Phase, Step};
use chiwawa::snapshot::{self, FrameImage, MachineImage, StoreImage, TableImage};
use chiwawa::wasi::{FdKind, FdState, PendingSleep, PreopenState, WasiState};

/// Instruction units a restored guest may run.
pub const BUDGET: u64 = 20_000;

/// Whether fd 1 or 2 of this process is a regular file. Restore truncates a regular-file
/// stdout/stderr back to the size a checkpoint records (that is how `chiwawa run` makes
/// redirected output exactly-once), so a mutated checkpoint could truncate the fuzzer's own
/// log. `scripts/fuzz.sh` runs the fuzzers with both on pipes or /dev/null.
pub fn stdio_is_file(fds: &[u32]) -> bool {
    fds.iter().any(|fd| std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok_and(|m| m.is_file()))
}

/// Inputs the target leaves alone although restore would handle them correctly, because
/// running them would hurt the fuzzing process itself (see the comments).
fn harmful(c: &CheckpointRef<'_>) -> bool {
    for s in c.sections_of(SectionKind::Memory) {
        // decode_memory allocates the whole memory (up to 4 GiB, lazily zeroed) before restore
        // compares it with the module's limits; libFuzzer's malloc limit reports any single
        // allocation above -rss_limit_mb as a crash. Reported in docs/FUZZING.md.
        if let Ok((info, _)) = memory_pages(s.payload) {
            if info.size_pages > u64::from(limits().max_memory_pages) {
                return true;
            }
        }
    }
    if stdio_is_file(&[1, 2]) {
        if let Some(w) = c.section(SectionKind::Wasi) {
            if let Ok(ws) = codec::decode::<WasiState>(w.payload) {
                if ws
                    .fds
                    .iter()
                    .any(|f| matches!(f.kind, FdKind::Stdout | FdKind::Stderr) && f.size.is_some())
                {
                    return true;
                }
            }
        }
    }
    false
}

/// With `CHIWAWA_FUZZ_SKIP_KNOWN=1` (set by `scripts/fuzz.sh` for fuzzing, not for replaying
/// regressions), inputs showing an already reported restore bug are skipped, so the fuzzer
/// gets past the first bug it finds instead of rediscovering it all the time. Each entry
/// names its reproducer in `fuzz/regressions/checkpoint/`; drop it once the bug is fixed.
fn known_bug(c: &CheckpointRef<'_>, info: &GuestInfo) -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*ON.get_or_init(|| std::env::var_os("CHIWAWA_FUZZ_SKIP_KNOWN").is_some_and(|v| v == "1")) {
        return false;
    }
    let mi = c.section(SectionKind::Machine).and_then(|s| codec::decode::<MachineImage>(s.payload).ok());
    let si = c.section(SectionKind::Store).and_then(|s| codec::decode::<StoreImage>(s.payload).ok());
    // pc-at-code-end.ckpt: a frame's pc equal to its function's code length.
    if let Some(mi) = &mi {
        if mi
            .frames
            .iter()
            .any(|f| info.code.get(f.func as usize).copied().flatten().is_some_and(|(len, _)| f.pc >= len))
        {
            return true;
        }
    }
    // pc-not-a-safe-point.ckpt and found-frame-fp-overlap-*.ckpt: a call stack no execution
    // could leave at a pause (a pc that is no pause point or return site, or an fp that is not
    // where the call below put it), which lets code read a slot of another type.
    if let Some(mi) = &mi {
        if !plausible_frames(&mi.frames, info) {
            return true;
        }
    }
    // funcref-global-out-of-range.ckpt: a funcref global beyond the function count.
    if let Some(si) = &si {
        let funcref = |i: usize| {
            info.module.globals().get(i).is_some_and(|g| g.ty == chiwawa::runtime::ValType::FuncRef)
        };
        if si.globals.iter().enumerate().any(|(i, &v)| funcref(i) && v > u64::from(info.nfuncs)) {
            return true;
        }
    }
    false
}

/// Whether `frames` is a call stack execution can pause with: the top frame at its entry
/// (pc 0), just after a `Poll` or just after a call (a host call may pause); every frame
/// below just after a call whose callee frame starts at `fp + base`; frame 0 at fp 0.
pub fn plausible_frames(frames: &[FrameImage], info: &GuestInfo) -> bool {
    use chiwawa::compile::ir::Instr;
    let code = |f: &FrameImage| {
        let i = info.code_index.get(f.func as usize).copied().flatten()?;
        Some(info.module.code()[i].code())
    };
    if frames.first().is_some_and(|f| f.fp != 0) {
        return false;
    }
    for (i, f) in frames.iter().enumerate() {
        let Some(c) = code(f) else { return false };
        let prev = if f.pc == 0 { None } else { c.get(f.pc as usize - 1) };
        let top = i + 1 == frames.len();
        let ok = match (prev, frames.get(i + 1)) {
            (None, _) => top && f.pc == 0,
            (Some(Instr::Poll { .. }), _) if top => true,
            (Some(Instr::Call { .. } | Instr::CallIndirect { .. }), None) => true,
            (Some(Instr::Call { func, base }), Some(callee)) => {
                info.inst_funcs.get(*func as usize) == Some(&callee.func)
                    && callee.fp == f.fp.wrapping_add(u32::from(*base))
            }
            (Some(Instr::CallIndirect { base, .. }), Some(callee)) => {
                callee.fp == f.fp.wrapping_add(u32::from(*base))
            }
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The target body.
pub fn run(data: &[u8]) {
    let Ok(c) = parse_checkpoint(data) else { return };
    let Some(info) = guests::by_hash(&c.header.module_hash) else { return };
    if snapshot::accept(&c, &info.hash, info.bytes.len() as u64).is_err()
        || harmful(&c)
        || known_bug(&c, info)
    {
        return;
    }
    let cfg = wasi_config(info.name);
    let Ok(mut g) = snapshot::restore(info.module.clone(), &c, &cfg, limits()) else { return };

    // A state restore accepted must survive its own round trip: capture, write, parse, restore.
    let cap = snapshot::capture(&mut g).expect("capture of a restored guest");
    let header = Header::new(&info.bytes, c.header.generation.wrapping_add(1), cap.executed);
    let mut file = Vec::new();
    snapshot::write(&g, &cap, &header, None, &mut file).expect("write of a restored guest");
    let c2 = parse_checkpoint(&file).expect("parse of a re-captured checkpoint");
    snapshot::accept(&c2, &info.hash, info.bytes.len() as u64).expect("accept of a re-captured checkpoint");
    if let Err(e) = snapshot::restore(info.module.clone(), &c2, &cfg, limits()) {
        panic!("restore accepted a checkpoint but rejects its re-capture: {e}");
    }

    for _ in 0..4 {
        match g.step(BUDGET / 4) {
            Ok(Step::Paused) => continue,
            _ => break,
        }
    }
}

// ------------------------------------------------------------------------------------ mutator

/// Boundary values for an index into something of length `len`, and a few others.
fn boundary_u32(rng: &mut Rng, len: u32, orig: u32) -> u32 {
    match rng.below(10) {
        0 => 0,
        1 => len.wrapping_sub(1),
        2 => len,
        3 => len.wrapping_add(1),
        4 => u32::MAX,
        5 => orig.wrapping_add(1),
        6 => orig.wrapping_sub(1),
        7 => 1 << 31,
        8 => orig ^ (1 << rng.below(32)),
        _ => rng.next_u64() as u32,
    }
}

/// Boundary values for a 64-bit slot: reference encodings around the function count
/// (`0` = null, `addr + 1`), widths, and bit flips.
fn boundary_u64(rng: &mut Rng, nfuncs: u32, orig: u64) -> u64 {
    let n = u64::from(nfuncs);
    match rng.below(14) {
        0 => 0,
        1 => 1,
        2 => n,
        3 => n + 1,
        4 => n + 2,
        5 => u64::from(u32::MAX),
        6 => u64::from(u32::MAX) + 1,
        7 => u64::MAX,
        8 => orig.wrapping_add(1),
        9 => orig.wrapping_sub(1),
        10 => orig ^ (1 << rng.below(64)),
        11 => 1 << 63,
        12 => 0x7ff8_0000_0000_0001, // a NaN with payload
        _ => rng.next_u64(),
    }
}

fn boundary_len(rng: &mut Rng, len: usize) -> usize {
    match rng.below(5) {
        0 => 0,
        1 => len.saturating_sub(1),
        2 => len + 1,
        3 => len * 2 + 1,
        _ => rng.index(len + 4),
    }
}

fn wasm_func(rng: &mut Rng, info: Option<&GuestInfo>) -> u32 {
    match info {
        Some(i) if !i.wasm_funcs.is_empty() && !rng.chance(4) => i.wasm_funcs[rng.index(i.wasm_funcs.len())],
        Some(i) => boundary_u32(rng, i.nfuncs, 0),
        None => rng.below(64) as u32,
    }
}

fn code_len(info: Option<&GuestInfo>, func: u32) -> u32 {
    info.and_then(|i| i.code.get(func as usize).copied().flatten()).map_or(16, |(len, _)| len)
}

fn mutate_machine(mi: &mut MachineImage, info: Option<&GuestInfo>, rng: &mut Rng) {
    let nfuncs = info.map_or(64, |i| i.nfuncs);
    match rng.below(12) {
        0..=3 => {
            if mi.frames.is_empty() {
                mi.frames.push(FrameImage { func: wasm_func(rng, info), pc: 0, fp: 0 });
            }
            let i = rng.index(mi.frames.len());
            let prev_fp = if i > 0 { mi.frames[i - 1].fp } else { 0 };
            let stack_len = mi.stack.len() as u32;
            let f = &mut mi.frames[i];
            match rng.below(3) {
                0 => f.pc = boundary_u32(rng, code_len(info, f.func), f.pc),
                1 => {
                    f.func =
                        if rng.chance(2) { wasm_func(rng, info) } else { boundary_u32(rng, nfuncs, f.func) }
                }
                _ => {
                    f.fp = match rng.below(4) {
                        0 => prev_fp,
                        1 => boundary_u32(rng, stack_len, f.fp),
                        2 => prev_fp.wrapping_add(rng.below(4) as u32),
                        _ => boundary_u32(rng, f.fp, f.fp),
                    }
                }
            }
        }
        4 => {
            // Push a frame: a copy of one (deeper recursion), or a fresh one.
            let f = if !mi.frames.is_empty() && rng.chance(2) {
                mi.frames[rng.index(mi.frames.len())]
            } else {
                let func = wasm_func(rng, info);
                let top = mi.frames.last().map_or(0, |f| f.fp);
                FrameImage { func, pc: rng.below(u64::from(code_len(info, func)) + 2) as u32, fp: top }
            };
            let at = rng.index(mi.frames.len() + 1);
            mi.frames.insert(at, f);
        }
        5 => {
            if !mi.frames.is_empty() {
                let at = rng.index(mi.frames.len());
                mi.frames.remove(at);
            }
        }
        6 | 7 => {
            if mi.stack.is_empty() || rng.chance(6) {
                let n = boundary_len(rng, mi.stack.len());
                mi.stack.resize(n, 0);
            } else {
                let i = rng.index(mi.stack.len());
                mi.stack[i] = boundary_u64(rng, nfuncs, mi.stack[i]);
            }
        }
        8 => mi.started = !mi.started,
        9 => mi.phase = if mi.phase == Phase::Start { Phase::Entry } else { Phase::Start },
        10 => {
            mi.entry = match rng.below(4) {
                0 => Entry::Command,
                1 => Entry::Invoke { name: "_start".into(), args: vec![] },
                2 => Entry::Invoke { name: "memory".into(), args: vec![rng.next_u64()] },
                _ => Entry::Invoke { name: String::new(), args: vec![0; rng.index(3)] },
            }
        }
        _ => {
            if rng.chance(8) {
                mi.ir_version = boundary_u32(rng, mi.ir_version, mi.ir_version);
            } else {
                mi.executed = boundary_u64(rng, 0, mi.executed);
            }
        }
    }
}

fn mutate_store(si: &mut StoreImage, info: Option<&GuestInfo>, rng: &mut Rng) {
    let nfuncs = info.map_or(64, |i| i.nfuncs);
    match rng.below(8) {
        0..=2 => {
            if si.globals.is_empty() {
                si.globals.push(0);
            } else {
                let i = rng.index(si.globals.len());
                si.globals[i] = boundary_u64(rng, nfuncs, si.globals[i]);
            }
        }
        3 => {
            let n = boundary_len(rng, si.globals.len());
            si.globals.resize(n, 1);
        }
        4 | 5 => {
            if si.tables.is_empty() {
                si.tables.push(TableImage { elems: vec![] });
            }
            let t = rng.index(si.tables.len());
            let elems = &mut si.tables[t].elems;
            if elems.is_empty() || rng.chance(4) {
                let n = boundary_len(rng, elems.len());
                let fill = boundary_u64(rng, nfuncs, 0);
                elems.resize(n, fill);
            } else {
                let i = rng.index(elems.len());
                elems[i] = boundary_u64(rng, nfuncs, elems[i]);
            }
        }
        6 => {
            if rng.chance(2) && !si.tables.is_empty() {
                si.tables.pop();
            } else {
                si.tables.push(TableImage { elems: vec![1; rng.index(4)] });
            }
        }
        _ => {
            if si.instances.is_empty() || rng.chance(8) {
                si.instances.clear();
            } else {
                let k = rng.index(si.instances.len());
                let inst = &mut si.instances[k];
                let v = if rng.chance(2) { &mut inst.elem_dropped } else { &mut inst.data_dropped };
                if v.is_empty() || rng.chance(4) {
                    let n = boundary_len(rng, v.len());
                    v.resize(n, true);
                } else {
                    let i = rng.index(v.len());
                    v[i] = !v[i];
                }
            }
        }
    }
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Memory sections: fixed prefix (index u32, size u64, max u64 or u64::MAX, count u64), then
/// `count` entries of (page u64, 65536 bytes).
fn mutate_memory(p: &mut Vec<u8>, rng: &mut Rng) {
    const PREFIX: usize = 28;
    const ENTRY: usize = 8 + 65536;
    if p.len() < PREFIX {
        p.resize(PREFIX, 0);
        return;
    }
    let size = le64(p, 4);
    let max = le64(p, 12);
    let count = le64(p, 20);
    let put = |p: &mut Vec<u8>, at: usize, v: u64| p[at..at + 8].copy_from_slice(&v.to_le_bytes());
    match rng.below(8) {
        0 => {
            let v = boundary_u32(rng, 1, u32::from_le_bytes(p[0..4].try_into().expect("4 bytes")));
            p[0..4].copy_from_slice(&v.to_le_bytes());
        }
        1 => {
            let v = match rng.below(6) {
                0 => size.wrapping_sub(1),
                1 => size.wrapping_add(1),
                2 => max,
                3 => max.wrapping_add(1),
                4 => 65536 + rng.below(2),
                _ => count.saturating_sub(1),
            };
            put(p, 4, v);
        }
        2 => {
            let v = match rng.below(4) {
                0 => u64::MAX,
                1 => size,
                2 => size.saturating_sub(1),
                _ => 0,
            };
            put(p, 12, v);
        }
        3 => put(p, 20, boundary_u64(rng, count as u32, count)),
        4 if count > 0 && p.len() >= PREFIX + ENTRY => {
            let e = PREFIX + ENTRY * rng.index(((p.len() - PREFIX) / ENTRY).max(1));
            let v = match rng.below(4) {
                0 => size,
                1 => size.wrapping_sub(1),
                2 => 0,
                _ => u64::MAX,
            };
            put(p, e, v);
        }
        5 => {
            // Add a page entry (count kept consistent or not).
            let page = if rng.chance(2) { size.saturating_sub(1) } else { size };
            p.extend_from_slice(&page.to_le_bytes());
            p.extend(std::iter::repeat_n(0xa5u8, 65536));
            if rng.chance(4) {
                put(p, 20, count.wrapping_add(1));
            } else {
                put(p, 20, count.wrapping_add(1));
                if size <= page {
                    put(p, 4, page.wrapping_add(1));
                }
            }
        }
        6 if p.len() >= PREFIX + ENTRY => {
            p.truncate(p.len() - ENTRY);
            if !rng.chance(4) {
                put(p, 20, count.saturating_sub(1));
            }
        }
        _ => {
            if p.len() > PREFIX {
                let i = PREFIX + rng.index(p.len() - PREFIX);
                p[i] ^= 1 << rng.below(8);
            }
        }
    }
}

const KINDS: [FdKind; 6] =
    [FdKind::Stdin, FdKind::Stdout, FdKind::Stderr, FdKind::PreopenDir, FdKind::Dir, FdKind::File];
const PATHS: [&str; 6] = ["", "..", "../../etc/passwd", "/etc/passwd", "a/./b/../..", "x\0y"];

fn mutate_wasi(ws: &mut WasiState, rng: &mut Rng) {
    match rng.below(9) {
        0 => ws.version = boundary_u32(rng, ws.version, ws.version),
        1 | 2 => {
            if ws.fds.is_empty() {
                return;
            }
            let i = rng.index(ws.fds.len());
            let nfds = ws.fds.len() as u32;
            let npre = ws.preopens.len() as u32;
            let f = &mut ws.fds[i];
            match rng.below(8) {
                0 => f.kind = KINDS[rng.index(KINDS.len())],
                1 => f.fd = boundary_u32(rng, nfds, f.fd),
                2 => f.preopen = if rng.chance(3) { None } else { Some(boundary_u32(rng, npre, 0)) },
                3 => f.path = PATHS[rng.index(PATHS.len())].to_string(),
                4 => f.offset = boundary_u64(rng, 0, f.offset),
                5 => f.size = if rng.chance(3) { None } else { Some(boundary_u64(rng, 0, 0)) },
                6 => {
                    f.read = !f.read;
                    f.write = rng.chance(2);
                }
                _ => {
                    f.rights_base = boundary_u64(rng, 0, f.rights_base);
                    f.fdflags ^= 1 << rng.below(16);
                }
            }
        }
        3 => {
            if !ws.fds.is_empty() && rng.chance(2) {
                let i = rng.index(ws.fds.len());
                let dup = ws.fds[i].clone();
                ws.fds.push(dup);
            } else if !ws.fds.is_empty() {
                let i = rng.index(ws.fds.len());
                ws.fds.remove(i);
            }
        }
        4 => {
            ws.fds.push(FdState {
                fd: 3 + rng.below(3) as u32,
                kind: KINDS[3 + rng.index(3)],
                preopen: Some(rng.below(2) as u32),
                path: PATHS[rng.index(PATHS.len())].to_string(),
                oflags: 0,
                rights_base: u64::MAX,
                rights_inheriting: u64::MAX,
                fdflags: 0,
                read: true,
                write: rng.chance(2),
                offset: 0,
                size: None,
            });
        }
        5 => ws.preopens.push(PreopenState { guest: "/".into(), host: "/".into() }),
        6 => ws.free_fds.push(boundary_u32(rng, 3, 3)),
        7 => {
            ws.pending_sleep = if ws.pending_sleep.is_some() && rng.chance(2) {
                None
            } else {
                Some(PendingSleep {
                    subscriptions: boundary_u32(rng, 65536, 0),
                    events: boundary_u32(rng, 65536, 0),
                    nsubscriptions: boundary_u32(rng, 4, 1),
                    result: boundary_u32(rng, 65536, 0),
                    digest: rng.next_u64(),
                    remaining_ns: rng.below(1000),
                    ready: vec![boundary_u32(rng, 1, 0)],
                })
            }
        }
        _ => {
            if rng.chance(2) {
                ws.args.push("x".repeat(rng.index(300)));
            } else {
                ws.monotonic_ns = boundary_u64(rng, 0, ws.monotonic_ns);
            }
        }
    }
}

/// Decodes `payload` as `T`, lets `f` edit it, re-encodes. `false` if it did not decode.
fn edit<T: serde::Serialize + serde::de::DeserializeOwned>(
    payload: &mut Vec<u8>,
    f: impl FnOnce(&mut T),
) -> bool {
    let Ok(mut v) = codec::decode::<T>(payload) else { return false };
    f(&mut v);
    match codec::encode(&v) {
        Ok(b) => {
            *payload = b;
            true
        }
        Err(_) => false,
    }
}

/// The structure-aware mutation of one checkpoint. `fallback` is libFuzzer's own byte-level
/// mutator (`fuzzer_mutate(data, size, max_size) -> new size`); it is used on whole inputs
/// that do not parse, now and then on valid ones (to keep exercising the CRC and framing
/// checks), and on single section payloads (which are then re-framed with valid CRCs).
pub fn mutate(
    data: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u32,
    fallback: &mut dyn FnMut(&mut [u8], usize, usize) -> usize,
) -> usize {
    let mut rng = Rng::new(u64::from(seed) << 17 ^ size as u64);
    if rng.chance(10) {
        return fallback(data, size, max_size);
    }
    let Ok(c) = parse_checkpoint(&data[..size]) else { return fallback(data, size, max_size) };
    let mut header = c.header.clone();
    let mut sections: Vec<(SectionKind, Vec<u8>)> =
        c.sections.iter().map(|s| (s.kind, s.payload.to_vec())).collect();
    let info = guests::by_hash(&header.module_hash);
    let pick = |sections: &Vec<(SectionKind, Vec<u8>)>, kind: SectionKind, rng: &mut Rng| {
        let idx: Vec<usize> = (0..sections.len()).filter(|&i| sections[i].0 == kind).collect();
        (!idx.is_empty()).then(|| idx[rng.index(idx.len())])
    };
    // A few tries: a chosen section may be missing or not decode.
    let mut done = false;
    for _ in 0..4 {
        if done {
            break;
        }
        done = match rng.below(20) {
            0..=6 => pick(&sections, SectionKind::Machine, &mut rng).is_some_and(|i| {
                edit(&mut sections[i].1, |mi: &mut MachineImage| mutate_machine(mi, info, &mut rng))
            }),
            7..=9 => pick(&sections, SectionKind::Store, &mut rng).is_some_and(|i| {
                edit(&mut sections[i].1, |si: &mut StoreImage| mutate_store(si, info, &mut rng))
            }),
            10 | 11 => pick(&sections, SectionKind::Memory, &mut rng).is_some_and(|i| {
                mutate_memory(&mut sections[i].1, &mut rng);
                true
            }),
            12 | 13 => pick(&sections, SectionKind::Wasi, &mut rng)
                .is_some_and(|i| edit(&mut sections[i].1, |ws: &mut WasiState| mutate_wasi(ws, &mut rng))),
            14 | 15 => {
                // libFuzzer's byte mutation of one payload, re-framed with a valid CRC.
                if sections.is_empty() {
                    false
                } else {
                    let i = rng.index(sections.len());
                    let p = &mut sections[i].1;
                    let len = p.len();
                    let cap = (len * 2 + 64).min(max_size);
                    if len > cap {
                        false
                    } else {
                        p.resize(cap, 0);
                        let n = fallback(p, len, cap);
                        p.truncate(n);
                        true
                    }
                }
            }
            16 => {
                // Point the checkpoint at another guest's module: a whole checkpoint of one
                // program restored into another is the strongest semantic test there is.
                let all = guests::all();
                let g = &all[rng.index(all.len())];
                header.module_hash = g.hash;
                header.module_len = g.bytes.len() as u64;
                true
            }
            17 => {
                if sections.is_empty() {
                    false
                } else {
                    let i = rng.index(sections.len());
                    match rng.below(3) {
                        0 => {
                            sections.remove(i);
                        }
                        1 => {
                            let s = sections[i].clone();
                            sections.insert(rng.index(sections.len() + 1), s);
                        }
                        _ => {
                            let j = rng.index(sections.len());
                            sections.swap(i, j);
                        }
                    }
                    true
                }
            }
            18 => {
                header.instructions = boundary_u64(&mut rng, 0, header.instructions);
                header.generation = header.generation.wrapping_add(1);
                true
            }
            _ => {
                if rng.chance(2) {
                    header.flags ^= 1;
                } else {
                    let kind = SectionKind::from_code(7 + rng.below(3) as u32);
                    sections.push((kind, vec![0; rng.index(8)]));
                }
                true
            }
        };
    }
    let out = (|| {
        let mut w = CheckpointWriter::new(Vec::new(), &header)?;
        for (k, p) in &sections {
            if k.code() != 0 {
                w.section(*k, p)?;
            }
        }
        w.finish()
    })();
    match out {
        Ok(bytes) if bytes.len() <= max_size && bytes.len() <= data.len() => {
            data[..bytes.len()].copy_from_slice(&bytes);
            bytes.len()
        }
        _ => fallback(data, size, max_size),
    }
}
