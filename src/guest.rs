//! A guest: one module instantiated against WASI (and `spectest`), with its machine.
//!
//! Running a guest has two phases: the module's start function (if any), then the entry
//! (`_start`, or the function named by `--invoke`). Both run on the same [`Machine`], in
//! budget-sized slices, so a checkpoint can land in either.

use crate::error::Error;
use crate::exec::{Machine, RunResult, Trap};
use crate::parse::Module;
use crate::runtime::memory::Memory;
use crate::runtime::store::{Extern, Limits, Store};
use crate::runtime::value::{FuncType, Val, ValType};
use crate::runtime::{instantiate, Host, HostError, Linker};
use crate::wasi::{HostExit, ValKind, WasiCtx, WasiFunc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The import module name of WASI preview 1.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";
/// Host function ids at or above this are `spectest`'s print functions.
const SPECTEST_BASE: u32 = 0x1_0000;

/// Which part of the program is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// The module's start function.
    Start,
    /// The entry function (`_start` or `--invoke`).
    Entry,
}

/// What the guest's run came to.
#[derive(Debug)]
pub enum Outcome {
    /// `proc_exit(code)`, or 0 when `_start` returned.
    Exit(i32),
    /// The `--invoke`d function returned these values.
    Returned(Vec<Val>),
    Trap(Trap),
}

/// One slice of execution.
#[derive(Debug)]
pub enum Step {
    /// Paused at a safe point (budget spent, or a host call asked to pause).
    Paused,
    Finished(Outcome),
}

/// What to call once the start function has run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// A WASI command's `_start` (absent: nothing to run after the start function).
    Command,
    /// An export with arguments (slot encoding).
    Invoke { name: String, args: Vec<u64> },
}

pub struct Guest {
    pub module: Arc<Module>,
    pub store: Store,
    pub machine: Machine,
    pub wasi: WasiCtx,
    pub instance: u32,
    pub phase: Phase,
    pub entry: Entry,
    /// Whether the current phase's call has been set up on the machine.
    pub started: bool,
}

fn val_kind(k: ValKind) -> ValType {
    match k {
        ValKind::I32 => ValType::I32,
        ValKind::I64 => ValType::I64,
    }
}

/// Adapts the WASI context (and `spectest`'s printers) to the interpreter's host interface.
pub struct GuestHost<'a> {
    pub wasi: &'a mut WasiCtx,
}

impl Host for GuestHost<'_> {
    fn call(
        &mut self,
        id: u32,
        memory: Option<&mut Memory>,
        args: &[u64],
        results: &mut [u64],
    ) -> Result<(), HostError> {
        if id >= SPECTEST_BASE {
            let line: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            println!("{}", line.join(" "));
            return Ok(());
        }
        let f =
            WasiFunc::from_u16(id as u16).ok_or_else(|| HostError::Trap(format!("no WASI function {id}")))?;
        let mem: &mut [u8] = match memory {
            Some(m) => &mut m.data,
            None => &mut [],
        };
        match self.wasi.call(f, mem, args) {
            Ok(Some(r)) => {
                if let Some(slot) = results.first_mut() {
                    *slot = r;
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(HostExit::Exit(c)) => Err(HostError::Exit(c)),
            Err(HostExit::Trap(m)) => Err(HostError::Trap(m)),
            Err(HostExit::Suspend) => Err(HostError::Suspend),
        }
    }
}

/// Defines every WASI preview1 function (and `spectest`'s printers) for linking.
pub fn define_host(store: &mut Store, linker: &mut Linker) {
    for id in 0..=u16::MAX {
        let Some(f) = WasiFunc::from_u16(id) else { break };
        let (params, results) = f.signature();
        let ty = FuncType {
            params: params.iter().copied().map(val_kind).collect(),
            results: results.iter().copied().map(val_kind).collect(),
        };
        let a = store.add_host_func(&ty, id as u32);
        linker.define(WASI_MODULE, f.name(), Extern::Func(a));
    }
    crate::spectest::define_printers(store, linker, SPECTEST_BASE);
}

/// The error for a missing exported function, listing the ones there are.
pub fn no_such_export(module: &Module, name: &str) -> Error {
    let funcs: Vec<&str> = module
        .exports
        .iter()
        .filter(|e| e.kind == crate::parse::ExportKind::Func)
        .map(|e| e.name.as_str())
        .collect();
    Error::Other(format!(
        "no exported function `{name}`; exported functions: {}",
        if funcs.is_empty() { "(none)".to_string() } else { funcs.join(", ") }
    ))
}

impl Guest {
    /// Links and instantiates `module` (memories, tables, globals and segments initialized; the
    /// start function is not run yet). The same steps rebuild a guest before a snapshot is applied.
    pub fn instantiate(
        module: Arc<Module>,
        wasi: WasiCtx,
        limits: Limits,
        entry: Entry,
    ) -> Result<Guest, Error> {
        let mut store = Store::new(limits);
        let mut linker = Linker::new();
        define_host(&mut store, &mut linker);
        let imports = linker.resolve(&module).map_err(|e| match e {
            Error::Link(m) if m.contains(WASI_MODULE) => Error::Link(format!(
                "{m} (chiwawa provides wasi_snapshot_preview1 only; is this an older `wasi_unstable` module?)"
            )),
            other => other,
        })?;
        let (instance, start) = instantiate(&mut store, module.clone(), &imports)?;
        let phase = if start.is_some() { Phase::Start } else { Phase::Entry };
        Ok(Guest { module, store, machine: Machine::new(), wasi, instance, phase, entry, started: false })
    }

    /// The store address of the entry function, if there is one to run.
    pub fn entry_func(&self) -> Result<Option<u32>, Error> {
        let inst = &self.store.instances[self.instance as usize];
        let name = match &self.entry {
            Entry::Command => "_start",
            Entry::Invoke { name, .. } => name.as_str(),
        };
        match inst.export(name) {
            Some(Extern::Func(f)) => Ok(Some(f)),
            Some(other) => {
                Err(Error::Other(format!("export `{name}` is a {}, not a function", other.kind_name())))
            }
            None if self.entry == Entry::Command => Ok(None),
            None => Err(no_such_export(&self.module, name)),
        }
    }

    fn start_func(&self) -> Option<u32> {
        let m = &self.module;
        m.start.map(|s| self.store.instances[self.instance as usize].funcs[s as usize])
    }

    /// Runs until the budget (instruction units) is spent at a safe point, or the guest finishes.
    pub fn step(&mut self, budget: u64) -> Result<Step, Error> {
        let first = self.machine.executed();
        loop {
            if !self.started {
                let (func, args) = match self.phase {
                    Phase::Start => (self.start_func().expect("start phase without start function"), vec![]),
                    Phase::Entry => match self.entry_func()? {
                        None => return Ok(Step::Finished(Outcome::Exit(0))),
                        Some(f) => {
                            let args = match &self.entry {
                                Entry::Command => vec![],
                                Entry::Invoke { args, .. } => {
                                    let ty = self.store.func_type(f).clone();
                                    Val::from_slots(&ty.params, args).unwrap_or_default()
                                }
                            };
                            (f, args)
                        }
                    },
                };
                let mut host = GuestHost { wasi: &mut self.wasi };
                if let Err(t) = self.machine.start_call(&mut self.store, &mut host, func, &args) {
                    return Ok(Step::Finished(Outcome::Trap(t)));
                }
                self.started = true;
            }
            let spent = self.machine.executed().wrapping_sub(first);
            self.machine.set_budget(budget.saturating_sub(spent).max(1));
            let mut host = GuestHost { wasi: &mut self.wasi };
            match self.machine.run(&mut self.store, &mut host) {
                Ok(RunResult::Yield) => {
                    if self.machine.collect_exns {
                        // Paused for the exceptions, not (necessarily) for the budget.
                        self.machine.collect_exns = false;
                        if let Err(e) = crate::snapshot::collect_exceptions(self) {
                            log::debug!("exceptions not collected: {e}");
                            self.store.collect_exns_later(self.store.exns.len());
                        }
                        if self.machine.executed().wrapping_sub(first) < budget {
                            continue;
                        }
                    }
                    return Ok(Step::Paused);
                }
                Ok(RunResult::Exit(code)) => return Ok(Step::Finished(Outcome::Exit(code))),
                Err(t) => return Ok(Step::Finished(Outcome::Trap(t))),
                Ok(RunResult::Done) => match self.phase {
                    Phase::Start => {
                        self.phase = Phase::Entry;
                        self.started = false;
                    }
                    Phase::Entry => {
                        return Ok(Step::Finished(match &self.entry {
                            Entry::Command => Outcome::Exit(0),
                            Entry::Invoke { .. } => {
                                let f = self.entry_func()?.expect("entry exists");
                                Outcome::Returned(self.machine.results(&self.store, f))
                            }
                        }))
                    }
                },
            }
        }
    }
}
