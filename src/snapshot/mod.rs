//! Snapshots: capture a running [`Guest`] into checkpoint sections, and rebuild a guest from them.
//!
//! Only *state* is saved, in WebAssembly terms (format version 2): frames as function index +
//! Wasm code offset + typed locals and operand stack ([`wasm_terms`], through the stack maps of
//! `compile::stackmap`), counters, globals and table elements as typed values, dropped
//! segments, linear memories, and the WASI state. Nothing depends on how this build lowers
//! code: everything else (code, types, imports, instance layout) is rebuilt by compiling and
//! instantiating the module bytes again, which the module hash in the header pins. Version-1
//! files (internal positions) are converted by [`v1`].
//!
//! Applying is all-or-nothing for the interpreter state: every section is decoded and validated
//! before the WASI state is restored (which reopens and may truncate files).

use crate::checkpoint::format::{self, encode_meta, CheckpointRef, CheckpointWriter, Header, SectionKind};
use crate::checkpoint::pages::{Manifest, PageStore, PageTracker};
use crate::checkpoint::{codec, CheckpointDir};
use crate::error::Error;
use crate::guest::{Entry, Guest, Phase};
use crate::parse::Module;
use crate::runtime::store::Limits;
use crate::runtime::value::{FullType, HeapType, ValType};
use crate::wasi::{WasiConfig, WasiCtx, WasiState};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub mod v1;
mod wasm_terms;

/// A Wasm value, typed: how a checkpoint (format version 2) holds every value of the guest —
/// locals, operands, globals, table elements, invoke arguments. Independent of how any build
/// of chiwawa represents it. Encoded compactly (docs/FORMAT.md §10): a type code byte, then
/// the payload (`Value::CODES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    I32(u32),
    I64(u64),
    /// IEEE 754 bits (NaN payloads kept).
    F32(u32),
    F64(u64),
    /// `None` for null, otherwise a function index of the module (imports first).
    FuncRef(Option<u32>),
    /// `None` for null, otherwise the host's value.
    ExternRef(Option<u64>),
    /// `None` for null, otherwise an index of the checkpoint's `Exceptions` section.
    ExnRef(Option<u32>),
    /// Its 16 bytes in Wasm memory order (lane 0 first).
    V128([u8; 16]),
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.code())?;
        match self {
            Value::I32(v) | Value::F32(v) => t.serialize_element(v)?,
            Value::I64(v) | Value::F64(v) => t.serialize_element(v)?,
            Value::FuncRef(v) => t.serialize_element(v)?,
            Value::ExternRef(v) => t.serialize_element(v)?,
            Value::ExnRef(v) => t.serialize_element(v)?,
            Value::V128(v) => t.serialize_element(v)?,
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        use serde::de::{Error, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value type code and its payload")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: &mut A) -> Result<T, A::Error> {
                    seq.next_element()?.ok_or_else(|| A::Error::custom("a value without its payload"))
                }
                let code: u8 = next(&mut seq)?;
                Ok(match code {
                    0 => Value::I32(next(&mut seq)?),
                    1 => Value::I64(next(&mut seq)?),
                    2 => Value::F32(next(&mut seq)?),
                    3 => Value::F64(next(&mut seq)?),
                    4 => Value::FuncRef(next(&mut seq)?),
                    5 => Value::ExternRef(next(&mut seq)?),
                    6 => Value::V128(next(&mut seq)?),
                    7 => Value::ExnRef(next(&mut seq)?),
                    c => return Err(A::Error::custom(format!("unknown value type code {c}"))),
                })
            }
        }
        d.deserialize_tuple(2, V)
    }
}

impl Value {
    /// The type code of the encoding: 0 `i32`, 1 `i64`, 2 `f32`, 3 `f64`, 4 `funcref`,
    /// 5 `externref`, 6 `v128`, 7 `exnref`.
    pub fn code(&self) -> u8 {
        match self {
            Value::I32(_) => 0,
            Value::I64(_) => 1,
            Value::F32(_) => 2,
            Value::F64(_) => 3,
            Value::FuncRef(_) => 4,
            Value::ExternRef(_) => 5,
            Value::V128(_) => 6,
            Value::ExnRef(_) => 7,
        }
    }

    pub fn ty(&self) -> ValType {
        match self {
            Value::I32(_) => ValType::I32,
            Value::I64(_) => ValType::I64,
            Value::F32(_) => ValType::F32,
            Value::F64(_) => ValType::F64,
            Value::FuncRef(_) => ValType::FuncRef,
            Value::ExternRef(_) => ValType::ExternRef,
            Value::ExnRef(_) => ValType::ExnRef,
            Value::V128(_) => ValType::V128,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Value::I32(v) => write!(f, "i32:{}", v as i32),
            Value::I64(v) => write!(f, "i64:{}", v as i64),
            Value::F32(v) => write!(f, "f32:{:?}", f32::from_bits(v)),
            Value::F64(v) => write!(f, "f64:{:?}", f64::from_bits(v)),
            Value::FuncRef(None) => f.write_str("funcref:null"),
            Value::FuncRef(Some(i)) => write!(f, "funcref:{i}"),
            Value::ExternRef(None) => f.write_str("externref:null"),
            Value::ExternRef(Some(v)) => write!(f, "externref:{v}"),
            Value::ExnRef(None) => f.write_str("exnref:null"),
            Value::ExnRef(Some(i)) => write!(f, "exnref:{i}"),
            Value::V128(v) => write!(f, "v128:0x{:032x}", u128::from_le_bytes(v)),
        }
    }
}

/// Where a saved frame stands, in Wasm terms. Encoded as one byte: 0, 1, 2 in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Paused at a safe point: the function's entry, or the header of a `loop` (at its
    /// `loop` operator, before the loop body runs again). Top frame only.
    SafePoint,
    /// Waiting for the call at its offset to return (every frame but the top one).
    AfterCall,
    /// At a call its host function suspended: the call runs again on resume. Top frame only.
    AtCall,
}

impl Serialize for Resume {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

impl<'de> Deserialize<'de> for Resume {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Resume, D::Error> {
        match u8::deserialize(d)? {
            0 => Ok(Resume::SafePoint),
            1 => Ok(Resume::AfterCall),
            2 => Ok(Resume::AtCall),
            c => Err(serde::de::Error::custom(format!("unknown frame position code {c}"))),
        }
    }
}

/// One frame of the `Machine` section: untrusted until a restore has checked it against the
/// stack maps of the code it lowered.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FrameImage {
    /// Function index in the module (imports first; always a defined function).
    pub func: u32,
    /// Byte offset in the module of the operator the frame stands at: the `loop` (or the first
    /// byte of the function body, for the entry safe point), or the call.
    pub offset: u32,
    pub at: Resume,
    /// Every local, parameters first.
    pub locals: Vec<Value>,
    /// The Wasm operand stack, bottom first: for `AfterCall` the values below the call's
    /// arguments, for `AtCall` all of them (arguments, and the table index of an indirect call).
    pub stack: Vec<Value>,
}

/// The entry the guest runs, with typed arguments.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum EntryImage {
    Command,
    Invoke { name: String, args: Vec<Value> },
}

/// The `Machine` section (format version 2): the execution state in WebAssembly terms.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MachineImage {
    pub phase: Phase,
    /// Whether the current phase's call was already set up.
    pub started: bool,
    pub entry: EntryImage,
    /// Instruction units executed.
    pub executed: u64,
    /// The call stack, outermost first.
    pub frames: Vec<FrameImage>,
}

/// One table of the `Store` section.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TableImage {
    pub elems: Vec<Value>,
}

/// Per-instance segment state of the `Store` section.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InstanceImage {
    pub elem_dropped: Vec<bool>,
    pub data_dropped: Vec<bool>,
}

/// One exception of the `Exceptions` section: its tag (module tag index) and payload (typed by
/// the tag's parameters).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExnImage {
    pub tag: u32,
    pub payload: Vec<Value>,
}

/// The `Exceptions` section: the exceptions the guest can reach through `exnref` values (in
/// frames, globals, tables, or other exceptions' payloads), numbered as those values name them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExnsImage {
    pub exns: Vec<ExnImage>,
}

/// The `Store` section: everything mutable except linear memories (which get sections of their own).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoreImage {
    pub globals: Vec<Value>,
    pub tables: Vec<TableImage>,
    pub instances: Vec<InstanceImage>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Other(format!("checkpoint cannot be applied: {}", msg.into()))
}

fn codec_err(what: &str) -> impl Fn(codec::CodecError) -> Error + '_ {
    move |e| bad(format!("{what} section: {e}"))
}

fn code_of(g: &Guest, func: u32) -> Option<(&crate::compile::ir::CompiledFunc, u32)> {
    crate::exec::machine::code_checked(&g.store, func)
}

impl MachineImage {
    pub fn capture(g: &Guest) -> Result<MachineImage, Error> {
        Self::capture_with(g, &Refs::of(g))
    }

    fn capture_with(g: &Guest, refs: &Refs<'_>) -> Result<MachineImage, Error> {
        let frames = wasm_terms::capture_frames(g, refs)?;
        let entry = match &g.entry {
            Entry::Command => EntryImage::Command,
            Entry::Invoke { name, args } => {
                let f = g.entry_func()?.ok_or_else(|| Error::Other(format!("no export `{name}`")))?;
                let params = g.store.func_type(f).params.clone();
                let args = refs.values(&params, args)?;
                EntryImage::Invoke { name: name.clone(), args }
            }
        };
        Ok(MachineImage { phase: g.phase, started: g.started, entry, executed: g.machine.executed(), frames })
    }
}

impl StoreImage {
    pub fn capture(g: &Guest) -> Result<StoreImage, Error> {
        Self::capture_with(g, &Refs::of(g))
    }

    fn capture_with(g: &Guest, refs: &Refs<'_>) -> Result<StoreImage, Error> {
        let globals = g
            .store
            .globals
            .iter()
            .map(|x| refs.value_at(x.ty, &[x.value, x.hi]))
            .collect::<Result<_, _>>()?;
        let mut tables = Vec::with_capacity(g.store.tables.len());
        for t in &g.store.tables {
            tables.push(TableImage {
                elems: t.elems.iter().map(|&v| refs.value(t.ty, v)).collect::<Result<_, _>>()?,
            });
        }
        Ok(StoreImage {
            globals,
            tables,
            instances: g
                .store
                .instances
                .iter()
                .map(|i| InstanceImage {
                    elem_dropped: i.elems.iter().map(|e| e.is_empty()).collect(),
                    data_dropped: i.data_dropped.clone(),
                })
                .collect(),
        })
    }
}

/// Function references both ways: store address (what a slot holds, + 1) ↔ function index of
/// the guest's module (what a checkpoint holds).
pub(crate) struct Refs<'a> {
    /// Store address of each function index.
    funcs: &'a [u32],
    /// (store address, function index), by address.
    by_addr: Vec<(u32, u32)>,
    /// Capture: the store's exceptions named so far, in the order they are numbered, and
    /// their numbers by store index.
    exns: std::cell::RefCell<(Vec<u32>, std::collections::HashMap<u32, u32>)>,
    /// Restore: how many exceptions the checkpoint holds (what an `exnref` may name).
    nexns: usize,
}

impl<'a> Refs<'a> {
    pub(crate) fn of(g: &'a Guest) -> Refs<'a> {
        let funcs = &g.store.instances[g.instance as usize].funcs[..];
        let mut by_addr: Vec<(u32, u32)> = funcs.iter().enumerate().map(|(i, &a)| (a, i as u32)).collect();
        by_addr.sort_unstable();
        Refs { funcs, by_addr, exns: Default::default(), nexns: g.store.exns.len() }
    }

    /// Capture: the number of the store's exception `e` in the checkpoint (numbered on first
    /// sight).
    fn exn_number(&self, e: u64) -> Result<u32, Error> {
        let e = u32::try_from(e).map_err(|_| Error::Other("an exception reference out of range".into()))?;
        let mut x = self.exns.borrow_mut();
        if let Some(&n) = x.1.get(&e) {
            return Ok(n);
        }
        let n = x.0.len() as u32;
        x.0.push(e);
        x.1.insert(e, n);
        Ok(n)
    }

    /// The typed value of type `ty` whose slots start at `s[0]` (a `v128` takes `s[0..2]`).
    pub(crate) fn value_at(&self, ty: ValType, s: &[u64]) -> Result<Value, Error> {
        let slot =
            |i: usize| s.get(i).copied().ok_or_else(|| Error::Other("a value beyond its slots".into()));
        match ty {
            ValType::V128 => {
                Ok(Value::V128((u128::from(slot(0)?) | u128::from(slot(1)?) << 64).to_le_bytes()))
            }
            t => self.value(t, slot(0)?),
        }
    }

    /// The typed values of `types` from their slots `s` (in order, a `v128` taking two).
    pub(crate) fn values(&self, types: &[ValType], s: &[u64]) -> Result<Vec<Value>, Error> {
        let mut out = Vec::with_capacity(types.len());
        let mut at = 0;
        for &t in types {
            out.push(self.value_at(t, s.get(at..).unwrap_or(&[]))?);
            at += t.slots();
        }
        Ok(out)
    }

    /// The slots of `values`, which must be of `types` (a restore's check of untrusted data).
    pub(crate) fn slots(&self, types: &[ValType], values: &[Value]) -> Result<Vec<u64>, String> {
        if types.len() != values.len() {
            return Err(format!("{} values where {} are expected", values.len(), types.len()));
        }
        let mut out = Vec::with_capacity(types.len());
        for (&t, &v) in types.iter().zip(values) {
            out.extend_from_slice(&self.bits_of(t, v)?);
        }
        Ok(out)
    }

    /// The slot bits of `v` (one slot, two for a `v128`), which must be of type `ty`.
    pub(crate) fn bits_of(&self, ty: ValType, v: Value) -> Result<Vec<u64>, String> {
        match (ty, v) {
            (ValType::V128, Value::V128(b)) => {
                let v = u128::from_le_bytes(b);
                Ok(vec![v as u64, (v >> 64) as u64])
            }
            _ => Ok(vec![self.bits(ty, v)?]),
        }
    }

    /// The typed value of the slot bits `v` of type `ty` (a `v128`: `value_at`).
    pub(crate) fn value(&self, ty: ValType, v: u64) -> Result<Value, Error> {
        Ok(match ty {
            ValType::V128 => return Err(Error::Other("a v128 read from one slot".into())),
            ValType::I32 => Value::I32(v as u32),
            ValType::I64 => Value::I64(v),
            ValType::F32 => Value::F32(v as u32),
            ValType::F64 => Value::F64(v),
            ValType::ExternRef => Value::ExternRef(v.checked_sub(1)),
            ValType::ExnRef => Value::ExnRef(v.checked_sub(1).map(|e| self.exn_number(e)).transpose()?),
            ValType::FuncRef => match v.checked_sub(1) {
                None => Value::FuncRef(None),
                Some(a) => Value::FuncRef(Some(self.index_of(a).ok_or_else(|| {
                    Error::Other(format!(
                        "a reference to store function {a}, which is not one of the module's functions"
                    ))
                })?)),
            },
        })
    }

    /// The function index of store address `a`, if the module can name it.
    pub(crate) fn index_of(&self, a: u64) -> Option<u32> {
        let a = u32::try_from(a).ok()?;
        self.by_addr.binary_search_by_key(&a, |x| x.0).ok().map(|i| self.by_addr[i].1)
    }

    /// The slot bits of `v`, which must be of type `ty` (a restore's check of untrusted data).
    pub(crate) fn bits(&self, ty: ValType, v: Value) -> Result<u64, String> {
        if v.ty() != ty {
            return Err(format!("a {} where the code has a {ty}", v.ty()));
        }
        Ok(match v {
            Value::I32(x) | Value::F32(x) => u64::from(x),
            Value::I64(x) | Value::F64(x) => x,
            Value::FuncRef(None) | Value::ExternRef(None) => 0,
            Value::FuncRef(Some(i)) => match self.funcs.get(i as usize) {
                Some(&a) => u64::from(a) + 1,
                None => return Err(format!("a reference to function {i}, which does not exist")),
            },
            Value::ExternRef(Some(x)) => {
                x.checked_add(1).ok_or_else(|| "an external reference out of range".to_string())?
            }
            Value::ExnRef(None) => 0,
            Value::ExnRef(Some(i)) if (i as usize) < self.nexns => u64::from(i) + 1,
            Value::ExnRef(Some(i)) => {
                return Err(format!("a reference to exception {i}, which the checkpoint does not hold"))
            }
            Value::V128(_) => return Err("a v128 where one slot is expected".into()),
        })
    }
}

/// The `Exceptions` section: the exceptions the values captured with `refs` name, then those
/// their payloads name in turn; `None` when there is none.
fn capture_exns(g: &Guest, refs: &Refs<'_>) -> Result<Option<ExnsImage>, Error> {
    let tags = &g.store.instances[g.instance as usize].tags;
    let mut exns = Vec::new();
    loop {
        let Some(e) = refs.exns.borrow().0.get(exns.len()).copied() else { break };
        let x = g.store.exns.get(e as usize).ok_or_else(|| Error::Other(format!("no exception {e}")))?;
        let tag = tags.iter().position(|&t| t == x.tag).ok_or_else(|| {
            Error::Other("an exception of a tag the module does not name cannot be checkpointed".into())
        })?;
        let params = g.store.tag_params(x.tag);
        let payload = refs.values(params, &x.payload)?;
        exns.push(ExnImage { tag: tag as u32, payload });
    }
    Ok((!exns.is_empty()).then_some(ExnsImage { exns }))
}

/// Frees the exceptions no `exnref` can reach any more — marked as a checkpoint would capture
/// them (frames through their stack maps, globals, tables, payloads) — for reuse, and sets the
/// next collection's threshold to twice what stays live. At a pause (every frame at a safe
/// point or a call). Returns how many stay live; an error (frames without a stack map) frees
/// nothing.
pub(crate) fn collect_exceptions(g: &mut Guest) -> Result<usize, Error> {
    let live = {
        let refs = Refs::of(g);
        MachineImage::capture_with(g, &refs)?;
        StoreImage::capture_with(g, &refs)?;
        capture_exns(g, &refs)?;
        refs.exns.into_inner().0
    };
    let st = &mut g.store;
    let mut keep = vec![false; st.exns.len()];
    for &e in &live {
        keep[e as usize] = true;
    }
    for (i, k) in keep.into_iter().enumerate() {
        if !k && st.exns[i].tag != crate::runtime::store::FREED {
            st.free_exn(i);
        }
    }
    st.collect_exns_later(live.len());
    Ok(live.len())
}

/// Restores the exceptions of an `Exceptions` section (before anything that may name them).
fn apply_exns(g: &mut Guest, xi: &ExnsImage) -> Result<(), Error> {
    let mut refs = Refs::of(g);
    refs.nexns = xi.exns.len();
    let inst = &g.store.instances[g.instance as usize];
    let mut exns = Vec::with_capacity(xi.exns.len());
    for (i, x) in xi.exns.iter().enumerate() {
        let fail = |why: String| bad(format!("exception {i}: {why}"));
        let &tag = inst.tags.get(x.tag as usize).ok_or_else(|| fail(format!("no tag {}", x.tag)))?;
        let params = g.store.tag_params(tag);
        if params.len() != x.payload.len() {
            return Err(fail(format!("{} payload values, its tag has {}", x.payload.len(), params.len())));
        }
        let payload = refs.slots(params, &x.payload).map_err(|e| fail(format!("its payload holds {e}")))?;
        exns.push(crate::runtime::store::Exn { tag, payload: payload.into(), seen: true });
    }
    drop(refs);
    g.store.exns = exns;
    Ok(())
}

/// Short human-readable facts for `chiwawa inspect` (no host paths or times: section bytes must
/// not depend on where or when they were written).
fn meta(g: &Guest, mi: &MachineImage) -> Vec<(String, String)> {
    let mut m = vec![
        ("module".to_string(), g.module.name.clone().unwrap_or_default()),
        ("frames".to_string(), mi.frames.len().to_string()),
        (
            "memory_pages".to_string(),
            g.store.memories.iter().map(|m| m.pages().to_string()).collect::<Vec<_>>().join(","),
        ),
    ];
    let funcs = &g.store.instances[g.instance as usize].funcs;
    let bt: Vec<String> = mi
        .frames
        .iter()
        .rev()
        .take(8)
        .map(|f| {
            let name = funcs.get(f.func as usize).map(|&a| g.store.func_name(a)).unwrap_or_default();
            format!("{name}@0x{:x}", f.offset)
        })
        .collect();
    m.push(("backtrace".to_string(), bt.join(" <- ")));
    // The names of the functions on the stack, for `inspect` (which has no module).
    let on_stack: std::collections::BTreeSet<u32> = mi.frames.iter().map(|f| f.func).collect();
    let names: std::collections::BTreeMap<String, String> = on_stack
        .iter()
        .filter_map(|&i| funcs.get(i as usize).map(|&a| (i.to_string(), g.store.func_name(a))))
        .collect();
    m.push(("function_names".to_string(), serde_json::to_string(&names).unwrap_or_default()));
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
    /// The `Exceptions` section, when the guest holds exception references.
    pub exns: Option<Vec<u8>>,
    pub executed: u64,
}

/// Encodes the guest's state. Needs `&mut` only to query live file offsets.
pub fn capture(g: &mut Guest) -> Result<Capture, Error> {
    let mut wasi_state =
        g.wasi.state().map_err(|e| Error::Other(format!("cannot capture WASI state: {e}")))?;
    let clock = ClockImage { monotonic_ns: std::mem::take(&mut wasi_state.monotonic_ns) };
    let enc = |e: codec::CodecError| Error::Other(format!("cannot encode checkpoint: {e}"));
    let refs = Refs::of(g);
    let mi = MachineImage::capture_with(g, &refs)?;
    let si = StoreImage::capture_with(g, &refs)?;
    let xi = capture_exns(g, &refs)?;
    Ok(Capture {
        exns: xi.map(|x| codec::encode(&x)).transpose().map_err(enc)?,
        meta: encode_meta(&meta(g, &mi)),
        machine: codec::encode(&mi).map_err(enc)?,
        store: codec::encode(&si).map_err(enc)?,
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
    if let Some(x) = &c.exns {
        cw.section(SectionKind::Exceptions, x)?;
    }
    match manifests {
        Some(ms) => {
            for m in ms {
                cw.section(SectionKind::Pages, &m.encode())?;
            }
        }
        None => {
            for (i, mem) in g.store.memories.iter().enumerate() {
                cw.memory_section(i as u32, &mem.data, mem.max_pages)?;
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
        g.store.memories.iter().map(|m| (&m.data[..], m.max_pages)).collect();
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
    let machine = c.section(SectionKind::Machine).ok_or_else(|| bad("no Machine section"))?.payload;
    let store = c.section(SectionKind::Store).ok_or_else(|| bad("no Store section"))?.payload;
    // Version 1 wrote internal positions and slot bits: read as such, converted below.
    let (v2, v1) = if c.header.format_version == 1 {
        (None, Some(v1::decode(machine, store)?))
    } else {
        let mi: MachineImage = codec::decode(machine).map_err(codec_err("Machine"))?;
        let si: StoreImage = codec::decode(store).map_err(codec_err("Store"))?;
        (Some((mi, si)), None)
    };
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
    let (mi, si) = match (v2, v1) {
        (Some(x), _) => x,
        (None, Some(old)) => {
            let mut g = Guest::instantiate(module.clone(), placeholder, limits, old.0.entry.clone())?;
            // The frames' functions: their code is what the saved program counters index.
            for f in &old.0.frames {
                lower_frame(&mut g, f.func)?;
            }
            v1::convert(&g, old)?
        }
        (None, None) => unreachable!(),
    };
    let placeholder = WasiCtx::new(&WasiConfig { args: vec![], env: vec![], preopens: vec![] })
        .map_err(|e| bad(e.to_string()))?;
    let entry = match &mi.entry {
        EntryImage::Command => Entry::Command,
        EntryImage::Invoke { name, .. } => Entry::Invoke { name: name.clone(), args: Vec::new() },
    };
    let mut g = Guest::instantiate(module, placeholder, limits, entry)?;
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
        let cap = mem.cap();
        if size_pages > cap {
            return Err(bad(format!("memory {index} has {size_pages} pages, more than its limit of {cap}")));
        }
        if max_pages != mem.max_pages {
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
    if let Some(s) = c.section(SectionKind::Exceptions) {
        let xi: ExnsImage = codec::decode(s.payload).map_err(codec_err("Exceptions"))?;
        apply_exns(&mut g, &xi)?;
    }
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

/// Whether the slot bits `v` (already checked for their run-time type) have the full type
/// `full` too: not null where the type is non-nullable, a function of the right type where it
/// names one (a global's or table's declared type; frames only know run-time types, and what
/// a crafted null or function there can do is trap, as `call_ref` checks its callee).
fn fits(store: &crate::runtime::store::Store, full: FullType, v: u64) -> bool {
    let FullType::Ref { nullable, heap } = full else { return true };
    if v == 0 {
        return nullable;
    }
    match heap {
        HeapType::Type(id) => store.funcs.get((v - 1) as usize).is_some_and(|f| f.ty == id),
        HeapType::NoFunc | HeapType::NoExtern | HeapType::NoExn => false,
        _ => true,
    }
}

fn apply_store(
    g: &mut Guest,
    si: &StoreImage,
    memories: Vec<(u32, crate::runtime::memory::Bytes, Option<u64>)>,
) -> Result<(), Error> {
    let refs = Refs::of(g);
    let st = &g.store;
    if si.globals.len() != st.globals.len() {
        return Err(bad(format!("{} globals saved, the module has {}", si.globals.len(), st.globals.len())));
    }
    let mut globals = Vec::with_capacity(si.globals.len());
    for (i, (gl, &v)) in st.globals.iter().zip(&si.globals).enumerate() {
        let bits = refs.bits_of(gl.ty, v).map_err(|e| bad(format!("global {i} holds {e}")))?;
        let (v, hi) = (bits[0], bits.get(1).copied().unwrap_or(0));
        if !fits(st, gl.full, v) {
            return Err(bad(format!("global {i} holds a value that is not of its type {}", gl.full)));
        }
        // Immutable globals are fixed by the module and its imports.
        if !gl.mutable && (v, hi) != (gl.value, gl.hi) {
            return Err(bad(format!("immutable global {i} has another value than the module gives it")));
        }
        globals.push((v, hi));
    }
    if si.tables.len() != st.tables.len() {
        return Err(bad(format!("{} tables saved, the module has {}", si.tables.len(), st.tables.len())));
    }
    let mut tables = Vec::with_capacity(si.tables.len());
    for (i, (t, ti)) in st.tables.iter().zip(&si.tables).enumerate() {
        let max = t.cap();
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
        let elems = ti
            .elems
            .iter()
            .map(|&v| refs.bits(t.ty, v))
            .collect::<Result<Vec<u64>, String>>()
            .map_err(|e| bad(format!("table {i} holds {e}")))?;
        if let Some(k) = elems.iter().position(|&v| !fits(st, t.elem, v)) {
            return Err(bad(format!("table {i} element {k} is not of the table's type {}", t.elem)));
        }
        tables.push(elems);
    }
    drop(refs);
    let st = &mut g.store;
    for (gl, (v, hi)) in st.globals.iter_mut().zip(globals) {
        (gl.value, gl.hi) = (v, hi);
    }
    for (t, elems) in st.tables.iter_mut().zip(tables) {
        t.elems = elems;
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

/// The parameter types of the invoked export, which `n` saved arguments must match.
fn invoke_params(g: &Guest, n: usize) -> Result<Vec<ValType>, Error> {
    let f = g.entry_func().map_err(|e| bad(format!("its entry point: {e}")))?;
    let params = f.map(|f| g.store.func_type(f).params.clone()).unwrap_or_default();
    if n != params.len() {
        return Err(bad("the saved arguments do not match the invoked function's type"));
    }
    Ok(params)
}

/// Lowers the function of a saved frame (store address `addr`) before it is placed: a function
/// that cannot be lowered makes the checkpoint unusable.
fn lower_frame(g: &mut Guest, addr: u32) -> Result<(), Error> {
    g.store.lower(addr).map_err(|e| bad(format!("a frame's function: {e}")))
}

fn apply_machine(g: &mut Guest, mi: &MachineImage) -> Result<(), Error> {
    if mi.phase == Phase::Start && g.module.start.is_none() {
        return Err(bad("saved in the start function, but the module has none"));
    }
    if !mi.started && !mi.frames.is_empty() {
        return Err(bad("frames saved for a call that has not started"));
    }
    if mi.started && mi.frames.is_empty() {
        return Err(bad("a running call without frames"));
    }
    // The invoked function's arguments, typed as its parameters.
    let args = match &mi.entry {
        EntryImage::Command => None,
        EntryImage::Invoke { args, .. } => {
            let params = invoke_params(g, args.len())?;
            let refs = Refs::of(g);
            let bits = refs
                .slots(&params, args)
                .map_err(|e| bad(format!("an argument of the invoked function: {e}")))?;
            Some(bits)
        }
    };
    // A restore lowers what the frames run, and nothing else.
    for f in &mi.frames {
        if let Some(&addr) = g.store.instances[g.instance as usize].funcs.get(f.func as usize) {
            lower_frame(g, addr)?;
        }
    }
    let (frames, stack, suspended) = wasm_terms::place_frames(g, mi)?;
    if let (Entry::Invoke { args: a, .. }, Some(bits)) = (&mut g.entry, args) {
        *a = bits;
    }
    g.machine.stack = stack;
    g.machine.frames = frames;
    g.machine.suspended = suspended;
    g.machine.set_executed(mi.executed);
    g.phase = mi.phase;
    g.started = mi.started;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value and position encodings of docs/FORMAT.md §10, byte for byte.
    #[test]
    fn value_encoding_is_the_documented_one() {
        let enc = |v: &Value| codec::encode(v).unwrap();
        assert_eq!(enc(&Value::I32(5)), [0, 5, 0, 0, 0]);
        assert_eq!(enc(&Value::I64(u64::MAX)), [1, 255, 255, 255, 255, 255, 255, 255, 255]);
        assert_eq!(enc(&Value::F32(0x7fc0_0001)), [2, 0x01, 0, 0xc0, 0x7f]);
        assert_eq!(enc(&Value::F64(1)), [3, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(&Value::FuncRef(None)), [4, 0]);
        assert_eq!(enc(&Value::FuncRef(Some(3))), [4, 1, 3, 0, 0, 0]);
        assert_eq!(enc(&Value::ExternRef(Some(2))), [5, 1, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(codec::encode(&Resume::AtCall).unwrap(), [2]);
        for v in [Value::I32(7), Value::I64(1 << 40), Value::F32(1), Value::F64(2), Value::FuncRef(Some(9))] {
            assert_eq!(codec::decode::<Value>(&enc(&v)).unwrap(), v);
        }
        assert!(codec::decode::<Value>(&[6, 0, 0, 0, 0]).is_err());
        assert!(codec::decode::<Value>(&[0, 1, 2]).is_err());
        assert!(codec::decode::<Value>(&[4, 2, 0, 0, 0, 0]).is_err());
        assert!(codec::decode::<Resume>(&[3]).is_err());
        // A frame: func, offset, position, locals, operand stack.
        let f = FrameImage {
            func: 1,
            offset: 0x20,
            at: Resume::SafePoint,
            locals: vec![Value::I32(1)],
            stack: vec![],
        };
        assert_eq!(
            codec::encode(&f).unwrap(),
            [1, 0, 0, 0, 0x20, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    /// Exceptions the guest can no longer reach are collected at a pause (and reused), the
    /// reachable ones — here, one of every thousand kept in a global — survive with their
    /// payloads, and memory stays bounded however many exceptions the guest throws.
    /// Lazy lowering: a run lowers the functions it calls and no other; a restore lowers the
    /// functions of the frames it places and no other, and the guest goes on from there.
    #[test]
    fn run_and_restore_lower_only_what_they_need() {
        let wat = r#"(module
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (func $spin (param $n i32) (result i32)
            (loop $l
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br_if $l (local.get $n)))
            (local.get $n))
          (func $unused (result i32) (i32.const 7))
          (func (export "_start") (call $exit (call $spin (i32.const 1000000)))))"#;
        let buf = wast::parser::ParseBuffer::new(wat).unwrap();
        let bytes = wast::parser::parse::<wast::Wat>(&buf).unwrap().encode().unwrap();
        let module = Arc::new(Module::new(&bytes).unwrap());
        // Defined functions: $spin, $unused, _start.
        let lowered = |g: &Guest| {
            g.store.instances[g.instance as usize].code.iter().map(|f| !f.is_lazy()).collect::<Vec<_>>()
        };
        assert!(module.code.iter().all(|f| f.is_lazy()), "the load lowered something");
        let cfg = WasiConfig { args: vec![], env: vec![], preopens: vec![] };
        let mut g = Guest::instantiate(
            module.clone(),
            WasiCtx::new(&cfg).unwrap(),
            Limits::default(),
            Entry::Command,
        )
        .unwrap();
        assert_eq!(lowered(&g), [false, false, false]);
        assert!(matches!(g.step(100_000).unwrap(), crate::guest::Step::Paused));
        assert_eq!(g.machine.frames().len(), 2, "paused inside $spin");
        assert_eq!(lowered(&g), [true, false, true]);
        let tmp = tempfile::tempdir().unwrap();
        let dir = CheckpointDir::open(tmp.path(), 2).unwrap();
        let committed = checkpoint(&mut g, &dir, [0; 32], None).unwrap();
        let file = std::fs::read(&committed.path).unwrap();
        let c = format::parse_checkpoint(&file).unwrap();
        let mut r = restore(module, &c, &cfg, Limits::default()).unwrap();
        assert_eq!(lowered(&r), [true, false, true]);
        loop {
            match r.step(u64::MAX).unwrap() {
                crate::guest::Step::Paused => continue,
                crate::guest::Step::Finished(o) => {
                    assert!(matches!(o, crate::guest::Outcome::Exit(0)), "{o:?}");
                    break;
                }
            }
        }
        assert_eq!(lowered(&r), [true, false, true]);
    }

    #[test]
    fn unreachable_exceptions_are_collected() {
        let wat = r#"(module
          (tag $t (param i32))
          (global $keep (export "keep") (mut exnref) (ref.null exn))
          (func (export "_start") (local $i i32) (local $e exnref)
            (loop $l
              (block $h (result i32 exnref)
                (try_table (catch_ref $t $h) (throw $t (local.get $i)))
                unreachable)
              (local.set $e)
              (drop)
              (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 1000)))
                (then (global.set $keep (local.get $e))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))))"#;
        let buf = wast::parser::ParseBuffer::new(wat).unwrap();
        let bytes = wast::parser::parse::<wast::Wat>(&buf).unwrap().encode().unwrap();
        let module = Arc::new(Module::new(&bytes).unwrap());
        let wasi = WasiCtx::new(&WasiConfig { args: vec![], env: vec![], preopens: vec![] }).unwrap();
        let mut g = Guest::instantiate(module, wasi, Limits::default(), Entry::Command).unwrap();
        let mut pauses = 0;
        loop {
            match g.step(300_000).unwrap() {
                crate::guest::Step::Paused => pauses += 1,
                crate::guest::Step::Finished(o) => {
                    assert!(matches!(o, crate::guest::Outcome::Exit(0)), "{o:?}");
                    break;
                }
            }
        }
        assert!(pauses >= 1, "the budget never ran out: the test proves less");
        let st = &g.store;
        let live = st.exns.len() - st.exn_free.len();
        assert!(st.exns.len() <= 4 * crate::exec::EXN_COLLECT_AT, "{} exceptions allocated", st.exns.len());
        assert!(live <= 2 * crate::exec::EXN_COLLECT_AT, "{live} live");
        // The global holds the last kept exception (i = 99000), intact.
        let keep = st.globals.iter().find(|x| x.ty == ValType::ExnRef).unwrap().value;
        let x = &st.exns[(keep - 1) as usize];
        assert_eq!(&x.payload[..], &[99000]);
        assert_ne!(x.tag, u32::MAX);
    }
}
