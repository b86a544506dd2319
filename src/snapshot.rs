//! Snapshots: capture a running [`Guest`] into checkpoint sections, and rebuild a guest from them.
//!
//! Only *state* is saved — value stack, frames (function address + pc + fp: indices, never
//! pointers), counters, globals, tables, dropped segments, linear memories, and the WASI state.
//! Everything else (code, types, imports, instance layout) is rebuilt by compiling and
//! instantiating the module bytes again; the module hash in the header guarantees they are the
//! same bytes, and [`IR_VERSION`] that program counters mean the same thing.
//!
//! Applying is all-or-nothing for the interpreter state: every section is decoded and validated
//! before the WASI state is restored (which reopens and may truncate files).

use crate::checkpoint::format::{self, encode_meta, CheckpointRef, CheckpointWriter, Header, SectionKind};
use crate::checkpoint::{codec, CheckpointDir};
use crate::compile::ir::IR_VERSION;
use crate::error::Error;
use crate::exec::Frame;
use crate::guest::{Entry, Guest, Phase};
use crate::parse::Module;
use crate::runtime::store::{FuncKind, Limits};
use crate::runtime::value::ValType;
use crate::wasi::{WasiConfig, WasiCtx, WasiState};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// The `Machine` section.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MachineImage {
    /// [`IR_VERSION`] of the lowering the program counters refer to.
    pub ir_version: u32,
    pub phase: Phase,
    /// Whether the current phase's call was already set up.
    pub started: bool,
    pub entry: Entry,
    /// Instruction units executed.
    pub executed: u64,
    pub frames: Vec<Frame>,
    /// Value stack slots `0..(top frame's fp + its max_slots)`.
    pub stack: Vec<u64>,
}

/// One table of the `Store` section.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TableImage {
    pub elems: Vec<u64>,
}

/// Per-instance segment state of the `Store` section.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InstanceImage {
    pub elem_dropped: Vec<bool>,
    pub data_dropped: Vec<bool>,
}

/// The `Store` section: everything mutable except linear memories (which get sections of their own).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoreImage {
    pub globals: Vec<u64>,
    pub tables: Vec<TableImage>,
    pub instances: Vec<InstanceImage>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Other(format!("checkpoint cannot be applied: {}", msg.into()))
}

fn codec_err(what: &str) -> impl Fn(codec::CodecError) -> Error + '_ {
    move |e| bad(format!("{what} section: {e}"))
}

impl MachineImage {
    pub fn capture(g: &Guest) -> MachineImage {
        let live = match g.machine.frames.last() {
            Some(top) => {
                let (cf, _) = code_of(g, top.func).expect("frames hold Wasm functions");
                top.fp as usize + cf.max_slots as usize
            }
            None => 0,
        };
        MachineImage {
            ir_version: IR_VERSION,
            phase: g.phase,
            started: g.started,
            entry: g.entry.clone(),
            executed: g.machine.executed(),
            frames: g.machine.frames.clone(),
            stack: g.machine.stack[..live.min(g.machine.stack.len())].to_vec(),
        }
    }
}

fn code_of(g: &Guest, func: u32) -> Option<(&crate::compile::ir::CompiledFunc, u32)> {
    match g.store.funcs.get(func as usize)?.kind {
        FuncKind::Wasm { instance, index } => {
            let m = &g.store.instances.get(instance as usize)?.module;
            Some((m.code.get(index.checked_sub(m.num_imported_funcs)? as usize)?, instance))
        }
        FuncKind::Host { .. } => None,
    }
}

impl StoreImage {
    pub fn capture(g: &Guest) -> StoreImage {
        StoreImage {
            globals: g.store.globals.iter().map(|x| x.value).collect(),
            tables: g.store.tables.iter().map(|t| TableImage { elems: t.elems.clone() }).collect(),
            instances: g
                .store
                .instances
                .iter()
                .map(|i| InstanceImage {
                    elem_dropped: i.elems.iter().map(|e| e.is_empty()).collect(),
                    data_dropped: i.data_dropped.clone(),
                })
                .collect(),
        }
    }
}

/// Short human-readable facts for `chiwawa inspect` (no host paths or times: section bytes must
/// not depend on where or when they were written).
fn meta(g: &Guest) -> Vec<(String, String)> {
    let mut m = vec![
        ("module".to_string(), g.module.name.clone().unwrap_or_default()),
        ("frames".to_string(), g.machine.frames.len().to_string()),
        (
            "memory_pages".to_string(),
            g.store.memories.iter().map(|m| m.pages().to_string()).collect::<Vec<_>>().join(","),
        ),
    ];
    let bt: Vec<String> = g
        .machine
        .frames
        .iter()
        .rev()
        .take(8)
        .map(|f| {
            let off = code_of(g, f.func)
                .and_then(|(cf, _)| cf.offsets.get((f.pc as usize).saturating_sub(1)).copied())
                .unwrap_or(0);
            format!("{}@0x{off:x}", g.store.func_name(f.func))
        })
        .collect();
    m.push(("backtrace".to_string(), bt.join(" <- ")));
    m
}

/// The `Clock` section: readings that depend on when the capture happened. Kept apart so that
/// every other section is a pure function of the execution position (identical whichever host
/// or producer wrote it).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockImage {
    /// The guest's monotonic clock at capture (it continues from here after a restore).
    pub monotonic_ns: u64,
}

/// Everything of a guest that goes into a checkpoint, encoded (memories are streamed later).
pub struct Capture {
    pub meta: Vec<u8>,
    pub machine: Vec<u8>,
    pub store: Vec<u8>,
    pub wasi: Vec<u8>,
    pub clock: Vec<u8>,
    pub executed: u64,
}

/// Encodes the guest's state. Needs `&mut` only to query live file offsets.
pub fn capture(g: &mut Guest) -> Result<Capture, Error> {
    let mut wasi_state =
        g.wasi.state().map_err(|e| Error::Other(format!("cannot capture WASI state: {e}")))?;
    let clock = ClockImage { monotonic_ns: std::mem::take(&mut wasi_state.monotonic_ns) };
    let enc = |e: codec::CodecError| Error::Other(format!("cannot encode checkpoint: {e}"));
    Ok(Capture {
        meta: encode_meta(&meta(g)),
        machine: codec::encode(&MachineImage::capture(g)).map_err(enc)?,
        store: codec::encode(&StoreImage::capture(g)).map_err(enc)?,
        wasi: codec::encode(&wasi_state).map_err(enc)?,
        clock: codec::encode(&clock).map_err(enc)?,
        executed: g.machine.executed(),
    })
}

/// Writes the whole checkpoint file: header, Meta, Machine, Store, one Memory per linear
/// memory (sparse, streamed straight from guest memory), Wasi, end.
pub fn write(g: &Guest, c: &Capture, header: &Header, w: &mut dyn Write) -> std::io::Result<()> {
    let mut cw = CheckpointWriter::new(w, header)?;
    cw.section(SectionKind::Meta, &c.meta)?;
    cw.section(SectionKind::Machine, &c.machine)?;
    cw.section(SectionKind::Store, &c.store)?;
    for (i, mem) in g.store.memories.iter().enumerate() {
        cw.memory_section(i as u32, &mem.data, mem.max_pages.map(u64::from))?;
    }
    cw.section(SectionKind::Wasi, &c.wasi)?;
    cw.section(SectionKind::Clock, &c.clock)?;
    cw.finish()?;
    Ok(())
}

/// Captures the guest and commits it as a new generation. Returns (generation, path, bytes).
pub fn checkpoint(
    g: &mut Guest,
    dir: &CheckpointDir,
    module_hash: [u8; 32],
) -> Result<(u64, PathBuf, u64), Error> {
    let c = capture(g)?;
    let generation = dir.next_generation()?;
    let header = Header {
        format_version: format::FORMAT_VERSION,
        flags: 0,
        module_hash,
        module_len: g.module.byte_len,
        generation,
        created_unix_nanos: format::unix_nanos_now(),
        instructions: c.executed,
        producer: format::Producer::current(),
    };
    let (path, bytes) = dir.commit(generation, |w| write(g, &c, &header, w))?;
    Ok((generation, path, bytes))
}

/// Whether a checkpoint belongs to this module and this chiwawa can read it (header level).
pub fn accept(c: &CheckpointRef<'_>, module_hash: &[u8; 32], module_len: u64) -> Result<(), String> {
    if c.header.is_postmortem() {
        return Err(
            "it is a postmortem checkpoint (the final state of a finished guest), for inspection only"
                .to_string(),
        );
    }
    if &c.header.module_hash != module_hash || c.header.module_len != module_len {
        return Err(format!(
            "it was made for another module (sha256 {}, {} bytes; this module is sha256 {}, {} bytes)",
            crate::checkpoint::hash::to_hex(&c.header.module_hash),
            c.header.module_len,
            crate::checkpoint::hash::to_hex(module_hash),
            module_len
        ));
    }
    for s in &c.sections {
        if let SectionKind::Other(code) = s.kind {
            return Err(format!("it has an unknown section kind {code} (written by a newer chiwawa?)"));
        }
    }
    for k in [SectionKind::Machine, SectionKind::Store, SectionKind::Wasi] {
        if c.section(k).is_none() {
            return Err(format!("it lacks the {k:?} section"));
        }
    }
    Ok(())
}

/// Rebuilds a guest from a verified checkpoint: compile-time structures from `module`, state from
/// the sections, files reopened (and grown files truncated back) from the WASI state.
pub fn restore(
    module: Arc<Module>,
    c: &CheckpointRef<'_>,
    wasi_cfg: &WasiConfig,
    limits: Limits,
) -> Result<Guest, Error> {
    let mi: MachineImage =
        codec::decode(c.section(SectionKind::Machine).ok_or_else(|| bad("no Machine section"))?.payload)
            .map_err(codec_err("Machine"))?;
    if mi.ir_version != IR_VERSION {
        return Err(bad(format!(
            "its program counters refer to internal code version {}, this chiwawa uses version {IR_VERSION}",
            mi.ir_version
        )));
    }
    let si: StoreImage =
        codec::decode(c.section(SectionKind::Store).ok_or_else(|| bad("no Store section"))?.payload)
            .map_err(codec_err("Store"))?;
    let mut ws: WasiState =
        codec::decode(c.section(SectionKind::Wasi).ok_or_else(|| bad("no Wasi section"))?.payload)
            .map_err(codec_err("Wasi"))?;
    if let Some(clock) = c.section(SectionKind::Clock) {
        let ci: ClockImage = codec::decode(clock.payload).map_err(codec_err("Clock"))?;
        ws.monotonic_ns = ci.monotonic_ns;
    }
    let mut memories = Vec::new();
    for s in c.sections_of(SectionKind::Memory) {
        memories.push(format::decode_memory(s.payload).map_err(|e| bad(e.to_string()))?);
    }

    // A placeholder WASI context: instantiation does not call WASI. The real one is restored last.
    let placeholder = WasiCtx::new(&WasiConfig { args: vec![], env: vec![], preopens: vec![] })
        .map_err(|e| bad(e.to_string()))?;
    let mut g = Guest::instantiate(module, placeholder, limits, mi.entry.clone())?;
    apply_store(&mut g, &si, memories)?;
    apply_machine(&mut g, &mi)?;
    // A failure here is about this run's environment (a preopen not given, a file deleted since):
    // the checkpoint itself is fine, so it must not be skipped in favour of an older one.
    // A refusal (a path leading out of its preopen, an inconsistent state) is not skipped either.
    g.wasi = WasiCtx::restore(wasi_cfg, &ws).map_err(|e| {
        if e.is_refusal() {
            Error::Refused(e.to_string())
        } else {
            Error::Environment(e.to_string())
        }
    })?;
    Ok(g)
}

fn apply_store(
    g: &mut Guest,
    si: &StoreImage,
    memories: Vec<(u32, Vec<u8>, Option<u64>)>,
) -> Result<(), Error> {
    let st = &mut g.store;
    if si.globals.len() != st.globals.len() {
        return Err(bad(format!("{} globals saved, the module has {}", si.globals.len(), st.globals.len())));
    }
    for (gl, v) in st.globals.iter_mut().zip(&si.globals) {
        gl.value = match gl.ty {
            ValType::I32 | ValType::F32 => *v & 0xffff_ffff,
            _ => *v,
        };
    }
    if si.tables.len() != st.tables.len() {
        return Err(bad(format!("{} tables saved, the module has {}", si.tables.len(), st.tables.len())));
    }
    let nfuncs = st.funcs.len() as u64;
    for (i, (t, ti)) in st.tables.iter_mut().zip(&si.tables).enumerate() {
        if ti.elems.len() as u64 > t.max.map_or(u64::from(u32::MAX), u64::from) {
            return Err(bad(format!("table {i} exceeds its maximum")));
        }
        if t.ty == ValType::FuncRef && ti.elems.iter().any(|&r| r > nfuncs) {
            return Err(bad(format!("table {i} holds a reference to a function that does not exist")));
        }
        t.elems = ti.elems.clone();
    }
    if si.instances.len() != st.instances.len() {
        return Err(bad("instance count differs"));
    }
    for (inst, ii) in st.instances.iter_mut().zip(&si.instances) {
        if ii.elem_dropped.len() != inst.elems.len() || ii.data_dropped.len() != inst.data_dropped.len() {
            return Err(bad("segment count differs"));
        }
        for (e, &d) in inst.elems.iter_mut().zip(&ii.elem_dropped) {
            if d {
                e.clear();
            }
        }
        inst.data_dropped = ii.data_dropped.clone();
    }
    if memories.len() != st.memories.len() {
        return Err(bad(format!("{} memories saved, the module has {}", memories.len(), st.memories.len())));
    }
    for (index, data, _max) in memories {
        let mem = st.memories.get_mut(index as usize).ok_or_else(|| bad(format!("no memory {index}")))?;
        let pages = (data.len() / crate::runtime::memory::PAGE_SIZE) as u32;
        let cap = mem.max_pages.unwrap_or(crate::runtime::memory::MAX_PAGES).min(mem.limit_pages);
        if pages > cap {
            return Err(bad(format!("memory {index} has {pages} pages, more than its limit of {cap}")));
        }
        mem.data = data;
    }
    Ok(())
}

fn apply_machine(g: &mut Guest, mi: &MachineImage) -> Result<(), Error> {
    let limits = g.store.limits;
    if mi.frames.len() > limits.max_frames as usize || mi.stack.len() > limits.max_stack_slots as usize {
        return Err(bad(
            "the saved call stack exceeds this run's limits (--max-call-depth, --max-stack-slots)",
        ));
    }
    let mut need = mi.stack.len();
    let mut prev_fp = 0u32;
    for f in &mi.frames {
        let (cf, _) =
            code_of(g, f.func).ok_or_else(|| bad(format!("frame of non-Wasm function {}", f.func)))?;
        if f.pc as usize > cf.code.len() || f.fp < prev_fp {
            return Err(bad("a frame's program counter or frame pointer is out of range"));
        }
        prev_fp = f.fp;
        need = need.max(f.fp as usize + cf.max_slots as usize);
    }
    if need > limits.max_stack_slots as usize {
        return Err(bad("the saved value stack exceeds this run's --max-stack-slots"));
    }
    let mut stack = mi.stack.clone();
    stack.resize(need, 0);
    g.machine.stack = stack;
    g.machine.frames = mi.frames.clone();
    g.machine.set_executed(mi.executed);
    g.phase = mi.phase;
    g.started = mi.started;
    if g.phase == Phase::Start && g.module.start.is_none() {
        return Err(bad("saved in the start function, but the module has none"));
    }
    if g.started && g.machine.frames.is_empty() {
        return Err(bad("a running call without frames"));
    }
    Ok(())
}
