//! Front end: `wasmparser` parses and validates the module bytes into a [`Module`]. Function
//! bodies are validated at load (on several threads) and lowered on their first call
//! ([`Module::lower`]; the lowering validates again as it goes, as in wasmi), so that a large
//! module starts as fast as it validates.
//!
//! Scope: WebAssembly 3.0 without GC (and relaxed SIMD in its deterministic profile).

use crate::compile::{self, ir::CompiledFunc};
use crate::error::Error;
use crate::runtime::value::{FullType, FuncType, HeapType, Sig, ValType};
use std::collections::HashMap;
use std::sync::Arc;
use wasmparser::{
    ElementItems, ElementKind, ExternalKind, Operator, Parser, Payload, TypeRef, Validator, WasmFeatures,
};

/// The features the validator runs with: Wasm 2.0, relaxed SIMD, and of Wasm 3.0 extended
/// constants, tail calls and typed function references. GC is on *for the validator only*:
/// Wasm 3.0 took some rules from it that apply to every module (a constant expression may read
/// any earlier immutable global; a function type may refer to itself). What needs garbage
/// collection is refused by chiwawa itself, with a message naming GC: struct and array types,
/// recursion groups and subtypes (the type section), the GC heap types wherever a type is
/// written ([`ref_full`], [`in_scope`]) and the GC instructions ([`in_scope`]).
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM2
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::FUNCTION_REFERENCES
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::MEMORY64
        | WasmFeatures::LEGACY_EXCEPTIONS
        | WasmFeatures::GC
}

/// The proposal an operator comes from, as wasmparser files it (`"mvp"`, `"gc"`, …).
macro_rules! define_operator_proposal {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        fn operator_proposal(op: &Operator<'_>) -> &'static str {
            match op {
                $( Operator::$op { .. } => stringify!($proposal), )*
                #[allow(unreachable_patterns)]
                _ => "simd",
            }
        }
    };
}
wasmparser::for_each_operator!(define_operator_proposal);

/// `Ok` unless the operator is one of GC's, or writes a type that only GC has (`ref.null any`,
/// a block or `select` of type `eqref`, …): the message names GC.
pub(crate) fn in_scope(op: &Operator<'_>) -> Result<(), String> {
    let gc =
        |what: String| Err(format!("{what} needs garbage collection (GC), which chiwawa does not support"));
    if operator_proposal(op) == "gc" {
        return gc(format!("instruction {op:?}"));
    }
    let blocktype = |bt: &wasmparser::BlockType| match *bt {
        wasmparser::BlockType::Type(t) => val_type(t).map(|_| ()),
        _ => Ok(()),
    };
    match op {
        Operator::RefNull { hty } => match wasmparser::RefType::new(true, *hty) {
            Some(r) => ref_type(r).map(|_| ()),
            None => gc(format!("heap type {hty:?}")),
        },
        Operator::Block { blockty }
        | Operator::Loop { blockty }
        | Operator::If { blockty }
        | Operator::Try { blockty } => blocktype(blockty),
        Operator::TryTable { try_table } => blocktype(&try_table.ty),
        Operator::TypedSelect { ty } => val_type(*ty).map(|_| ()),
        Operator::TypedSelectMulti { tys } => tys.iter().try_for_each(|t| val_type(*t).map(|_| ())),
        _ => Ok(()),
    }
}

/// A constant expression: one constant instruction (Wasm 2.0), or an extended one (Wasm 3.0:
/// `i32`/`i64` `add`, `sub` and `mul` over constants and `global.get`).
#[derive(Clone, Debug, PartialEq)]
pub enum ConstExpr {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    /// A `v128` (lane 0 in the least significant bits).
    V128(u128),
    RefNull(ValType),
    RefFunc(u32),
    GlobalGet(u32),
    /// An extended constant expression, in evaluation (postfix) order.
    Extended(std::sync::Arc<[ConstOp]>),
}

/// One instruction of an extended constant expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstOp {
    I32(i32),
    I64(i64),
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

impl ConstExpr {
    /// The value of an extended expression, `global(g)` giving the bits of global `g`. The
    /// validator checked the expression: it leaves exactly one value; a malformed one
    /// evaluates to 0 rather than panicking.
    pub fn eval_extended(ops: &[ConstOp], global: impl Fn(u32) -> u64) -> u64 {
        let mut stack: Vec<u64> = Vec::with_capacity(4);
        for op in ops {
            let v = match *op {
                ConstOp::I32(v) => v as u32 as u64,
                ConstOp::I64(v) => v as u64,
                ConstOp::GlobalGet(g) => global(g),
                bin => {
                    let (b, a) = (stack.pop().unwrap_or(0), stack.pop().unwrap_or(0));
                    let (a32, b32) = (a as u32, b as u32);
                    match bin {
                        ConstOp::I32Add => a32.wrapping_add(b32) as u64,
                        ConstOp::I32Sub => a32.wrapping_sub(b32) as u64,
                        ConstOp::I32Mul => a32.wrapping_mul(b32) as u64,
                        ConstOp::I64Add => a.wrapping_add(b),
                        ConstOp::I64Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    }
                }
            };
            stack.push(v);
        }
        stack.pop().unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    pub ty: ValType,
    /// The element type in full (concrete references name module type indices).
    pub elem: FullType,
    pub min: u64,
    pub max: Option<u64>,
    /// A 64-bit table (table64).
    pub is64: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    pub min: u64,
    pub max: Option<u64>,
    /// A 64-bit memory (memory64).
    pub is64: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    pub ty: ValType,
    /// The type in full (concrete references name module type indices).
    pub full: FullType,
    pub mutable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
    /// An exception tag of this type index.
    Tag(u32),
}

#[derive(Clone, Debug)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub kind: ImportKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    Func,
    Table,
    Memory,
    Global,
    Tag,
}

#[derive(Clone, Debug)]
pub struct Export {
    pub name: String,
    pub kind: ExportKind,
    pub index: u32,
}

#[derive(Clone, Debug)]
pub enum ElemMode {
    Passive,
    Declared,
    Active { table: u32, offset: ConstExpr },
}

#[derive(Clone, Debug)]
pub struct ElemSegment {
    pub mode: ElemMode,
    pub ty: ValType,
    pub items: Vec<ConstExpr>,
}

#[derive(Clone, Debug)]
pub enum DataMode {
    Passive,
    Active { memory: u32, offset: ConstExpr },
}

#[derive(Clone, Debug)]
pub struct DataSegment {
    pub mode: DataMode,
    pub bytes: Vec<u8>,
}

/// A parsed and validated module. Immutable; shared by its instances, which lower its functions
/// on their first calls (each instance its own copy of the code).
#[derive(Debug, Default)]
pub struct Module {
    pub(crate) types: Vec<FuncType>,
    /// The types in full, for linking and `call_indirect` (concrete references name module
    /// type indices).
    pub(crate) sigs: Vec<Sig>,
    pub(crate) imports: Vec<Import>,
    /// Type index of every function (imported first).
    pub(crate) funcs: Vec<u32>,
    pub(crate) num_imported_funcs: u32,
    /// Every table (imported first) and the init expression of defined ones.
    pub(crate) tables: Vec<TableType>,
    pub(crate) table_inits: Vec<Option<ConstExpr>>,
    pub(crate) num_imported_tables: u32,
    pub(crate) memories: Vec<MemoryType>,
    pub(crate) num_imported_memories: u32,
    pub(crate) globals: Vec<GlobalType>,
    pub(crate) global_inits: Vec<ConstExpr>,
    pub(crate) num_imported_globals: u32,
    /// The type index of every tag (imported first).
    pub(crate) tags: Vec<u32>,
    pub(crate) num_imported_tags: u32,
    pub(crate) exports: Vec<Export>,
    pub(crate) start: Option<u32>,
    pub(crate) elems: Vec<ElemSegment>,
    pub(crate) datas: Vec<DataSegment>,
    /// The defined functions' code as every instance starts with it: a stub
    /// ([`CompiledFunc::is_lazy`]) for each function lowered on its first call, the lowered code of
    /// those lowered at load (the few whose size could make their lowering fail).
    pub(crate) code: Vec<CompiledFunc>,
    /// The `v128.const` values and `i8x16.shuffle` lane masks of the code lowered at load, which
    /// names them by index (`Instr::V128Const`, `Instr::I8x16Shuffle`); each instance extends
    /// its copy as it lowers more.
    pub(crate) pool: Vec<[u8; 16]>,
    /// The validated bodies of the functions not lowered yet.
    pub(crate) bodies: Option<Bodies>,
    /// Names from the `name` custom section.
    pub(crate) name: Option<String>,
    pub(crate) func_names: HashMap<u32, String>,
    /// Length of the module bytes.
    pub(crate) byte_len: u64,
    /// Whether any function makes a tail call (`return_call`, `return_call_indirect`): a frame
    /// may then hold another function than the call that made it (restore checks allow for it).
    pub(crate) tail_calls: bool,
    /// How the bodies were lowered.
    pub(crate) lowering: compile::Lowering,
}

/// Bodies to validate and lower: what the validator handed out, and the bytes.
type Body<'a> = (wasmparser::FuncToValidate<wasmparser::ValidatorResources>, wasmparser::FunctionBody<'a>);

/// What lowering a function after the load needs: the code section's bytes and the validator's
/// view of the module.
pub(crate) struct Bodies {
    /// The code section (`base` 0: the whole module, shared with the caller).
    bytes: Arc<Vec<u8>>,
    /// Module offset of `bytes[0]`.
    base: u64,
    /// Module offsets of each defined function's body (start, end).
    ranges: Vec<(u64, u64)>,
    resources: wasmparser::ValidatorResources,
    features: WasmFeatures,
}

impl std::fmt::Debug for Bodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bodies({} bytes at {}, {} functions)", self.bytes.len(), self.base, self.ranges.len())
    }
}

/// A body lowered at load rather than on its first call: the lowering refuses a function of more
/// than 65535 slots of locals and operands, and that must be an error of the load, as it always
/// was. Validation sees the locals and the operand and control stack heights, which bound the
/// slots from above (a `v128` takes two; the calls' and `try`s' scratch slots, at most 2 × 2000
/// for the 1000 parameters and 1000 results a type can have, are the margin).
fn lower_at_load(local_slots: u64, max_operands: u64, max_controls: u64) -> bool {
    local_slots + 2 * (max_operands + max_controls) + 4200 > u16::MAX as u64
}

/// Validates one body without lowering it (what the lowering would refuse besides validation
/// is refused too: GC types and instructions). Returns whether it makes tail calls, and whether
/// it must be lowered at load ([`lower_at_load`]). `fast`: through the validator's visitor
/// ([`compile::validate`]), `Ok(None)` if that finds anything wrong (the slow way, with a fresh
/// validator, then says what).
fn validate_body(
    v: &mut wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    param_slots: u64,
    body: &wasmparser::FunctionBody<'_>,
    fast: bool,
) -> Result<Option<(bool, bool)>, Error> {
    let mut locals = body.get_locals_reader().map_err(Error::from_parser)?;
    let mut local_slots = param_slots;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, vt) = locals.read().map_err(Error::from_parser)?;
        let t = val_type(vt).map_err(|message| Error::Invalid { offset: Some(offset), message })?;
        v.define_locals(offset, count, vt).map_err(Error::from_parser)?;
        local_slots = local_slots.saturating_add(count as u64 * t.slots() as u64);
    }
    let mut br = body.get_binary_reader_for_operators().map_err(Error::from_parser)?;
    // As the lowering reads them (so that `in_scope` names the legacy exception operators).
    br.set_features(features() | WasmFeatures::LEGACY_EXCEPTIONS);
    let mut reader = wasmparser::OperatorsReader::new(br);
    if fast {
        return Ok(compile::validate::scan(v, reader)
            .map(|s| (s.tail, lower_at_load(local_slots, s.operands as u64, s.controls as u64))));
    }
    let (mut tail, mut operands, mut controls) = (false, 0u32, 0u32);
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset().map_err(Error::from_parser)?;
        in_scope(&op).map_err(|message| Error::Invalid { offset: Some(offset), message })?;
        tail |= matches!(
            op,
            Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::ReturnCallRef { .. }
        );
        v.op(offset, &op).map_err(Error::from_parser)?;
        operands = operands.max(v.operand_stack_height());
        controls = controls.max(v.control_stack_height());
    }
    reader.finish().map_err(Error::from_parser)?;
    Ok(Some((tail, lower_at_load(local_slots, operands as u64, controls as u64))))
}

/// Below this many bytes of module, bodies are validated on the calling thread (starting
/// threads would cost more than it saves).
const PARALLEL_LOWERING_MIN: usize = 256 << 10;

/// How many threads to validate a module of `len` bytes on: up to 4 where there are threads.
fn lowering_threads(len: usize) -> usize {
    if cfg!(target_os = "wasi") || len < PARALLEL_LOWERING_MIN {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Validates `bodies` in order on up to `threads` threads (contiguous runs of about equal
/// byte size each), lowering at load only those [`lower_at_load`] names; the error is that of
/// the first invalid body, as if they had been done one by one. The result does not depend on
/// the threads.
fn validate_all(m: &Module, bodies: Vec<Body<'_>>, threads: usize) -> Result<Validated, Error> {
    fn run(m: &Module, bodies: Vec<Body<'_>>) -> Result<Validated, Error> {
        let mut ctx = compile::Context::default();
        let mut allocs = wasmparser::FuncValidatorAllocations::default();
        let mut out = Validated { code: Vec::with_capacity(bodies.len()), ..Default::default() };
        for (func, body) in bodies {
            let validator = |allocs| {
                wasmparser::FuncToValidate {
                    resources: func.resources.clone(),
                    index: func.index,
                    ty: func.ty,
                    features: func.features,
                }
                .into_validator(allocs)
            };
            let param_slots = m.func_type(func.index).param_slots() as u64;
            let mut found = None;
            for fast in [true, false] {
                let mut fv = validator(std::mem::take(&mut allocs));
                let r = validate_body(&mut fv, param_slots, &body, fast);
                allocs = fv.into_allocations();
                found = r?;
                if found.is_some() {
                    break;
                }
            }
            let (tail, now) = found.unwrap_or((true, true));
            out.tail_calls |= tail;
            out.code.push(if now {
                let mut fv = validator(std::mem::take(&mut allocs));
                let cf = compile::translate(&mut ctx, m, &mut fv, body)?;
                allocs = fv.into_allocations();
                cf
            } else {
                CompiledFunc::lazy()
            });
        }
        out.pool = std::mem::take(&mut ctx.pool);
        Ok(out)
    }
    let size = |b: &wasmparser::FunctionBody<'_>| {
        let r = b.range();
        (r.end - r.start) as usize
    };
    let total: usize = bodies.iter().map(|(_, b)| size(b)).sum();
    if threads <= 1 || bodies.len() < 2 {
        return run(m, bodies);
    }
    // Contiguous runs of about `total / threads` bytes.
    let per = total.div_ceil(threads);
    let mut runs: Vec<Vec<Body<'_>>> = vec![Vec::new()];
    let mut bytes = 0;
    for b in bodies {
        let n = size(&b.1);
        if bytes >= per && runs.len() < threads {
            runs.push(Vec::new());
            bytes = 0;
        }
        bytes += n;
        if let Some(r) = runs.last_mut() {
            r.push(b);
        }
    }
    let results: Vec<Result<Validated, Error>> = std::thread::scope(|s| {
        let mut runs = runs.into_iter();
        // The first run on this thread, the others on their own (or here, if one cannot start).
        let first = runs.next().unwrap_or_default();
        let handles: Vec<_> = runs
            .map(|r| {
                let shared = std::sync::Arc::new(std::sync::Mutex::new(Some(r)));
                let job = shared.clone();
                let h = std::thread::Builder::new().spawn_scoped(s, move || {
                    let r = job.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
                    run(m, r)
                });
                (h.ok(), shared)
            })
            .collect();
        let mut out = vec![run(m, first)];
        for (h, shared) in handles {
            out.push(match h.map(|h| h.join()) {
                Some(Ok(r)) => r,
                Some(Err(p)) => std::panic::resume_unwind(p),
                None => run(m, shared.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default()),
            });
        }
        out
    });
    // Each run numbered its pool from 0: the later runs' instructions are renumbered.
    let mut all = Validated::default();
    for r in results {
        let Validated { mut code, pool, tail_calls } = r?;
        let base = all.pool.len() as u32;
        for f in &mut code {
            f.rebase_pool(base);
        }
        all.code.extend(code);
        all.pool.extend(pool);
        all.tail_calls |= tail_calls;
    }
    Ok(all)
}

/// The code section validated: the defined functions' code (stubs for those lowered later),
/// the pool of the code lowered, and whether any function makes tail calls.
#[derive(Default)]
struct Validated {
    code: Vec<CompiledFunc>,
    pool: Vec<[u8; 16]>,
    tail_calls: bool,
}

pub(crate) fn val_type(t: wasmparser::ValType) -> Result<ValType, String> {
    match t {
        wasmparser::ValType::Ref(r) => ref_type(r),
        t => full_type(t).map(FullType::repr),
    }
}

/// A value type of the module's sections (types, imports, globals, tables, locals) in full.
pub(crate) fn full_type(t: wasmparser::ValType) -> Result<FullType, String> {
    use wasmparser::ValType as W;
    Ok(match t {
        W::I32 => FullType::Num(ValType::I32),
        W::I64 => FullType::Num(ValType::I64),
        W::F32 => FullType::Num(ValType::F32),
        W::F64 => FullType::Num(ValType::F64),
        W::Ref(r) => ref_full(r)?,
        W::V128 => FullType::Num(ValType::V128),
    })
}

/// A reference type of the module's sections in full. The heap types of GC are refused.
pub(crate) fn ref_full(r: wasmparser::RefType) -> Result<FullType, String> {
    use wasmparser::{AbstractHeapType as A, HeapType as H, UnpackedIndex as U};
    let heap = match r.heap_type() {
        H::Concrete(U::Module(i)) => HeapType::Type(i),
        H::Abstract { shared: false, ty: A::Func } => HeapType::Func,
        H::Abstract { shared: false, ty: A::Extern } => HeapType::Extern,
        H::Abstract { shared: false, ty: A::NoFunc } => HeapType::NoFunc,
        H::Abstract { shared: false, ty: A::NoExtern } => HeapType::NoExtern,
        H::Abstract { shared: false, ty: A::Exn } => HeapType::Exn,
        H::Abstract { shared: false, ty: A::NoExn } => HeapType::NoExn,
        H::Abstract { shared: true, .. } => {
            return Err(format!(
                "reference type {r} needs shared-everything threads, which chiwawa does not support"
            ))
        }
        _ => {
            return Err(format!(
                "reference type {r} needs garbage collection (GC), which chiwawa does not support"
            ))
        }
    };
    Ok(FullType::Ref { nullable: r.is_nullable(), heap })
}

/// The run-time representation of a reference type, wherever it appears: a concrete type may
/// be named by its module index or, inside function bodies, its validator id. Operands are
/// typed more precisely by validation than declared types are (`ref.func` pushes a non-null
/// reference to its concrete function type, `ref.null func` one to the bottom type `nofunc`):
/// all of them are `funcref`s at run time (and `noextern` an `externref`, `noexn` an `exnref`).
pub(crate) fn ref_type(r: wasmparser::RefType) -> Result<ValType, String> {
    match r.heap_type() {
        wasmparser::HeapType::Concrete(_) | wasmparser::HeapType::Exact(_) => Ok(ValType::FuncRef),
        _ => ref_full(r).map(FullType::repr),
    }
}

fn const_expr(e: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, String> {
    let mut r = e.get_operators_reader();
    let op = r.read().map_err(|e| e.to_string())?;
    let second = r.clone().read().map_err(|e| e.to_string())?;
    if !matches!(second, Operator::End) {
        return extended_const(e);
    }
    let c = match op {
        Operator::I32Const { value } => ConstExpr::I32(value),
        Operator::I64Const { value } => ConstExpr::I64(value),
        Operator::F32Const { value } => ConstExpr::F32(value.bits()),
        Operator::F64Const { value } => ConstExpr::F64(value.bits()),
        Operator::V128Const { value } => ConstExpr::V128(u128::from_le_bytes(*value.bytes())),
        Operator::RefNull { hty } => {
            ConstExpr::RefNull(ref_type(wasmparser::RefType::new(true, hty).ok_or("bad heap type")?)?)
        }
        Operator::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
        Operator::GlobalGet { global_index } => ConstExpr::GlobalGet(global_index),
        other => {
            in_scope(&other)?;
            return Err(format!("unsupported constant expression {other:?}"));
        }
    };
    match r.read().map_err(|e| e.to_string())? {
        Operator::End => Ok(c),
        other => Err(format!("unsupported constant expression (extended-const) {other:?}")),
    }
}

/// An extended constant expression (more than one instruction), as postfix [`ConstOp`]s.
fn extended_const(e: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, String> {
    let mut ops = Vec::new();
    for op in e.get_operators_reader() {
        ops.push(match op.map_err(|e| e.to_string())? {
            Operator::I32Const { value } => ConstOp::I32(value),
            Operator::I64Const { value } => ConstOp::I64(value),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            Operator::End => break,
            other => {
                in_scope(&other)?;
                return Err(format!("unsupported constant expression {other:?}"));
            }
        });
    }
    Ok(ConstExpr::Extended(ops.into()))
}

fn table_type(t: &wasmparser::TableType) -> Result<TableType, String> {
    let elem = ref_full(t.element_type)?;
    Ok(TableType { ty: elem.repr(), elem, min: t.initial, max: t.maximum, is64: t.table64 })
}

fn memory_type(m: &wasmparser::MemoryType) -> Result<MemoryType, String> {
    if m.shared {
        return Err("shared memories (threads) are not supported".into());
    }
    if m.page_size_log2.is_some_and(|p| p != 16) {
        return Err("custom page sizes are not supported".into());
    }
    Ok(MemoryType { min: m.initial, max: m.maximum, is64: m.memory64 })
}

fn global_type(g: &wasmparser::GlobalType) -> Result<GlobalType, String> {
    let full = full_type(g.content_type)?;
    Ok(GlobalType { ty: full.repr(), full, mutable: g.mutable })
}

impl Module {
    /// Parses, validates and compiles a binary module.
    pub fn new(bytes: &[u8]) -> Result<Module, Error> {
        let lowering = compile::Lowering::from_env().map_err(Error::Other)?;
        Self::new_with(bytes, lowering, lowering_threads(bytes.len()))
    }

    /// [`Module::new`] of bytes the module keeps a share of for the functions it lowers later
    /// (rather than a copy of its code section).
    pub fn new_shared(bytes: Arc<Vec<u8>>) -> Result<Module, Error> {
        let lowering = compile::Lowering::from_env().map_err(Error::Other)?;
        let threads = lowering_threads(bytes.len());
        Self::new_in(&bytes, Some(&bytes), lowering, threads)
    }

    /// [`Module::new`] with the given lowering (whatever `CHIWAWA_LOWERING` says).
    pub fn with_lowering(bytes: &[u8], lowering: compile::Lowering) -> Result<Module, Error> {
        Self::new_with(bytes, lowering, lowering_threads(bytes.len()))
    }

    /// [`Module::new`], validating the function bodies on up to `threads` threads.
    #[cfg(test)]
    pub(crate) fn new_with_threads(bytes: &[u8], threads: usize) -> Result<Module, Error> {
        let lowering = compile::Lowering::from_env().map_err(Error::Other)?;
        Self::new_with(bytes, lowering, threads)
    }

    fn new_with(bytes: &[u8], lowering: compile::Lowering, threads: usize) -> Result<Module, Error> {
        Self::new_in(bytes, None, lowering, threads)
    }

    /// Parses `bytes`; `shared`: the same bytes, to keep rather than copy.
    fn new_in(
        bytes: &[u8],
        shared: Option<&Arc<Vec<u8>>>,
        lowering: compile::Lowering,
        threads: usize,
    ) -> Result<Module, Error> {
        let mut m = Module { byte_len: bytes.len() as u64, lowering, ..Default::default() };
        let mut validator = Validator::new_with_features(features());
        let mut pending = Vec::new();
        let mut code_count = 0usize;
        let mut code_range = 0..0;
        let mut parser = Parser::new(0);
        parser.set_features(features());
        for payload in parser.parse_all(bytes) {
            let payload = payload.map_err(Error::from_parser)?;
            let valid = validator.payload(&payload).map_err(Error::from_parser)?;
            let here = |e: String| Error::Invalid { offset: None, message: e };
            match &payload {
                Payload::TypeSection(r) => {
                    for ty in r.clone().into_iter_err_on_gc_types() {
                        let ty = ty.map_err(|e| {
                            if e.message().contains("gc proposal") {
                                Error::Invalid {
                                    offset: Some(e.offset()),
                                    message:
                                        "struct and array types, recursion groups and subtypes need garbage \
                                              collection (GC), which chiwawa does not support"
                                            .into(),
                                }
                            } else {
                                Error::from_parser(e)
                            }
                        })?;
                        let params = ty.params().iter().map(|t| full_type(*t)).collect::<Result<_, _>>();
                        let results = ty.results().iter().map(|t| full_type(*t)).collect::<Result<_, _>>();
                        let sig = Sig { params: params.map_err(here)?, results: results.map_err(here)? };
                        m.types.push(sig.func_type());
                        m.sigs.push(sig);
                    }
                }
                Payload::ImportSection(r) => {
                    for imp in r.clone().into_imports() {
                        let imp = imp.map_err(Error::from_parser)?;
                        let kind = match imp.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                                m.funcs.push(t);
                                m.num_imported_funcs += 1;
                                ImportKind::Func(t)
                            }
                            TypeRef::Table(t) => {
                                let t = table_type(&t).map_err(here)?;
                                m.tables.push(t);
                                m.table_inits.push(None);
                                m.num_imported_tables += 1;
                                ImportKind::Table(t)
                            }
                            TypeRef::Memory(t) => {
                                let t = memory_type(&t).map_err(here)?;
                                m.memories.push(t);
                                m.num_imported_memories += 1;
                                ImportKind::Memory(t)
                            }
                            TypeRef::Global(t) => {
                                let t = global_type(&t).map_err(here)?;
                                m.globals.push(t);
                                m.num_imported_globals += 1;
                                ImportKind::Global(t)
                            }
                            TypeRef::Tag(t) => {
                                m.tags.push(t.func_type_idx);
                                m.num_imported_tags += 1;
                                ImportKind::Tag(t.func_type_idx)
                            }
                        };
                        m.imports.push(Import { module: imp.module.into(), name: imp.name.into(), kind });
                    }
                }
                Payload::FunctionSection(r) => {
                    for t in r.clone() {
                        m.funcs.push(t.map_err(Error::from_parser)?);
                    }
                }
                Payload::TableSection(r) => {
                    for t in r.clone() {
                        let t = t.map_err(Error::from_parser)?;
                        m.tables.push(table_type(&t.ty).map_err(here)?);
                        m.table_inits.push(match &t.init {
                            wasmparser::TableInit::RefNull => None,
                            wasmparser::TableInit::Expr(e) => Some(const_expr(e).map_err(here)?),
                        });
                    }
                }
                Payload::TagSection(r) => {
                    for t in r.clone() {
                        m.tags.push(t.map_err(Error::from_parser)?.func_type_idx);
                    }
                }
                Payload::MemorySection(r) => {
                    for t in r.clone() {
                        m.memories.push(memory_type(&t.map_err(Error::from_parser)?).map_err(here)?);
                    }
                }
                Payload::GlobalSection(r) => {
                    for g in r.clone() {
                        let g = g.map_err(Error::from_parser)?;
                        m.globals.push(global_type(&g.ty).map_err(here)?);
                        m.global_inits.push(const_expr(&g.init_expr).map_err(here)?);
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r.clone() {
                        let e = e.map_err(Error::from_parser)?;
                        let kind = match e.kind {
                            ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
                            ExternalKind::Table => ExportKind::Table,
                            ExternalKind::Memory => ExportKind::Memory,
                            ExternalKind::Global => ExportKind::Global,
                            ExternalKind::Tag => ExportKind::Tag,
                        };
                        m.exports.push(Export { name: e.name.into(), kind, index: e.index });
                    }
                }
                Payload::StartSection { func, .. } => m.start = Some(*func),
                Payload::ElementSection(r) => {
                    for e in r.clone() {
                        let e = e.map_err(Error::from_parser)?;
                        let mode = match &e.kind {
                            ElementKind::Passive => ElemMode::Passive,
                            ElementKind::Declared => ElemMode::Declared,
                            ElementKind::Active { table_index, offset_expr } => ElemMode::Active {
                                table: table_index.unwrap_or(0),
                                offset: const_expr(offset_expr).map_err(here)?,
                            },
                        };
                        let (ty, items) = match &e.items {
                            ElementItems::Functions(r) => {
                                let mut v = Vec::new();
                                for f in r.clone() {
                                    v.push(ConstExpr::RefFunc(f.map_err(Error::from_parser)?));
                                }
                                (ValType::FuncRef, v)
                            }
                            ElementItems::Expressions(rt, r) => {
                                let mut v = Vec::new();
                                for x in r.clone() {
                                    v.push(const_expr(&x.map_err(Error::from_parser)?).map_err(here)?);
                                }
                                (ref_type(*rt).map_err(here)?, v)
                            }
                        };
                        m.elems.push(ElemSegment { mode, ty, items });
                    }
                }
                Payload::DataSection(r) => {
                    for d in r.clone() {
                        let d = d.map_err(Error::from_parser)?;
                        let mode = match &d.kind {
                            wasmparser::DataKind::Passive => DataMode::Passive,
                            wasmparser::DataKind::Active { memory_index, offset_expr } => DataMode::Active {
                                memory: *memory_index,
                                offset: const_expr(offset_expr).map_err(here)?,
                            },
                        };
                        m.datas.push(DataSegment { mode, bytes: d.data.to_vec() });
                    }
                }
                Payload::CustomSection(c) => {
                    if let wasmparser::KnownCustom::Name(names) = c.as_known() {
                        read_names(&mut m, names);
                    }
                }
                Payload::CodeSectionStart { count, unchecked_range, .. } => {
                    code_count = *count as usize;
                    code_range = unchecked_range.clone();
                }
                Payload::CodeSectionEntry(body) => {
                    let func = match valid {
                        wasmparser::ValidPayload::Func(f, _) => f,
                        _ => unreachable!("code entries always yield a function to validate"),
                    };
                    pending.push((func, body.clone()));
                    // The last body: validate them all (on several threads where there are
                    // any), before anything after the code section is looked at.
                    if pending.len() == code_count {
                        let ranges = pending.iter().map(|(_, b)| (b.range().start, b.range().end)).collect();
                        let (resources, features) = (pending[0].0.resources.clone(), pending[0].0.features);
                        let v = validate_all(&m, std::mem::take(&mut pending), threads)?;
                        (m.code, m.pool, m.tail_calls) = (v.code, v.pool, v.tail_calls);
                        let (bytes, base) = match shared {
                            Some(all) => (all.clone(), 0),
                            // (In bounds: every body in it was read.)
                            None => (
                                Arc::new(
                                    usize::try_from(code_range.start)
                                        .ok()
                                        .zip(usize::try_from(code_range.end).ok())
                                        .and_then(|(s, e)| bytes.get(s..e))
                                        .unwrap_or_default()
                                        .to_vec(),
                                ),
                                code_range.start,
                            ),
                        };
                        m.bodies = Some(Bodies { bytes, base, ranges, resources, features });
                    }
                }
                _ => {}
            }
        }
        Ok(m)
    }

    /// The signature of function `index` (module index space).
    /// The type section.
    pub fn types(&self) -> &[FuncType] {
        &self.types
    }

    pub fn imports(&self) -> &[Import] {
        &self.imports
    }

    /// Type index of every function (imported first).
    pub fn funcs(&self) -> &[u32] {
        &self.funcs
    }

    pub fn num_imported_funcs(&self) -> u32 {
        self.num_imported_funcs
    }

    /// Every table (imported first).
    pub fn tables(&self) -> &[TableType] {
        &self.tables
    }

    /// Every memory (imported first).
    pub fn memories(&self) -> &[MemoryType] {
        &self.memories
    }

    /// Every global (imported first).
    pub fn globals(&self) -> &[GlobalType] {
        &self.globals
    }

    pub fn exports(&self) -> &[Export] {
        &self.exports
    }

    /// The start function's index, if any.
    pub fn start(&self) -> Option<u32> {
        self.start
    }

    /// Lowers every defined function (function `num_imported_funcs() + i` is the result's
    /// `[i]`), as their first calls would, with the pool their code names (the second result).
    /// A run lowers only what it calls; this is for tools and tests.
    pub fn lower_all(&self) -> Result<(Vec<CompiledFunc>, Vec<[u8; 16]>), Error> {
        // As an instance starts: the code lowered at load and its pool, the rest added to it.
        let mut pool = self.pool.clone();
        let mut out = Vec::with_capacity(self.code.len());
        for (k, cf) in self.code.iter().enumerate() {
            out.push(if cf.is_lazy() { self.lower(k, &mut pool)? } else { cf.clone() });
        }
        Ok((out, pool))
    }

    /// Lowers defined function `k` (module function `num_imported_funcs() + k`) from its body,
    /// appending the constants its code names to `pool`.
    pub(crate) fn lower(&self, k: usize, pool: &mut Vec<[u8; 16]>) -> Result<CompiledFunc, Error> {
        let b =
            self.bodies.as_ref().ok_or_else(|| Error::Other("the module keeps no function bodies".into()))?;
        let &(start, end) =
            b.ranges.get(k).ok_or_else(|| Error::Other(format!("no defined function {k}")))?;
        let bytes = usize::try_from(start - b.base)
            .ok()
            .zip(usize::try_from(end - b.base).ok())
            .and_then(|(s, e)| b.bytes.get(s..e))
            .ok_or_else(|| Error::Other(format!("function body {k} lies outside the code section")))?;
        let body =
            wasmparser::FunctionBody::new(wasmparser::BinaryReader::new_features(bytes, start, b.features));
        let index = self.num_imported_funcs + k as u32;
        let func = wasmparser::FuncToValidate {
            resources: b.resources.clone(),
            index,
            ty: self.funcs[index as usize],
            features: b.features,
        };
        let mut fv = func.into_validator(Default::default());
        // Into a pool of its own, appended to `pool` on success (a failed lowering leaves
        // `pool` as it was: code lowered before names entries of it).
        let mut ctx = compile::Context::default();
        let mut cf = compile::translate(&mut ctx, self, &mut fv, body)?;
        cf.rebase_pool(pool.len() as u32);
        pool.append(&mut ctx.pool);
        Ok(cf)
    }

    /// The module name from the `name` custom section.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The lowering the bodies went through.
    pub fn lowering(&self) -> compile::Lowering {
        self.lowering
    }

    /// Length of the module bytes.
    pub fn byte_len(&self) -> u64 {
        self.byte_len
    }

    pub fn func_type(&self, index: u32) -> &FuncType {
        &self.types[self.funcs[index as usize] as usize]
    }

    /// A printable name for function `index`: from the name section, an export, or `#index`.
    pub fn func_display_name(&self, index: u32) -> String {
        if let Some(n) = self.func_names.get(&index) {
            return n.clone();
        }
        if let Some(e) = self.exports.iter().find(|e| e.kind == ExportKind::Func && e.index == index) {
            return e.name.clone();
        }
        format!("#{index}")
    }

    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }
}

fn read_names(m: &mut Module, names: wasmparser::NameSectionReader<'_>) {
    // Names are best-effort diagnostics: a malformed name section is ignored, like other runtimes do.
    for n in names {
        match n {
            Ok(wasmparser::Name::Module { name, .. }) => m.name = Some(name.to_string()),
            Ok(wasmparser::Name::Function(map)) => {
                for naming in map.into_iter().flatten() {
                    m.func_names.insert(naming.index, naming.name.to_string());
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}
