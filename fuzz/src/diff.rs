//! The `differential` target: the same wasm-smith module on chiwawa and on wasmi 2.0.0, every
//! exported function called in export order with zero arguments; results, trap classes and
//! finally the exported memories, globals and tables are compared. A budget or fuel
//! exhaustion, or a stack overflow, on either side ends the comparison there (the engines
//! count differently and have different stack limits).

use crate::run::{self, Call};
use crate::smith;
use chiwawa::exec::TrapKind;
use chiwawa::guest::{Entry, Phase};
use chiwawa::parse::ExportKind;
use chiwawa::runtime::Extern as CExtern;
use chiwawa::Val as CVal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use wasmi::{Extern as WExtern, TrapCode, Val as WVal};

/// chiwawa instruction units per call.
pub const BUDGET: u64 = 100_000;
/// wasmi fuel per call (more than BUDGET: if chiwawa finishes, wasmi should too).
pub const FUEL: u64 = 1_000_000;

/// A value as both engines can agree on it: NaNs by class, references by null-ness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    NaN32,
    NaN64,
    Null,
    NonNull,
    /// A `v128`'s bits (wasm-smith canonicalizes the NaNs of vector float results too).
    V128(u128),
}

/// Trap classes both engines can name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapClass {
    Unreachable,
    Memory,
    Table,
    NullCall,
    DivZero,
    Overflow,
    Conversion,
    Signature,
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Res {
    Values(Vec<Norm>),
    Trap(TrapClass),
    /// Exhausted, stack overflow, or not comparable: stop here.
    Skip(String),
}

fn norm_c(v: &CVal) -> Norm {
    match *v {
        CVal::I32(x) => Norm::I32(x),
        CVal::I64(x) => Norm::I64(x),
        CVal::F32(b) if f32::from_bits(b).is_nan() => Norm::NaN32,
        CVal::F32(b) => Norm::F32(b),
        CVal::F64(b) if f64::from_bits(b).is_nan() => Norm::NaN64,
        CVal::F64(b) => Norm::F64(b),
        CVal::V128(x) => Norm::V128(x),
        CVal::FuncRef(r) | CVal::ExternRef(r) | CVal::ExnRef(r) => {
            if r.is_none() {
                Norm::Null
            } else {
                Norm::NonNull
            }
        }
    }
}

fn norm_w(v: &WVal) -> Norm {
    match v {
        WVal::I32(x) => Norm::I32(*x),
        WVal::I64(x) => Norm::I64(*x),
        WVal::F32(f) if f32::from(*f).is_nan() => Norm::NaN32,
        WVal::F32(f) => Norm::F32(f.to_bits()),
        WVal::F64(f) if f64::from(*f).is_nan() => Norm::NaN64,
        WVal::F64(f) => Norm::F64(f.to_bits()),
        WVal::FuncRef(r) => {
            if r.is_null() {
                Norm::Null
            } else {
                Norm::NonNull
            }
        }
        WVal::ExternRef(r) => {
            if r.is_null() {
                Norm::Null
            } else {
                Norm::NonNull
            }
        }
        WVal::V128(v) => Norm::V128(v.as_u128()),
    }
}

fn class_c(k: &TrapKind) -> Option<TrapClass> {
    Some(match k {
        TrapKind::Unreachable => TrapClass::Unreachable,
        TrapKind::MemoryOutOfBounds => TrapClass::Memory,
        TrapKind::TableOutOfBounds | TrapKind::UndefinedElement => TrapClass::Table,
        // (wasmi has no typed function references: only chiwawa raises the last two.)
        TrapKind::UninitializedElement | TrapKind::NullFunctionReference | TrapKind::NullReference => {
            TrapClass::NullCall
        }
        // (Neither has wasmi: wasm-smith's modules here throw no exceptions.)
        TrapKind::NullExceptionReference | TrapKind::UncaughtException => {
            TrapClass::Other(k.message().into())
        }
        TrapKind::IndirectCallTypeMismatch => TrapClass::Signature,
        TrapKind::IntegerDivideByZero => TrapClass::DivZero,
        TrapKind::IntegerOverflow => TrapClass::Overflow,
        TrapKind::InvalidConversion => TrapClass::Conversion,
        TrapKind::StackExhausted => return None,
        TrapKind::Host(m) => TrapClass::Other(m.clone()),
    })
}

fn class_w(e: &wasmi::Error) -> Option<TrapClass> {
    Some(match e.as_trap_code()? {
        TrapCode::UnreachableCodeReached => TrapClass::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapClass::Memory,
        TrapCode::TableOutOfBounds => TrapClass::Table,
        TrapCode::IndirectCallToNull => TrapClass::NullCall,
        TrapCode::IntegerDivisionByZero => TrapClass::DivZero,
        TrapCode::IntegerOverflow => TrapClass::Overflow,
        TrapCode::BadConversionToInteger => TrapClass::Conversion,
        TrapCode::BadSignature => TrapClass::Signature,
        _ => return None, // OutOfFuel, StackOverflow, GrowthOperationLimited, OutOfSystemMemory
    })
}

fn res_c(c: Call) -> Res {
    match c {
        Call::Returned(v) => Res::Values(v.iter().map(norm_c).collect()),
        Call::Exit(0) => Res::Values(vec![]),
        Call::Trap(k) => class_c(&k).map_or_else(|| Res::Skip("chiwawa stack exhausted".into()), Res::Trap),
        Call::Exhausted => Res::Skip("chiwawa budget".into()),
        other => Res::Skip(format!("chiwawa {other:?}")),
    }
}

fn res_w(r: Result<Vec<WVal>, wasmi::Error>) -> Res {
    match r {
        Ok(v) => Res::Values(v.iter().map(norm_w).collect()),
        Err(e) => class_w(&e).map_or_else(|| Res::Skip(format!("wasmi {e}")), Res::Trap),
    }
}

/// One engine's view of the final exported state: `(export name, value)`.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Global(Norm),
    Memory(Vec<u8>),
    Table(Vec<bool>),
}

/// What a comparison came to: the calls compared and why it stopped early, if it did.
#[derive(Debug, Default)]
pub struct Report {
    pub compared: usize,
    pub stopped: Option<String>,
    pub log: Vec<String>,
}

struct Wasmi {
    store: wasmi::Store<wasmi::StoreLimits>,
    instance: Result<wasmi::Instance, wasmi::Error>,
}

fn wasmi_instantiate(bytes: &[u8]) -> Option<Wasmi> {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    let engine = wasmi::Engine::new(&config);
    // wasmi 2.0.0's translator panics on some valid modules: not chiwawa's business.
    let module = catch_unwind(AssertUnwindSafe(|| wasmi::Module::new(&engine, bytes))).ok()?.ok()?;
    let limits = wasmi::StoreLimitsBuilder::new()
        .memory_size(crate::guests::limits().max_memory_pages as usize * 65536)
        .table_elements(chiwawa::runtime::table::MAX_TABLE_ELEMS as usize)
        .build();
    let mut store = wasmi::Store::new(&engine, limits);
    store.limiter(|l| l);
    store.set_fuel(FUEL).ok()?;
    let linker = wasmi::Linker::<wasmi::StoreLimits>::new(&engine);
    let instance =
        catch_unwind(AssertUnwindSafe(|| linker.instantiate_and_start(&mut store, &module))).ok()?;
    Some(Wasmi { store, instance })
}

fn wasmi_call(w: &mut Wasmi, name: &str) -> Res {
    let Ok(inst) = &w.instance else { return Res::Skip("no instance".into()) };
    let Some(f) = inst.get_func(&w.store, name) else { return Res::Skip(format!("wasmi has no {name}")) };
    let ty = f.ty(&w.store);
    let params: Vec<WVal> = ty.params().iter().map(|t| WVal::default_for_ty(*t)).collect();
    let mut results: Vec<WVal> = ty.results().iter().map(|t| WVal::default_for_ty(*t)).collect();
    if w.store.set_fuel(FUEL).is_err() {
        return Res::Skip("fuel".into());
    }
    match catch_unwind(AssertUnwindSafe(|| f.call(&mut w.store, &params, &mut results))) {
        Ok(r) => res_w(r.map(|()| results)),
        Err(_) => Res::Skip("wasmi panicked".into()),
    }
}

fn items_w(w: &Wasmi, names: &[(String, ExportKind)]) -> Vec<(String, Item)> {
    let Ok(inst) = &w.instance else { return vec![] };
    let mut out = Vec::new();
    for (name, _) in names {
        let item = match inst.get_export(&w.store, name) {
            Some(WExtern::Global(g)) => Item::Global(norm_w(&g.get(&w.store))),
            Some(WExtern::Memory(m)) => Item::Memory(m.data(&w.store).to_vec()),
            Some(WExtern::Table(t)) => Item::Table(
                (0..t.size(&w.store)).map(|i| t.get(&w.store, i).is_none_or(|r| r.is_null())).collect(),
            ),
            _ => continue,
        };
        out.push((name.clone(), item));
    }
    out
}

fn items_c(g: &chiwawa::guest::Guest, names: &[(String, ExportKind)]) -> Vec<(String, Item)> {
    let inst = &g.store.instances()[g.instance as usize];
    let mut out = Vec::new();
    for (name, _) in names {
        let item = match inst.export(name) {
            Some(CExtern::Global(a)) => Item::Global(norm_c(&g.store.global_value(a))),
            Some(CExtern::Memory(a)) => Item::Memory(g.store.memories()[a as usize].data().to_vec()),
            Some(CExtern::Table(a)) => {
                Item::Table(g.store.tables()[a as usize].elems().iter().map(|&e| e == 0).collect())
            }
            _ => continue,
        };
        out.push((name.clone(), item));
    }
    out
}

/// Runs `bytes` on both engines; `Err` describes the first mismatch.
pub fn compare(bytes: &[u8]) -> Result<Report, String> {
    let mut rep = Report::default();
    let Some(mut w) = wasmi_instantiate(bytes) else {
        rep.stopped = Some("wasmi did not translate it".into());
        return Ok(rep);
    };
    let mut g = match run::instantiate(bytes) {
        Ok(g) => g,
        Err(e) => {
            return match &w.instance {
                Err(_) => {
                    rep.stopped = Some("both fail to instantiate".into());
                    Ok(rep)
                }
                Ok(_) => Err(format!("chiwawa fails to instantiate ({e}), wasmi instantiates")),
            };
        }
    };
    let exports: Vec<(String, ExportKind)> =
        g.module.exports().iter().map(|e| (e.name.clone(), e.kind)).collect();
    if exports.iter().any(|(n, _)| n == "_start") {
        rep.stopped = Some("exports _start (would run with the start function)".into());
        return Ok(rep);
    }
    // The start function (wasmi ran it inside instantiate_and_start).
    if g.phase == Phase::Start {
        g.entry = Entry::Command;
        let c = res_c(run::call(&mut g, BUDGET));
        let wres = match &w.instance {
            Ok(_) => Res::Values(vec![]),
            Err(e) => class_w(e).map_or_else(|| Res::Skip(format!("wasmi start: {e}")), Res::Trap),
        };
        rep.log.push(format!("start: chiwawa {c:?} wasmi {wres:?}"));
        match (&c, &wres) {
            (Res::Skip(s), _) | (_, Res::Skip(s)) => {
                rep.stopped = Some(format!("start: {s}"));
                return Ok(rep);
            }
            _ if c != wres => return Err(format!("start function: chiwawa {c:?}, wasmi {wres:?}")),
            (Res::Trap(_), _) => {
                rep.stopped = Some("start trapped on both".into());
                return Ok(rep);
            }
            _ => {}
        }
    } else if let Err(e) = &w.instance {
        return Err(format!("wasmi fails to instantiate ({e}), chiwawa instantiates"));
    }
    for (name, kind) in &exports {
        if *kind != ExportKind::Func {
            continue;
        }
        run::set_entry(&mut g, name);
        let c = res_c(run::call(&mut g, BUDGET));
        let wr = wasmi_call(&mut w, name);
        rep.log.push(format!("{name}: chiwawa {c:?} wasmi {wr:?}"));
        match (&c, &wr) {
            (Res::Skip(s), _) | (_, Res::Skip(s)) => {
                rep.stopped = Some(format!("{name}: {s}"));
                return Ok(rep);
            }
            _ if c != wr => return Err(format!("export {name:?}: chiwawa {c:?}, wasmi {wr:?}")),
            _ => rep.compared += 1,
        }
    }
    let (ci, wi) = (items_c(&g, &exports), items_w(&w, &exports));
    for ((n, a), (_, b)) in ci.iter().zip(&wi) {
        if a != b {
            let what = match (a, b) {
                (Item::Memory(x), Item::Memory(y)) if x.len() == y.len() => {
                    let i = x.iter().zip(y).position(|(p, q)| p != q).unwrap_or(0);
                    format!("memory differs at byte {i}: chiwawa {:#x}, wasmi {:#x}", x[i], y[i])
                }
                (Item::Memory(x), Item::Memory(y)) => {
                    format!("memory size chiwawa {}, wasmi {}", x.len(), y.len())
                }
                _ => format!("chiwawa {a:?}, wasmi {b:?}"),
            };
            return Err(format!("final state of export {n:?}: {what}"));
        }
    }
    if ci.len() != wi.len() {
        return Err(format!("{} exported items on chiwawa, {} on wasmi", ci.len(), wi.len()));
    }
    Ok(rep)
}

/// Whether `bytes` uses a SIMD conversion whose NaN results both engines may give differently
/// and still be right: `f32x4.demote_f64x2_zero` and `f64x2.promote_low_f32x4`. chiwawa
/// canonicalizes SIMD NaNs (the same result on every host, so a moved checkpoint continues
/// alike), wasmi keeps the hardware's payload, the spec allows either, and wasm-smith's
/// `canonicalize_nans` does not cover these two. A payload reaches integers through lane
/// extraction and conversions, so a disagreement in such a module proves nothing.
fn nan_payload_may_differ(bytes: &[u8]) -> bool {
    use wasmparser::{Operator as O, Parser, Payload};
    Parser::new(0).parse_all(bytes).any(|p| {
        let Ok(Payload::CodeSectionEntry(body)) = p else { return false };
        let Ok(mut ops) = body.get_operators_reader() else { return false };
        while !ops.eof() {
            match ops.read() {
                Ok(O::F32x4DemoteF64x2Zero | O::F64x2PromoteLowF32x4) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    })
}

/// The target body.
pub fn target(data: &[u8]) {
    let mut u = arbitrary::Unstructured::new(data);
    let Some(bytes) = smith::module(&mut u, true) else { return };
    if let Err(m) = compare(&bytes) {
        if run::known_open_bug(&m) || nan_payload_may_differ(&bytes) {
            return;
        }
        panic!("chiwawa and wasmi disagree: {m}\n(triage: write the module with `cargo run --example smith -- differential INPUT out.wasm`, then `python3 fuzz/triage.py out.wasm`)");
    }
}
