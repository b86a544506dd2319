//! The instruction set of chiwawa's internal code: one table, from which `build.rs` writes
//! everything that must agree about it (see [`generate`]).
//!
//! Each row of [`table`] is one *operation* (a Wasm numeric or memory operator, named as
//! wasmparser's `Operator` variant) with its semantics, written once; the generator expands it
//! into every *form* the lowering may emit: one `Instr` kind per form, each with its handler.
//!
//! # Form names
//! `<operation><shape><fusion><registers>`, e.g. `I32LtSImmBrA`:
//! - shape (how the operands are given; none: all in slots):
//!   `Imm` right operand an immediate · `At` address `a + imm` · `Idx` address
//!   `base + (idx << shift)` · `K` stored value an immediate · `M` one operand loaded from memory
//!   at `a + imm` (`MR`: it is the right operand) · `U` memory update `mem = mem OP val` (`UR`:
//!   `val OP mem`) · `Step` loop step: `a += add` first;
//! - fusion: `Br`: branch to `target` if the result is true, instead of writing it;
//! - registers, last, in operand order: `A` operand `a` (or the address), `B` operand `b`, `V`
//!   the stored value (`C`: the condition, in the hand-written `SelectC`), taken from the
//!   register of its type instead of its slot: `fa` for f64 operands, `ia` for all others (see
//!   `compile::accumulator`).
//!
//! # What is generated (files in `$OUT_DIR`)
//! - `isa_ops.rs` (in `exec::ops`): the semantic function of each operation
//!   (`ops::i32_lt_s`), unless the row says it is hand-written there;
//! - `isa_kinds.rs` (in `compile::ir`): the `Instr` kinds of every form, by payload shape,
//!   and the pair kinds of [`pairs`];
//! - `isa_handlers.rs` (in `exec::handlers`): one handler per form, built from the operand and
//!   result templates of that file (`opnd!`, `put!`, `load!`, …) around the semantic function,
//!   and one per pair kind, which runs the handler bodies of its kinds in turn (`pair_step!`);
//! - `isa_pairs.rs` (in `compile::pairs`): the patterns the lowering makes pairs of;
//! - `isa_compile.rs` (in `compile::isa`): the lowering of each Wasm operator, the `narrow`
//!   readers, the accumulator's register rewrites and f64-writer set, compare→branch with
//!   negation and mirroring, the loop-step forms, and the f64 memory updates.
//!
//! To read them: `find "${CARGO_TARGET_DIR:-target}" -name 'isa_*.rs'` (one set per build
//! profile). Adding an operation whose forms exist already (a binary integer operation, a
//! comparison, a conversion, a load or store) is one row here; a new shape of operands needs a
//! template in `exec::handlers` and a payload in `compile::ir` too.

#![allow(dead_code)]

// ---- the table ------------------------------------------------------------------------------

/// Every operation. Semantics are Rust expressions over the operands `a` (and `b`): i32
/// values as `u32`, i64 as `u64`, floats as `f32`/`f64` unless a row says otherwise. `None`:
/// the function is hand-written in `exec::ops` under the operation's snake-case name.
pub fn table() -> Vec<Row> {
    vec![
        // ---- integer arithmetic: `dst = a OP b`
        int("I32Add", "a.wrapping_add(b)").imm().a().comm(),
        int("I32Sub", "a.wrapping_sub(b)").a().b().sub(),
        int("I32Mul", "a.wrapping_mul(b)").imm().a().comm(),
        int("I32DivS", "if b == 0 { Err(TrapKind::IntegerDivideByZero) } else if a as i32 == i32::MIN && b as i32 == -1 { Err(TrapKind::IntegerOverflow) } else { Ok((a as i32 / b as i32) as u32) }").traps(),
        int("I32DivU", "a.checked_div(b).ok_or(TrapKind::IntegerDivideByZero)").traps(),
        int("I32RemS", "if b == 0 { Err(TrapKind::IntegerDivideByZero) } else { Ok((a as i32).wrapping_rem(b as i32) as u32) }").traps(),
        int("I32RemU", "a.checked_rem(b).ok_or(TrapKind::IntegerDivideByZero)").traps(),
        int("I32And", "a & b").imm().a().comm(),
        int("I32Or", "a | b").imm().a().comm(),
        int("I32Xor", "a ^ b").imm().a().comm(),
        int("I32Shl", "a.wrapping_shl(b)").imm().a().b(),
        int("I32ShrS", "(a as i32).wrapping_shr(b) as u32").imm().a().b(),
        int("I32ShrU", "a.wrapping_shr(b)").imm().a().b(),
        int("I32Rotl", "a.rotate_left(b)").a(),
        int("I32Rotr", "a.rotate_right(b)").a(),
        int("I64Add", "a.wrapping_add(b)").imm().a().comm(),
        int("I64Sub", "a.wrapping_sub(b)").a().b().sub(),
        int("I64Mul", "a.wrapping_mul(b)").imm().a().comm(),
        int("I64DivS", "if b == 0 { Err(TrapKind::IntegerDivideByZero) } else if a as i64 == i64::MIN && b as i64 == -1 { Err(TrapKind::IntegerOverflow) } else { Ok((a as i64 / b as i64) as u64) }").traps(),
        int("I64DivU", "a.checked_div(b).ok_or(TrapKind::IntegerDivideByZero)").traps(),
        int("I64RemS", "if b == 0 { Err(TrapKind::IntegerDivideByZero) } else { Ok((a as i64).wrapping_rem(b as i64) as u64) }").traps(),
        int("I64RemU", "a.checked_rem(b).ok_or(TrapKind::IntegerDivideByZero)").traps(),
        int("I64And", "a & b").imm().a().comm(),
        int("I64Or", "a | b").imm().a().comm(),
        int("I64Xor", "a ^ b").imm().a().comm(),
        int("I64Shl", "a.wrapping_shl(b as u32)").imm().a().b(),
        int("I64ShrS", "(a as i64).wrapping_shr(b as u32) as u64").imm().a().b(),
        int("I64ShrU", "a.wrapping_shr(b as u32)").imm().a().b(),
        int("I64Rotl", "a.rotate_left(b as u32)").a(),
        int("I64Rotr", "a.rotate_right(b as u32)").a(),
        // ---- integer comparisons: `dst = a OP b`, with their mirror (`b OP a`) and negation
        cmp("I32Eq", "a == b", "I32Eq", "I32Ne"),
        cmp("I32Ne", "a != b", "I32Ne", "I32Eq"),
        cmp("I32LtS", "(a as i32) < (b as i32)", "I32GtS", "I32GeS"),
        cmp("I32LtU", "a < b", "I32GtU", "I32GeU"),
        cmp("I32GtS", "(a as i32) > (b as i32)", "I32LtS", "I32LeS"),
        cmp("I32GtU", "a > b", "I32LtU", "I32LeU"),
        cmp("I32LeS", "(a as i32) <= (b as i32)", "I32GeS", "I32GtS"),
        cmp("I32LeU", "a <= b", "I32GeU", "I32GtU"),
        cmp("I32GeS", "(a as i32) >= (b as i32)", "I32LeS", "I32LtS"),
        cmp("I32GeU", "a >= b", "I32LeU", "I32LtU"),
        cmp("I64Eq", "a == b", "I64Eq", "I64Ne"),
        cmp("I64Ne", "a != b", "I64Ne", "I64Eq"),
        cmp("I64LtS", "(a as i64) < (b as i64)", "I64GtS", "I64GeS"),
        cmp("I64LtU", "a < b", "I64GtU", "I64GeU"),
        cmp("I64GtS", "(a as i64) > (b as i64)", "I64LtS", "I64LeS"),
        cmp("I64GtU", "a > b", "I64LtU", "I64LeU"),
        cmp("I64LeS", "(a as i64) <= (b as i64)", "I64GeS", "I64GtS"),
        cmp("I64LeU", "a <= b", "I64GeU", "I64GtU"),
        cmp("I64GeS", "(a as i64) >= (b as i64)", "I64LeS", "I64LtS"),
        cmp("I64GeU", "a >= b", "I64LeU", "I64LtU"),
        // ---- float arithmetic and comparisons
        float("F32Add", "a + b"),
        float("F32Sub", "a - b"),
        float("F32Mul", "a * b"),
        float("F32Div", "a / b"),
        float_ops("F32Min"),
        float_ops("F32Max"),
        float("F32Copysign", "a.copysign(b)"),
        float("F32Eq", "a == b").bool(),
        float("F32Ne", "a != b").bool(),
        float("F32Lt", "a < b").bool(),
        float("F32Gt", "a > b").bool(),
        float("F32Le", "a <= b").bool(),
        float("F32Ge", "a >= b").bool(),
        // f64 arithmetic also takes an operand from the f64 register or from memory (`M`), and
        // updates memory (`U`).
        f64("F64Add", "a + b").comm(),
        f64("F64Sub", "a - b").b(),
        f64("F64Mul", "a * b").comm().ab(),
        f64("F64Div", "a / b").b(),
        float_ops("F64Min"),
        float_ops("F64Max"),
        float("F64Copysign", "a.copysign(b)"),
        float("F64Eq", "a == b").bool(),
        float("F64Ne", "a != b").bool(),
        float("F64Lt", "a < b").bool(),
        float("F64Gt", "a > b").bool(),
        float("F64Le", "a <= b").bool(),
        float("F64Ge", "a >= b").bool(),
        // ---- unary operations and conversions: (operand type, result type)
        un("I32Eqz", "u32", "bool", "a == 0").a(),
        un("I32Clz", "u32", "u32", "a.leading_zeros()").a(),
        un("I32Ctz", "u32", "u32", "a.trailing_zeros()").a(),
        un("I32Popcnt", "u32", "u32", "a.count_ones()").a(),
        un("I64Eqz", "u64", "bool", "a == 0").a(),
        un("I64Clz", "u64", "u64", "a.leading_zeros() as u64").a(),
        un("I64Ctz", "u64", "u64", "a.trailing_zeros() as u64").a(),
        un("I64Popcnt", "u64", "u64", "a.count_ones() as u64").a(),
        // Sign-bit operations on the bits; rounding keeps (and quiets) a NaN operand's bits.
        un("F32Abs", "u32", "u32", "a & 0x7fff_ffff"),
        un("F32Neg", "u32", "u32", "a ^ 0x8000_0000"),
        un("F32Ceil", "f32", "u32", "quiet32(a.ceil())"),
        un("F32Floor", "f32", "u32", "quiet32(a.floor())"),
        un("F32Trunc", "f32", "u32", "quiet32(a.trunc())"),
        un("F32Nearest", "f32", "u32", "quiet32(a.round_ties_even())"),
        un("F32Sqrt", "f32", "u32", "quiet32(a.sqrt())"),
        un("F64Abs", "u64", "u64", "a & 0x7fff_ffff_ffff_ffff"),
        un("F64Neg", "u64", "u64", "a ^ 0x8000_0000_0000_0000"),
        un("F64Ceil", "f64", "u64", "quiet64(a.ceil())"),
        un("F64Floor", "f64", "u64", "quiet64(a.floor())"),
        un("F64Trunc", "f64", "u64", "quiet64(a.trunc())"),
        un("F64Nearest", "f64", "u64", "quiet64(a.round_ties_even())"),
        un("F64Sqrt", "f64", "f64", "sqrt64(a)").a(),
        un("I32WrapI64", "u64", "u32", "a as u32").a(),
        un_ops("I32TruncF32S", "f32", "i32").traps(),
        un_ops("I32TruncF32U", "f32", "u32").traps(),
        un_ops("I32TruncF64S", "f64", "i32").traps(),
        un_ops("I32TruncF64U", "f64", "u32").traps(),
        un("I64ExtendI32S", "u32", "i64", "a as i32 as i64").a(),
        un_ops("I64TruncF32S", "f32", "i64").traps(),
        un_ops("I64TruncF32U", "f32", "u64").traps(),
        un_ops("I64TruncF64S", "f64", "i64").traps(),
        un_ops("I64TruncF64U", "f64", "u64").traps(),
        un("F32ConvertI32S", "u32", "f32", "a as i32 as f32"),
        un("F32ConvertI32U", "u32", "f32", "a as f32"),
        un("F32ConvertI64S", "u64", "f32", "a as i64 as f32"),
        un("F32ConvertI64U", "u64", "f32", "a as f32"),
        un("F32DemoteF64", "f64", "f32", "a as f32"),
        un("F64ConvertI32S", "u32", "f64", "a as i32 as f64"),
        un("F64ConvertI32U", "u32", "f64", "a as f64"),
        un("F64ConvertI64S", "u64", "f64", "a as i64 as f64"),
        un("F64ConvertI64U", "u64", "f64", "a as f64"),
        un("F64PromoteF32", "f32", "f64", "a as f64"),
        un("I32Extend8S", "u32", "i32", "a as i8 as i32").a(),
        un("I32Extend16S", "u32", "i32", "a as i16 as i32").a(),
        un("I64Extend8S", "u64", "i64", "a as i8 as i64").a(),
        un("I64Extend16S", "u64", "i64", "a as i16 as i64").a(),
        un("I64Extend32S", "u64", "i64", "a as i32 as i64").a(),
        // `as` casts from float to int saturate and map NaN to 0: exactly trunc_sat.
        un("I32TruncSatF32S", "f32", "i32", "a as i32"),
        un("I32TruncSatF32U", "f32", "u32", "a as u32"),
        un("I32TruncSatF64S", "f64", "i32", "a as i32"),
        un("I32TruncSatF64U", "f64", "u32", "a as u32"),
        un("I64TruncSatF32S", "f32", "i64", "a as i64"),
        un("I64TruncSatF32U", "f32", "u64", "a as u64"),
        un("I64TruncSatF64S", "f64", "i64", "a as i64"),
        un("I64TruncSatF64U", "f64", "u64", "a as u64"),
        // ---- loads: (type in memory, result type)
        load("I32Load", "u32", "u32").idx().wasm(&["F32Load"]),
        load("I64Load", "u64", "u64").idx(),
        load("F64Load", "f64", "f64").idx(),
        load("I32Load8S", "i8", "i32").idx(),
        load("I32Load8U", "u8", "u32").idx(),
        load("I32Load16S", "i16", "i32").idx(),
        load("I32Load16U", "u16", "u32").idx(),
        load("I64Load8S", "i8", "i64"),
        load("I64Load8U", "u8", "u64"),
        load("I64Load16S", "i16", "i64"),
        load("I64Load16U", "u16", "u64"),
        load("I64Load32S", "i32", "i64").idx(),
        load("I64Load32U", "u32", "u64").idx(),
        // ---- stores: (type in memory); `wide`: the value is 64 bits (an immediate must fit
        // a sign-extended i32); `f64v`: also a form storing the f64 register
        store("I32Store", "u32").idx().wasm(&["F32Store"]),
        store("I64Store", "u64").idx().wide().f64v().wasm(&["F64Store"]),
        store("I32Store8", "u8").idx().wasm(&["I64Store8"]),
        store("I32Store16", "u16").idx().wasm(&["I64Store16"]),
        store("I64Store32", "u32"),
    ]
    .into_iter()
    .chain(simd_table())
    .collect()
}

/// The pairs (`compile::pairs`): sequences of two to four kinds, in the order they run, that
/// one handler executes, one dispatch instead of two to four. Picked from per-pair execution
/// counts over the whole third-party corpus (issue 17; `docs/PERFORMANCE.md`, round 5).
///
/// Each row is `(pair kind, [first, second, …])`; only the last kind may transfer control
/// unconditionally (a branch, `br_table`, return, call, throw), conditional branches anywhere. The pair kind takes the first kind's
/// fields; the lowering gives it to the first instruction of such a sequence where the others
/// are reached by falling through alone, and leaves the others in place. Its handler runs each
/// kind's own handler body in turn (`pair_step!` in `exec::handlers`), so a pair is defined
/// here and nowhere else: its `Instr` kind (`isa_kinds.rs`), the lowering's pattern
/// (`isa_pairs.rs`) and its handler (`isa_handlers.rs`) are generated from the row.
pub fn pairs() -> Vec<(&'static str, Vec<&'static str>)> {
    let p = |name, kinds: &[&'static str]| (name, kinds.to_vec());
    vec![
        // Two copies; two increments; a loop step and its test against a slot.
        p("Copy2", &["Copy", "Copy"]),
        p("I32AddImm2", &["I32AddImm", "I32AddImm"]),
        p("I32AddImmNeBrA", &["I32AddImm", "I32NeBrA"]),
        // A sum stored; `base + (i << k)`; a bit field `(x >> k) & m`.
        p("I32AddImmStore", &["I32AddImm", "I32StoreV"]),
        p("I32AddImmAStore", &["I32AddImmA", "I32StoreV"]),
        p("I32ShlImmAdd", &["I32ShlImm", "I32AddA"]),
        p("I32ShlImmAAdd", &["I32ShlImmA", "I32AddA"]),
        p("I32ShrUImmAnd", &["I32ShrUImm", "I32AndImmA"]),
        p("I32ShrUImmAAnd", &["I32ShrUImmA", "I32AndImmA"]),
        // A bit test and its branch.
        p("I32AndImmBrEqz", &["I32AndImm", "BrIfEqzA"]),
        p("I32AndImmABrEqz", &["I32AndImmA", "BrIfEqzA"]),
        p("I32AndImmBrNez", &["I32AndImm", "BrIfNezA"]),
        p("I32AndImmABrNez", &["I32AndImmA", "BrIfNezA"]),
        // Two loads; a pointer, then what it points at; a load added; two stores.
        p("I32Load2", &["I32Load", "I32Load"]),
        p("I32LoadLoadA", &["I32Load", "I32LoadA"]),
        p("I32LoadAdd", &["I32Load", "I32AddA"]),
        p("I32Store2", &["I32Store", "I32Store"]),
        // A `switch` whose cases start above 0: the biased index and the `br_table`.
        p("I32AddImmABrTable", &["I32AddImmA", "BrTableA"]),
        // The stack pointer moved through its global.
        p("I32AddImmGlobalSet", &["I32AddImm", "GlobalSet"]),
        p("I32AddImmAGlobalSet", &["I32AddImmA", "GlobalSet"]),
        p("GlobalGetAddImm", &["GlobalGet", "I32AddImmA"]),
        // A loop's step and its jump back; a constant and its `select`; two constants.
        p("I32AddImmBr", &["I32AddImm", "Br"]),
        p("Const32Select", &["Const32", "Select"]),
        p("Const2", &["Const32", "Const32"]),
        // The last argument and the call.
        p("CopyCall", &["Copy", "Call"]),
        // A copy through memory; a null test.
        p("I64LoadStore", &["I64Load", "I64StoreV"]),
        p("I32LoadStore", &["I32Load", "I32StoreV"]),
        p("I32LoadBrEqz", &["I32Load", "BrIfEqzA"]),
        p("I32LoadBrNez", &["I32Load", "BrIfNezA"]),
        // A branch not taken and an increment; a block's result and the branch out.
        p("BrIfEqzAddImm", &["BrIfEqz", "I32AddImm"]),
        p("CopyBr", &["Copy", "Br"]),
        p("Const32Br", &["Const32", "Br"]),
        p("Const32Sub", &["Const32", "I32SubA"]),
        p("I32AddImmCopy", &["I32AddImm", "Copy"]),
        // Bytes loaded, compared and moved.
        p("I32Load8U2", &["I32Load8U", "I32Load8U"]),
        p("I32Load8UNeImmBr", &["I32Load8U", "I32NeImmBrA"]),
        p("I32Load8UStore8", &["I32Load8U", "I32Store8V"]),
        // Triples: `a[i]`; `*p += k` (a reference count).
        p("I32ShlImmAddLoad", &["I32ShlImm", "I32AddA", "I32LoadA"]),
        p("I32ShlImmAAddLoad", &["I32ShlImmA", "I32AddA", "I32LoadA"]),
        p("I32LoadAddImmStore", &["I32Load", "I32AddImmA", "I32StoreV"]),
        // Round 6 (a profile of the build with the pairs above, dispatched sequences over the
        // corpus; rows present in at least two programs, most in three or more).
        // A function's epilogue and prologue: the stack pointer restored and the return; moved.
        p("I32AddImmGlobalSetReturn", &["I32AddImm", "GlobalSet", "Return"]),
        p("GlobalGetAddImmSet", &["GlobalGet", "I32AddImmA", "GlobalSet"]),
        // Arguments copied and the call; a constant argument and the call.
        p("Copy2Call", &["Copy", "Copy", "Call"]),
        p("Copy3Call", &["Copy", "Copy", "Copy", "Call"]),
        p("Const32Call", &["Const32", "Call"]),
        // Loads with their address computed (`p + k`, `a + b`, `a * k + b`, a table entry).
        p("I32AddImmLoadA", &["I32AddImm", "I32LoadA"]),
        p("I32AddImmALoadA", &["I32AddImmA", "I32LoadA"]),
        p("I32AddALoadA", &["I32AddA", "I32LoadA"]),
        p("I32AddALoad8UA", &["I32AddA", "I32Load8UA"]),
        p("I32AddALoadAtA", &["I32AddA", "I32LoadAtA"]),
        p("I32MulImmAAdd", &["I32MulImmA", "I32AddA"]),
        p("I32MulImmAdd", &["I32MulImm", "I32AddA"]),
        p("I32ShlImmALoadAtA", &["I32ShlImmA", "I32LoadAtA"]),
        p("I32ShrUImmAndAdd", &["I32ShrUImm", "I32AndImmA", "I32AddA"]),
        p("I32ShlImmAddAddImm", &["I32ShlImm", "I32AddA", "I32AddImmA"]),
        p("I32ShlImmAAddAddImm", &["I32ShlImmA", "I32AddA", "I32AddImmA"]),
        p("I32LoadShlImmAdd", &["I32Load", "I32ShlImm", "I32AddA"]),
        p("I32AddImmShlImmAdd", &["I32AddImm", "I32ShlImm", "I32AddA"]),
        // Loaded values tested, masked, summed, stored back.
        p("I32LoadEqBrA", &["I32Load", "I32EqBrA"]),
        p("I32LoadGtUBrA", &["I32Load", "I32GtUBrA"]),
        p("I32LoadAndImmA", &["I32Load", "I32AndImmA"]),
        p("I32LoadAddImm", &["I32Load", "I32AddImm"]),
        p("I32Load3", &["I32Load", "I32Load", "I32Load"]),
        p("I32LoadAddStore", &["I32Load", "I32AddA", "I32StoreV"]),
        p("I32LoadAAddImmStore", &["I32LoadA", "I32AddImmA", "I32StoreV"]),
        p("I32Load8UAndImmBrEqz", &["I32Load8U", "I32AndImmA", "BrIfEqzA"]),
        p("I32Load8UAndImmBrNez", &["I32Load8U", "I32AndImmA", "BrIfNezA"]),
        p("I64LoadAddImmA", &["I64Load", "I64AddImmA"]),
        p("I32AddAStoreV", &["I32AddA", "I32StoreV"]),
        p("I32AddAAddImmA", &["I32AddA", "I32AddImmA"]),
        // Constants: a flag and its test, a value and a copy, a shift, a select, wide operands.
        p("Const32BrIfEqz", &["Const32", "BrIfEqz"]),
        p("Const32Copy", &["Const32", "Copy"]),
        p("CopyConst32", &["Copy", "Const32"]),
        p("I32AddImmConst32", &["I32AddImm", "Const32"]),
        p("Const32LoadA", &["Const32", "I32LoadA"]),
        p("Const32ShlA", &["Const32", "I32ShlA"]),
        p("Const2Select", &["Const32", "Const32", "Select"]),
        p("Const64MulA", &["Const64", "I64MulA"]),
        p("Const64AndA", &["Const64", "I64AndA"]),
        // Loop steps and tests.
        p("I32AddImm2NeStepImmBr", &["I32AddImm", "I32AddImm", "I32NeStepImmBr"]),
        p("I32AddImmNeStepImmBr", &["I32AddImm", "I32NeStepImmBr"]),
        p("I32AddImm3", &["I32AddImm", "I32AddImm", "I32AddImm"]),
        p("I32AddImmLtUBrA", &["I32AddImm", "I32LtUBrA"]),
        p("CopyBrIfNezA", &["Copy", "BrIfNezA"]),
        p("CopyLoad", &["Copy", "I32Load"]),
        // Round 7 (the same profile again, with round 6 in place; rows in two to four
        // programs, each a general idiom: a string or byte test, a memcmp step, a bit field
        // indexing a byte table, a min/max, a hash step, a 64-bit copy, flag tests in a row).
        p("I32NeImmBrACopy", &["I32NeImmBrA", "Copy"]),
        p("I32Load8UANeImmBr", &["I32Load8UA", "I32NeImmBrA"]),
        p("I32Load8U2NeBrA", &["I32Load8U", "I32Load8U", "I32NeBrA"]),
        p("I32ShrUImmAndAddLoad8U", &["I32ShrUImm", "I32AndImmA", "I32AddA", "I32Load8UA"]),
        p("I32LoadEqImmBrA", &["I32Load", "I32EqImmBrA"]),
        p("I32ShlImmLoadAtA", &["I32ShlImm", "I32LoadAtA"]),
        p("BrIfEqzLoad", &["BrIfEqz", "I32Load"]),
        p("BrIfEqzALoad", &["BrIfEqzA", "I32Load"]),
        p("I32LoadXorA", &["I32Load", "I32XorA"]),
        p("I32LoadIdxABrEqz", &["I32LoadIdxA", "BrIfEqzA"]),
        p("I32LoadAtLoad", &["I32LoadAt", "I32Load"]),
        p("I32LoadAddImmA", &["I32Load", "I32AddImmA"]),
        p("I32AndImmBrEqz2", &["I32AndImm", "BrIfEqzA", "I32AndImm", "BrIfEqzA"]),
        p("I32Load8UAndImmA", &["I32Load8U", "I32AndImmA"]),
        p("I32LoadLoad8UA", &["I32Load", "I32Load8UA"]),
        p("I64XorAConst64MulA", &["I64XorA", "Const64", "I64MulA"]),
        p("I32LoadLeUBrA", &["I32Load", "I32LeUBrA"]),
        p("I32GtUASelectC", &["I32GtUA", "SelectC"]),
        p("I32LtUASelectC", &["I32LtUA", "SelectC"]),
        p("I64LoadAtStoreV", &["I64LoadAt", "I64StoreV"]),
        p("I64LoadAStoreV", &["I64LoadA", "I64StoreV"]),
        p("I64AddAStoreV", &["I64AddA", "I64StoreV"]),
        p("CopyCallIndirect", &["Copy", "CallIndirect"]),
        p("I32AddAddImm", &["I32Add", "I32AddImm"]),
        p("I32Load8UABrNez", &["I32Load8UA", "BrIfNezA"]),
        p("I32AddImmBrTableA", &["I32AddImm", "BrTableA"]),
        p("I32AddImmI64LoadAt", &["I32AddImm", "I64LoadAt"]),
        p("I32LoadALoadA", &["I32LoadA", "I32LoadA"]),
        p("I32AddImmAndImmA", &["I32AddImm", "I32AndImmA"]),
        p("I32Load16UBrNez", &["I32Load16U", "BrIfNezA"]),
        p("I32LoadAStoreV", &["I32LoadA", "I32StoreV"]),
    ]
}

/// The fields of the payloads a pair's first kind may have: the generated kinds' payload
/// structs, and the hand-written kinds (`compile::ir`) that start a pair. (The compiler checks
/// them: a pair kind is built from its first instruction's fields.)
const PAIR_FIRSTS: &[(&str, &str)] = &[
    ("Bin", "dst: Slot, a: Slot, b: Slot"),
    ("BinImm", "dst: Slot, a: Slot, imm: i32"),
    ("Load", "dst: Slot, addr: Slot, offset: u32"),
    ("Store", "addr: Slot, val: Slot, offset: u32"),
    ("LoadAt", "dst: Slot, a: Slot, imm: u32, offset: u32"),
    ("LoadIdx", "dst: Slot, base: Slot, idx: Slot, shift: u16, offset: u32"),
    ("CmpBrImm", "a: Slot, imm: i32, target: u32"),
    ("Copy", "dst: Slot, src: Slot"),
    ("Const32", "dst: Slot, val: u32"),
    ("Const64", "dst: Slot, val: u64"),
    ("GlobalGet", "dst: Slot, global: u32"),
    ("BrIfEqz", "cond: Slot, target: u32"),
    ("BrIfEqzA", "cond: Slot, target: u32"),
];

/// The SIMD operations (fixed-width SIMD of Wasm 2.0, relaxed SIMD of Wasm 3.0). Their
/// semantic functions are hand-written in `exec::simd` (same naming).
fn simd_table() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut add = |class: Class, names: &str| {
        rows.extend(
            names.split_whitespace().map(|n| row(Box::leak(n.to_string().into_boxed_str()), None, class)),
        );
    };
    add(
        Class::VBin,
        "I8x16Swizzle I8x16RelaxedSwizzle \
         I8x16Eq I8x16Ne I8x16LtS I8x16LtU I8x16GtS I8x16GtU I8x16LeS I8x16LeU I8x16GeS I8x16GeU \
         I16x8Eq I16x8Ne I16x8LtS I16x8LtU I16x8GtS I16x8GtU I16x8LeS I16x8LeU I16x8GeS I16x8GeU \
         I32x4Eq I32x4Ne I32x4LtS I32x4LtU I32x4GtS I32x4GtU I32x4LeS I32x4LeU I32x4GeS I32x4GeU \
         I64x2Eq I64x2Ne I64x2LtS I64x2GtS I64x2LeS I64x2GeS \
         F32x4Eq F32x4Ne F32x4Lt F32x4Gt F32x4Le F32x4Ge F64x2Eq F64x2Ne F64x2Lt F64x2Gt F64x2Le F64x2Ge \
         V128And V128AndNot V128Or V128Xor \
         I8x16NarrowI16x8S I8x16NarrowI16x8U I16x8NarrowI32x4S I16x8NarrowI32x4U \
         I8x16Add I8x16AddSatS I8x16AddSatU I8x16Sub I8x16SubSatS I8x16SubSatU \
         I8x16MinS I8x16MinU I8x16MaxS I8x16MaxU I8x16AvgrU \
         I16x8Add I16x8AddSatS I16x8AddSatU I16x8Sub I16x8SubSatS I16x8SubSatU I16x8Mul \
         I16x8MinS I16x8MinU I16x8MaxS I16x8MaxU I16x8AvgrU I16x8Q15MulrSatS \
         I16x8ExtMulLowI8x16S I16x8ExtMulHighI8x16S I16x8ExtMulLowI8x16U I16x8ExtMulHighI8x16U \
         I32x4Add I32x4Sub I32x4Mul I32x4MinS I32x4MinU I32x4MaxS I32x4MaxU I32x4DotI16x8S \
         I32x4ExtMulLowI16x8S I32x4ExtMulHighI16x8S I32x4ExtMulLowI16x8U I32x4ExtMulHighI16x8U \
         I64x2Add I64x2Sub I64x2Mul \
         I64x2ExtMulLowI32x4S I64x2ExtMulHighI32x4S I64x2ExtMulLowI32x4U I64x2ExtMulHighI32x4U \
         F32x4Add F32x4Sub F32x4Mul F32x4Div F32x4Min F32x4Max F32x4PMin F32x4PMax \
         F64x2Add F64x2Sub F64x2Mul F64x2Div F64x2Min F64x2Max F64x2PMin F64x2PMax \
         F32x4RelaxedMin F32x4RelaxedMax F64x2RelaxedMin F64x2RelaxedMax \
         I16x8RelaxedQ15mulrS I16x8RelaxedDotI8x16I7x16S",
    );
    add(
        Class::VUn,
        "V128Not I8x16Abs I8x16Neg I8x16Popcnt \
         I16x8Abs I16x8Neg I16x8ExtAddPairwiseI8x16S I16x8ExtAddPairwiseI8x16U \
         I16x8ExtendLowI8x16S I16x8ExtendHighI8x16S I16x8ExtendLowI8x16U I16x8ExtendHighI8x16U \
         I32x4Abs I32x4Neg I32x4ExtAddPairwiseI16x8S I32x4ExtAddPairwiseI16x8U \
         I32x4ExtendLowI16x8S I32x4ExtendHighI16x8S I32x4ExtendLowI16x8U I32x4ExtendHighI16x8U \
         I64x2Abs I64x2Neg I64x2ExtendLowI32x4S I64x2ExtendHighI32x4S I64x2ExtendLowI32x4U I64x2ExtendHighI32x4U \
         F32x4Ceil F32x4Floor F32x4Trunc F32x4Nearest F32x4Abs F32x4Neg F32x4Sqrt \
         F64x2Ceil F64x2Floor F64x2Trunc F64x2Nearest F64x2Abs F64x2Neg F64x2Sqrt \
         I32x4TruncSatF32x4S I32x4TruncSatF32x4U F32x4ConvertI32x4S F32x4ConvertI32x4U \
         I32x4TruncSatF64x2SZero I32x4TruncSatF64x2UZero F64x2ConvertLowI32x4S F64x2ConvertLowI32x4U \
         F32x4DemoteF64x2Zero F64x2PromoteLowF32x4 \
         I32x4RelaxedTruncF32x4S I32x4RelaxedTruncF32x4U I32x4RelaxedTruncF64x2SZero I32x4RelaxedTruncF64x2UZero",
    );
    add(
        Class::VTern,
        "V128Bitselect F32x4RelaxedMadd F32x4RelaxedNmadd F64x2RelaxedMadd F64x2RelaxedNmadd \
         I8x16RelaxedLaneselect I16x8RelaxedLaneselect I32x4RelaxedLaneselect I64x2RelaxedLaneselect \
         I32x4RelaxedDotI8x16I7x16AddS",
    );
    add(
        Class::VTest,
        "V128AnyTrue I8x16AllTrue I16x8AllTrue I32x4AllTrue I64x2AllTrue \
         I8x16Bitmask I16x8Bitmask I32x4Bitmask I64x2Bitmask",
    );
    add(
        Class::VShift,
        "I8x16Shl I8x16ShrS I8x16ShrU I16x8Shl I16x8ShrS I16x8ShrU \
         I32x4Shl I32x4ShrS I32x4ShrU I64x2Shl I64x2ShrS I64x2ShrU",
    );
    // (The float splats and lane operations move bits: they are the integer ones of their width.)
    add(Class::VSplat { a: "u32" }, "I8x16Splat I16x8Splat I32x4Splat");
    add(Class::VSplat { a: "u64" }, "I64x2Splat");
    add(
        Class::VExtract { res: "u32" },
        "I8x16ExtractLaneS I8x16ExtractLaneU I16x8ExtractLaneS I16x8ExtractLaneU I32x4ExtractLane",
    );
    add(Class::VExtract { res: "u64" }, "I64x2ExtractLane");
    add(Class::VReplace { a: "u32" }, "I8x16ReplaceLane I16x8ReplaceLane I32x4ReplaceLane");
    add(Class::VReplace { a: "u64" }, "I64x2ReplaceLane");
    add(Class::VLoad { mem: "u128", conv: None }, "V128Load");
    for (names, mem) in [
        ("V128Load8x8S V128Load8x8U V128Load16x4S V128Load16x4U V128Load32x2S V128Load32x2U", "u64"),
        ("V128Load8Splat", "u8"),
        ("V128Load16Splat", "u16"),
        ("V128Load32Splat V128Load32Zero", "u32"),
        ("V128Load64Splat V128Load64Zero", "u64"),
    ] {
        for n in names.split_whitespace() {
            let n: &'static str = Box::leak(n.to_string().into_boxed_str());
            add(Class::VLoad { mem, conv: Some(Box::leak(snake(n).into_boxed_str())) }, n);
        }
    }
    add(Class::VStore, "V128Store");
    let idx = ["V128Load", "V128Store"];
    let float = [
        ("I32x4Splat", "F32x4Splat"),
        ("I64x2Splat", "F64x2Splat"),
        ("I32x4ExtractLane", "F32x4ExtractLane"),
        ("I64x2ExtractLane", "F64x2ExtractLane"),
        ("I32x4ReplaceLane", "F32x4ReplaceLane"),
        ("I64x2ReplaceLane", "F64x2ReplaceLane"),
    ];
    // Lane-wise arithmetic and bit operations also take an operand from memory and update it
    // (`x[i] += y[i]` loops); commutative ones need no `R` forms.
    let comm = "F32x4Add F32x4Mul F64x2Add F64x2Mul I8x16Add I16x8Add I16x8Mul I32x4Add I32x4Mul \
                I64x2Add V128And V128Or V128Xor";
    let other = "F32x4Sub F64x2Sub F32x4Div F64x2Div I8x16Sub I16x8Sub I32x4Sub I64x2Sub";
    rows.into_iter()
        .map(|r| if idx.contains(&r.name) { r.idx() } else { r })
        .map(|r| match float.iter().find(|(i, _)| *i == r.name) {
            Some((_, f)) => r.wasm(&[f]),
            None => r,
        })
        .map(|mut r| {
            r.vmem = comm.split_whitespace().chain(other.split_whitespace()).any(|n| n == r.name);
            r.comm = comm.split_whitespace().any(|n| n == r.name);
            r
        })
        .collect()
}

// ---- rows -----------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Integer `dst = a OP b`.
    Int,
    /// Integer comparison, with its mirror and negation.
    Cmp {
        mirror: &'static str,
        negate: &'static str,
    },
    /// Float `dst = a OP b` (slots only).
    Float,
    /// f64 arithmetic with register and memory forms.
    F64,
    /// `dst = OP a`, with the operand and result types.
    Un {
        a: &'static str,
        res: &'static str,
    },
    Load {
        mem: &'static str,
        res: &'static str,
    },
    Store {
        mem: &'static str,
    },
    /// SIMD (semantics hand-written in `exec::simd`): `v128 OP v128 → v128`.
    VBin,
    /// `OP v128 → v128`.
    VUn,
    /// `OP(v128, v128, v128) → v128`.
    VTern,
    /// `OP v128 → i32` (tests and bit masks).
    VTest,
    /// `v128 OP i32 → v128` (shifts; `Imm` form for a constant count).
    VShift,
    /// `OP scalar → v128`, the scalar of type `a` (its bits for floats).
    VSplat {
        a: &'static str,
    },
    /// Lane `lane` of a v128 → scalar of type `res`.
    VExtract {
        res: &'static str,
    },
    /// A v128 with lane `lane` replaced by a scalar of type `a`.
    VReplace {
        a: &'static str,
    },
    /// A load of a `mem` from memory, converted to a v128 by `exec::simd::<conv>` (none: a
    /// whole v128, `mem` is `u128`).
    VLoad {
        mem: &'static str,
        conv: Option<&'static str>,
    },
    /// `v128.store`.
    VStore,
}

#[derive(Clone)]
pub struct Row {
    pub name: &'static str,
    /// The semantic function's body, or `None` when it is hand-written in `exec::ops`.
    pub sem: Option<&'static str>,
    pub class: Class,
    /// Other Wasm operators lowered to this operation.
    pub wasm: Vec<&'static str>,
    /// Has `Imm` forms.
    pub imm: bool,
    /// Has forms with operand `a` / `b` / both from a register.
    pub reg_a: bool,
    pub reg_b: bool,
    pub reg_ab: bool,
    /// Commutative: a register operand `b` moves to `a`.
    pub comm: bool,
    /// Lowered as `a + (-imm)` when `b` is a constant (integer subtraction).
    pub sub: bool,
    /// The semantic function returns `Result<_, TrapKind>` (the handler traps on an error).
    pub traps: bool,
    /// Comparisons: the result is a `bool`.
    pub bool_res: bool,
    pub idx: bool,
    pub wide: bool,
    pub f64v: bool,
    /// SIMD: also the forms with an operand loaded from memory (`M`, `MR`) and the memory
    /// updates (`U`, `UR`: `v128.store` of the operation on the `v128.load` of the same address).
    pub vmem: bool,
}

fn row(name: &'static str, sem: Option<&'static str>, class: Class) -> Row {
    Row {
        name,
        sem,
        class,
        wasm: Vec::new(),
        imm: false,
        reg_a: false,
        reg_b: false,
        reg_ab: false,
        comm: false,
        sub: false,
        traps: false,
        bool_res: false,
        idx: false,
        wide: false,
        f64v: false,
        vmem: false,
    }
}
fn int(name: &'static str, sem: &'static str) -> Row {
    row(name, Some(sem), Class::Int)
}
fn cmp(name: &'static str, sem: &'static str, mirror: &'static str, negate: &'static str) -> Row {
    let mut r = row(name, Some(sem), Class::Cmp { mirror, negate });
    (r.imm, r.reg_a, r.bool_res) = (true, true, true);
    r
}
fn float(name: &'static str, sem: &'static str) -> Row {
    row(name, Some(sem), Class::Float)
}
fn float_ops(name: &'static str) -> Row {
    row(name, None, Class::Float)
}
fn f64(name: &'static str, sem: &'static str) -> Row {
    let mut r = row(name, Some(sem), Class::F64);
    r.reg_a = true;
    r
}
fn un(name: &'static str, a: &'static str, res: &'static str, sem: &'static str) -> Row {
    row(name, Some(sem), Class::Un { a, res })
}
fn un_ops(name: &'static str, a: &'static str, res: &'static str) -> Row {
    row(name, None, Class::Un { a, res })
}
fn load(name: &'static str, mem: &'static str, res: &'static str) -> Row {
    row(name, None, Class::Load { mem, res })
}
fn store(name: &'static str, mem: &'static str) -> Row {
    row(name, None, Class::Store { mem })
}

impl Row {
    fn imm(mut self) -> Self {
        self.imm = true;
        self
    }
    fn a(mut self) -> Self {
        self.reg_a = true;
        self
    }
    fn b(mut self) -> Self {
        self.reg_b = true;
        self
    }
    fn ab(mut self) -> Self {
        self.reg_ab = true;
        self
    }
    fn comm(mut self) -> Self {
        self.comm = true;
        self
    }
    fn sub(mut self) -> Self {
        self.sub = true;
        self
    }
    fn traps(mut self) -> Self {
        self.traps = true;
        self
    }
    fn bool(mut self) -> Self {
        self.bool_res = true;
        self
    }
    fn idx(mut self) -> Self {
        self.idx = true;
        self
    }
    fn wide(mut self) -> Self {
        self.wide = true;
        self
    }
    fn f64v(mut self) -> Self {
        self.f64v = true;
        self
    }
    fn wasm(mut self, ops: &[&'static str]) -> Self {
        self.wasm.extend_from_slice(ops);
        self
    }
}

// ---- the generator --------------------------------------------------------------------------

/// Payload shapes of the generated kinds: the `instrs!` list each goes to, and its struct.
const SHAPES: &[(&str, &str)] = &[
    ("bin", "Bin"),
    ("un", "Un"),
    ("load", "Load"),
    ("store", "Store"),
    ("cmpbr", "CmpBr"),
    ("binimm", "BinImm"),
    ("cmpbrimm", "CmpBrImm"),
    ("loadat", "LoadAt"),
    ("storeat", "StoreAt"),
    ("storek", "StoreK"),
    ("loadidx", "LoadIdx"),
    ("storeidx", "StoreIdx"),
    ("addbr", "AddBr"),
    ("addbrs", "AddBrS"),
    ("binmem", "BinMem"),
    ("loadmem", "LoadMem"),
    ("storemem", "StoreMem"),
    ("tern", "Tern"),
    ("lane", "Lane"),
];

/// What the pair table ([`pairs`]) generates.
struct Pairs {
    /// Their `Instr` kinds (in the `other` list of `instrs!`).
    kinds: String,
    /// The pair kinds with a branch target (their first kind's).
    branches: Vec<String>,
    /// Their handlers (in the list of `handlers!`).
    handlers: String,
    /// `PAIR_KINDS`, `pair`, `triple` and `quad` of `compile::pairs`.
    lowering: String,
}

impl Pairs {
    fn new(g: &Out) -> Pairs {
        let mut p = Pairs {
            kinds: String::new(),
            branches: vec![],
            handlers: String::new(),
            lowering: String::new(),
        };
        let (mut twos, mut threes, mut fours) = (String::new(), String::new(), String::new());
        for (name, seq) in pairs() {
            assert!((2..=4).contains(&seq.len()), "pair {name}: two to four kinds");
            // A kind that never falls through ends the row: a pair's handler runs the next
            // step only when the one before fell through, and the lowering never pairs across
            // the return point of a call.
            const LAST_ONLY: &[&str] = &[
                "Br",
                "BrCopy",
                "BrTable",
                "BrTableA",
                "Return",
                "Call",
                "CallIndirect",
                "CallRef",
                "ReturnCall",
                "ReturnCallIndirect",
                "ReturnCallRef",
                "Throw",
                "ThrowRef",
                "Unreachable",
            ];
            for k in &seq[..seq.len() - 1] {
                assert!(!LAST_ONLY.contains(k), "pair {name}: {k} may only end a row");
            }
            let first = seq[0];
            // The first kind's payload: a generated kind's struct, or a hand-written kind's fields.
            let payload = g
                .kinds
                .iter()
                .find(|k| k.1 == first)
                .map(|k| SHAPES.iter().find(|s| s.0 == k.0).expect("shape").1);
            let key = payload.unwrap_or(first);
            let fields = PAIR_FIRSTS
                .iter()
                .find(|f| f.0 == key)
                .unwrap_or_else(|| panic!("pair {name}: add the fields of {key} to PAIR_FIRSTS"))
                .1;
            let names: Vec<&str> =
                fields.split(", ").map(|f| f.split(':').next().expect("field").trim()).collect();
            let names = names.join(", ");
            let pattern = match payload {
                Some(st) => format!("Instr::{first}(crate::compile::ir::{st} {{ {names} }})"),
                None => format!("Instr::{first} {{ {names} }}"),
            };
            let then: Vec<String> = seq[1..].iter().map(|k| format!("`{k}`")).collect();
            p.kinds.push_str(&format!(
                "                /// Pair (`compile::pairs`): `{first}`, then {}.\n                {name} {{ {fields} }},\n",
                then.join(", then ")
            ));
            if names.split(", ").any(|n| n == "target") {
                p.branches.push(name.to_string());
            }
            let mut steps: String =
                seq[1..seq.len() - 1].iter().map(|k| format!(" pair_step!(s, {k});")).collect();
            steps.push_str(&format!(" pair_last!(s, {})", seq[seq.len() - 1]));
            p.handlers.push_str(&format!(
                "            {name} {{ {names} }} => |s| {{ pair_step!(s, {first}, {pattern});{steps} }};\n"
            ));
            let rest: Vec<String> = seq[1..].iter().map(|k| format!("Instr::{k} {{ .. }}")).collect();
            let arm = format!("        ({pattern}, {}) => Instr::{name} {{ {names} }},\n", rest.join(", "));
            match seq.len() {
                2 => twos.push_str(&arm),
                3 => threes.push_str(&arm),
                _ => fours.push_str(&arm),
            }
        }
        let all: Vec<String> = pairs().iter().map(|(name, _)| format!("Op::{name}")).collect();
        p.lowering = format!(
            "/// Every pair kind of the table.\n#[allow(dead_code)]\npub(crate) const PAIR_KINDS: &[Op] = &[{}];\n\n\
             /// The pair kind for `x` followed by `y`, if the table has one.\n\
             fn pair(x: Instr, y: Instr) -> Option<Instr> {{\n    Some(match (x, y) {{\n{twos}        \
             _ => return None,\n    }})\n}}\n\n\
             /// The triple kind for `x`, `y`, `z` in a row, if the table has one.\n\
             fn triple(x: Instr, y: Instr, z: Instr) -> Option<Instr> {{\n    Some(match (x, y, z) {{\n{threes}        \
             _ => return None,\n    }})\n}}\n\n\
             /// The kind for four instructions in a row, if the table has one.\n\
             fn quad(x: Instr, y: Instr, z: Instr, w: Instr) -> Option<Instr> {{\n    Some(match (x, y, z, w) {{\n{fours}        \
             _ => return None,\n    }})\n}}\n",
            all.join(", ")
        );
        p
    }
}

#[derive(Default)]
struct Out {
    /// (shape, kind, handler body)
    kinds: Vec<(&'static str, String, String)>,
    f64_writers: Vec<String>,
    /// Kinds whose result is a v128 (two slots, no register).
    v128_writers: Vec<String>,
    /// Match arms: f64-register rewrites, integer-register rewrites.
    reading: Vec<String>,
    int_reading: Vec<String>,
    compare_branch: Vec<String>,
    step_imm: Vec<String>,
    step: Vec<String>,
    update: Vec<String>,
    lowering: Vec<String>,
    narrow: Vec<String>,
    ops: Vec<String>,
    /// Assertions of the generated test that each comparison's mirror and negation are right.
    laws: Vec<String>,
}

/// `I32LtS` → `i32_lt_s`.
fn snake(name: &str) -> String {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_lowercase());
    }
    s
}

/// Operand `field` of type `ty` from `src` (`slot`, `ia`, `fa`, `imm`).
fn o(src: &str, ty: &str, field: &str) -> String {
    format!("opnd!(s, {src}, {ty}, x.{field})")
}

fn call(r: &Row, args: &[String]) -> String {
    format!("ops::{}({})", snake(r.name), args.join(", "))
}

/// Writes the result `e` (of result type `res`).
fn put(r: &Row, res: &str, e: String) -> String {
    let m = if r.traps { "put_or_trap" } else { "put" };
    format!("{m}!(s, x.dst, {res}, {e})")
}

/// The Wasm operand type an operation reads (the last type in its name: `I64ExtendI32S` → i32).
fn wasm_operand(name: &str) -> &str {
    let mut last = &name[..3];
    for i in 1..name.len().saturating_sub(2) {
        let t = &name[i..i + 3];
        if matches!(t, "I32" | "I64" | "F32" | "F64") {
            last = t;
        }
    }
    last
}

impl Out {
    fn kind(&mut self, shape: &'static str, name: String, handler: String) {
        self.kinds.push((shape, name, handler));
    }

    fn row(&mut self, r: &Row) {
        if self.simd_row(r) {
            return;
        }
        let n = r.name;
        let w = if n.starts_with("I64") || n.starts_with("F64") { "u64" } else { "u32" };
        let wasm: Vec<&str> = std::iter::once(n).chain(r.wasm.iter().copied()).collect();
        let mem = matches!(r.class, Class::Load { .. } | Class::Store { .. });
        let pat = |o: &str| if mem { format!("O::{o} {{ memarg }}") } else { format!("O::{o}") };
        let pats = wasm.iter().map(|o| pat(o)).collect::<Vec<_>>().join(" | ");
        if mem || wasm_operand(n) == "I32" {
            let p = wasm.iter().map(|o| if mem { format!("O::{o} {{ .. }}") } else { format!("O::{o}") });
            self.narrow.extend(p);
        }
        match r.class {
            Class::Int | Class::Cmp { .. } => {
                let res = if r.bool_res { "bool" } else { w };
                let ret = if r.traps { format!("Result<{w}, TrapKind>") } else { res.to_string() };
                self.sem(r, &format!("a: {w}, b: {w}"), &ret);
                let f = |a: &str, b: String| call(r, &[o(a, w, "a"), b]);
                self.kind("bin", n.into(), put(r, res, f("slot", o("slot", w, "b"))));
                if r.reg_a {
                    self.kind("bin", format!("{n}A"), put(r, res, f("ia", o("slot", w, "b"))));
                    self.int_reading.push(format!("I::{n}(b) if b.a == x => I::{n}A(b),"));
                }
                if r.reg_b {
                    self.kind("bin", format!("{n}B"), put(r, res, f("slot", o("ia", w, "b"))));
                    self.int_reading.push(format!("I::{n}(b) if b.b == x => I::{n}B(b),"));
                }
                if r.comm {
                    self.int_reading.push(format!("I::{n}(b) if b.b == x => I::{n}A(swap(b)),"));
                }
                if r.imm {
                    self.kind("binimm", format!("{n}Imm"), put(r, res, f("slot", o("imm", w, "imm"))));
                    self.kind("binimm", format!("{n}ImmA"), put(r, res, f("ia", o("imm", w, "imm"))));
                    self.int_reading.push(format!("I::{n}Imm(k) if k.a == x => I::{n}ImmA(k),"));
                }
                let lower = if r.sub {
                    format!("Lower::Sub(I::{n}, I::{}AddImm, {})", &n[..3], w == "u64")
                } else if !r.imm {
                    format!("Lower::Binary(I::{n})")
                } else {
                    let flip = match r.class {
                        Class::Cmp { mirror, .. } => format!("Some(I::{mirror}Imm)"),
                        _ if r.comm => format!("Some(I::{n}Imm)"),
                        _ => "None".into(),
                    };
                    format!("Lower::BinaryImm(I::{n}, I::{n}Imm, {flip})")
                };
                self.lowering.push(format!("{pats} => {lower},"));
                if let Class::Cmp { mirror, negate } = r.class {
                    let (fs, ms, gs) = (snake(n), snake(mirror), snake(negate));
                    let cast = if w == "u32" { "let (a, b) = (a as u32, b as u32);\n" } else { "" };
                    self.laws.push(format!(
                        "{cast}assert_eq!({fs}(a, b), {ms}(b, a), \"{n}: mirror {mirror}\");\n\
                         assert_eq!({fs}(a, b), !{gs}(a, b), \"{n}: negation {negate}\");"
                    ));
                    self.int_reading.push(format!("I::{n}(b) if b.b == x => I::{mirror}A(swap(b)),"));
                    let br = |a: &str, b: String| format!("br_if!(s, x.target, {})", f(a, b));
                    self.kind("cmpbr", format!("{n}Br"), br("slot", o("slot", w, "b")));
                    self.kind("cmpbr", format!("{n}BrA"), br("ia", o("slot", w, "b")));
                    self.kind("cmpbrimm", format!("{n}ImmBr"), br("slot", o("imm", w, "imm")));
                    self.kind("cmpbrimm", format!("{n}ImmBrA"), br("ia", o("imm", w, "imm")));
                    self.int_reading.push(format!("I::{n}Br(c) if c.a == x => I::{n}BrA(c),"));
                    self.int_reading.push(format!("I::{n}Br(c) if c.b == x => I::{mirror}BrA(swap_br(c)),"));
                    self.int_reading.push(format!("I::{n}ImmBr(c) if c.a == x => I::{n}ImmBrA(c),"));
                    self.compare_branch.push(format!(
                        "I::{n}(x) if x.dst == cond => (I::{n}Br(b(x)), I::{negate}Br(b(x))),"
                    ));
                    self.compare_branch.push(format!(
                        "I::{n}Imm(x) if x.dst == cond => (I::{n}ImmBr(k(x)), I::{negate}ImmBr(k(x))),"
                    ));
                    let f = format!("ops::{}", snake(n));
                    let step =
                        format!("step_br!(s, x, {w}, {}, {}, {f})", o("slot", w, "add"), o("slot", w, "b"));
                    self.kind("addbrs", format!("{n}StepBr"), step);
                    let add = &n[..3];
                    self.step.push(format!("(I::{add}Add(x), I::{n}Br(k)) => Some((x, k, I::{n}StepBr)),"));
                    if w == "u32" {
                        let step = format!("step_br!(s, x, u32, x.add as u32, x.imm as u32, {f})");
                        self.kind("addbr", format!("{n}StepImmBr"), step);
                        self.step_imm.push(format!("I::{n}ImmBr(k) => Some((k, I::{n}StepImmBr)),"));
                    }
                }
            }
            Class::Float => {
                let ty = if w == "u64" { "f64" } else { "f32" };
                let res = if r.bool_res { "bool" } else { ty };
                self.sem(r, &format!("a: {ty}, b: {ty}"), res);
                self.kind("bin", n.into(), put(r, res, call(r, &[o("slot", ty, "a"), o("slot", ty, "b")])));
                if res == "f64" {
                    self.f64_writers.push(n.into());
                }
                self.lowering.push(format!("{pats} => Lower::Binary(I::{n}),"));
            }
            Class::F64 => self.f64_arith(r, &pats),
            Class::Un { a, res } => {
                let ret = if r.traps { format!("Result<{res}, TrapKind>") } else { res.to_string() };
                self.sem(r, &format!("a: {a}"), &ret);
                self.kind("un", n.into(), put(r, res, call(r, &[o("slot", a, "a")])));
                if r.reg_a {
                    let reg = if a == "f64" { "fa" } else { "ia" };
                    self.kind("un", format!("{n}A"), put(r, res, call(r, &[o(reg, a, "a")])));
                    let rule = format!("I::{n}(v) if v.a == x => I::{n}A(v),");
                    if reg == "fa" { &mut self.reading } else { &mut self.int_reading }.push(rule);
                }
                if res == "f64" {
                    self.f64_writers.push(n.into());
                    if r.reg_a {
                        self.f64_writers.push(format!("{n}A"));
                    }
                }
                self.lowering.push(format!("{pats} => Lower::Unary(I::{n}),"));
            }
            Class::Load { mem, res } => {
                let v = if mem == res { "v".to_string() } else { format!("v as {res}") };
                let ld = |addr: String| format!("load!(s, x, {addr}, {mem}, |v| put!(s, x.dst, {res}, {v}))");
                let at = |src: &str| format!("{}.wrapping_add(x.imm)", o(src, "u32", "a"));
                let idx = |src: &str| format!("idx_addr!(s, x, {})", o(src, "u32", "idx"));
                self.kind("load", n.into(), ld(o("slot", "u32", "addr")));
                self.kind("load", format!("{n}A"), ld(o("ia", "u32", "addr")));
                self.kind("loadat", format!("{n}At"), ld(at("slot")));
                self.kind("loadat", format!("{n}AtA"), ld(at("ia")));
                self.int_reading.push(format!("I::{n}(l) if l.addr == x => I::{n}A(l),"));
                self.int_reading.push(format!("I::{n}At(l) if l.a == x => I::{n}AtA(l),"));
                // Of another memory than memory 0 (multi-memory).
                self.kind(
                    "loadmem",
                    format!("{n}Mem"),
                    format!(
                        "load_mem!(s, x, {}, {mem}, |v| put!(s, x.dst, {res}, {v}))",
                        o("slot", "u32", "addr")
                    ),
                );
                // Of a 64-bit memory (memory64): memory 0 (`M64`), any other (`Mem64`).
                let addr64 = o("slot", "u64", "addr");
                self.kind(
                    "loadmem",
                    format!("{n}M64"),
                    format!("load64!(s, x, {addr64}, {mem}, |v| put!(s, x.dst, {res}, {v}))"),
                );
                // (and memory 0's with the address in the integer register)
                self.kind(
                    "loadmem",
                    format!("{n}M64A"),
                    format!(
                        "load64!(s, x, {}, {mem}, |v| put!(s, x.dst, {res}, {v}))",
                        o("ia", "u64", "addr")
                    ),
                );
                self.int_reading.push(format!("I::{n}M64(l) if l.addr == x => I::{n}M64A(l),"));
                self.kind(
                    "loadmem",
                    format!("{n}Mem64"),
                    format!("load_mem64!(s, x, {addr64}, {mem}, |v| put!(s, x.dst, {res}, {v}))"),
                );
                let mut forms = vec!["", "A", "At", "AtA", "Mem", "M64", "M64A", "Mem64"];
                let mut idx_kind = "None".to_string();
                if r.idx {
                    self.kind("loadidx", format!("{n}Idx"), ld(idx("slot")));
                    self.kind("loadidx", format!("{n}IdxA"), ld(idx("ia")));
                    self.int_reading
                        .push(format!("I::{n}Idx(l) if l.idx == x && l.base != x => I::{n}IdxA(l),"));
                    forms.extend(["Idx", "IdxA"]);
                    idx_kind = format!("Some(I::{n}Idx)");
                }
                if res == "f64" {
                    self.f64_writers.extend(forms.iter().map(|f| format!("{n}{f}")));
                }
                self.lowering
                    .push(format!("{pats} => Lower::Load(memarg, I::{n}, I::{n}At, {idx_kind}, [I::{n}Mem, I::{n}M64, I::{n}Mem64]),"));
            }
            Class::Store { mem } => {
                let st = |addr: String, val: String| format!("store!(s, x, {addr}, {val}, {mem})");
                let at = |src: &str| format!("{}.wrapping_add(x.imm)", o(src, "u32", "addr"));
                let (addr, val) = (|src| o(src, "u32", "addr"), |src| o(src, "u64", "val"));
                self.kind("store", n.into(), st(addr("slot"), val("slot")));
                self.kind("store", format!("{n}A"), st(addr("ia"), val("slot")));
                self.kind("store", format!("{n}V"), st(addr("slot"), val("ia")));
                self.kind("storeat", format!("{n}At"), st(at("slot"), val("slot")));
                self.kind("storeat", format!("{n}AtA"), st(at("ia"), val("slot")));
                self.kind("storeat", format!("{n}AtV"), st(at("slot"), val("ia")));
                self.kind("storek", format!("{n}K"), st(addr("slot"), "x.imm as i64".into()));
                self.kind("storek", format!("{n}KA"), st(addr("ia"), "x.imm as i64".into()));
                self.kind(
                    "storemem",
                    format!("{n}Mem"),
                    format!("store_mem!(s, x, {}, {}, {mem})", addr("slot"), val("slot")),
                );
                let addr64 = o("slot", "u64", "addr");
                self.kind(
                    "storemem",
                    format!("{n}M64"),
                    format!("store64!(s, x, {addr64}, {}, {mem})", val("slot")),
                );
                let addr64a = o("ia", "u64", "addr");
                self.kind(
                    "storemem",
                    format!("{n}M64A"),
                    format!("store64!(s, x, {addr64a}, {}, {mem})", val("slot")),
                );
                self.kind(
                    "storemem",
                    format!("{n}M64V"),
                    format!("store64!(s, x, {addr64}, {}, {mem})", val("ia")),
                );
                self.kind(
                    "storemem",
                    format!("{n}Mem64"),
                    format!("store_mem64!(s, x, {addr64}, {}, {mem})", val("slot")),
                );
                let fields = [
                    ("", "addr"),
                    ("", "val"),
                    ("At", "addr"),
                    ("At", "val"),
                    ("K", "addr"),
                    ("M64", "addr"),
                    ("M64", "val"),
                ];
                for (f, field) in fields {
                    let reg = if field == "addr" { "A" } else { "V" };
                    self.int_reading.push(format!("I::{n}{f}(m) if m.{field} == x => I::{n}{f}{reg}(m),"));
                }
                let mut idx_kind = "None".to_string();
                if r.idx {
                    let idx = |src: &str| format!("idx_addr!(s, x, {})", o(src, "u32", "idx"));
                    self.kind("storeidx", format!("{n}Idx"), st(idx("slot"), val("slot")));
                    self.kind("storeidx", format!("{n}IdxA"), st(idx("ia"), val("slot")));
                    self.int_reading.push(format!(
                        "I::{n}Idx(m) if m.idx == x && m.base != x && m.val != x => I::{n}IdxA(m),"
                    ));
                    idx_kind = format!("Some(I::{n}Idx)");
                }
                if r.f64v {
                    let f = format!("F64{}", &n[3..]);
                    self.kind("store", format!("{f}V"), st(addr("slot"), val("fa")));
                    self.kind("storeat", format!("{f}AtV"), st(at("slot"), val("fa")));
                    self.reading.push(format!("I::{n}(m) if m.val == x => I::{f}V(m),"));
                    self.reading.push(format!("I::{n}At(m) if m.val == x => I::{f}AtV(m),"));
                }
                self.lowering.push(format!(
                    "{pats} => Lower::Store(memarg, I::{n}, I::{n}At, I::{n}K, {idx_kind}, {}, [I::{n}Mem, I::{n}M64, I::{n}Mem64]),",
                    r.wide
                ));
            }
            _ => unreachable!("a SIMD row"),
        }
    }

    /// The forms of a SIMD row (false: not one). Operands of type `v128` are always read from
    /// their slots and results written to them (two slots, no register); scalar results go
    /// through `put!` as for the other operations (so the integer register holds them).
    fn simd_row(&mut self, r: &Row) -> bool {
        let n = r.name;
        let f = format!("simd::{}", snake(n));
        let v = |field: &str| o("slot", "v128", field);
        let vput = |e: String| format!("put!(s, x.dst, v128, {e})");
        // The operator and its aliases (`r.wasm`), each with `fields`.
        let pats = |fields: &str| {
            std::iter::once(n)
                .chain(r.wasm.iter().copied())
                .map(|o| format!("O::{o}{fields}"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        match r.class {
            Class::VBin if r.vmem => {
                self.kind("bin", n.into(), vput(format!("{f}({}, {})", v("a"), v("b"))));
                let mem = |e: &str| {
                    let addr = format!("{}.wrapping_add(x.imm)", o("slot", "u32", "a"));
                    format!("load!(s, x, {addr}, u128, |m| put!(s, x.dst, v128, {e}))")
                };
                let upd = |e: &str| {
                    format!(
                        "{{ let p = ea!(s, {}, x.offset, 16u64); let m = V128(*(p as *const [u8; 16])); \
                         let b = {}; *(p as *mut [u8; 16]) = ({e}).0; }}",
                        o("slot", "u32", "addr"),
                        v("val")
                    )
                };
                let b = v("b");
                self.kind("binmem", format!("{n}M"), mem(&format!("{f}(V128::from_u128(m), {b})")));
                self.kind("store", format!("{n}U"), upd(&format!("{f}(m, b)")));
                self.v128_writers.push(format!("{n}M"));
                self.update.push(format!("I::{n}M(x) => Some((x, I::{n}U)),"));
                let mr = if r.comm {
                    format!("I::{n}M")
                } else {
                    self.kind("binmem", format!("{n}MR"), mem(&format!("{f}({b}, V128::from_u128(m))")));
                    self.kind("store", format!("{n}UR"), upd(&format!("{f}(b, m)")));
                    self.v128_writers.push(format!("{n}MR"));
                    self.update.push(format!("I::{n}MR(x) => Some((x, I::{n}UR)),"));
                    format!("I::{n}MR")
                };
                self.lowering.push(format!("O::{n} => Lower::VBinM(I::{n}, I::{n}M, {mr}),"));
            }
            Class::VBin => {
                self.kind("bin", n.into(), vput(format!("{f}({}, {})", v("a"), v("b"))));
                self.lowering.push(format!("O::{n} => Lower::VBin(I::{n}),"));
            }
            Class::VUn => {
                self.kind("un", n.into(), vput(format!("{f}({})", v("a"))));
                self.lowering.push(format!("O::{n} => Lower::VUn(I::{n}),"));
            }
            Class::VTern => {
                self.kind("tern", n.into(), vput(format!("{f}({}, {}, {})", v("a"), v("b"), v("c"))));
                self.lowering.push(format!("O::{n} => Lower::VTern(I::{n}),"));
            }
            Class::VTest => {
                self.kind("un", n.into(), format!("put!(s, x.dst, u32, {f}({}))", v("a")));
                self.lowering.push(format!("O::{n} => Lower::VTest(I::{n}),"));
                return true;
            }
            Class::VShift => {
                self.kind("bin", n.into(), vput(format!("{f}({}, {})", v("a"), o("slot", "u32", "b"))));
                self.kind("binimm", format!("{n}Imm"), vput(format!("{f}({}, x.imm as u32)", v("a"))));
                self.v128_writers.push(format!("{n}Imm"));
                self.lowering.push(format!("O::{n} => Lower::VShift(I::{n}, I::{n}Imm),"));
                self.narrow.push(format!("O::{n}"));
            }
            Class::VSplat { a } => {
                self.kind("un", n.into(), vput(format!("{f}({})", o("slot", a, "a"))));
                self.lowering.push(format!("{} => Lower::VSplat(I::{n}),", pats("")));
                if n.starts_with('I') && a == "u32" {
                    self.narrow.push(format!("O::{n}"));
                }
            }
            Class::VExtract { res } => {
                self.kind("lane", n.into(), format!("put!(s, x.dst, {res}, {f}({}, x.lane as u8))", v("a")));
                self.lowering.push(format!("{} => Lower::VExtract(I::{n}, lane),", pats(" { lane }")));
                return true;
            }
            Class::VReplace { a } => {
                self.kind(
                    "lane",
                    n.into(),
                    vput(format!("{f}({}, {}, x.lane as u8)", v("a"), o("slot", a, "b"))),
                );
                self.lowering.push(format!("{} => Lower::VReplace(I::{n}, lane),", pats(" { lane }")));
                if n.starts_with('I') && a == "u32" {
                    self.narrow.push(format!("O::{n} {{ .. }}"));
                }
            }
            Class::VLoad { mem, conv } => {
                let put = match conv {
                    None => "put!(s, x.dst, u128, v)".to_string(),
                    Some(c) => format!("put!(s, x.dst, v128, simd::{c}(v))"),
                };
                let ld = |addr: String| format!("load!(s, x, {addr}, {mem}, |v| {put})");
                let at = |src: &str| format!("{}.wrapping_add(x.imm)", o(src, "u32", "a"));
                let mut forms = vec![
                    ("load", "", ld(o("slot", "u32", "addr"))),
                    ("load", "A", ld(o("ia", "u32", "addr"))),
                ];
                forms.push(("loadat", "At", ld(at("slot"))));
                forms.push(("loadat", "AtA", ld(at("ia"))));
                let a64 = o("slot", "u64", "addr");
                forms.push((
                    "loadmem",
                    "Mem",
                    format!("load_mem!(s, x, {}, {mem}, |v| {put})", o("slot", "u32", "addr")),
                ));
                forms.push(("loadmem", "M64", format!("load64!(s, x, {a64}, {mem}, |v| {put})")));
                forms.push((
                    "loadmem",
                    "M64A",
                    format!("load64!(s, x, {}, {mem}, |v| {put})", o("ia", "u64", "addr")),
                ));
                forms.push(("loadmem", "Mem64", format!("load_mem64!(s, x, {a64}, {mem}, |v| {put})")));
                self.int_reading.push(format!("I::{n}(l) if l.addr == x => I::{n}A(l),"));
                self.int_reading.push(format!("I::{n}At(l) if l.a == x => I::{n}AtA(l),"));
                self.int_reading.push(format!("I::{n}M64(l) if l.addr == x => I::{n}M64A(l),"));
                let mut idx_kind = "None".to_string();
                if r.idx {
                    let idx = |src: &str| format!("idx_addr!(s, x, {})", o(src, "u32", "idx"));
                    forms.push(("loadidx", "Idx", ld(idx("slot"))));
                    forms.push(("loadidx", "IdxA", ld(idx("ia"))));
                    self.int_reading
                        .push(format!("I::{n}Idx(l) if l.idx == x && l.base != x => I::{n}IdxA(l),"));
                    idx_kind = format!("Some(I::{n}Idx)");
                }
                for (shape, form, body) in forms {
                    self.kind(shape, format!("{n}{form}"), body);
                    self.v128_writers.push(format!("{n}{form}"));
                }
                self.lowering.push(format!(
                    "O::{n} {{ memarg }} => Lower::VLoad(memarg, I::{n}, I::{n}At, {idx_kind}, [I::{n}Mem, I::{n}M64, I::{n}Mem64]),"
                ));
                self.narrow.push(format!("O::{n} {{ .. }}"));
                return true;
            }
            Class::VStore => {
                let val = o("slot", "u128", "val");
                let st = |addr: String| format!("store!(s, x, {addr}, {val}, u128)");
                let at = |src: &str| format!("{}.wrapping_add(x.imm)", o(src, "u32", "addr"));
                let addr = |src: &str| o(src, "u32", "addr");
                self.kind("store", n.into(), st(addr("slot")));
                self.kind("store", format!("{n}A"), st(addr("ia")));
                self.kind("storeat", format!("{n}At"), st(at("slot")));
                self.kind("storeat", format!("{n}AtA"), st(at("ia")));
                self.kind(
                    "storemem",
                    format!("{n}Mem"),
                    format!("store_mem!(s, x, {}, {val}, u128)", addr("slot")),
                );
                let a64 = |src: &str| o(src, "u64", "addr");
                self.kind(
                    "storemem",
                    format!("{n}M64"),
                    format!("store64!(s, x, {}, {val}, u128)", a64("slot")),
                );
                self.kind(
                    "storemem",
                    format!("{n}M64A"),
                    format!("store64!(s, x, {}, {val}, u128)", a64("ia")),
                );
                self.kind(
                    "storemem",
                    format!("{n}Mem64"),
                    format!("store_mem64!(s, x, {}, {val}, u128)", a64("slot")),
                );
                for f in ["", "At", "M64"] {
                    self.int_reading
                        .push(format!("I::{n}{f}(m) if m.addr == x && m.val != x => I::{n}{f}A(m),"));
                }
                let mut idx_kind = "None".to_string();
                if r.idx {
                    let idx = |src: &str| format!("idx_addr!(s, x, {})", o(src, "u32", "idx"));
                    self.kind("storeidx", format!("{n}Idx"), st(idx("slot")));
                    self.kind("storeidx", format!("{n}IdxA"), st(idx("ia")));
                    self.int_reading.push(format!(
                        "I::{n}Idx(m) if m.idx == x && m.base != x && m.val != x => I::{n}IdxA(m),"
                    ));
                    idx_kind = format!("Some(I::{n}Idx)");
                }
                self.lowering.push(format!(
                    "O::{n} {{ memarg }} => Lower::VStore(memarg, I::{n}, I::{n}At, {idx_kind}, [I::{n}Mem, I::{n}M64, I::{n}Mem64]),"
                ));
                self.narrow.push(format!("O::{n} {{ .. }}"));
                return true;
            }
            _ => return false,
        }
        self.v128_writers.push(n.into());
        true
    }

    fn f64_arith(&mut self, r: &Row, pats: &str) {
        let n = r.name;
        self.sem(r, "a: f64, b: f64", "f64");
        let f = |a: &str, b: &str| put(r, "f64", call(r, &[o(a, "f64", "a"), o(b, "f64", "b")]));
        self.kind("bin", n.into(), f("slot", "slot"));
        self.kind("bin", format!("{n}A"), f("fa", "slot"));
        let mut writers = vec![n.to_string(), format!("{n}A")];
        if r.reg_ab {
            self.kind("bin", format!("{n}AB"), f("fa", "fa"));
            self.reading.push(format!("I::{n}(b) if b.a == x && b.b == x => I::{n}AB(b),"));
            writers.push(format!("{n}AB"));
        }
        self.reading.push(format!("I::{n}(b) if b.a == x => I::{n}A(b),"));
        if r.comm {
            self.reading.push(format!("I::{n}(b) if b.b == x => I::{n}A(swap(b)),"));
        } else {
            self.kind("bin", format!("{n}B"), f("slot", "fa"));
            self.reading.push(format!("I::{n}(b) if b.b == x => I::{n}B(b),"));
            writers.push(format!("{n}B"));
        }
        let sem = format!("ops::{}", snake(n));
        let shapes: &[(&str, bool)] = if r.comm { &[("", false)] } else { &[("", false), ("R", true)] };
        for &(rev, reversed) in shapes {
            let e = if reversed { format!("|m, b| {sem}(b, m)") } else { format!("|m, b| {sem}(m, b)") };
            let (m, u) = (format!("{n}M{rev}"), format!("{n}U{rev}"));
            for (regs, ma, fb) in
                [("", "slot", "slot"), ("A", "ia", "slot"), ("B", "slot", "fa"), ("AB", "ia", "fa")]
            {
                self.kind("binmem", format!("{m}{regs}"), format!("f64mem!(s, x, {ma}, {fb}, {e})"));
                writers.push(format!("{m}{regs}"));
            }
            for (regs, ma, fv) in
                [("", "slot", "slot"), ("A", "ia", "slot"), ("V", "slot", "fa"), ("AV", "ia", "fa")]
            {
                self.kind("store", format!("{u}{regs}"), format!("f64upd!(s, x, {ma}, {fv}, {e})"));
            }
            self.reading.push(format!("I::{m}(m) if m.b == x => I::{m}B(m),"));
            self.reading.push(format!("I::{m}A(m) if m.b == x => I::{m}AB(m),"));
            self.reading.push(format!("I::{u}(m) if m.val == x => I::{u}V(m),"));
            self.reading.push(format!("I::{u}A(m) if m.val == x => I::{u}AV(m),"));
            self.int_reading.push(format!("I::{m}(m) if m.a == x => I::{m}A(m),"));
            self.int_reading.push(format!("I::{m}B(m) if m.a == x => I::{m}AB(m),"));
            self.int_reading.push(format!("I::{u}(m) if m.addr == x => I::{u}A(m),"));
            self.int_reading.push(format!("I::{u}V(m) if m.addr == x => I::{u}AV(m),"));
            self.update.push(format!("I::{m}(x) => Some((x, I::{u})),"));
        }
        self.f64_writers.extend(writers);
        let mr = if r.comm { format!("I::{n}M") } else { format!("I::{n}MR") };
        self.lowering.push(format!("{pats} => Lower::F64(I::{n}, I::{n}M, {mr}),"));
    }

    /// The semantic function of `r` (when the table gives it).
    fn sem(&mut self, r: &Row, params: &str, ret: &str) {
        if let Some(body) = r.sem {
            let name = snake(r.name);
            self.ops.push(format!("#[inline(always)]\npub fn {name}({params}) -> {ret} {{\n    {body}\n}}"));
        }
    }
}

/// Writes the generated files into `out`.
pub fn generate(out: &std::path::Path) {
    let mut g = Out::default();
    for r in table() {
        g.row(&r);
    }
    let header = "// @generated by build.rs from build/isa.rs: do not edit.\n";
    let write = |file: &str, text: String| {
        let path = out.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(path, text).expect("write generated file");
        }
    };

    let mut laws = String::new();
    for l in &g.laws {
        laws.push_str("            {\n");
        for line in l.lines() {
            laws.push_str(&format!("                {line}\n"));
        }
        laws.push_str("            }\n");
    }
    write(
        "isa_ops.rs",
        format!(
            "{header}\n{}\n\n#[cfg(test)]\nmod table_tests {{\n    use super::*;\n\n    \
             /// The table's mirror and negation of each comparison agree with the semantics.\n    \
             #[test]\n    fn comparison_mirrors_and_negations() {{\n        \
             let samples = [0u64, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1 << 32, 1 << 63, u64::MAX];\n        \
             for (a, b) in samples.iter().flat_map(|&a| samples.iter().map(move |&b| (a, b))) {{\n\
             {laws}        }}\n    }}\n}}\n",
            g.ops.join("\n\n")
        ),
    );

    let pairs = Pairs::new(&g);
    let mut lists = String::new();
    for (shape, _) in SHAPES {
        let names: Vec<&str> = g.kinds.iter().filter(|k| k.0 == *shape).map(|k| k.1.as_str()).collect();
        lists.push_str(&format!("            {shape}: [{}],\n", names.join(", ")));
    }
    write(
        "isa_kinds.rs",
        format!(
            "{header}\n/// Invokes `instrs!` with the generated kinds by payload shape, then the hand-written ones\n\
             /// and the pair kinds.\n\
             macro_rules! generated_instrs {{\n    ($($other:tt)*) => {{\n        instrs! {{\n{lists}            \
             pair_branches: [{}],\n            other: {{ $($other)*\n{}            }}\n        }}\n    }};\n}}\n",
            pairs.branches.join(", "),
            pairs.kinds
        ),
    );

    let mut handlers: String =
        g.kinds.iter().map(|(_, name, body)| format!("            {name}(x) => |s| {body};\n")).collect();
    handlers.push_str(&pairs.handlers);
    write("isa_pairs.rs", format!("{header}\n{}", pairs.lowering));
    write(
        "isa_handlers.rs",
        format!(
            "{header}\n/// Invokes `handlers!` with the hand-written handlers, then one per generated kind.\n\
             macro_rules! generated_handlers {{\n    ($($hand:tt)*) => {{\n        handlers! {{\n            $($hand)*\n{handlers}        }}\n    }};\n}}\n"
        ),
    );

    let arms = |v: &[String]| v.iter().map(|a| format!("        {a}\n")).collect::<String>();
    let writers = g.f64_writers.iter().map(|w| format!("Op::{w}")).collect::<Vec<_>>().join(", ");
    let compile = format!(
        r#"{header}
/// The f64-register form of `ins` when the register mirrors slot `x`, or `ins` itself.
pub fn reading(ins: Instr, x: Slot) -> Instr {{
    match ins {{
{reading}        other => other,
    }}
}}

/// The integer-register form of `ins` when the register mirrors slot `x`, or `ins` itself.
/// Commutative operations and comparisons (mirrored) move the operand to `a`.
pub fn int_reading(ins: Instr, x: Slot) -> Instr {{
    match ins {{
{int_reading}        other => other,
    }}
}}

/// The kinds whose handlers set the f64 register (to their result).
pub const F64_WRITERS: &[Op] = &[{writers}];

/// The kinds of the table whose result is a `v128` (two slots; no register is set).
pub const V128_WRITERS: &[Op] = &[{v128_writers}];

/// The compare-and-branch form of the comparison `last` whose result is `cond`: branch to
/// `target` when it holds (`when_true`) or when it does not (the negated comparison).
pub fn compare_branch(last: Instr, cond: Slot, when_true: bool, target: u32) -> Option<Instr> {{
    let b = |x: Bin| CmpBr {{ a: x.a, b: x.b, target }};
    let k = |x: BinImm| CmpBrImm {{ a: x.a, imm: x.imm, target }};
    let (t, f) = match last {{
{compare_branch}        _ => return None,
    }};
    Some(if when_true {{ t }} else {{ f }})
}}

/// The loop-step form (`a += add` first) of a compare-and-branch against an immediate.
pub fn step_imm_branch(br: Instr) -> Option<(CmpBrImm, StepImmBr)> {{
    match br {{
{step_imm}        _ => None,
    }}
}}

/// The loop-step form of a compare-and-branch of two slots after the `add` of its width.
pub fn step_branch(add: Instr, br: Instr) -> Option<(Bin, CmpBr, StepBr)> {{
    match (add, br) {{
{step}        _ => None,
    }}
}}

/// The memory-update form (`U`) of an f64 operation with an operand from memory (`M`).
pub fn update_of(ins: Instr) -> Option<(BinMem, Update)> {{
    match ins {{
{update}        _ => None,
    }}
}}

/// How the table lowers Wasm operator `op` (`None`: not one of its operations).
pub fn lowering(op: &Operator<'_>) -> Option<Lower> {{
    Some(match *op {{
{lowering}        _ => return None,
    }})
}}

/// Whether operator `op` reads its i32 operands as their low 32 bits only (every table
/// operation with an i32 operand; loads and stores: the address).
pub fn narrow(op: &Operator<'_>) -> bool {{
    matches!(
        op,
        {narrow}
    )
}}
"#,
        reading = arms(&g.reading),
        int_reading = arms(&g.int_reading),
        compare_branch = arms(&g.compare_branch),
        step_imm = arms(&g.step_imm),
        step = arms(&g.step),
        update = arms(&g.update),
        lowering = arms(&g.lowering),
        narrow = g.narrow.join(" | "),
        v128_writers = g.v128_writers.iter().map(|w| format!("Op::{w}")).collect::<Vec<_>>().join(", "),
    );
    write("isa_compile.rs", compile);
}
