//! Instantiation: imports checked and bound, objects allocated, segments applied (Wasm 2.0 order).

use super::global::Global;
use super::memory::Memory;
use super::store::{Extern, FuncInst, FuncKind, Store};
use super::table::Table;
use super::value::{FullType, Val, ValType};
use crate::compile::ir::CompiledFunc;
use crate::error::Error;
use crate::parse::{ConstExpr, DataMode, ElemMode, ExportKind, ImportKind, Module};
use std::sync::Arc;

/// One instance of a module: the module plus the store addresses its indices map to.
#[derive(Debug)]
pub struct Instance {
    pub(crate) module: Arc<Module>,
    pub(crate) funcs: Vec<u32>,
    pub(crate) tables: Vec<u32>,
    pub(crate) memories: Vec<u32>,
    pub(crate) globals: Vec<u32>,
    /// Store address of each of the module's tags (imported first).
    pub(crate) tags: Vec<u32>,
    /// Canonical type id of every module type index.
    pub(crate) types: Vec<u32>,
    /// Evaluated element segments (emptied by `elem.drop`).
    pub(crate) elems: Vec<Vec<u64>>,
    /// Whether each data segment was dropped.
    pub(crate) data_dropped: Vec<bool>,
    /// The code of the module's defined functions, lowered on their first call
    /// ([`crate::Store::lower`]; until then a stub, [`CompiledFunc::is_lazy`]). Its length never
    /// changes: the interpreter holds pointers into it.
    pub(crate) code: Vec<CompiledFunc>,
    /// The constants the lowered code names by index (`Instr::V128Const`,
    /// `Instr::I8x16Shuffle`).
    pub(crate) pool: Vec<[u8; 16]>,
}

impl Instance {
    pub fn export(&self, name: &str) -> Option<Extern> {
        let e = self.module.export(name)?;
        Some(match e.kind {
            ExportKind::Func => Extern::Func(self.funcs[e.index as usize]),
            ExportKind::Table => Extern::Table(self.tables[e.index as usize]),
            ExportKind::Memory => Extern::Memory(self.memories[e.index as usize]),
            ExportKind::Global => Extern::Global(self.globals[e.index as usize]),
            ExportKind::Tag => Extern::Tag(self.tags[e.index as usize]),
        })
    }

    /// The module this is an instance of.
    pub fn module(&self) -> &Arc<Module> {
        &self.module
    }

    /// Store address of each of the module's functions (imported first).
    pub fn funcs(&self) -> &[u32] {
        &self.funcs
    }

    /// Store address of each of the module's tables.
    pub fn tables(&self) -> &[u32] {
        &self.tables
    }

    /// Store address of each of the module's memories.
    pub fn memories(&self) -> &[u32] {
        &self.memories
    }

    /// Store address of each of the module's globals.
    pub fn globals(&self) -> &[u32] {
        &self.globals
    }

    /// The bytes of data segment `i`, or empty if dropped.
    pub fn data(&self, i: u32) -> &[u8] {
        if self.data_dropped[i as usize] {
            &[]
        } else {
            &self.module.datas[i as usize].bytes
        }
    }
}

fn link_err(msg: String) -> Error {
    Error::Link(msg)
}

fn limits_match(min: u64, max: Option<u64>, imin: u64, imax: Option<u64>) -> bool {
    imin >= min
        && match max {
            None => true,
            Some(m) => matches!(imax, Some(im) if im <= m),
        }
}

/// The value of a constant expression: its slot bits (a `v128`'s two slots as a `u128`).
fn eval_const(store: &Store, globals: &[u32], funcs: &[u32], e: &ConstExpr) -> u128 {
    let global = |g: u32| store.globals[globals[g as usize] as usize].value128();
    match *e {
        ConstExpr::I32(v) => v as u32 as u128,
        ConstExpr::I64(v) => v as u64 as u128,
        ConstExpr::F32(v) => v as u128,
        ConstExpr::F64(v) => v as u128,
        ConstExpr::V128(v) => v,
        ConstExpr::RefNull(_) => 0,
        ConstExpr::RefFunc(f) => funcs[f as usize] as u128 + 1,
        ConstExpr::GlobalGet(g) => global(g),
        ConstExpr::Extended(ref ops) => ConstExpr::eval_extended(ops, |g| global(g) as u64) as u128,
    }
}

/// The canonical type id of each of the module's types, in order: a reference to an earlier
/// type names its id, one to the type itself (Wasm 3.0 allows it; each type is its own
/// recursion group without GC) the marker `u32::MAX`, which no id equals: so two
/// self-referencing types of the same shape get the same id, in any module, as
/// iso-recursive equivalence has it.
fn intern_types(store: &mut Store, m: &Module) -> Vec<u32> {
    let mut types: Vec<u32> = Vec::with_capacity(m.sigs.len());
    for (i, sig) in m.sigs.iter().enumerate() {
        let sig = sig.map(|j| if (j as usize) < i { types[j as usize] } else { u32::MAX - (j - i as u32) });
        types.push(store.intern_sig(&sig));
    }
    types
}

/// Instantiates `module` with `imports` (one per module import, in order).
///
/// Returns the instance index and the address of the start function, which the caller runs
/// (on a machine, so that even a start function can be paused for a checkpoint).
/// As in Wasm 2.0, a trap while applying segments leaves earlier writes in place.
pub fn instantiate(
    store: &mut Store,
    module: Arc<Module>,
    imports: &[Extern],
) -> Result<(u32, Option<u32>), Error> {
    let m = &*module;
    if imports.len() != m.imports.len() {
        return Err(link_err(format!("expected {} imports, got {}", m.imports.len(), imports.len())));
    }
    let instance_id = store.instances.len() as u32;
    let types = intern_types(store, m);
    let canon = |t: FullType| t.map(|j| types.get(j as usize).copied().unwrap_or(u32::MAX));
    let (mut funcs, mut tables, mut memories, mut globals) = (vec![], vec![], vec![], vec![]);
    let mut tags = vec![];
    for (imp, ext) in m.imports.iter().zip(imports) {
        let what = format!("{}::{}", imp.module, imp.name);
        match (imp.kind, *ext) {
            (ImportKind::Func(t), Extern::Func(a)) => {
                if store.funcs[a as usize].ty != types[t as usize] {
                    return Err(link_err(format!(
                        "incompatible import type for {what}: expected {}, found {}",
                        m.types[t as usize],
                        store.func_type(a)
                    )));
                }
                funcs.push(a);
            }
            (ImportKind::Table(t), Extern::Table(a)) => {
                let tb = &store.tables[a as usize];
                if tb.elem != canon(t.elem)
                    || tb.is64 != t.is64
                    || !limits_match(t.min, t.max, tb.size() as u64, tb.max)
                {
                    return Err(link_err(format!(
                        "incompatible import type for {what}: table limits or type"
                    )));
                }
                tables.push(a);
            }
            (ImportKind::Memory(t), Extern::Memory(a)) => {
                let mem = &store.memories[a as usize];
                if mem.is64 != t.is64 || !limits_match(t.min, t.max, mem.pages(), mem.max_pages) {
                    return Err(link_err(format!("incompatible import type for {what}: memory limits")));
                }
                memories.push(a);
            }
            (ImportKind::Tag(t), Extern::Tag(a)) => {
                if store.tags[a as usize] != types[t as usize] {
                    return Err(link_err(format!("incompatible import type for {what}: tag type")));
                }
                tags.push(a);
            }
            (ImportKind::Global(t), Extern::Global(a)) => {
                let g = &store.globals[a as usize];
                // An immutable global may be of a subtype; a mutable one is read and written.
                let want = canon(t.full);
                let fits = if t.mutable { g.full == want } else { g.full.matches(want) };
                if !fits || g.mutable != t.mutable {
                    return Err(link_err(format!("incompatible import type for {what}: global type")));
                }
                globals.push(a);
            }
            (_, ext) => {
                return Err(link_err(format!(
                    "incompatible import type for {what}: a {} was provided",
                    ext.kind_name()
                )))
            }
        }
    }
    // Allocate defined functions first: table and global initializers may take their references.
    for i in m.num_imported_funcs..m.funcs.len() as u32 {
        store.funcs.push(FuncInst {
            ty: types[m.funcs[i as usize] as usize],
            kind: FuncKind::Wasm { instance: instance_id, index: i },
        });
        funcs.push((store.funcs.len() - 1) as u32);
    }
    for &t in m.tags.iter().skip(m.num_imported_tags as usize) {
        store.tags.push(types[t as usize]);
        tags.push((store.tags.len() - 1) as u32);
    }
    for (i, g) in m.globals.iter().enumerate().skip(m.num_imported_globals as usize) {
        let init = &m.global_inits[i - m.num_imported_globals as usize];
        let value = eval_const(store, &globals, &funcs, init);
        let (value, hi) = (value as u64, (value >> 64) as u64);
        store.globals.push(Global { value, hi, ty: g.ty, full: canon(g.full), mutable: g.mutable });
        globals.push((store.globals.len() - 1) as u32);
    }
    for (i, t) in m.tables.iter().enumerate().skip(m.num_imported_tables as usize) {
        let init = m.table_inits[i].as_ref().map_or(0, |e| eval_const(store, &globals, &funcs, e) as u64);
        let table = Table::new(canon(t.elem), t.min, t.max, t.is64, init).map_err(Error::Instantiate)?;
        store.tables.push(table);
        tables.push((store.tables.len() - 1) as u32);
    }
    for t in m.memories.iter().skip(m.num_imported_memories as usize) {
        let mem =
            Memory::new(t.min, t.max, store.limits.max_memory_pages, t.is64).map_err(Error::Instantiate)?;
        store.memories.push(mem);
        memories.push((store.memories.len() - 1) as u32);
    }
    let elems: Vec<Vec<u64>> = m
        .elems
        .iter()
        .map(|seg| seg.items.iter().map(|e| eval_const(store, &globals, &funcs, e) as u64).collect())
        .collect();
    let mut inst = Instance {
        module: module.clone(),
        funcs,
        tables,
        memories,
        globals,
        tags,
        types,
        elems,
        data_dropped: vec![false; m.datas.len()],
        code: m.code.clone(),
        pool: m.pool.clone(),
    };
    // Active and declared element segments are dropped after instantiation.
    let mut result = Ok(());
    for (i, seg) in m.elems.iter().enumerate() {
        match &seg.mode {
            ElemMode::Active { table, offset } => {
                // The offset is of the table's index type.
                let off = eval_const(store, &inst.globals, &inst.funcs, offset) as u64;
                let wide = store.tables[inst.tables[*table as usize] as usize].is64;
                let off = if wide { off } else { off as u32 as u64 };
                let t = &mut store.tables[inst.tables[*table as usize] as usize];
                let items = &inst.elems[i];
                if off.checked_add(items.len() as u64).is_none_or(|end| end > t.size() as u64) {
                    result = Err(Error::Trap("out of bounds table access".into()));
                    break;
                }
                t.elems[off as usize..off as usize + items.len()].copy_from_slice(items);
                inst.elems[i].clear();
            }
            ElemMode::Declared => inst.elems[i].clear(),
            ElemMode::Passive => {}
        }
    }
    if result.is_ok() {
        for (i, seg) in m.datas.iter().enumerate() {
            if let DataMode::Active { memory, offset } = &seg.mode {
                let off = eval_const(store, &inst.globals, &inst.funcs, offset) as u64;
                let mem = &mut store.memories[inst.memories[*memory as usize] as usize];
                let off = mem.index(off);
                match mem.slice_mut(off, seg.bytes.len() as u64) {
                    Some(dst) => dst.copy_from_slice(&seg.bytes),
                    None => {
                        result = Err(Error::Trap("out of bounds memory access".into()));
                        break;
                    }
                }
                inst.data_dropped[i] = true;
            }
        }
    }
    let start = m.start.map(|s| inst.funcs[s as usize]);
    store.instances.push(inst);
    result.map(|_| (instance_id, start))
}

/// Reads a global of the store as a typed value.
pub fn global_get(store: &Store, addr: u32) -> Val {
    store.global_value(addr)
}

/// The default slot for a reference type.
pub fn null_ref(_ty: ValType) -> u64 {
    0
}
