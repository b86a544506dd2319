//! The embedded guests: small WASI commands written for the fuzzers (`fuzz/guests/*.wat`).

use chiwawa::checkpoint::hash::sha256;
use chiwawa::compile::ir::Instr;
use chiwawa::compile::stackmap::{Loc, PointKind};
use chiwawa::compile::Lowering;
use chiwawa::guest::{Entry, Guest};
use chiwawa::runtime::store::FuncKind;
use chiwawa::runtime::{Limits, ValType};
use chiwawa::snapshot::Value;
use chiwawa::wasi::{WasiConfig, WasiCtx};
use chiwawa::Module;
use std::sync::{Arc, OnceLock};

/// `(name, WAT text)` of every guest.
pub const SOURCES: &[(&str, &str)] = &[
    ("loop", include_str!("../guests/loop.wat")),
    ("rec", include_str!("../guests/rec.wat")),
    ("tables", include_str!("../guests/tables.wat")),
    ("grow", include_str!("../guests/grow.wat")),
    ("start", include_str!("../guests/start.wat")),
    ("funcref", include_str!("../guests/funcref.wat")),
];

/// One resume position of a function, from its stack map (optimized lowering): what a
/// version-2 frame may name as `offset`, and the operand stack there.
#[derive(Clone, Debug)]
pub struct PointFacts {
    /// Byte offset in the module of the `loop` / call operator (the body start for the entry).
    pub offset: u32,
    pub kind: PointKind,
    /// The operand stack at the point, bottom first: type and where the optimized lowering
    /// keeps it (a slot below `num_locals` is a deferred `local.get`, a constant is one the
    /// code pushed; restore requires the saved value to equal those).
    pub entries: Vec<(ValType, Loc)>,
    /// Entries a call consumes: its arguments, then the table index of a `call_indirect` or
    /// the function reference of a `call_ref` (on top).
    pub consumed: u32,
    /// The function (module index) a direct call calls; `None` for safe points and
    /// indirect calls (`call_indirect`, `call_ref`: the callee is only known at run time).
    pub callee: Option<u32>,
}

/// A function the module defines, as version-2 frames see it.
#[derive(Clone, Debug)]
pub struct FuncFacts {
    /// Type of every local, parameters first.
    pub locals: Vec<ValType>,
    pub num_locals: u32,
    pub points: Vec<PointFacts>,
}

/// One compiled guest and the facts the mutator aims its boundary values at.
pub struct GuestInfo {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub hash: [u8; 32],
    /// Compiled with the optimized lowering (the one version-1 files convert through).
    pub module: Arc<Module>,
    /// The same bytes compiled with the plain lowering: a checkpoint taken under one must
    /// restore under the other.
    pub plain: Arc<Module>,
    /// Functions in the module's index space (imports first): what a version-2 frame's `func`
    /// and a funcref `Value` index.
    pub nfuncs: u32,
    /// Imported functions (indices `0..nimported` are no frame's function).
    pub nimported: u32,
    /// Per module function index: the stack-map facts of defined functions (`None`: an import).
    pub funcs: Vec<Option<FuncFacts>>,
    /// The module's function index space → store address.
    pub inst_funcs: Vec<u32>,
    /// Types of the store's globals and tables, in address order.
    pub global_types: Vec<ValType>,
    pub table_types: Vec<ValType>,
    /// Table maxima (`None`: unbounded).
    pub table_max: Vec<Option<u64>>,
    /// Exported function names (entry names for `Invoke`).
    pub exports: Vec<String>,
    // Version-1 terms (store addresses, internal program counters), for version-1 inputs:
    /// Functions in the store (WASI and spectest host functions first, then the module's).
    pub store_funcs: u32,
    /// Per store function address: `(lowered code length, max_slots)` of Wasm functions.
    pub code: Vec<Option<(u32, u32)>>,
    /// Store addresses of the module's own (Wasm) functions.
    pub wasm_addrs: Vec<u32>,
}

impl GuestInfo {
    /// The module compiled with `lowering`.
    pub fn module_for(&self, lowering: Lowering) -> &Arc<Module> {
        match lowering {
            Lowering::Optimized => &self.module,
            Lowering::Plain => &self.plain,
        }
    }

    /// Module indices of the functions the module defines.
    pub fn defined(&self) -> std::ops::Range<u32> {
        self.nimported..self.nfuncs
    }

    /// The typed value of raw slot bits `v` of type `ty` (a funcref slot holds store address + 1;
    /// a `v128`: `v` its first slot, the second 0).
    pub fn value_of_bits(&self, ty: ValType, v: u64) -> Value {
        match ty {
            ValType::V128 => Value::V128(u128::from(v).to_le_bytes()),
            ValType::I32 => Value::I32(v as u32),
            ValType::I64 => Value::I64(v),
            ValType::F32 => Value::F32(v as u32),
            ValType::F64 => Value::F64(v),
            ValType::ExternRef => Value::ExternRef(v.checked_sub(1)),
            ValType::ExnRef => Value::ExnRef(v.checked_sub(1).map(|e| e as u32)),
            ValType::FuncRef => Value::FuncRef(v.checked_sub(1).map(|a| {
                self.inst_funcs.iter().position(|&x| u64::from(x) == a).map_or(u32::MAX, |i| i as u32)
            })),
        }
    }
}

/// The stack-map facts of every defined function of `m`, by module function index.
pub fn func_facts(m: &Module) -> Vec<Option<FuncFacts>> {
    let nimp = m.num_imported_funcs() as usize;
    let mut out: Vec<Option<FuncFacts>> = vec![None; nimp];
    for cf in &m.lower_all().expect("the guest lowers").0 {
        let map = cf.stack_map();
        let points = map
            .points()
            .iter()
            .map(|p| PointFacts {
                offset: p.offset,
                kind: p.kind,
                entries: map.entries(p).collect(),
                consumed: p.consumed,
                callee: match cf.code().get(p.pc as usize).and_then(|i| i.as_call()) {
                    Some(Instr::Call { func, .. }) => Some(func),
                    _ => None,
                },
            })
            .collect();
        out.push(Some(FuncFacts { locals: map.local_types().to_vec(), num_locals: cf.num_locals(), points }));
    }
    out
}

/// Encodes WAT text to a binary module.
pub fn wat_to_wasm(text: &str) -> Vec<u8> {
    let buf = wast::parser::ParseBuffer::new(text).expect("guest WAT lexes");
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).expect("guest WAT parses");
    wat.encode().expect("guest WAT encodes")
}

/// The WASI configuration every fuzz run uses: no preopens (no host file system), no env.
pub fn wasi_config(name: &str) -> WasiConfig {
    WasiConfig { args: vec![name.to_string()], env: vec![], preopens: vec![] }
}

/// Limits for fuzz runs: the defaults but a smaller call stack and memory, so a mutated
/// checkpoint cannot make one execution take gigabytes.
pub fn limits() -> Limits {
    Limits { max_memory_pages: 1024, max_stack_slots: 1 << 20, max_frames: 20_000 }
}

fn build(name: &'static str, text: &str) -> GuestInfo {
    let bytes = wat_to_wasm(text);
    let module = Arc::new(
        Module::with_lowering(&bytes, Lowering::Optimized).unwrap_or_else(|e| panic!("guest {name}: {e}")),
    );
    let plain = Arc::new(
        Module::with_lowering(&bytes, Lowering::Plain).unwrap_or_else(|e| panic!("guest {name}: {e}")),
    );
    let wasi = WasiCtx::new(&wasi_config(name)).expect("WASI context");
    let g = Guest::instantiate(module.clone(), wasi, limits(), Entry::Command).expect("guest instantiates");
    let lowered = module.lower_all().unwrap_or_else(|e| panic!("guest {name}: {e}")).0;
    let mut code = Vec::new();
    let mut wasm_addrs = Vec::new();
    for (addr, f) in g.store.funcs().iter().enumerate() {
        code.push(match f.kind {
            FuncKind::Wasm { instance, index } => {
                let m = g.store.instances()[instance as usize].module();
                let cf = &lowered[(index - m.num_imported_funcs()) as usize];
                wasm_addrs.push(addr as u32);
                Some((cf.code().len() as u32, cf.max_slots()))
            }
            FuncKind::Host { .. } => None,
        });
    }
    let inst_funcs = g.store.instances()[g.instance as usize].funcs().to_vec();
    GuestInfo {
        name,
        hash: sha256(&bytes),
        nfuncs: inst_funcs.len() as u32,
        nimported: module.num_imported_funcs(),
        funcs: func_facts(&module),
        inst_funcs,
        global_types: g.store.globals().iter().map(|x| x.ty()).collect(),
        table_types: g.store.tables().iter().map(|t| t.ty()).collect(),
        table_max: g.store.tables().iter().map(|t| t.max()).collect(),
        exports: crate::run::func_exports(&module),
        store_funcs: g.store.funcs().len() as u32,
        code,
        wasm_addrs,
        module,
        plain,
        bytes,
    }
}

/// All guests, compiled once per process.
pub fn all() -> &'static [GuestInfo] {
    static ALL: OnceLock<Vec<GuestInfo>> = OnceLock::new();
    ALL.get_or_init(|| SOURCES.iter().map(|(n, t)| build(n, t)).collect())
}

/// The guest a checkpoint header names, if any.
pub fn by_hash(hash: &[u8; 32]) -> Option<&'static GuestInfo> {
    all().iter().find(|g| &g.hash == hash)
}
