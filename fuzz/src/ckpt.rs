//! The `checkpoint` target: checkpoint bytes → parse (CRCs) → accept → decode → validate →
//! restore → a bounded run; and its structure-aware mutator, which edits the *decoded*
//! sections and re-encodes them with valid CRCs so that inputs get past the CRC checks and
//! reach restore's semantic validation.
//!
//! Format version 2 holds the execution state in WebAssembly terms (frames as function index,
//! Wasm offset of a safe point or call, typed locals and operands; typed globals and table
//! elements): the mutator aims at the checks restore makes against the stack maps. Version-1
//! inputs (internal program counters, raw slots; converted on restore by `snapshot::v1`) are
//! mutated in their own terms and written back as version 1.

use crate::guests::{self, limits, wasi_config, FuncFacts, GuestInfo, PointFacts};
use crate::Rng;
use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::format::{
    parse_checkpoint, CheckpointRef, CheckpointWriter, Header, SectionKind, FORMAT_VERSION, HEADER_LEN,
};
use chiwawa::compile::stackmap::{Loc, PointKind};
use chiwawa::compile::Lowering;
use chiwawa::guest::{Entry, Phase, Step};
use chiwawa::parse::ExportKind;
use chiwawa::runtime::ValType;
use chiwawa::snapshot::v1::{FrameImageV1, MachineImageV1, StoreImageV1, TableImageV1};
use chiwawa::snapshot::{self, EntryImage, FrameImage, MachineImage, Resume, StoreImage, TableImage, Value};
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

/// The lowering the target restores a checkpoint under: bit 1 of the header's generation
/// (the mutator flips it), so that the same state is restored under both lowerings.
pub fn lowering_of(h: &Header) -> Lowering {
    if h.generation & 2 == 0 {
        Lowering::Optimized
    } else {
        Lowering::Plain
    }
}

/// Inputs the target leaves alone although restore would handle them correctly, because
/// running them would hurt the fuzzing process itself: a regular-file stdout or stderr (see
/// [`stdio_is_file`]) with a WASI state that records its size. (Memory sections of any size
/// are run: restore checks a memory's size against the module's and this run's limits before
/// it decodes, i.e. allocates, it.)
fn harmful(c: &CheckpointRef<'_>) -> bool {
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

/// Inputs showing an already reported, not yet fixed restore bug, skipped so that the fuzzer
/// gets past the first bug it finds instead of rediscovering it all the time (the checkpoint
/// counterpart of `run::known_open_bug`, for bugs a restore error does not name). Each entry
/// names its reproducer in `fuzz/regressions/checkpoint/`; drop it once the bug is fixed.
///
/// No entry at present: the ones this held (a frame's pc at its code end, pcs and frame
/// pointers no execution could pause with, an out-of-range funcref global) were about
/// version-1 internals. They are fixed, and version 2 no longer lets a file name internal
/// positions at all; their reproducers stay in `fuzz/regressions/checkpoint/` and still run
/// through the version-1 reader.
fn known_bug(_c: &CheckpointRef<'_>, _info: &GuestInfo) -> bool {
    false
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
    let lowering = lowering_of(&c.header);
    let module = info.module_for(lowering);
    let Ok(mut g) = snapshot::restore(module.clone(), &c, &cfg, limits()) else { return };

    // A state restore accepted must survive its own round trip: capture, write, parse, restore.
    let cap = snapshot::capture(&mut g).expect("capture of a restored guest");
    let header = Header::new(&info.bytes, c.header.generation.wrapping_add(1), cap.executed);
    let mut file = Vec::new();
    snapshot::write(&g, &cap, &header, None, &mut file).expect("write of a restored guest");
    let c2 = parse_checkpoint(&file).expect("parse of a re-captured checkpoint");
    snapshot::accept(&c2, &info.hash, info.bytes.len() as u64).expect("accept of a re-captured checkpoint");
    if let Err(e) = snapshot::restore(module.clone(), &c2, &cfg, limits()) {
        panic!("restore ({lowering:?} lowering) accepted a checkpoint but rejects its re-capture: {e}");
    }
    // What the optimized lowering accepted, the plain one must accept too: it keeps every
    // operand in a slot of its own, so it has no deferred `local.get` or pending constant a
    // saved value must equal (the other way round a state may hold operands the optimized
    // code can only refuse: no execution leaves them, and the plain code does not care).
    if lowering == Lowering::Optimized {
        if let Err(e) = snapshot::restore(info.plain.clone(), &c2, &cfg, limits()) {
            panic!("the optimized lowering restored a checkpoint the plain one rejects: {e}");
        }
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

// ----------------------------------------------------------------------- version-2 values

const TYPES: [ValType; 7] = [
    ValType::I32,
    ValType::I64,
    ValType::F32,
    ValType::F64,
    ValType::FuncRef,
    ValType::ExternRef,
    ValType::ExnRef,
];

fn nfuncs(info: Option<&GuestInfo>) -> u32 {
    info.map_or(64, |i| i.nfuncs)
}

/// A function index for a funcref: null, in range, and around the module's function count
/// (and the store's, which counts the host functions too).
fn funcref_index(rng: &mut Rng, info: Option<&GuestInfo>, orig: Option<u32>) -> Option<u32> {
    let n = nfuncs(info);
    match rng.below(12) {
        0 => None,
        1 => Some(0),
        2 => Some(n.wrapping_sub(1)),
        3 => Some(n),
        4 => Some(n.wrapping_add(1)),
        5 => Some(u32::MAX),
        6 => Some(info.map_or(100, |i| i.store_funcs)),
        7 => orig.map(|o| o.wrapping_add(1)),
        8 => Some(1 << 31),
        _ => Some(rng.below(u64::from(n.max(1))) as u32),
    }
}

/// A value of type `ty` such as an execution could hold (references in range).
fn typed_value(rng: &mut Rng, ty: ValType, info: Option<&GuestInfo>) -> Value {
    let small = |rng: &mut Rng| if rng.chance(2) { rng.below(16) } else { rng.next_u64() };
    match ty {
        ValType::I32 => Value::I32(small(rng) as u32),
        ValType::I64 => Value::I64(small(rng)),
        ValType::F32 => Value::F32((rng.below(64) as f32).to_bits()),
        ValType::F64 => Value::F64((rng.below(64) as f64).to_bits()),
        ValType::FuncRef => Value::FuncRef(if rng.chance(4) {
            None
        } else {
            match info {
                Some(i) if i.nfuncs > 0 => Some(rng.below(u64::from(i.nfuncs)) as u32),
                _ => Some(0),
            }
        }),
        ValType::ExternRef => Value::ExternRef(if rng.chance(2) { None } else { Some(rng.below(8)) }),
        // (The guests hold no exceptions: any index names none, which restore must refuse.)
        ValType::ExnRef => Value::ExnRef(if rng.chance(2) { None } else { Some(rng.below(4) as u32) }),
        ValType::V128 => {
            let (lo, hi) = (small(rng), small(rng));
            Value::V128((u128::from(lo) | u128::from(hi) << 64).to_le_bytes())
        }
    }
}

/// A value of type `ty` at a boundary: integer widths and signs, NaN bit patterns (quiet,
/// signalling, negative, with payload), infinities and -0, function indices at and beyond the
/// function count, external references at `u64::MAX`.
fn boundary_value(rng: &mut Rng, ty: ValType, info: Option<&GuestInfo>, orig: Option<Value>) -> Value {
    let n = nfuncs(info);
    let o32 = match orig {
        Some(Value::I32(x) | Value::F32(x)) => x,
        _ => 0,
    };
    let o64 = match orig {
        Some(Value::I64(x) | Value::F64(x)) => x,
        _ => 0,
    };
    match ty {
        ValType::I32 => Value::I32(boundary_u32(rng, n, o32)),
        ValType::I64 => Value::I64(boundary_u64(rng, n, o64)),
        ValType::F32 => Value::F32(match rng.below(10) {
            0 => 0x7fc0_0000,
            1 => 0x7f80_0001,
            2 => 0xffc0_0001,
            3 => 0x7fff_ffff,
            4 => 0x7f80_0000,
            5 => 0xff80_0000,
            6 => 0x8000_0000,
            7 => 0x0000_0001,
            _ => boundary_u32(rng, n, o32),
        }),
        ValType::F64 => Value::F64(match rng.below(10) {
            0 => 0x7ff8_0000_0000_0000,
            1 => 0x7ff0_0000_0000_0001,
            2 => 0xfff8_0000_0000_0001,
            3 => 0x7fff_ffff_ffff_ffff,
            4 => 0x7ff0_0000_0000_0000,
            5 => 0xfff0_0000_0000_0000,
            6 => 0x8000_0000_0000_0000,
            7 => 1,
            _ => boundary_u64(rng, n, o64),
        }),
        ValType::FuncRef => {
            let o = match orig {
                Some(Value::FuncRef(x)) => x,
                _ => None,
            };
            Value::FuncRef(funcref_index(rng, info, o))
        }
        ValType::ExternRef => Value::ExternRef(match rng.below(7) {
            0 => None,
            1 => Some(0),
            2 => Some(u64::MAX),
            3 => Some(u64::MAX - 1),
            4 => Some(u64::from(u32::MAX)),
            5 => Some(u64::from(n)),
            _ => Some(rng.next_u64()),
        }),
        ValType::ExnRef => Value::ExnRef(match rng.below(4) {
            0 => None,
            1 => Some(0),
            2 => Some(u32::MAX),
            _ => Some(rng.next_u64() as u32),
        }),
        // Any 128 bits are a v128: its own patterns, or a NaN or boundary in a lane.
        ValType::V128 => {
            let (a, b) = (boundary_u64(rng, n, o64), rng.next_u64());
            let v = match rng.below(4) {
                0 => u128::MAX,
                1 => 0x7ff8_0000_0000_0000,
                2 => u128::from(a) << 64 | u128::from(b),
                _ => u128::from(b) << 64 | u128::from(a),
            };
            Value::V128(v.to_le_bytes())
        }
    }
}

/// The same bits (or a boundary value) as another type: what restore's type checks are for.
fn flip_type(rng: &mut Rng, v: Value, info: Option<&GuestInfo>) -> Value {
    match (v, rng.below(3)) {
        (Value::I32(x), 0) => Value::F32(x),
        (Value::F32(x), 0) => Value::I32(x),
        (Value::I64(x), 0) => Value::F64(x),
        (Value::F64(x), 0) => Value::I64(x),
        (Value::FuncRef(x), 0) => Value::ExternRef(x.map(u64::from)),
        (Value::ExternRef(x), 0) => Value::FuncRef(x.map(|x| x as u32)),
        (Value::I32(x), 1) => Value::FuncRef(Some(x)),
        (Value::I64(x), 1) => Value::ExternRef(Some(x)),
        _ => {
            let others: Vec<ValType> = TYPES.iter().copied().filter(|&t| t != v.ty()).collect();
            let t = others[rng.index(others.len())];
            boundary_value(rng, t, info, None)
        }
    }
}

fn mutate_value(rng: &mut Rng, v: &mut Value, info: Option<&GuestInfo>) {
    *v = match rng.below(8) {
        0 | 1 => flip_type(rng, *v, info),
        2 => typed_value(rng, v.ty(), info),
        _ => boundary_value(rng, v.ty(), info, Some(*v)),
    };
}

/// Edits a vector of values: one value (boundary, or another type), a value pushed or
/// popped, two swapped, the length set to a boundary. `types`: what the place expects, for
/// values pushed.
fn mutate_values(rng: &mut Rng, vs: &mut Vec<Value>, info: Option<&GuestInfo>, types: &[ValType]) {
    let next_ty = |rng: &mut Rng, at: usize| match types.get(at) {
        Some(&t) if !rng.chance(4) => t,
        _ => TYPES[rng.index(TYPES.len())],
    };
    match rng.below(10) {
        0..=4 if !vs.is_empty() => {
            let i = rng.index(vs.len());
            mutate_value(rng, &mut vs[i], info);
        }
        5 => {
            let t = next_ty(rng, vs.len());
            let v =
                if rng.chance(2) { typed_value(rng, t, info) } else { boundary_value(rng, t, info, None) };
            vs.push(v);
        }
        6 if !vs.is_empty() => {
            vs.pop();
        }
        7 if vs.len() > 1 => {
            let (i, j) = (rng.index(vs.len()), rng.index(vs.len()));
            vs.swap(i, j);
        }
        8 => {
            let n = boundary_len(rng, vs.len());
            while vs.len() < n {
                let t = next_ty(rng, vs.len());
                vs.push(typed_value(rng, t, info));
            }
            vs.truncate(n);
        }
        _ => {
            // Every value at once a boundary of its own type.
            for v in vs.iter_mut() {
                *v = boundary_value(rng, v.ty(), info, Some(*v));
            }
        }
    }
}

// ----------------------------------------------------------------------- version-2 frames

fn facts(info: Option<&GuestInfo>, func: u32) -> Option<&FuncFacts> {
    info?.funcs.get(func as usize)?.as_ref()
}

fn kind_of(at: Resume) -> PointKind {
    match at {
        Resume::SafePoint => PointKind::SafePoint,
        Resume::AfterCall | Resume::AtCall => PointKind::Call,
    }
}

/// A random point of `ff` of `kind` (any kind with `None`).
fn pick_point<'a>(rng: &mut Rng, ff: &'a FuncFacts, kind: Option<PointKind>) -> Option<&'a PointFacts> {
    let ps: Vec<&PointFacts> = ff.points.iter().filter(|p| kind.is_none_or(|k| p.kind == k)).collect();
    (!ps.is_empty()).then(|| ps[rng.index(ps.len())])
}

/// The function's entry safe point (the first one: the body start comes before every loop).
fn entry_point(ff: &FuncFacts) -> Option<&PointFacts> {
    ff.points.iter().find(|p| p.kind == PointKind::SafePoint)
}

/// A defined function of the guest (or an index near the bounds without one).
fn defined_func(rng: &mut Rng, info: Option<&GuestInfo>) -> u32 {
    match info {
        Some(i) if i.nimported < i.nfuncs => {
            i.nimported + rng.below(u64::from(i.nfuncs - i.nimported)) as u32
        }
        _ => rng.below(64) as u32,
    }
}

/// Puts `f` at point `p` of its function with values restore accepts: locals of the declared
/// types (kept where they already are), the operand stack of the point's types (the part the
/// frame holds for its `at`), equal to the local or constant the optimized code keeps an
/// operand as. A frame made this way passes the per-frame checks, so the run resumes from a
/// state no execution produced (and the checks between frames get exercised).
fn conform(rng: &mut Rng, f: &mut FrameImage, ff: &FuncFacts, p: &PointFacts, info: Option<&GuestInfo>) {
    f.offset = p.offset;
    let same =
        f.locals.len() == ff.locals.len() && f.locals.iter().zip(&ff.locals).all(|(v, &t)| v.ty() == t);
    if !same || rng.chance(4) {
        f.locals = ff.locals.iter().map(|&t| typed_value(rng, t, info)).collect();
    }
    let n = match f.at {
        Resume::AfterCall => p.entries.len().saturating_sub(p.consumed as usize),
        _ => p.entries.len(),
    };
    let old = std::mem::take(&mut f.stack);
    f.stack = p.entries[..n]
        .iter()
        .enumerate()
        .map(|(h, &(t, loc))| match loc {
            Loc::Const(k) => info.map_or(Value::I32(k as u32), |i| i.value_of_bits(t, k)),
            Loc::Slot(s) if u32::from(s) < ff.num_locals => {
                f.locals.get(s as usize).copied().unwrap_or_else(|| typed_value(rng, t, info))
            }
            _ => match old.get(h) {
                Some(&v) if v.ty() == t && !rng.chance(3) => v,
                _ => typed_value(rng, t, info),
            },
        })
        .collect();
}

/// A fresh frame of a defined function at a point of the kind `at` needs, conformed.
fn fresh_frame(rng: &mut Rng, info: Option<&GuestInfo>, at: Resume) -> FrameImage {
    let func = defined_func(rng, info);
    let mut f = FrameImage { func, offset: 0, at, locals: vec![], stack: vec![] };
    if let Some(ff) = facts(info, func) {
        if let Some(p) = pick_point(rng, ff, Some(kind_of(at))) {
            conform(rng, &mut f, ff, p, info);
        }
    }
    f
}

/// Edits one field of one frame.
fn mutate_frame(rng: &mut Rng, f: &mut FrameImage, info: Option<&GuestInfo>) {
    let n = nfuncs(info);
    match rng.below(12) {
        0 => {
            f.func = match rng.below(8) {
                0 => n.wrapping_sub(1),
                1 => n,
                2 => n.wrapping_add(1),
                3 => u32::MAX,
                // An import: not a function a frame can run.
                4 => info.map_or(0, |i| i.nimported.saturating_sub(1)),
                5 => info.map_or(0, |i| i.store_funcs),
                _ => defined_func(rng, info),
            }
        }
        1 | 2 => {
            let ff = facts(info, f.func);
            f.offset = match (rng.below(8), ff) {
                (0, _) => f.offset.wrapping_add(1),
                (1, _) => f.offset.wrapping_sub(1),
                (2, _) => 0,
                (3, _) => u32::MAX,
                (4, Some(ff)) => entry_point(ff).map_or(f.offset, |p| p.offset),
                // A point of the function, whatever its kind.
                (5 | 6, Some(ff)) => pick_point(rng, ff, None).map_or(f.offset, |p| p.offset),
                // A point of another function.
                (7, _) => {
                    let g = defined_func(rng, info);
                    facts(info, g).and_then(|ff| pick_point(rng, ff, None)).map_or(f.offset, |p| p.offset)
                }
                _ => f.offset ^ (1 << rng.below(32)),
            }
        }
        3 => {
            f.at = match (f.at, rng.below(2)) {
                (Resume::SafePoint, 0) | (Resume::AtCall, 0) => Resume::AfterCall,
                (Resume::AfterCall, 0) | (Resume::SafePoint, _) => Resume::AtCall,
                _ => Resume::SafePoint,
            }
        }
        // Another point of the same function (of the kind `at` needs, mostly), values conformed.
        4 | 5 => {
            if let Some(ff) = facts(info, f.func) {
                let kind = if rng.chance(6) { None } else { Some(kind_of(f.at)) };
                if let Some(p) = pick_point(rng, ff, kind) {
                    conform(rng, f, ff, p, info);
                }
            }
        }
        // Another function altogether, conformed.
        6 => {
            let at = f.at;
            *f = fresh_frame(rng, info, at);
        }
        7 | 8 => {
            let types: Vec<ValType> = facts(info, f.func).map(|ff| ff.locals.clone()).unwrap_or_default();
            mutate_values(rng, &mut f.locals, info, &types);
        }
        _ => {
            let types: Vec<ValType> = facts(info, f.func)
                .and_then(|ff| ff.points.iter().find(|p| p.offset == f.offset && p.kind == kind_of(f.at)))
                .map(|p| p.entries.iter().map(|e| e.0).collect())
                .unwrap_or_default();
            mutate_values(rng, &mut f.stack, info, &types);
        }
    }
}

/// Makes the top frame call on: it becomes the caller waiting at a direct call to a defined
/// function (conformed), and that callee gets a frame at its entry safe point (or at a point
/// of its own). A well-formed deeper call stack no execution of the guest produced.
fn deepen(rng: &mut Rng, mi: &mut MachineImage, info: Option<&GuestInfo>) -> bool {
    let Some(top) = mi.frames.last_mut() else { return false };
    let Some(ff) = facts(info, top.func) else { return false };
    let calls: Vec<&PointFacts> = ff
        .points
        .iter()
        .filter(|p| p.kind == PointKind::Call && p.callee.is_some_and(|c| facts(info, c).is_some()))
        .collect();
    if calls.is_empty() {
        return false;
    }
    let p = calls[rng.index(calls.len())];
    top.at = Resume::AfterCall;
    conform(rng, top, ff, p, info);
    let callee = p.callee.expect("a direct call");
    let cf = facts(info, callee).expect("a defined callee");
    let mut f = FrameImage { func: callee, offset: 0, at: Resume::SafePoint, locals: vec![], stack: vec![] };
    let point = if rng.chance(3) { pick_point(rng, cf, Some(PointKind::SafePoint)) } else { entry_point(cf) };
    if let Some(q) = point {
        conform(rng, &mut f, cf, q, info);
    }
    mi.frames.push(f);
    true
}

fn entry_args(rng: &mut Rng, info: Option<&GuestInfo>, name: &str) -> Vec<Value> {
    let params: Vec<ValType> = info
        .and_then(|i| {
            let e = i.module.export(name).filter(|e| e.kind == ExportKind::Func)?;
            Some(i.module.func_type(e.index).params.clone())
        })
        .unwrap_or_default();
    let mut args: Vec<Value> = params.iter().map(|&t| typed_value(rng, t, info)).collect();
    if rng.chance(3) {
        mutate_values(rng, &mut args, info, &params);
    }
    args
}

fn mutate_machine(mi: &mut MachineImage, info: Option<&GuestInfo>, rng: &mut Rng) {
    match rng.below(16) {
        0..=6 => {
            if mi.frames.is_empty() {
                mi.frames.push(fresh_frame(rng, info, Resume::SafePoint));
            }
            // The top frame is where a resumed run starts: edited more often.
            let i = if rng.chance(2) { mi.frames.len() - 1 } else { rng.index(mi.frames.len()) };
            mutate_frame(rng, &mut mi.frames[i], info);
        }
        7 => {
            // A frame copied (deeper recursion when the frame calls its own function), or a
            // fresh one, inserted anywhere.
            let f = if !mi.frames.is_empty() && rng.chance(2) {
                mi.frames[rng.index(mi.frames.len())].clone()
            } else {
                let at = match rng.below(3) {
                    0 => Resume::SafePoint,
                    1 => Resume::AtCall,
                    _ => Resume::AfterCall,
                };
                fresh_frame(rng, info, at)
            };
            let at = rng.index(mi.frames.len() + 1);
            mi.frames.insert(at, f);
        }
        8 => {
            if !mi.frames.is_empty() {
                match rng.below(3) {
                    0 => {
                        let at = rng.index(mi.frames.len());
                        mi.frames.remove(at);
                    }
                    1 => {
                        let (i, j) = (rng.index(mi.frames.len()), rng.index(mi.frames.len()));
                        mi.frames.swap(i, j);
                    }
                    _ => {
                        // Unwind to some depth; the new top frame usually at a safe point of
                        // its own (conformed), so the run goes on from there.
                        let k = 1 + rng.index(mi.frames.len());
                        mi.frames.truncate(k);
                        let top = mi.frames.last_mut().expect("a frame");
                        if !rng.chance(4) {
                            top.at = if rng.chance(4) { Resume::AtCall } else { Resume::SafePoint };
                            if let Some(ff) = facts(info, top.func) {
                                if let Some(p) = pick_point(rng, ff, Some(kind_of(top.at))) {
                                    conform(rng, top, ff, p, info);
                                }
                            }
                        }
                    }
                }
            }
        }
        9 | 10 => {
            if !deepen(rng, mi, info) && !mi.frames.is_empty() {
                let i = rng.index(mi.frames.len());
                mutate_frame(rng, &mut mi.frames[i], info);
            }
        }
        11 => mi.started = !mi.started,
        12 => mi.phase = if mi.phase == Phase::Start { Phase::Entry } else { Phase::Start },
        13 => {
            mi.entry = match rng.below(6) {
                0 => EntryImage::Command,
                1 => EntryImage::Invoke { name: "_start".into(), args: entry_args(rng, info, "_start") },
                2 => EntryImage::Invoke {
                    name: "memory".into(),
                    args: vec![boundary_value(rng, ValType::I32, info, None)],
                },
                3 => EntryImage::Invoke { name: String::new(), args: vec![Value::I32(0); rng.index(3)] },
                4 => match &mut mi.entry {
                    EntryImage::Invoke { name, args } => {
                        mutate_values(rng, args, info, &[]);
                        EntryImage::Invoke { name: std::mem::take(name), args: std::mem::take(args) }
                    }
                    EntryImage::Command => {
                        EntryImage::Invoke { name: "_start".into(), args: vec![Value::I32(1)] }
                    }
                },
                _ => {
                    let name = info.filter(|i| !i.exports.is_empty()).map_or_else(
                        || "_start".to_string(),
                        |i| i.exports[rng.index(i.exports.len())].clone(),
                    );
                    let args = entry_args(rng, info, &name);
                    EntryImage::Invoke { name, args }
                }
            }
        }
        _ => mi.executed = boundary_u64(rng, 0, mi.executed),
    }
}

fn mutate_store(si: &mut StoreImage, info: Option<&GuestInfo>, rng: &mut Rng) {
    let gtypes: Vec<ValType> = info.map(|i| i.global_types.clone()).unwrap_or_default();
    match rng.below(9) {
        0..=2 => {
            if si.globals.is_empty() {
                si.globals.push(Value::I32(0));
            } else {
                let i = rng.index(si.globals.len());
                // Mostly a boundary value of the global's own type (past the type check, into
                // the range and mutability checks), sometimes another type.
                let ty = gtypes.get(i).copied().unwrap_or(si.globals[i].ty());
                si.globals[i] = if rng.chance(4) {
                    flip_type(rng, si.globals[i], info)
                } else {
                    boundary_value(rng, ty, info, Some(si.globals[i]))
                };
            }
        }
        3 => mutate_values(rng, &mut si.globals, info, &gtypes),
        4 | 5 => {
            if si.tables.is_empty() {
                si.tables.push(TableImage { elems: vec![] });
            }
            let t = rng.index(si.tables.len());
            let ty = info.and_then(|i| i.table_types.get(t).copied()).unwrap_or(ValType::FuncRef);
            let max = info.and_then(|i| i.table_max.get(t).copied().flatten());
            let elems = &mut si.tables[t].elems;
            if elems.is_empty() || rng.chance(4) {
                let n = match (rng.below(4), max) {
                    // (A 64-bit table's maximum may be near 2^64: the limit then decides.)
                    (0, Some(m)) => m.min(1 << 24) as usize,
                    (1, Some(m)) => m.min(1 << 24) as usize + 1,
                    _ => boundary_len(rng, elems.len()),
                };
                let fill = if rng.chance(2) {
                    typed_value(rng, ty, info)
                } else {
                    boundary_value(rng, ty, info, None)
                };
                elems.resize(n, fill);
            } else if rng.chance(3) {
                let types = vec![ty; elems.len() + 1];
                mutate_values(rng, elems, info, &types);
            } else {
                let i = rng.index(elems.len());
                elems[i] = if rng.chance(5) {
                    flip_type(rng, elems[i], info)
                } else {
                    boundary_value(rng, ty, info, Some(elems[i]))
                };
            }
        }
        6 => {
            if rng.chance(2) && !si.tables.is_empty() {
                si.tables.pop();
            } else {
                si.tables.push(TableImage { elems: vec![Value::FuncRef(None); rng.index(4)] });
            }
        }
        7 => {
            // Two places' values exchanged: a global with a table element, or two globals.
            if !si.globals.is_empty() {
                let i = rng.index(si.globals.len());
                match si.tables.iter_mut().find(|t| !t.elems.is_empty()) {
                    Some(t) if rng.chance(2) => {
                        let j = rng.index(t.elems.len());
                        std::mem::swap(&mut si.globals[i], &mut t.elems[j]);
                    }
                    _ => {
                        let j = rng.index(si.globals.len());
                        si.globals.swap(i, j);
                    }
                }
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

// ------------------------------------------------------------------ version-1 (raw) state

fn wasm_addr(rng: &mut Rng, info: Option<&GuestInfo>) -> u32 {
    match info {
        Some(i) if !i.wasm_addrs.is_empty() && !rng.chance(4) => i.wasm_addrs[rng.index(i.wasm_addrs.len())],
        Some(i) => boundary_u32(rng, i.store_funcs, 0),
        None => rng.below(64) as u32,
    }
}

fn code_len(info: Option<&GuestInfo>, func: u32) -> u32 {
    info.and_then(|i| i.code.get(func as usize).copied().flatten()).map_or(16, |(len, _)| len)
}

/// Version-1 Machine sections: internal pcs and frame pointers, raw slots (what the
/// conversion in `snapshot::v1` must check).
fn mutate_machine_v1(mi: &mut MachineImageV1, info: Option<&GuestInfo>, rng: &mut Rng) {
    let nfuncs = info.map_or(64, |i| i.store_funcs);
    match rng.below(12) {
        0..=3 => {
            if mi.frames.is_empty() {
                mi.frames.push(FrameImageV1 { func: wasm_addr(rng, info), pc: 0, fp: 0 });
            }
            let i = rng.index(mi.frames.len());
            let prev_fp = if i > 0 { mi.frames[i - 1].fp } else { 0 };
            let stack_len = mi.stack.len() as u32;
            let f = &mut mi.frames[i];
            match rng.below(3) {
                0 => f.pc = boundary_u32(rng, code_len(info, f.func), f.pc),
                1 => {
                    f.func =
                        if rng.chance(2) { wasm_addr(rng, info) } else { boundary_u32(rng, nfuncs, f.func) }
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
                let func = wasm_addr(rng, info);
                let top = mi.frames.last().map_or(0, |f| f.fp);
                FrameImageV1 { func, pc: rng.below(u64::from(code_len(info, func)) + 2) as u32, fp: top }
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

fn mutate_store_v1(si: &mut StoreImageV1, info: Option<&GuestInfo>, rng: &mut Rng) {
    let nfuncs = info.map_or(64, |i| i.store_funcs);
    match rng.below(6) {
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
        _ => {
            if si.tables.is_empty() {
                si.tables.push(TableImageV1 { elems: vec![] });
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
    }
}

/// A checkpoint file in format `version` (1 or 2; `header.format_version` is ignored): written
/// by chiwawa's `CheckpointWriter` (which writes version 2 only), then for version 1 the
/// version field, the header CRC and the end section's CRC chain (which starts from the
/// header CRC) redone.
pub fn encode_file(
    header: &Header,
    version: u32,
    sections: &[(SectionKind, Vec<u8>)],
) -> std::io::Result<Vec<u8>> {
    let mut h = header.clone();
    h.format_version = FORMAT_VERSION;
    let mut w = CheckpointWriter::new(Vec::new(), &h)?;
    for (k, p) in sections {
        if k.code() != 0 {
            w.section(*k, p)?;
        }
    }
    let mut b = w.finish()?;
    if version == FORMAT_VERSION {
        return Ok(b);
    }
    const END_LEN: usize = 16 + 8 + 4;
    let crc_at = HEADER_LEN - 4;
    b[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&b[..crc_at]);
    b[crc_at..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    let mut chain = crc32fast::Hasher::new();
    chain.update(&crc.to_le_bytes());
    let end = b.len() - END_LEN;
    let mut at = HEADER_LEN;
    while at < end {
        let len = u64::from_le_bytes(b[at + 8..at + 16].try_into().expect("8 bytes")) as usize;
        let trailer = at + 16 + len;
        chain.update(&b[trailer..trailer + 4]);
        at = trailer + 4;
    }
    let chain = chain.finalize();
    b[end + 20..end + 24].copy_from_slice(&chain.to_le_bytes());
    let crc = crc32fast::hash(&b[end..end + 24]);
    b[end + 24..].copy_from_slice(&crc.to_le_bytes());
    Ok(b)
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
    // Version-1 inputs keep their version (and their Machine and Store in version-1 terms).
    let mut version = c.header.format_version;
    let v1 = version == 1;
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
        done = match rng.below(22) {
            0..=6 => pick(&sections, SectionKind::Machine, &mut rng).is_some_and(|i| {
                if v1 {
                    edit(&mut sections[i].1, |mi: &mut MachineImageV1| mutate_machine_v1(mi, info, &mut rng))
                } else {
                    edit(&mut sections[i].1, |mi: &mut MachineImage| mutate_machine(mi, info, &mut rng))
                }
            }),
            7..=9 => pick(&sections, SectionKind::Store, &mut rng).is_some_and(|i| {
                if v1 {
                    edit(&mut sections[i].1, |si: &mut StoreImageV1| mutate_store_v1(si, info, &mut rng))
                } else {
                    edit(&mut sections[i].1, |si: &mut StoreImage| mutate_store(si, info, &mut rng))
                }
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
            // Restore under the other lowering (see `lowering_of`).
            19 | 20 => {
                header.generation ^= 2;
                true
            }
            _ => {
                match rng.below(5) {
                    0 | 1 => header.flags ^= 1,
                    // The other format version with the same payloads (a version-2 state
                    // read as version 1, and the other way round).
                    2 => version = if version == 1 { 2 } else { 1 },
                    _ => {
                        let kind = SectionKind::from_code(8 + rng.below(3) as u32);
                        sections.push((kind, vec![0; rng.index(8)]));
                    }
                }
                true
            }
        };
    }
    match encode_file(&header, version, &sections) {
        Ok(bytes) if bytes.len() <= max_size && bytes.len() <= data.len() => {
            data[..bytes.len()].copy_from_slice(&bytes);
            bytes.len()
        }
        _ => fallback(data, size, max_size),
    }
}
