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
use crate::checkpoint::pages::{Manifest, PageStore, PageTracker};
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
    pub frames: Vec<FrameImage>,
    /// Value stack slots `0..(top frame's fp + its max_slots)`.
    pub stack: Vec<u64>,
}

/// One saved frame (as [`Frame`], whose fields only the interpreter sets): untrusted data until
/// a restore has checked it against the code (`check_frames`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameImage {
    pub func: u32,
    pub pc: u32,
    pub fp: u32,
}

impl From<&Frame> for FrameImage {
    fn from(f: &Frame) -> FrameImage {
        FrameImage { func: f.func, pc: f.pc, fp: f.fp }
    }
}

impl FrameImage {
    /// The frame, for a machine: only after `check_frames` accepted it.
    fn trusted(&self) -> Frame {
        Frame { func: self.func, pc: self.pc, fp: self.fp }
    }
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
            frames: g.machine.frames.iter().map(FrameImage::from).collect(),
            stack: g.machine.stack[..live.min(g.machine.stack.len())].to_vec(),
        }
    }
}

fn code_of(g: &Guest, func: u32) -> Option<(&crate::compile::ir::CompiledFunc, u32)> {
    crate::exec::machine::code_checked(&g.store, func)
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

/// Writes the whole checkpoint file: header, Meta, Machine, Store, one section per linear memory,
/// Wasi, Clock, end. A memory is a `Memory` section (sparse, streamed straight from guest memory)
/// in a self-contained file, or a `Pages` manifest (its pages in packs) when `manifests` are
/// given.
pub fn write(
    g: &Guest,
    c: &Capture,
    header: &Header,
    manifests: Option<&[Manifest]>,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let mut cw = CheckpointWriter::new(w, header)?;
    cw.section(SectionKind::Meta, &c.meta)?;
    cw.section(SectionKind::Machine, &c.machine)?;
    cw.section(SectionKind::Store, &c.store)?;
    match manifests {
        Some(ms) => {
            for m in ms {
                cw.section(SectionKind::Pages, &m.encode())?;
            }
        }
        None => {
            for (i, mem) in g.store.memories.iter().enumerate() {
                cw.memory_section(i as u32, &mem.data, mem.max_pages.map(u64::from))?;
            }
        }
    }
    cw.section(SectionKind::Wasi, &c.wasi)?;
    cw.section(SectionKind::Clock, &c.clock)?;
    cw.finish()?;
    Ok(())
}

/// A committed generation.
#[derive(Debug)]
pub struct Committed {
    pub generation: u64,
    pub path: PathBuf,
    /// Bytes written: the generation file plus its page pack.
    pub bytes: u64,
    /// Pages written to this generation's pack (incremental generations).
    pub pages_written: u64,
    /// Pages referenced from the packs of earlier generations.
    pub pages_reused: u64,
}

/// Captures the guest and commits it as a new generation: self-contained, or (with a
/// `tracker`) incremental — only the pages that changed since the tracker's generation go into a
/// new pack, written durably before the generation that references it.
pub fn checkpoint(
    g: &mut Guest,
    dir: &CheckpointDir,
    module_hash: [u8; 32],
    tracker: Option<&mut PageTracker>,
) -> Result<Committed, Error> {
    let Some(tracker) = tracker else {
        let (c, header) = capture_with_header(g, dir, module_hash)?;
        let generation = header.generation;
        let (path, bytes) = dir.commit(generation, |w| write(g, &c, &header, None, w))?;
        return Ok(Committed { generation, path, bytes, pages_written: 0, pages_reused: 0 });
    };
    match begin(g, dir, module_hash, tracker, 0, &mut Vec::new(), 0)? {
        Begun::Done(c) => Ok(c),
        Begun::InFlight(f) => f.wait().0,
    }
}

/// The guest's state and the header of the next generation.
fn capture_with_header(
    g: &mut Guest,
    dir: &CheckpointDir,
    module_hash: [u8; 32],
) -> Result<(Capture, Header), Error> {
    let c = capture(g)?;
    let header = Header {
        format_version: format::FORMAT_VERSION,
        flags: 0,
        module_hash,
        module_len: g.module.byte_len,
        generation: dir.next_generation()?,
        created_unix_nanos: format::unix_nanos_now(),
        instructions: c.executed,
        producer: format::Producer::current(),
    };
    Ok((c, header))
}

/// What [`begin`] did: committed the generation, or captured it and left the writing to a
/// thread.
#[derive(Debug)]
pub enum Begun {
    Done(Committed),
    InFlight(InFlight),
}

/// The outcome of writing a generation in the background, and the buffer its pages were in.
type Written = (Result<Committed, Error>, Vec<u8>);

/// An incremental generation being made durable by a thread of its own while the guest runs
/// on: its new pages and its file were copied out of the guest when it was captured. Until
/// [`wait`](Self::wait) returns `Ok` it may never be committed (the previous generation stays
/// the newest valid one). Dropping it waits.
#[derive(Debug)]
pub struct InFlight {
    pub generation: u64,
    handle: Option<std::thread::JoinHandle<Written>>,
}

impl InFlight {
    /// Waits until the generation is committed, or its writing failed; also returns the buffer
    /// its pages were copied to (for the next [`begin`]).
    pub fn wait(mut self) -> Written {
        self.join()
    }

    /// Whether the writing is over (then [`wait`](Self::wait) does not block).
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    fn join(&mut self) -> Written {
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => (
                Err(Error::Other(format!("the writer of generation {} panicked", self.generation))),
                Vec::new(),
            ),
            None => (
                Err(Error::Other(format!("generation {} was already waited for", self.generation))),
                Vec::new(),
            ),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let _ = self.join();
        }
    }
}

/// Plans an incremental generation (see [`PageTracker::plan`]) and then either commits it at
/// once, or — when `max_copy` allows (the new pages take at most that many bytes) and a thread
/// can be started — copies its new pages and its file out of the guest and returns while a
/// thread writes them, so that the guest pauses only for the plan and the copy, not for the
/// writes and `fsync`s. The tracker takes the plan as committed either way: if the generation
/// then fails, the caller must give the tracker up ([`PageTracker::new`]). `spare` is a buffer
/// to copy the pages to (reused: a new one costs a page fault per 4 KiB on first touch); the
/// writer returns it with room for twice this generation's pages, up to `keep` bytes.
pub fn begin(
    g: &mut Guest,
    dir: &CheckpointDir,
    module_hash: [u8; 32],
    tracker: &mut PageTracker,
    max_copy: usize,
    spare: &mut Vec<u8>,
    keep: usize,
) -> Result<Begun, Error> {
    let (c, header) = capture_with_header(g, dir, module_hash)?;
    let generation = header.generation;
    let mems: Vec<(&[u8], Option<u64>)> =
        g.store.memories.iter().map(|m| (&m.data[..], m.max_pages.map(u64::from))).collect();
    let mut plan = tracker.plan(generation, &mems);
    let bufs: Vec<&[u8]> = mems.iter().map(|m| m.0).collect();
    let (pages_written, pages_reused) = (plan.new_pages.len() as u64, plan.reused);
    if plan.compacted > 0 {
        log::debug!("generation {generation}: {} pages moved out of mostly-garbage packs", plan.compacted);
    }
    // Pages compaction moves are unchanged since their older pack was written: the writer
    // copies them from there, not out of the guest.
    let changed = plan.moved_from.iter().filter(|m| m.is_none()).count();
    let copy_len = changed * crate::runtime::memory::PAGE_SIZE;
    let copy = if cfg!(target_os = "wasi") || copy_len > max_copy {
        None
    } else {
        // The changed pages and the generation file, out of the guest (a copy that cannot be
        // had is no error: the generation is then written before the guest goes on).
        let mut pack = std::mem::take(spare);
        pack.clear();
        let mut file = Vec::new();
        match pack.try_reserve(copy_len) {
            Ok(()) => {
                PageTracker::copy_changed(&plan, &mems, &mut pack)?;
                write(g, &c, &header, Some(&plan.manifests), &mut file)?;
                Some((pack, file))
            }
            Err(_) => None,
        }
    };
    let Some((pack, file)) = copy else {
        let mut bytes = 0;
        if !plan.new_pages.is_empty() {
            bytes += dir.write_pack(generation, |w| PageTracker::write_pack(&plan, module_hash, &mems, w))?;
        }
        let (path, n) = dir.commit(generation, |w| write(g, &c, &header, Some(&plan.manifests), w))?;
        tracker.committed(plan, &bufs);
        return Ok(Begun::Done(Committed {
            generation,
            path,
            bytes: bytes + n,
            pages_written,
            pages_reused,
        }));
    };
    let moved_from = std::mem::take(&mut plan.moved_from);
    tracker.committed(plan, &bufs);
    let dir2 = dir.clone();
    let persist = move || -> Written {
        let mut bytes = 0;
        let result = (|| -> Result<Committed, Error> {
            if !moved_from.is_empty() {
                let mut store = PageStore::new(dir2.path(), module_hash);
                bytes += dir2.write_pack(generation, |w| {
                    PageTracker::write_pack_from(generation, module_hash, &moved_from, &pack, &mut store, w)
                })?;
            }
            let (path, n) = dir2.commit(generation, |w| w.write_all(&file))?;
            Ok(Committed { generation, path, bytes: bytes + n, pages_written, pages_reused })
        })();
        // Ready for the next generation: room for twice this one's pages (at most `keep`
        // bytes), the new room touched here rather than by the guest's thread at the next copy
        // (a fresh page costs a fault on first touch: ~40 ms for 50 MiB on this machine).
        let (used, mut pack) = (pack.len(), pack);
        pack.clear();
        let want = used.saturating_mul(2).min(keep);
        if want > pack.capacity() && pack.try_reserve_exact(want).is_ok() {
            pack.resize(want, 0);
            pack.clear();
        }
        (result, pack)
    };
    // `persist` is moved into the thread only if one starts; otherwise it runs here.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(persist)));
    let job = slot.clone();
    let no_work = || (Err(Error::Other("the generation writer had no work".into())), Vec::new());
    let spawned = std::thread::Builder::new().name(format!("chiwawa-gen-{generation}")).spawn(move || {
        let f = job.lock().unwrap_or_else(|p| p.into_inner()).take();
        f.map_or_else(no_work, |f| f())
    });
    match spawned {
        Ok(h) => Ok(Begun::InFlight(InFlight { generation, handle: Some(h) })),
        Err(e) => {
            log::debug!("cannot start a generation writer ({e}): writing generation {generation} now");
            let f = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            let (result, buf) = f.map_or_else(no_work, |f| f());
            *spare = buf;
            result.map(Begun::Done)
        }
    }
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
    restore_with(module, c, wasi_cfg, limits, &mut || Ok(()))
}

/// [`restore`], calling `before_files` once the interpreter state (Machine, Store, memories)
/// has been decoded and validated in full, before any file is reopened or truncated: the run
/// rolls back its undo journal there, so that a checkpoint that turns out unusable leaves
/// the files as they were.
pub fn restore_with(
    module: Arc<Module>,
    c: &CheckpointRef<'_>,
    wasi_cfg: &WasiConfig,
    limits: Limits,
    before_files: &mut dyn FnMut() -> Result<(), Error>,
) -> Result<Guest, Error> {
    restore_paged(module, c, None, wasi_cfg, limits, before_files).map(|(g, _)| g)
}

/// [`restore_with`] for a checkpoint whose memories may be `Pages` manifests: their pages are
/// read from `pages` (the generation's checkpoint directory) and verified one by one. Returns
/// also a [`PageTracker`] seeded with the restored generation, so the next generation is
/// incremental relative to it. Without `pages`, a manifest is an error.
pub fn restore_paged(
    module: Arc<Module>,
    c: &CheckpointRef<'_>,
    mut pages: Option<&mut PageStore>,
    wasi_cfg: &WasiConfig,
    limits: Limits,
    before_files: &mut dyn FnMut() -> Result<(), Error>,
) -> Result<(Guest, PageTracker), Error> {
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
    // A placeholder WASI context: instantiation does not call WASI. The real one is restored last.
    let placeholder = WasiCtx::new(&WasiConfig { args: vec![], env: vec![], preopens: vec![] })
        .map_err(|e| bad(e.to_string()))?;
    let mut g = Guest::instantiate(module, placeholder, limits, mi.entry.clone())?;
    // Memories: each size checked against the module's limits before anything is allocated.
    let mut memories = Vec::new();
    let mut manifests = Vec::new();
    for s in c.sections.iter().filter(|s| matches!(s.kind, SectionKind::Memory | SectionKind::Pages)) {
        let (index, size_pages, max_pages) = if s.kind == SectionKind::Pages {
            let m = Manifest::decode(s.payload, c.header.generation).map_err(|e| bad(e.to_string()))?;
            let info = (m.index, m.size_pages, m.max_pages);
            manifests.push(m);
            info
        } else {
            let (info, _) = format::memory_pages(s.payload).map_err(|e| bad(e.to_string()))?;
            (info.index, info.size_pages, info.max_pages)
        };
        let mem = g.store.memories.get(index as usize).ok_or_else(|| {
            bad(format!("a memory section for memory {index}, but the module has {}", g.store.memories.len()))
        })?;
        let cap = mem.max_pages.unwrap_or(crate::runtime::memory::MAX_PAGES).min(mem.limit_pages);
        if size_pages > u64::from(cap) {
            return Err(bad(format!("memory {index} has {size_pages} pages, more than its limit of {cap}")));
        }
        if max_pages != mem.max_pages.map(u64::from) {
            return Err(bad(format!("memory {index}'s maximum differs from the module's")));
        }
        if memories.iter().any(|(i, _, _)| *i == index) {
            return Err(bad(format!("memory {index} is saved twice")));
        }
        if s.kind == SectionKind::Pages {
            let store = pages.as_deref_mut().ok_or_else(|| {
                bad(format!(
                    "memory {index} is stored in page packs beside the generation file, which are not \
                     available here (a self-contained copy is made with `chiwawa export`)"
                ))
            })?;
            let m = manifests.last().ok_or_else(|| bad("manifest vanished"))?;
            memories.push((index, store.load(m).map_err(bad)?, max_pages));
        } else {
            memories.push(format::decode_memory(s.payload).map_err(|e| bad(e.to_string()))?);
        }
    }
    let tracker = PageTracker::from_restored(&manifests, pages.map(|p| p.pack_sizes()).unwrap_or_default());
    apply_store(&mut g, &si, memories)?;
    apply_machine(&mut g, &mi)?;
    before_files()?;
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
    Ok((g, tracker))
}

/// The function references the guest can hold: null, or (store address + 1) of one of its
/// instance's functions (defined or imported). The store also holds every WASI function, also
/// those the module did not import: no reference can name one of those.
struct FuncRefs(Vec<u32>);

impl FuncRefs {
    fn of(g: &Guest) -> FuncRefs {
        let mut v = g.store.instances[g.instance as usize].funcs.clone();
        v.sort_unstable();
        FuncRefs(v)
    }

    fn valid(&self, r: u64) -> bool {
        r == 0 || u32::try_from(r - 1).is_ok_and(|a| self.0.binary_search(&a).is_ok())
    }
}

fn apply_store(
    g: &mut Guest,
    si: &StoreImage,
    memories: Vec<(u32, Vec<u8>, Option<u64>)>,
) -> Result<(), Error> {
    let refs = FuncRefs::of(g);
    let st = &mut g.store;
    if si.globals.len() != st.globals.len() {
        return Err(bad(format!("{} globals saved, the module has {}", si.globals.len(), st.globals.len())));
    }
    for (i, (gl, &v)) in st.globals.iter().zip(&si.globals).enumerate() {
        if gl.ty == ValType::FuncRef && !refs.valid(v) {
            return Err(bad(format!("global {i} holds a reference to a function that does not exist")));
        }
        let v = narrow(gl.ty, v);
        // Immutable globals are fixed by the module and its imports.
        if !gl.mutable && v != gl.value {
            return Err(bad(format!("immutable global {i} has another value than the module gives it")));
        }
    }
    if si.tables.len() != st.tables.len() {
        return Err(bad(format!("{} tables saved, the module has {}", si.tables.len(), st.tables.len())));
    }
    for (i, (t, ti)) in st.tables.iter().zip(&si.tables).enumerate() {
        let max = t.max.unwrap_or(u32::MAX).min(crate::runtime::table::MAX_TABLE_ELEMS);
        if ti.elems.len() as u64 > u64::from(max) {
            return Err(bad(format!(
                "table {i} has {} elements, more than its limit of {max}",
                ti.elems.len()
            )));
        }
        if ti.elems.len() < t.elems.len() {
            return Err(bad(format!(
                "table {i} has {} elements, fewer than the module's minimum of {}",
                ti.elems.len(),
                t.elems.len()
            )));
        }
        if t.ty == ValType::FuncRef && !ti.elems.iter().all(|&r| refs.valid(r)) {
            return Err(bad(format!("table {i} holds a reference to a function that does not exist")));
        }
    }
    for (gl, &v) in st.globals.iter_mut().zip(&si.globals) {
        gl.value = narrow(gl.ty, v);
    }
    for (t, ti) in st.tables.iter_mut().zip(&si.tables) {
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
        // Dropping is for good: a segment dropped at instantiation (every active one) stays
        // dropped whatever the file says.
        for (d, &saved) in inst.data_dropped.iter_mut().zip(&ii.data_dropped) {
            *d |= saved;
        }
    }
    if memories.len() != st.memories.len() {
        return Err(bad(format!("{} memories saved, the module has {}", memories.len(), st.memories.len())));
    }
    for (index, data, _max) in &memories {
        let mem = st.memories.get(*index as usize).ok_or_else(|| bad(format!("no memory {index}")))?;
        if data.len() < mem.data.len() {
            return Err(bad(format!(
                "memory {index} has {} pages, fewer than the module's minimum of {}",
                data.len() / crate::runtime::memory::PAGE_SIZE,
                mem.pages()
            )));
        }
    }
    for (index, data, _max) in memories {
        st.memories[index as usize].set_data(data);
    }
    Ok(())
}

/// A saved value as a slot of type `ty` holds it: i32 and f32 zero-extended.
fn narrow(ty: ValType, v: u64) -> u64 {
    match ty {
        ValType::I32 | ValType::F32 => v & 0xffff_ffff,
        _ => v,
    }
}

fn apply_machine(g: &mut Guest, mi: &MachineImage) -> Result<(), Error> {
    let limits = g.store.limits;
    if mi.frames.len() > limits.max_frames as usize || mi.stack.len() > limits.max_stack_slots as usize {
        return Err(bad(
            "the saved call stack exceeds this run's limits (--max-call-depth, --max-stack-slots)",
        ));
    }
    if mi.phase == Phase::Start && g.module.start.is_none() {
        return Err(bad("saved in the start function, but the module has none"));
    }
    // The function the bottom frame must run: the start function, or the entry (whose
    // arguments must fit its type).
    let bottom = match mi.phase {
        Phase::Start => g.module.start.map(|s| g.store.instances[g.instance as usize].funcs[s as usize]),
        Phase::Entry => {
            let f = g.entry_func().map_err(|e| bad(format!("its entry point: {e}")))?;
            if let (Some(f), Entry::Invoke { args, .. }) = (f, &mi.entry) {
                if args.len() != g.store.func_type(f).params.len() {
                    return Err(bad("the saved arguments do not match the invoked function's type"));
                }
            }
            f
        }
    };
    if !mi.started && !mi.frames.is_empty() {
        return Err(bad("frames saved for a call that has not started"));
    }
    if mi.started && mi.frames.is_empty() {
        return Err(bad("a running call without frames"));
    }
    if let Some(f) = mi.frames.first() {
        // With tail calls the bottom frame may hold a function the call tail-called: one with
        // the same results (validation guarantees that much of a tail call).
        let same = Some(f.func) == bottom
            || (g.module.tail_calls && bottom.is_some_and(|b| same_results(g, b, f.func)));
        if !same || f.fp != 0 {
            return Err(bad("the bottom frame is not the call the checkpoint was running"));
        }
    }
    let need = check_frames(g, &mi.frames)?;
    let need = need.max(mi.stack.len());
    if need > limits.max_stack_slots as usize {
        return Err(bad("the saved value stack exceeds this run's --max-stack-slots"));
    }
    let mut stack = mi.stack.clone();
    stack.resize(need, 0);
    check_refs(g, &mi.frames, &stack)?;
    g.machine.stack = stack;
    g.machine.frames = mi.frames.iter().map(FrameImage::trusted).collect();
    g.machine.set_executed(mi.executed);
    g.phase = mi.phase;
    g.started = mi.started;
    Ok(())
}

/// Checks every frame against the code this chiwawa lowered for its function: the program
/// counter is a position a checkpoint can hold (just after a safe point or at a suspended host
/// call for the top frame, just after a call for the frames below it), and each
/// callee frame is the one its caller's call created (function or type, frame pointer).
/// Returns the stack slots the frames need.
fn check_frames(g: &Guest, frames: &[FrameImage]) -> Result<usize, Error> {
    use crate::compile::ir::{Instr, ResumeAt};
    let inst = &g.store.instances[g.instance as usize];
    let tail = g.module.tail_calls;
    let mut need = 0usize;
    for (i, f) in frames.iter().enumerate() {
        let (cf, fi) =
            code_of(g, f.func).ok_or_else(|| bad(format!("frame {i} is of non-Wasm function {}", f.func)))?;
        if fi != g.instance {
            return Err(bad(format!("frame {i} is of a function of another instance")));
        }
        need = need.max(f.fp as usize + cf.max_slots as usize);
        let callee = frames.get(i + 1);
        let ok = cf.resume_at(f.pc).any(|r| match (r, callee) {
            (ResumeAt::AfterPoll, None) => true,
            (ResumeAt::AtCall(Instr::Call { func, .. }), None) => {
                // Suspended: only a host function suspends.
                inst.funcs.get(func as usize).is_some_and(|&a| {
                    matches!(g.store.funcs.get(a as usize).map(|x| &x.kind), Some(FuncKind::Host { .. }))
                })
            }
            (ResumeAt::AtCall(Instr::CallIndirect { .. }), None) => true,
            // The callee frame is the one the call made, or (in a module with tail calls) one
            // that a chain of tail calls put in its place: same frame pointer, same results.
            (ResumeAt::AfterCall(Instr::Call { func, base }), Some(c)) => {
                let called = inst.funcs.get(func as usize).copied();
                c.fp == f.fp + u32::from(base)
                    && (called == Some(c.func)
                        || (tail && called.is_some_and(|a| same_results(g, a, c.func))))
            }
            (ResumeAt::AfterCall(Instr::CallIndirect { type_idx, base, .. }), Some(c)) => {
                let want = inst.types.get(type_idx as usize);
                let got = g.store.funcs.get(c.func as usize).map(|x| x.ty);
                c.fp == f.fp + u32::from(base)
                    && (got.as_ref() == want
                        || (tail
                            && want.zip(got).is_some_and(|(w, t)| {
                                type_results(g, *w).is_some() && type_results(g, *w) == type_results(g, t)
                            })))
            }
            _ => false,
        });
        if !ok {
            return Err(bad(format!(
                "frame {i} ({} at internal position {}) is not at a position a checkpoint can hold{}",
                g.store.func_name(f.func),
                f.pc,
                if callee.is_some() { " below the call of the frame above it" } else { "" }
            )));
        }
    }
    Ok(need)
}

/// The result types of the store's canonical type `ty`.
fn type_results(g: &Guest, ty: u32) -> Option<&[ValType]> {
    g.store.types.get(ty as usize).map(|t| &t.results[..])
}

/// Whether the functions at store addresses `a` and `b` return the same types.
fn same_results(g: &Guest, a: u32, b: u32) -> bool {
    let results = |f: u32| g.store.funcs.get(f as usize).and_then(|x| type_results(g, x.ty));
    results(a).is_some() && results(a) == results(b)
}

/// Checks every function reference a frame holds (in `funcref` locals, and in the operand
/// slots that hold one at its resume position, as the lowering recorded) against the store's
/// functions.
fn check_refs(g: &Guest, frames: &[FrameImage], stack: &[u64]) -> Result<(), Error> {
    let refs = FuncRefs::of(g);
    for (i, f) in frames.iter().enumerate() {
        let (cf, _) = code_of(g, f.func).ok_or_else(|| bad("frame of a non-Wasm function"))?;
        let slots = cf.refs.locals.iter().chain(cf.refs.operands_at(f.pc));
        for &s in slots {
            let v = stack.get(f.fp as usize + s as usize).copied().unwrap_or(0);
            if !refs.valid(v) {
                return Err(bad(format!(
                    "frame {i} ({}) holds a reference to a function that does not exist in slot {s}",
                    g.store.func_name(f.func)
                )));
            }
        }
    }
    Ok(())
}
