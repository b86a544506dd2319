//! The embedded guests: small WASI commands written for the fuzzers (`fuzz/guests/*.wat`).

use chiwawa::checkpoint::hash::sha256;
use chiwawa::guest::{Entry, Guest};
use chiwawa::runtime::store::FuncKind;
use chiwawa::runtime::Limits;
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
];

/// One compiled guest and the facts the mutator aims its boundary values at.
pub struct GuestInfo {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub hash: [u8; 32],
    pub module: Arc<Module>,
    /// Functions in the store (WASI and spectest host functions first, then the module's).
    pub nfuncs: u32,
    /// Per store function address: `(lowered code length, max_slots)` of Wasm functions.
    pub code: Vec<Option<(u32, u32)>>,
    /// Store addresses of the module's own (Wasm) functions.
    pub wasm_funcs: Vec<u32>,
    /// Per store function address: the index into `module.code` of Wasm functions.
    pub code_index: Vec<Option<usize>>,
    /// The module's function index space → store address.
    pub inst_funcs: Vec<u32>,
    pub nglobals: usize,
    pub ntables: usize,
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
    let module = Arc::new(Module::new(&bytes).unwrap_or_else(|e| panic!("guest {name}: {e}")));
    let wasi = WasiCtx::new(&wasi_config(name)).expect("WASI context");
    let g = Guest::instantiate(module.clone(), wasi, limits(), Entry::Command).expect("guest instantiates");
    let mut code = Vec::new();
    let mut code_index = Vec::new();
    let mut wasm_funcs = Vec::new();
    for (addr, f) in g.store.funcs().iter().enumerate() {
        let (c, i) = match f.kind {
            FuncKind::Wasm { instance, index } => {
                let m = g.store.instances()[instance as usize].module();
                let i = (index - m.num_imported_funcs()) as usize;
                let cf = &m.code()[i];
                wasm_funcs.push(addr as u32);
                (Some((cf.code().len() as u32, cf.max_slots())), Some(i))
            }
            FuncKind::Host { .. } => (None, None),
        };
        code.push(c);
        code_index.push(i);
    }
    GuestInfo {
        name,
        hash: sha256(&bytes),
        nfuncs: g.store.funcs().len() as u32,
        code,
        wasm_funcs,
        code_index,
        inst_funcs: g.store.instances()[g.instance as usize].funcs().to_vec(),
        nglobals: g.store.globals().len(),
        ntables: g.store.tables().len(),
        module,
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
