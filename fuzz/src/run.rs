//! Calling a chiwawa guest's exported functions with zero arguments under an instruction budget.

use crate::guests::{limits, wasi_config};
use chiwawa::exec::TrapKind;
use chiwawa::guest::{Entry, Guest, Outcome, Phase, Step};
use chiwawa::parse::ExportKind;
use chiwawa::runtime::Extern;
use chiwawa::wasi::WasiCtx;
use chiwawa::{Module, Val};
use std::sync::Arc;

/// How one call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Returned(Vec<Val>),
    Trap(TrapKind),
    Exit(i32),
    /// The budget ran out (or a host call paused the guest).
    Exhausted,
    /// `Guest::step` failed (not a trap: e.g. the export vanished).
    Error(String),
}

/// Open chiwawa bugs the targets step over, so that `scripts/fuzz.sh smoke` stays
/// deterministic and the fuzzers get past them instead of rediscovering them all the time.
/// Each entry names its finding in docs/FUZZING.md and has its reproducer in
/// `fuzz/regressions/`; remove the entry once the bug is fixed (the reproducer then checks
/// the fix). `error`: what chiwawa said.
pub fn known_open_bug(error: &str) -> bool {
    // None open. (Finding 8, fixed: reference operands typed `(ref $t)` by the validator.)
    let _ = error;
    false
}

/// Panics on a lowering that failed with an internal error (never right, whatever the
/// module), unless it is a known open bug.
pub fn check_compile_error(error: &str) {
    if error.contains("internal error") && !known_open_bug(error) {
        panic!("chiwawa failed on an internal error: {error}");
    }
}

/// Validates, lowers and instantiates `bytes` against WASI (no preopens) with the fuzz limits.
pub fn instantiate(bytes: &[u8]) -> Result<Guest, String> {
    let module = Arc::new(Module::new(bytes).map_err(|e| {
        let e = e.to_string();
        check_compile_error(&e);
        e
    })?);
    instantiate_module(module)
}

/// Instantiates an already compiled module like [`instantiate`].
pub fn instantiate_module(module: Arc<Module>) -> Result<Guest, String> {
    let wasi = WasiCtx::new(&wasi_config("fuzz")).map_err(|e| e.to_string())?;
    Guest::instantiate(module, wasi, limits(), Entry::Command).map_err(|e| e.to_string())
}

/// The exported functions, in export order.
pub fn func_exports(m: &Module) -> Vec<String> {
    m.exports().iter().filter(|e| e.kind == ExportKind::Func).map(|e| e.name.clone()).collect()
}

/// Makes the next `step` call export `name` with zero arguments (after the start function,
/// if that has not run yet).
pub fn set_entry(g: &mut Guest, name: &str) {
    let nparams = match g.store.instances()[g.instance as usize].export(name) {
        Some(Extern::Func(f)) => g.store.func_type(f).params.len(),
        _ => 0,
    };
    g.entry = Entry::Invoke { name: name.to_string(), args: vec![0; nparams] };
    if g.phase == Phase::Entry {
        g.started = false;
    }
}

/// Turns one `step` result into a [`Call`]; `None` means paused.
pub fn outcome(r: Result<Step, chiwawa::Error>) -> Option<Call> {
    match r {
        Ok(Step::Paused) => None,
        Ok(Step::Finished(Outcome::Returned(v))) => Some(Call::Returned(v)),
        Ok(Step::Finished(Outcome::Exit(c))) => Some(Call::Exit(c)),
        Ok(Step::Finished(Outcome::Trap(t))) => Some(Call::Trap(t.kind)),
        Err(e) => Some(Call::Error(e.to_string())),
    }
}

/// Runs the entry set up by [`set_entry`] for at most `budget` instruction units.
pub fn call(g: &mut Guest, budget: u64) -> Call {
    outcome(g.step(budget)).unwrap_or(Call::Exhausted)
}

/// Everything mutable in a store, for exact comparisons between two chiwawa runs.
#[derive(Debug, PartialEq)]
pub struct StoreState {
    pub globals: Vec<u64>,
    pub memories: Vec<Vec<u8>>,
    pub tables: Vec<Vec<u64>>,
    pub executed: u64,
}

pub fn store_state(g: &Guest) -> StoreState {
    StoreState {
        globals: g.store.globals().iter().map(|x| x.value()).collect(),
        memories: g.store.memories().iter().map(|m| m.data().to_vec()).collect(),
        tables: g.store.tables().iter().map(|t| t.elems().to_vec()).collect(),
        executed: g.machine.executed(),
    }
}

/// The `module` target body: raw bytes, or a wasm-smith module when they are not a binary module.
pub fn module_target(data: &[u8]) {
    let bytes = if data.starts_with(b"\0asm") {
        data.to_vec()
    } else {
        let mut u = arbitrary::Unstructured::new(data);
        match crate::smith::module(&mut u, false) {
            Some(b) => b,
            None => return,
        }
    };
    let Ok(mut g) = instantiate(&bytes) else { return };
    let names = func_exports(&g.module);
    if names.is_empty() && g.phase == Phase::Start {
        let _ = call(&mut g, 50_000);
        return;
    }
    for name in names.iter().take(16) {
        set_entry(&mut g, name);
        match call(&mut g, 50_000) {
            Call::Returned(_) => {}
            // A trap in the start function, an exit or an exhausted budget ends the run: the
            // machine is mid-call or the instance unusable.
            Call::Trap(_) if g.phase == Phase::Entry => {}
            _ => return,
        }
    }
}
