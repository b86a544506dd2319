//! A `.wast` script runner: every directive of the spec testsuite's script format.
//!
//! Used by `chiwawa wast` and by the spec tests. Each directive counts as one passed or
//! failed check; failures carry `file:line:col` and what went wrong.

use crate::error::Error;
use crate::exec::{Machine, RunResult, TrapKind};
use crate::parse::Module;
use crate::runtime::instance::instantiate;
use crate::runtime::store::{Extern, Store};
use crate::runtime::value::Val;
use crate::runtime::{Limits, Linker};
use crate::spectest::{self, SpecHost};
use std::collections::HashMap;
use std::sync::Arc;
use wast::core::{AbstractHeapType, HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// The outcome of running one script.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub passed: u32,
    pub failed: u32,
    /// Assertions not run ([`run_text_superseded`]).
    pub skipped: u32,
    pub failures: Vec<String>,
}

enum Outcome {
    Values(Vec<Val>),
    Trap(String, bool),
}

struct Runner {
    store: Store,
    linker: Linker,
    machine: Machine,
    instances: HashMap<String, u32>,
    definitions: HashMap<String, Arc<Module>>,
    last: Option<u32>,
}

/// Runs a script given as text; `name` is used in failure messages.
pub fn run_text(name: &str, text: &str) -> Summary {
    run_text_superseded(name, text, &[])
}

/// [`run_text`], but the `assert_invalid` and `assert_malformed` directives whose message is
/// one of `superseded` and that fail are skipped (counted in [`Summary::skipped`]): for a
/// script of an earlier Wasm version asserting a rule a later version dropped (Wasm 2.0's
/// "multiple memories" are valid in Wasm 3.0, its 32-bit memory limits are 64-bit LEBs).
pub fn run_text_superseded(name: &str, text: &str, superseded: &[&str]) -> Summary {
    let mut summary = Summary::default();
    let fail_at = |s: &mut Summary, span: wast::token::Span, msg: String| {
        let (line, col) = span.linecol_in(text);
        s.failed += 1;
        s.failures.push(format!("{name}:{}:{}: {msg}", line + 1, col + 1));
    };
    // The testsuite's `names.wast` deliberately uses bidi control characters in export names.
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(mut e) => {
            e.set_text(text);
            summary.failed += 1;
            summary.failures.push(format!("{name}: {e}"));
            return summary;
        }
    };
    let script = match parser::parse::<Wast>(&buf) {
        Ok(s) => s,
        Err(mut e) => {
            e.set_text(text);
            summary.failed += 1;
            summary.failures.push(format!("{name}: {e}"));
            return summary;
        }
    };
    let mut r = Runner::new();
    for d in script.directives {
        let old_rule = matches!(
            &d,
            WastDirective::AssertInvalid { message, .. } | WastDirective::AssertMalformed { message, .. }
                if superseded.contains(message)
        );
        let span = d.span();
        match r.directive(d) {
            Ok(()) => summary.passed += 1,
            Err(_) if old_rule => summary.skipped += 1,
            Err(msg) => fail_at(&mut summary, span, msg),
        }
    }
    summary
}

/// Runs a script file.
pub fn run_file(path: &std::path::Path) -> Result<Summary, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Other(format!("cannot read {}: {e}", path.display())))?;
    Ok(run_text(&path.display().to_string(), &text))
}

fn arg_val(a: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(a) = a else { return Err("component values are not supported".into()) };
    Ok(match a {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Func, .. }) => Val::FuncRef(None),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Extern, .. }) => Val::ExternRef(None),
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(*n)),
        WastArgCore::V128(c) => Val::V128(u128::from_le_bytes(c.to_le_bytes())),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn f32_matches(p: &NanPattern<wast::token::F32>, a: u32) -> bool {
    match p {
        NanPattern::CanonicalNan => a & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => f32::from_bits(a).is_nan() && a & 0x0040_0000 != 0,
        NanPattern::Value(v) => v.bits == a,
    }
}

fn f64_matches(p: &NanPattern<wast::token::F64>, a: u64) -> bool {
    match p {
        NanPattern::CanonicalNan => a & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => f64::from_bits(a).is_nan() && a & 0x0008_0000_0000_0000 != 0,
        NanPattern::Value(v) => v.bits == a,
    }
}

/// Whether the lanes of `a` match the lane-wise pattern `p`.
fn v128_matches(p: &wast::core::V128Pattern, a: u128) -> bool {
    use wast::core::V128Pattern as P;
    let b = a.to_le_bytes();
    let lane = |i: usize, n: usize| b[i * n..(i + 1) * n].iter().rev().fold(0u64, |x, &y| x << 8 | y as u64);
    match p {
        P::I8x16(l) => l.iter().enumerate().all(|(i, &v)| v as u8 as u64 == lane(i, 1)),
        P::I16x8(l) => l.iter().enumerate().all(|(i, &v)| v as u16 as u64 == lane(i, 2)),
        P::I32x4(l) => l.iter().enumerate().all(|(i, &v)| v as u32 as u64 == lane(i, 4)),
        P::I64x2(l) => l.iter().enumerate().all(|(i, &v)| v as u64 == lane(i, 8)),
        P::F32x4(l) => l.iter().enumerate().all(|(i, p)| f32_matches(p, lane(i, 4) as u32)),
        P::F64x2(l) => l.iter().enumerate().all(|(i, p)| f64_matches(p, lane(i, 8))),
    }
}

fn ret_matches(expected: &WastRetCore<'_>, actual: &Val) -> bool {
    match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(p), Val::F32(a)) => f32_matches(p, *a),
        (WastRetCore::F64(p), Val::F64(a)) => f64_matches(p, *a),
        (WastRetCore::V128(p), Val::V128(a)) => v128_matches(p, *a),
        (WastRetCore::RefNull(t), Val::FuncRef(None)) => {
            matches!(t, None | Some(HeapType::Abstract { ty: AbstractHeapType::Func, .. }))
        }
        (WastRetCore::RefNull(t), Val::ExternRef(None)) => {
            matches!(t, None | Some(HeapType::Abstract { ty: AbstractHeapType::Extern, .. }))
        }
        (WastRetCore::RefNull(t), Val::ExnRef(None)) => {
            matches!(t, None | Some(HeapType::Abstract { ty: AbstractHeapType::Exn, .. }))
        }
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(a))) => n == a,
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::Either(alts), a) => alts.iter().any(|e| ret_matches(e, a)),
        _ => false,
    }
}

impl Runner {
    fn new() -> Runner {
        let mut store = Store::new(Limits::default());
        let mut linker = Linker::new();
        spectest::define(&mut store, &mut linker);
        Runner {
            store,
            linker,
            machine: Machine::new(),
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last: None,
        }
    }

    fn compile(qw: &mut QuoteWat<'_>) -> Result<Module, String> {
        let bytes = qw.encode().map_err(|e| format!("cannot encode module: {e}"))?;
        let m = Module::new(&bytes).map_err(|e| e.to_string())?;
        // A run lowers only the functions it calls: a script lowers them all, so that the
        // lowering of every valid body of the suites is checked, called or not.
        m.lower_all().map_err(|e| format!("a valid module does not lower: {e}"))?;
        Ok(m)
    }

    /// Instantiates and runs the start function. Err((message, is_trap)).
    fn instantiate(&mut self, module: Arc<Module>) -> Result<u32, (String, bool)> {
        let imports = self.linker.resolve(&module).map_err(|e| (e.to_string(), false))?;
        let (inst, start) = match instantiate(&mut self.store, module, &imports) {
            Ok(x) => x,
            Err(Error::Trap(m)) => return Err((m, true)),
            Err(e) => return Err((e.to_string(), false)),
        };
        if let Some(f) = start {
            match self.call(f, &[]) {
                Outcome::Values(_) => {}
                Outcome::Trap(m, _) => return Err((m, true)),
            }
        }
        Ok(inst)
    }

    fn call(&mut self, func: u32, args: &[Val]) -> Outcome {
        let mut host = SpecHost;
        if let Err(t) = self.machine.start_call(&mut self.store, &mut host, func, args) {
            return Outcome::Trap(t.kind.message().to_string(), t.kind == TrapKind::StackExhausted);
        }
        loop {
            self.machine.set_budget(u64::MAX);
            match self.machine.run(&mut self.store, &mut host) {
                Ok(RunResult::Done) => return Outcome::Values(self.machine.results(&self.store, func)),
                Ok(RunResult::Yield) => {
                    // A pause asked for collecting exceptions: scripts do not collect them (their
                    // store has several instances); the next request waits for twice as many.
                    if std::mem::take(&mut self.machine.collect_exns) {
                        self.store.collect_exns_later(self.store.exns.len());
                    }
                    continue;
                }
                Ok(RunResult::Exit(c)) => return Outcome::Trap(format!("exit {c}"), false),
                Err(t) => {
                    return Outcome::Trap(t.kind.message().to_string(), t.kind == TrapKind::StackExhausted)
                }
            }
        }
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<u32, String> {
        match id {
            Some(id) => {
                self.instances.get(id.name()).copied().ok_or_else(|| format!("unknown module ${}", id.name()))
            }
            None => self.last.ok_or_else(|| "no module instantiated yet".to_string()),
        }
    }

    fn invoke(&mut self, inv: &WastInvoke<'_>) -> Result<Outcome, String> {
        let inst = self.instance(inv.module)?;
        let func = match self.store.instances[inst as usize].export(inv.name) {
            Some(Extern::Func(f)) => f,
            _ => return Err(format!("no exported function {:?}", inv.name)),
        };
        let args = inv.args.iter().map(arg_val).collect::<Result<Vec<_>, _>>()?;
        let ty = self.store.func_type(func);
        if args.len() != ty.params.len() || args.iter().zip(&ty.params).any(|(a, t)| a.ty() != *t) {
            return Err(format!("argument types do not match {}", ty));
        }
        Ok(self.call(func, &args))
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(inv) => self.invoke(&inv),
            WastExecute::Wat(wat) => {
                let mut qw = QuoteWat::Wat(wat);
                let m = Self::compile(&mut qw)?;
                match self.instantiate(Arc::new(m)) {
                    Ok(_) => Ok(Outcome::Values(vec![])),
                    Err((m, true)) => Ok(Outcome::Trap(m, false)),
                    Err((m, false)) => Err(m),
                }
            }
            WastExecute::Get { module, global, .. } => {
                let inst = self.instance(module)?;
                match self.store.instances[inst as usize].export(global) {
                    Some(Extern::Global(g)) => Ok(Outcome::Values(vec![self.store.global_value(g)])),
                    _ => Err(format!("no exported global {global:?}")),
                }
            }
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Result<(), String> {
        match d {
            WastDirective::Module(mut qw) => {
                let name = qw.name().map(|n| n.name().to_string());
                let m = Arc::new(Self::compile(&mut qw)?);
                let inst = self.instantiate(m).map_err(|(m, _)| m)?;
                if let Some(n) = name {
                    self.instances.insert(n, inst);
                }
                self.last = Some(inst);
                Ok(())
            }
            WastDirective::ModuleDefinition(mut qw) => {
                let name = qw.name().map(|n| n.name().to_string());
                let m = Arc::new(Self::compile(&mut qw)?);
                if let Some(n) = name {
                    self.definitions.insert(n, m);
                }
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let def = module.ok_or("module instance without a definition")?;
                let m = self.definitions.get(def.name()).cloned().ok_or("unknown module definition")?;
                let inst = self.instantiate(m).map_err(|(m, _)| m)?;
                if let Some(n) = instance {
                    self.instances.insert(n.name().to_string(), inst);
                }
                self.last = Some(inst);
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let inst = self.instance(module)?;
                let module = self.store.instances[inst as usize].module.clone();
                for e in &module.exports {
                    let ext = self.store.instances[inst as usize].export(&e.name).unwrap();
                    self.linker.define(name, &e.name, ext);
                }
                Ok(())
            }
            WastDirective::Invoke(inv) => match self.invoke(&inv)? {
                Outcome::Values(_) => Ok(()),
                Outcome::Trap(m, _) => Err(format!("invoke {:?} trapped: {m}", inv.name)),
            },
            WastDirective::AssertReturn { exec, results, .. } => match self.execute(exec)? {
                Outcome::Values(vals) => {
                    let ok = vals.len() == results.len()
                        && results.iter().zip(&vals).all(|(e, a)| match e {
                            WastRet::Core(e) => ret_matches(e, a),
                            #[allow(unreachable_patterns)]
                            _ => false,
                        });
                    if ok {
                        Ok(())
                    } else {
                        let got: Vec<String> = vals.iter().map(|v| format!("{v:?}")).collect();
                        Err(format!("expected {results:?}, got [{}]", got.join(", ")))
                    }
                }
                Outcome::Trap(m, _) => Err(format!("expected values, got trap: {m}")),
            },
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec)? {
                Outcome::Trap(m, _) if m.contains(message) || message.contains(&m) => Ok(()),
                Outcome::Trap(m, _) => Err(format!("expected trap {message:?}, got trap {m:?}")),
                Outcome::Values(v) => Err(format!("expected trap {message:?}, got {v:?}")),
            },
            WastDirective::AssertException { exec, .. } => match self.execute(exec)? {
                Outcome::Trap(m, _) if m == TrapKind::UncaughtException.message() => Ok(()),
                Outcome::Trap(m, _) => Err(format!("expected an uncaught exception, got trap {m:?}")),
                Outcome::Values(v) => Err(format!("expected an uncaught exception, got {v:?}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Outcome::Trap(_, true) => Ok(()),
                Outcome::Trap(m, false) => Err(format!("expected exhaustion {message:?}, got trap {m:?}")),
                Outcome::Values(v) => Err(format!("expected exhaustion {message:?}, got {v:?}")),
            },
            WastDirective::AssertMalformed { mut module, message, .. }
            | WastDirective::AssertInvalid { mut module, message, .. } => {
                let bytes = match module.encode() {
                    Ok(b) => b,
                    Err(_) => return Ok(()), // malformed text is rejected by the text parser
                };
                match Module::new(&bytes) {
                    Ok(_) => {
                        Err(format!("expected the module to be rejected ({message:?}), but it was accepted"))
                    }
                    Err(_) => Ok(()),
                }
            }
            WastDirective::AssertUnlinkable { module, message, .. } => {
                let mut qw = QuoteWat::Wat(module);
                let m = Arc::new(Self::compile(&mut qw)?);
                match self.instantiate(m) {
                    Ok(_) => Err(format!("expected a link failure ({message:?}), but it instantiated")),
                    Err(_) => Ok(()),
                }
            }
            other => Err(format!("unsupported directive {:?}", std::mem::discriminant(&other))),
        }
    }
}
