//! What the lowering and the accumulator pass know about the instruction set, generated from
//! its table (`build/isa.rs`, see there for the naming of the forms): how each Wasm operator of
//! the table is lowered ([`lowering`], [`narrow`]), the register forms of each instruction
//! ([`reading`], [`int_reading`], [`F64_WRITERS`]), and the fusions of the lowering
//! ([`compare_branch`] with its negations, the loop steps, the f64 memory updates).

use super::ir::{
    AddBr, AddBrS, Bin, BinImm, BinMem, CmpBr, CmpBrImm, Instr, Load, LoadAt, LoadIdx, Op, Slot,
};
use super::ir::{Lane, LoadMem, Store, StoreAt, StoreIdx, StoreK, StoreMem, Tern, Un};
use wasmparser::{MemArg, Operator};

use Instr as I;
use Operator as O;

/// How a Wasm operator of the table is lowered (the lowering's method of the same name does it).
pub enum Lower {
    Unary(fn(Un) -> Instr),
    Binary(fn(Bin) -> Instr),
    /// A constant right operand becomes the immediate of the second kind; a constant left one,
    /// of the third (the same operation when commutative, the mirrored comparison).
    BinaryImm(fn(Bin) -> Instr, fn(BinImm) -> Instr, Option<fn(BinImm) -> Instr>),
    /// `a - c` becomes `a + (-c)` (the second kind; 64-bit when the flag is set).
    Sub(fn(Bin) -> Instr, fn(BinImm) -> Instr, bool),
    /// An f64 operation, which may take over the load of an operand (`M`, `MR`).
    F64(fn(Bin) -> Instr, fn(BinMem) -> Instr, fn(BinMem) -> Instr),
    /// A load: its forms; the last three for other memories than a 32-bit memory 0: a 32-bit
    /// memory, a 64-bit memory 0, another 64-bit memory.
    Load(
        MemArg,
        fn(Load) -> Instr,
        fn(LoadAt) -> Instr,
        Option<fn(LoadIdx) -> Instr>,
        [fn(LoadMem) -> Instr; 3],
    ),
    /// A store: its forms; the flag: a 64-bit value (an immediate must fit a sign-extended
    /// i32); the last three forms as for a load.
    Store(
        MemArg,
        fn(Store) -> Instr,
        fn(StoreAt) -> Instr,
        fn(StoreK) -> Instr,
        Option<fn(StoreIdx) -> Instr>,
        bool,
        [fn(StoreMem) -> Instr; 3],
    ),
    /// SIMD: `v128 OP v128`, `OP v128`, ternary (all → `v128`); `OP v128 → i32`.
    VBin(fn(Bin) -> Instr),
    /// A `v128 OP v128` that may take over the `v128.load` of an operand (`M`, `MR`), as
    /// [`Lower::F64`] does.
    VBinM(fn(Bin) -> Instr, fn(BinMem) -> Instr, fn(BinMem) -> Instr),
    VUn(fn(Un) -> Instr),
    VTern(fn(Tern) -> Instr),
    VTest(fn(Un) -> Instr),
    /// A shift by an `i32` count (the second kind: by a constant count).
    VShift(fn(Bin) -> Instr, fn(BinImm) -> Instr),
    /// A scalar → `v128`.
    VSplat(fn(Un) -> Instr),
    /// Lane extraction (→ scalar) and replacement, with the lane.
    VExtract(fn(Lane) -> Instr, u8),
    VReplace(fn(Lane) -> Instr, u8),
    /// A load to a `v128` and `v128.store`: forms as for [`Lower::Load`] and [`Lower::Store`].
    VLoad(
        MemArg,
        fn(Load) -> Instr,
        fn(LoadAt) -> Instr,
        Option<fn(LoadIdx) -> Instr>,
        [fn(LoadMem) -> Instr; 3],
    ),
    VStore(
        MemArg,
        fn(Store) -> Instr,
        fn(StoreAt) -> Instr,
        Option<fn(StoreIdx) -> Instr>,
        [fn(StoreMem) -> Instr; 3],
    ),
}

/// The loop-step kinds: against an immediate, against a slot; an f64 memory update.
type StepImmBr = fn(AddBr) -> Instr;
type StepBr = fn(AddBrS) -> Instr;
type Update = fn(Store) -> Instr;

/// A binary operation with its operands swapped.
fn swap(b: Bin) -> Bin {
    Bin { dst: b.dst, a: b.b, b: b.a }
}

/// A compare-and-branch with its operands swapped.
fn swap_br(c: CmpBr) -> CmpBr {
    CmpBr { a: c.b, b: c.a, target: c.target }
}

/// Whether the handler of `op` sets the f64 register to its result.
pub fn sets_f64_register(op: u16) -> bool {
    const SETS: [bool; Op::COUNT] = {
        let mut t = [false; Op::COUNT];
        let mut i = 0;
        while i < F64_WRITERS.len() {
            t[F64_WRITERS[i] as usize] = true;
            i += 1;
        }
        t
    };
    SETS[op as usize]
}

/// Whether the result of `op` is a `v128` (two slots; its handler sets no register): the
/// table's kinds and the hand-written ones.
pub fn writes_v128(op: u16) -> bool {
    const SETS: [bool; Op::COUNT] = {
        let mut t = [false; Op::COUNT];
        let mut i = 0;
        while i < V128_WRITERS.len() {
            t[V128_WRITERS[i] as usize] = true;
            i += 1;
        }
        let hand = [Op::V128Const, Op::I8x16Shuffle, Op::Copy128, Op::Select128, Op::GlobalGet128];
        let mut i = 0;
        while i < hand.len() {
            t[hand[i] as usize] = true;
            i += 1;
        }
        t
    };
    SETS[op as usize]
}

include!(concat!(env!("OUT_DIR"), "/isa_compile.rs"));
