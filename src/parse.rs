//! Front end: `wasmparser` parses and validates the module bytes into a [`Module`], lowering every
//! function body once (validation is fused with the lowering, as in wasmi).
//!
//! Scope: WebAssembly 2.0 without SIMD.

use crate::compile::{self, ir::CompiledFunc};
use crate::error::Error;
use crate::runtime::value::{FuncType, ValType};
use std::collections::HashMap;
use wasmparser::{
    ElementItems, ElementKind, ExternalKind, Operator, Parser, Payload, TypeRef, Validator, WasmFeatures,
};

/// The features chiwawa implements: Wasm 2.0 minus SIMD.
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD)
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::TAIL_CALL
}

/// A constant expression: one constant instruction (Wasm 2.0), or an extended one (Wasm 3.0:
/// `i32`/`i64` `add`, `sub` and `mul` over constants and `global.get`).
#[derive(Clone, Debug, PartialEq)]
pub enum ConstExpr {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
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
    pub min: u32,
    pub max: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    pub min: u32,
    pub max: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    pub ty: ValType,
    pub mutable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
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

/// A parsed, validated and compiled module. Immutable; shared by its instances.
#[derive(Debug, Default)]
pub struct Module {
    pub(crate) types: Vec<FuncType>,
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
    pub(crate) exports: Vec<Export>,
    pub(crate) start: Option<u32>,
    pub(crate) elems: Vec<ElemSegment>,
    pub(crate) datas: Vec<DataSegment>,
    /// Lowered bodies of the defined functions.
    pub(crate) code: Vec<CompiledFunc>,
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

/// Below this many bytes of module, bodies are lowered on the calling thread (starting threads
/// would cost more than it saves).
const PARALLEL_LOWERING_MIN: usize = 256 << 10;

/// How many threads to lower a module of `len` bytes on: up to 4 where there are threads.
fn lowering_threads(len: usize) -> usize {
    if cfg!(target_os = "wasi") || len < PARALLEL_LOWERING_MIN {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Validates and lowers `bodies` in order on up to `threads` threads (contiguous runs of
/// about equal byte size each); the error is that of the first invalid body, as if they had
/// been done one by one. The lowered code does not depend on the threads.
fn lower_all(m: &Module, bodies: Vec<Body<'_>>, threads: usize) -> Result<Vec<CompiledFunc>, Error> {
    fn run(m: &Module, bodies: Vec<Body<'_>>) -> Result<Vec<CompiledFunc>, Error> {
        let mut ctx = compile::Context::default();
        let mut allocs = wasmparser::FuncValidatorAllocations::default();
        let mut out = Vec::with_capacity(bodies.len());
        for (func, body) in bodies {
            let mut fv = func.into_validator(std::mem::take(&mut allocs));
            out.push(compile::translate(&mut ctx, m, &mut fv, body)?);
            allocs = fv.into_allocations();
        }
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
    let results: Vec<Result<Vec<CompiledFunc>, Error>> = std::thread::scope(|s| {
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
    let mut code = Vec::new();
    for r in results {
        code.extend(r?);
    }
    Ok(code)
}

pub(crate) fn val_type(t: wasmparser::ValType) -> Result<ValType, String> {
    use wasmparser::ValType as W;
    Ok(match t {
        W::I32 => ValType::I32,
        W::I64 => ValType::I64,
        W::F32 => ValType::F32,
        W::F64 => ValType::F64,
        W::Ref(r) => ref_type(r)?,
        W::V128 => return Err("SIMD (v128) is not supported".into()),
    })
}

/// The runtime type of an operand as the validator types it. Validation is more precise than
/// the declared types: `ref.func` pushes a non-null reference to its concrete function type,
/// `ref.null func` a reference to the bottom type `nofunc`. All of them are `funcref`s at run
/// time (and `noextern` an `externref`).
pub(crate) fn operand_type(t: wasmparser::ValType) -> Result<ValType, String> {
    use wasmparser::{AbstractHeapType as A, HeapType as H};
    match t {
        wasmparser::ValType::Ref(r) => match r.heap_type() {
            H::Concrete(_) | H::Exact(_) | H::Abstract { shared: false, ty: A::Func | A::NoFunc } => {
                Ok(ValType::FuncRef)
            }
            H::Abstract { shared: false, ty: A::Extern | A::NoExtern } => Ok(ValType::ExternRef),
            _ => Err(format!("unsupported reference type {r:?}")),
        },
        other => val_type(other),
    }
}

pub(crate) fn ref_type(r: wasmparser::RefType) -> Result<ValType, String> {
    if r.is_func_ref() {
        Ok(ValType::FuncRef)
    } else if r.is_extern_ref() {
        Ok(ValType::ExternRef)
    } else {
        Err(format!("unsupported reference type {r:?}"))
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
        Operator::RefNull { hty } => {
            ConstExpr::RefNull(ref_type(wasmparser::RefType::new(true, hty).ok_or("bad heap type")?)?)
        }
        Operator::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
        Operator::GlobalGet { global_index } => ConstExpr::GlobalGet(global_index),
        other => return Err(format!("unsupported constant expression {other:?}")),
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
            other => return Err(format!("unsupported constant expression {other:?}")),
        });
    }
    Ok(ConstExpr::Extended(ops.into()))
}

fn table_type(t: &wasmparser::TableType) -> Result<TableType, String> {
    Ok(TableType {
        ty: ref_type(t.element_type)?,
        min: u32::try_from(t.initial).map_err(|_| "table64 is not supported")?,
        max: t.maximum.map(|m| m.min(u32::MAX as u64) as u32),
    })
}

fn memory_type(m: &wasmparser::MemoryType) -> Result<MemoryType, String> {
    if m.memory64 || m.shared {
        return Err("memory64 and shared memories are not supported".into());
    }
    Ok(MemoryType { min: m.initial as u32, max: m.maximum.map(|m| m as u32) })
}

fn global_type(g: &wasmparser::GlobalType) -> Result<GlobalType, String> {
    Ok(GlobalType { ty: val_type(g.content_type)?, mutable: g.mutable })
}

impl Module {
    /// Parses, validates and compiles a binary module.
    pub fn new(bytes: &[u8]) -> Result<Module, Error> {
        let lowering = compile::Lowering::from_env().map_err(Error::Other)?;
        Self::new_with(bytes, lowering, lowering_threads(bytes.len()))
    }

    /// [`Module::new`] with the given lowering (whatever `CHIWAWA_LOWERING` says).
    pub fn with_lowering(bytes: &[u8], lowering: compile::Lowering) -> Result<Module, Error> {
        Self::new_with(bytes, lowering, lowering_threads(bytes.len()))
    }

    /// [`Module::new`], validating and lowering the function bodies on up to `threads` threads.
    #[cfg(test)]
    pub(crate) fn new_with_threads(bytes: &[u8], threads: usize) -> Result<Module, Error> {
        let lowering = compile::Lowering::from_env().map_err(Error::Other)?;
        Self::new_with(bytes, lowering, threads)
    }

    fn new_with(bytes: &[u8], lowering: compile::Lowering, threads: usize) -> Result<Module, Error> {
        let mut m = Module { byte_len: bytes.len() as u64, lowering, ..Default::default() };
        let mut validator = Validator::new_with_features(features());
        let mut pending = Vec::new();
        let mut code_count = 0usize;
        let mut parser = Parser::new(0);
        parser.set_features(features());
        for payload in parser.parse_all(bytes) {
            let payload = payload.map_err(Error::from_parser)?;
            let valid = validator.payload(&payload).map_err(Error::from_parser)?;
            let here = |e: String| Error::Invalid { offset: None, message: e };
            match &payload {
                Payload::TypeSection(r) => {
                    for ty in r.clone().into_iter_err_on_gc_types() {
                        let ty = ty.map_err(Error::from_parser)?;
                        let params = ty.params().iter().map(|t| val_type(*t)).collect::<Result<_, _>>();
                        let results = ty.results().iter().map(|t| val_type(*t)).collect::<Result<_, _>>();
                        m.types.push(FuncType {
                            params: params.map_err(here)?,
                            results: results.map_err(here)?,
                        });
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
                            TypeRef::Tag(_) => return Err(here("exception tags are not supported".into())),
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
                            ExternalKind::Tag => return Err(here("exception tags are not supported".into())),
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
                Payload::CodeSectionStart { count, .. } => {
                    code_count = *count as usize;
                }
                Payload::CodeSectionEntry(body) => {
                    let func = match valid {
                        wasmparser::ValidPayload::Func(f, _) => f,
                        _ => unreachable!("code entries always yield a function to validate"),
                    };
                    pending.push((func, body.clone()));
                    // The last body: lower them all (on several threads where there are any),
                    // before anything after the code section is looked at.
                    if pending.len() == code_count {
                        m.code = lower_all(&m, std::mem::take(&mut pending), threads)?;
                        m.tail_calls = m.code.iter().any(|f| {
                            f.code.iter().any(|i| {
                                matches!(
                                    i,
                                    crate::compile::ir::Instr::ReturnCall { .. }
                                        | crate::compile::ir::Instr::ReturnCallIndirect { .. }
                                )
                            })
                        });
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

    /// Lowered bodies of the defined functions (function `num_imported_funcs() + i` is `code()[i]`).
    pub fn code(&self) -> &[CompiledFunc] {
        &self.code
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
