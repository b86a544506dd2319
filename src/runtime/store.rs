//! The store: every runtime object of every instance, addressed by index.
//!
//! Functions, tables, memories and globals are owned here and referred to by their *address*
//! (index into these vectors). References in tables and slots are addresses too, so the whole
//! mutable state is plain data that a snapshot can save and restore.

use super::global::Global;
use super::instance::Instance;
use super::memory::{Memory, DEFAULT_LIMIT_PAGES};
use super::table::Table;
use super::value::{FullType, FuncType, Sig, Val, ValType};
use crate::error::Error;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncKind {
    /// A function defined by instance `instance`, with module function index `index`.
    Wasm { instance: u32, index: u32 },
    /// A host function; `id` is the host's own number for it.
    Host { id: u32 },
}

#[derive(Clone, Copy, Debug)]
pub struct FuncInst {
    /// Canonical type id (see [`Store::intern_type`]); equal ids mean equal signatures.
    pub ty: u32,
    pub kind: FuncKind,
}

/// An exported or importable entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extern {
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
    /// An exception tag (Wasm 3.0).
    Tag(u32),
}

impl Extern {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Table(_) => "table",
            Extern::Memory(_) => "memory",
            Extern::Global(_) => "global",
            Extern::Tag(_) => "tag",
        }
    }
}

/// Resource limits; exceeding one is a trap or a failed `grow`, never a host crash.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Maximum pages of any one linear memory.
    pub max_memory_pages: u64,
    /// Maximum value-stack slots (8 bytes each) of a machine.
    pub max_stack_slots: u32,
    /// Maximum call depth.
    pub max_frames: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_memory_pages: DEFAULT_LIMIT_PAGES, max_stack_slots: 16 << 20, max_frames: 200_000 }
    }
}

/// A thrown exception: its tag (store address) and payload (slot bits, typed by the tag). A
/// freed one ([`Store::free_exn`]) has tag [`FREED`] and no payload.
#[derive(Clone, Debug)]
pub struct Exn {
    pub(crate) tag: u32,
    pub(crate) payload: Box<[u64]>,
    /// Whether an `exnref` to it was ever handed to the guest (`catch_ref`, `catch_all_ref`).
    pub(crate) seen: bool,
}

/// The tag of a freed exception: no tag has this address.
pub(crate) const FREED: u32 = u32::MAX;

#[derive(Default, Debug)]
pub struct Store {
    pub(crate) types: Vec<FuncType>,
    type_ids: HashMap<Sig, u32>,
    pub(crate) funcs: Vec<FuncInst>,
    pub(crate) tables: Vec<Table>,
    pub(crate) memories: Vec<Memory>,
    pub(crate) globals: Vec<Global>,
    /// Exception tags: the canonical type id of each (its parameters are the payload's).
    pub(crate) tags: Vec<u32>,
    /// Exceptions thrown (an `exnref` slot holds index + 1): freed when caught unseen (see
    /// `exec::handlers::unwind`) or found unreachable (`snapshot::collect_exceptions`).
    pub(crate) exns: Vec<Exn>,
    /// Indices of `exns` freed, for reuse.
    pub(crate) exn_free: Vec<u32>,
    /// Collect when more exceptions than this are live (but never below
    /// `exec::EXN_COLLECT_AT`).
    pub(crate) exn_collect_at: usize,
    pub(crate) instances: Vec<Instance>,
    pub(crate) limits: Limits,
}

impl Store {
    pub fn new(limits: Limits) -> Store {
        Store { limits, ..Default::default() }
    }

    /// Returns the canonical id of a Wasm 2.0 signature.
    pub fn intern_type(&mut self, ty: &FuncType) -> u32 {
        self.intern_sig(&Sig::plain(ty))
    }

    /// Returns the canonical id of a signature whose concrete references name canonical ids.
    /// Equal ids mean equal types: structural equality, with referenced types compared by
    /// their ids (each type its own recursion group, as Wasm 3.0 without GC has them).
    pub fn intern_sig(&mut self, sig: &Sig) -> u32 {
        if let Some(&id) = self.type_ids.get(sig) {
            return id;
        }
        let id = self.types.len() as u32;
        self.types.push(sig.func_type());
        self.type_ids.insert(sig.clone(), id);
        id
    }

    /// Lowers the Wasm function at store address `addr` unless it is already (a host function or
    /// a bad address: nothing to do). The interpreter calls this on a function's first call, a
    /// restore for the functions of the frames it places.
    pub fn lower(&mut self, addr: u32) -> Result<(), Error> {
        let Some(&FuncInst { kind: FuncKind::Wasm { instance, index }, .. }) = self.funcs.get(addr as usize)
        else {
            return Ok(());
        };
        let Some(inst) = self.instances.get_mut(instance as usize) else { return Ok(()) };
        let Some(k) = index.checked_sub(inst.module.num_imported_funcs).map(|k| k as usize) else {
            return Ok(());
        };
        match inst.code.get(k) {
            Some(cf) if cf.is_lazy() => {
                let cf = inst.module.lower(k, &mut inst.pool).map_err(|e| {
                    Error::Other(format!(
                        "cannot lower function {}: {e}",
                        inst.module.func_display_name(index)
                    ))
                })?;
                inst.code[k] = cf;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Adds a host function and returns its address.
    pub fn add_host_func(&mut self, ty: &FuncType, id: u32) -> u32 {
        let ty = self.intern_type(ty);
        self.funcs.push(FuncInst { ty, kind: FuncKind::Host { id } });
        (self.funcs.len() - 1) as u32
    }

    pub fn add_global(&mut self, ty: ValType, mutable: bool, v: Val) -> u32 {
        let hi = if let Val::V128(x) = v { (x >> 64) as u64 } else { 0 };
        self.globals.push(Global { value: v.to_slot(), hi, ty, full: FullType::plain(ty), mutable });
        (self.globals.len() - 1) as u32
    }

    /// Frees exception `e` for reuse: no reference to it remains.
    pub(crate) fn free_exn(&mut self, e: usize) {
        self.exns[e] = Exn { tag: FREED, payload: Box::new([]), seen: false };
        self.exn_free.push(e as u32);
    }

    /// Asks for the next collection of exceptions once twice `live` of them are live.
    pub(crate) fn collect_exns_later(&mut self, live: usize) {
        self.exn_collect_at = 2 * live;
    }

    /// The payload types of the tag at `addr`.
    pub(crate) fn tag_params(&self, addr: u32) -> &[ValType] {
        &self.types[self.tags[addr as usize] as usize].params
    }

    pub fn func_type(&self, addr: u32) -> &FuncType {
        &self.types[self.funcs[addr as usize].ty as usize]
    }

    /// A printable name for the function at `addr` (name section, export name, or index).
    pub fn func_name(&self, addr: u32) -> String {
        match self.funcs[addr as usize].kind {
            FuncKind::Wasm { instance, index } => {
                self.instances[instance as usize].module.func_display_name(index)
            }
            FuncKind::Host { id } => format!("<host function {id}>"),
        }
    }

    /// The function instances, by address.
    pub fn funcs(&self) -> &[FuncInst] {
        &self.funcs
    }

    /// The canonical function types, by id ([`FuncInst::ty`]).
    pub fn types(&self) -> &[FuncType] {
        &self.types
    }

    /// The module instances, by index.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// The tables, to change their elements (their number is fixed by instantiation).
    pub fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }

    pub fn memories(&self) -> &[Memory] {
        &self.memories
    }

    /// The memories, to change their bytes (their number is fixed by instantiation).
    pub fn memories_mut(&mut self) -> &mut [Memory] {
        &mut self.memories
    }

    pub fn globals(&self) -> &[Global] {
        &self.globals
    }

    /// The globals, to change their values (their number is fixed by instantiation).
    pub fn globals_mut(&mut self) -> &mut [Global] {
        &mut self.globals
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn global_value(&self, addr: u32) -> Val {
        let g = &self.globals[addr as usize];
        match g.ty {
            ValType::V128 => Val::V128(g.value128()),
            t => Val::from_slot(t, g.value),
        }
    }
}
