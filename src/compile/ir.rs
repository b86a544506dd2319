//! The internal code a function body is lowered to.
//!
//! A *slot machine*: every operand is a 16-bit slot index relative to the frame pointer `fp`.
//! Slots `0..num_locals` are the locals (parameters first), the Wasm operand stack lives above
//! them, and because Wasm's stack height is known statically at every instruction, each
//! instruction names the exact slots it reads and writes: no stack pointer exists at run time.
//! `local.get` is usually free (the consumer reads the local's slot directly) and a result
//! consumed by `local.set` is written straight into the local.
//!
//! Branch targets are *relative*: the signed distance (two's complement in the `u32`) from the
//! branching instruction to its target, so the executor jumps with one pointer addition;
//! backward branches (distance ≤ 0) are exactly those to loop headers. `Poll` marks a
//! *safe point* (function entry, loop headers): the only places where execution may pause
//! for a checkpoint. Everything here is `Copy` and index-only: no pointers.
//!
//! The kinds of the numeric and memory operations, in every operand form, are generated from
//! the instruction-set table (`build/isa.rs`, which also states the naming of the forms); the
//! others (control flow, calls, constants, copies, `select`, globals, bulk memory, tables) are
//! listed here.

/// Bump when the lowering changes in a way that makes saved program counters meaningless.
pub const IR_VERSION: u32 = 9;

/// Frame-relative slot index.
pub type Slot = u16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bin {
    pub dst: Slot,
    pub a: Slot,
    pub b: Slot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Un {
    pub dst: Slot,
    pub a: Slot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub dst: Slot,
    pub addr: Slot,
    pub offset: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Store {
    pub addr: Slot,
    pub val: Slot,
    pub offset: u32,
}

/// A ternary SIMD operation: `dst = OP(a, b, c)` (all `v128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tern {
    pub dst: Slot,
    pub a: Slot,
    pub b: Slot,
    pub c: Slot,
}

/// A SIMD lane operation: `dst` = lane `lane` of `a` (extract), or `a` with that lane
/// replaced by the scalar `b` (replace; `b` unused by an extract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lane {
    pub dst: Slot,
    pub a: Slot,
    pub b: Slot,
    pub lane: u16,
}

/// Compare-and-branch: `if a OP b { goto target }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmpBr {
    pub a: Slot,
    pub b: Slot,
    pub target: u32,
}

/// Binary operation with a constant right operand: `dst = a OP imm` (for i64 operations the
/// immediate is sign-extended).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinImm {
    pub dst: Slot,
    pub a: Slot,
    pub imm: i32,
}

/// Load whose address is `a + imm` (a wrapping 32-bit add, as the `i32.add` it replaces),
/// then `+ offset` like any load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadAt {
    pub dst: Slot,
    pub a: Slot,
    pub imm: u32,
    pub offset: u32,
}

/// Store to address `addr + imm` (wrapping 32-bit add), then `+ offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreAt {
    pub addr: Slot,
    pub val: Slot,
    pub imm: u32,
    pub offset: u32,
}

/// Loop step: `a += add` (wrapping, 32-bit), then `if a OP imm { goto target }`. Packed after
/// the tag so that the instruction stays 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct AddBr {
    pub a: Slot,
    pub add: i32,
    pub imm: i32,
    pub target: u32,
}

/// Loop step by a slot: `a += add` (wrapping, at the instruction's width), then
/// `if a OP b { goto target }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddBrS {
    pub a: Slot,
    pub add: Slot,
    pub b: Slot,
    pub target: u32,
}

/// Load from an indexed address: `base + (idx << shift)` (wrapping 32-bit, as the `i32.shl` and
/// `i32.add` it replaces), then `+ offset` like any load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadIdx {
    pub dst: Slot,
    pub base: Slot,
    pub idx: Slot,
    pub shift: u16,
    pub offset: u32,
}

/// Store to an indexed address: `base + (idx << shift)` (wrapping 32-bit), then `+ offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreIdx {
    pub base: Slot,
    pub idx: Slot,
    pub val: Slot,
    pub shift: u16,
    pub offset: u32,
}

/// An f64 operation with one operand loaded from memory: an `f64.load` fused with the
/// operation that reads its result. `dst = m OP b` (the `…MR` kinds: `b OP m`), where `m` is
/// the f64 at address `a + imm` (a wrapping 32-bit add, as for [`LoadAt`]; 0 after a plain
/// load) `+ offset`. Packed after the tag so that the instruction stays 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct BinMem {
    pub dst: Slot,
    pub a: Slot,
    pub b: Slot,
    pub imm: u32,
    pub offset: u32,
}

/// Store of a constant: `imm` sign-extended to 64 bits, then truncated to the store's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreK {
    pub addr: Slot,
    pub imm: i32,
    pub offset: u32,
}

/// A load from memory `mem` of the instance other than a 32-bit memory 0: the `…Mem` forms
/// (another 32-bit memory, multi-memory), `…M64` (a 64-bit memory 0: `mem` is 0) and `…Mem64`
/// (another 64-bit memory). The offset is below 2^63 (a larger one is lowered as 2^63: no
/// memory is that large, so the access traps either way). Packed after the tag so that the
/// instruction stays 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct LoadMem {
    pub dst: Slot,
    pub addr: Slot,
    pub mem: u16,
    pub offset: u64,
}

/// A store to memory `mem` as [`LoadMem`] loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct StoreMem {
    pub addr: Slot,
    pub val: Slot,
    pub mem: u16,
    pub offset: u64,
}

/// Compare-and-branch against a constant: `if a OP imm { goto target }` (sign-extended for i64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmpBrImm {
    pub a: Slot,
    pub imm: i32,
    pub target: u32,
}

macro_rules! instrs {
    (
        bin: [$($b:ident),* $(,)?],
        un: [$($u:ident),* $(,)?],
        load: [$($l:ident),* $(,)?],
        store: [$($s:ident),* $(,)?],
        cmpbr: [$($c:ident),* $(,)?],
        binimm: [$($bi:ident),* $(,)?],
        cmpbrimm: [$($ci:ident),* $(,)?],
        loadat: [$($la:ident),* $(,)?],
        storeat: [$($sa:ident),* $(,)?],
        storek: [$($sk:ident),* $(,)?],
        loadidx: [$($li:ident),* $(,)?],
        storeidx: [$($si:ident),* $(,)?],
        addbr: [$($ab:ident),* $(,)?],
        addbrs: [$($abs:ident),* $(,)?],
        binmem: [$($bm:ident),* $(,)?],
        loadmem: [$($lm:ident),* $(,)?],
        storemem: [$($sm:ident),* $(,)?],
        tern: [$($te:ident),* $(,)?],
        lane: [$($ln:ident),* $(,)?],
        pair_branches: [$($pb:ident),* $(,)?],
        other: { $($(#[$m:meta])* $o:ident $({ $($f:ident : $t:ty),* $(,)? })?),* $(,)? }
    ) => {
        /// `repr(u16)`: the first two bytes of every instruction are its tag, equal to
        /// `Op::<variant> as u16` (the executor dispatches on it through a handler table).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub enum Instr {
            $($b(Bin),)*
            $($u(Un),)*
            $($l(Load),)*
            $($s(Store),)*
            $($c(CmpBr),)*
            $($bi(BinImm),)*
            $($ci(CmpBrImm),)*
            $($la(LoadAt),)*
            $($sa(StoreAt),)*
            $($sk(StoreK),)*
            $($li(LoadIdx),)*
            $($si(StoreIdx),)*
            $($ab(AddBr),)*
            $($abs(AddBrS),)*
            $($bm(BinMem),)*
            $($lm(LoadMem),)*
            $($sm(StoreMem),)*
            $($te(Tern),)*
            $($ln(Lane),)*
            $($(#[$m])* $o $({ $($f: $t),* })?,)*
        }

        /// The tags of [`Instr`], in the same order (both are generated from one list here).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        #[allow(clippy::enum_variant_names)]
        pub enum Op {
            $($b,)* $($u,)* $($l,)* $($s,)* $($c,)* $($bi,)* $($ci,)* $($la,)* $($sa,)* $($sk,)*
            $($li,)* $($si,)* $($ab,)* $($abs,)* $($bm,)* $($lm,)* $($sm,)* $($te,)* $($ln,)* $($o,)*
        }

        impl Op {
            /// Every instruction kind, in tag order.
            pub const ALL: &[Op] = &[$(Op::$b,)* $(Op::$u,)* $(Op::$l,)* $(Op::$s,)* $(Op::$c,)*
                $(Op::$bi,)* $(Op::$ci,)* $(Op::$la,)* $(Op::$sa,)* $(Op::$sk,)* $(Op::$li,)*
                $(Op::$si,)* $(Op::$ab,)* $(Op::$abs,)* $(Op::$bm,)* $(Op::$lm,)* $(Op::$sm,)*
                $(Op::$te,)* $(Op::$ln,)* $(Op::$o,)*];
            /// Number of instruction kinds.
            pub const COUNT: usize = Self::ALL.len();
        }

        impl Instr {
            /// The instruction's tag.
            #[inline(always)]
            pub fn op(&self) -> u16 {
                // SAFETY: `repr(u16)` puts the tag in the first two bytes.
                unsafe { *(self as *const Instr as *const u16) }
            }

            /// The single result slot of a value-producing instruction, so the lowering can
            /// retarget it (`i32.add; local.set 3` becomes one instruction writing slot 3).
            pub fn result_slot_mut(&mut self) -> Option<&mut Slot> {
                match self {
                    $(Instr::$b(x) => Some(&mut x.dst),)*
                    $(Instr::$u(x) => Some(&mut x.dst),)*
                    $(Instr::$l(x) => Some(&mut x.dst),)*
                    $(Instr::$bi(x) => Some(&mut x.dst),)*
                    $(Instr::$la(x) => Some(&mut x.dst),)*
                    $(Instr::$li(x) => Some(&mut x.dst),)*
                    $(Instr::$bm(x) => Some(&mut x.dst),)*
                    $(Instr::$lm(x) => Some(&mut x.dst),)*
                    $(Instr::$te(x) => Some(&mut x.dst),)*
                    $(Instr::$ln(x) => Some(&mut x.dst),)*
                    Instr::Const32 { dst, .. }
                    | Instr::V128Const { dst, .. }
                    | Instr::I8x16Shuffle { dst, .. }
                    | Instr::Copy128 { dst, .. }
                    | Instr::Select128 { dst, .. }
                    | Instr::GlobalGet128 { dst, .. }
                    | Instr::Const64 { dst, .. }
                    | Instr::Copy { dst, .. }
                    | Instr::CopyA { dst, .. }
                    | Instr::Select { dst, .. }
                    | Instr::Select64 { dst, .. }
                    | Instr::SelectC { dst, .. }
                    | Instr::Select64C { dst, .. }
                    | Instr::SelectAnd { dst, .. }
                    | Instr::SelectAndA { dst, .. }
                    | Instr::SelectAndB { dst, .. }
                    | Instr::SelectAnd64 { dst, .. }
                    | Instr::SelectAnd64A { dst, .. }
                    | Instr::SelectAnd64B { dst, .. }
                    | Instr::GlobalGet { dst, .. }
                    | Instr::MemorySize { dst }
                    | Instr::MemorySizeMem { dst, .. }
                    | Instr::RefIsNull { dst, .. }
                    | Instr::RefFunc { dst, .. }
                    | Instr::RefAsNonNull { dst, .. }
                    | Instr::SatU32 { dst, .. }
                    | Instr::TableGet { dst, .. }
                    | Instr::TableSize { dst, .. } => Some(dst),
                    _ => None,
                }
            }

            /// The base and index slots and the shift of an indexed access (`…Idx`).
            pub fn index_operands_mut(&mut self) -> Option<(&mut Slot, &mut Slot, u16)> {
                match self {
                    $(Instr::$li(x) => Some((&mut x.base, &mut x.idx, x.shift)),)*
                    $(Instr::$si(x) => Some((&mut x.base, &mut x.idx, x.shift)),)*
                    _ => None,
                }
            }

            /// Whether this is a store (it writes memory, no slot).
            pub fn is_store(&self) -> bool {
                matches!(
                    self,
                    $(Instr::$s(_))|* | $(Instr::$sa(_))|* | $(Instr::$sk(_))|* | $(Instr::$si(_))|*
                        | $(Instr::$sm(_))|*
                )
            }

            /// Whether this is a conditional branch that writes no slot.
            pub fn is_cond_branch(&self) -> bool {
                matches!(
                    self,
                    $(Instr::$c(_))|*
                        | $(Instr::$ci(_))|*
                        | Instr::BrIfNez { .. }
                        | Instr::BrIfEqz { .. }
                        | Instr::BrIfNezA { .. }
                        | Instr::BrIfEqzA { .. }
                )
            }

            /// Rewrites the target of a branch (compare-and-branch, conditional or not) with
            /// `f`; false for other instructions.
            pub fn map_branch_target(&mut self, f: impl FnOnce(u32) -> u32) -> bool {
                match self {
                    $(Instr::$c(x) => x.target = f(x.target),)*
                    $(Instr::$ci(x) => x.target = f(x.target),)*
                    $(Instr::$ab(x) => x.target = f(x.target),)*
                    $(Instr::$abs(x) => x.target = f(x.target),)*
                    Instr::Br { target }
                    | Instr::BrCopy { target, .. }
                    | Instr::BrIfNez { target, .. }
                    | Instr::BrIfEqz { target, .. }
                    | Instr::BrIfNezA { target, .. }
                    | Instr::BrIfEqzA { target, .. } => *target = f(*target),
                    $(Instr::$pb { target, .. } => *target = f(*target),)*
                    _ => return false,
                }
                true
            }
        }
    };
}

// The kinds of every form of the operations in the instruction-set table (`build/isa.rs`), by
// payload shape, and then these, hand-written: control flow, calls, constants, copies,
// `select`, globals, bulk memory, tables, references.
include!(concat!(env!("OUT_DIR"), "/isa_kinds.rs"));
generated_instrs! {
    /// Trap: `unreachable` executed.
    Unreachable,
    /// Safe point: charge `cost` instruction units; pause if the budget is spent.
    /// `height` is the number of live slots of the frame here.
    ///
    /// Every backward branch targets a loop header's `Poll`; the branch executes that
    /// `Poll` itself (charges `cost`, continues or pauses after it) instead of dispatching it.
    Poll { cost: u32, height: u32 },
    Const32 { dst: Slot, val: u32 },
    Const64 { dst: Slot, val: u64 },
    /// `v128.const`: entry `idx` of the module's constant pool ([`crate::parse::Module`]).
    V128Const { dst: Slot, idx: u32 },
    /// `i8x16.shuffle` of `a` and `b` with the lane indices of pool entry `idx`.
    I8x16Shuffle { dst: Slot, a: Slot, b: Slot, idx: u32 },
    Copy { dst: Slot, src: Slot },
    /// A `v128` copy (two slots; both read before either is written).
    Copy128 { dst: Slot, src: Slot },
    /// `select` of two `v128`s.
    Select128 { dst: Slot, a: Slot, b: Slot, cond: Slot },
    /// `Copy` from the integer register (`src` names the slot it mirrors).
    CopyA { dst: Slot, src: Slot },
    Select { dst: Slot, a: Slot, b: Slot, cond: Slot },
    /// `select` on a 64-bit condition (`select(a, b, i64.eqz(c))` lowers to
    /// `Select64 { a: b, b: a, cond: c }`).
    Select64 { dst: Slot, a: Slot, b: Slot, cond: Slot },
    /// `Select`/`Select64` with the condition from the integer register.
    SelectC { dst: Slot, a: Slot, b: Slot, cond: Slot },
    Select64C { dst: Slot, a: Slot, b: Slot, cond: Slot },
    /// `select` on a bit test: `dst = if c & mask != 0 { a } else { b }` (`i32.and` with a
    /// constant, and through `i32.eqz` with `a` and `b` swapped); `SelectAnd64` on an
    /// `i64.and` (mask sign-extended) through `i64.eqz`. `A`/`B`: that operand from the
    /// integer register.
    SelectAnd { dst: Slot, a: Slot, b: Slot, c: Slot, mask: i32 },
    SelectAndA { dst: Slot, a: Slot, b: Slot, c: Slot, mask: i32 },
    SelectAndB { dst: Slot, a: Slot, b: Slot, c: Slot, mask: i32 },
    SelectAnd64 { dst: Slot, a: Slot, b: Slot, c: Slot, mask: i32 },
    SelectAnd64A { dst: Slot, a: Slot, b: Slot, c: Slot, mask: i32 },
    SelectAnd64B { dst: Slot, a: Slot, b: Slot, c: Slot, mask: i32 },
    Br { target: u32 },
    /// Copy `n` slots from `from..` down to `to..`, then branch.
    BrCopy { target: u32, from: Slot, to: Slot, n: u16 },
    BrIfNez { cond: Slot, target: u32 },
    BrIfEqz { cond: Slot, target: u32 },
    /// `BrIfNez`/`BrIfEqz` on the integer register (`cond` names the slot it mirrors).
    BrIfNezA { cond: Slot, target: u32 },
    BrIfEqzA { cond: Slot, target: u32 },
    /// Followed by `len + 1` branch instructions (`Br`/`BrCopy`/`Return`); the last is the default.
    BrTable { index: Slot, len: u32 },
    /// `BrTable` whose index is in the integer register (`compile::accumulator`).
    BrTableA { index: Slot, len: u32 },
    /// Return `n` values starting at `from` (they are copied to slots `0..n`).
    Return { from: Slot, n: u16 },
    /// Call function `func` (module index); its frame starts at slot `base` (the arguments).
    Call { func: u32, base: Slot },
    CallIndirect { type_idx: u32, table: u16, index: Slot, base: Slot },
    /// `return_call`: calls `func` in place of the current frame (its arguments at slot `base`
    /// move to slot 0). Always followed by `Return { from: base, .. }`: a callee that cannot
    /// take the frame's place (a host function, another instance's) is called like `Call`, and
    /// that `Return` hands its results on.
    ReturnCall { func: u32, base: Slot },
    /// `return_call_indirect`, as [`Instr::ReturnCall`].
    ReturnCallIndirect { type_idx: u32, table: u16, index: Slot, base: Slot },
    /// `call_ref` of the function reference in slot `func` (of type `type_idx`); traps on null.
    CallRef { type_idx: u32, func: Slot, base: Slot },
    /// `return_call_ref`, as [`Instr::ReturnCall`].
    ReturnCallRef { type_idx: u32, func: Slot, base: Slot },
    GlobalGet { dst: Slot, global: u32 },
    GlobalSet { src: Slot, global: u32 },
    GlobalGet128 { dst: Slot, global: u32 },
    GlobalSet128 { src: Slot, global: u32 },
    MemorySize { dst: Slot },
    /// `memory.size`, `memory.grow`, `memory.fill`, `memory.copy` and `memory.init` of other
    /// memories than memory 0 (multi-memory; `…Mem`: `mem` is the instance's memory index).
    MemorySizeMem { dst: Slot, mem: u16 },
    MemoryGrowMem { dst: Slot, delta: Slot, mem: u16 },
    MemoryFillMem { dst: Slot, val: Slot, n: Slot, mem: u16 },
    MemoryCopyMem { dst: Slot, src: Slot, n: Slot, dst_mem: u16, src_mem: u16 },
    MemoryInitMem { seg: u32, dst: Slot, src: Slot, n: Slot, mem: u16 },
    MemoryGrow { dst: Slot, delta: Slot },
    MemoryCopy { dst: Slot, src: Slot, n: Slot },
    MemoryFill { dst: Slot, val: Slot, n: Slot },
    MemoryInit { seg: u32, dst: Slot, src: Slot, n: Slot },
    DataDrop { seg: u32 },
    TableGet { dst: Slot, index: Slot, table: u32 },
    TableSet { table: u32, index: Slot, val: Slot },
    TableSize { dst: Slot, table: u32 },
    /// `dst` = old size or -1; reads init value from `init`, delta from `delta`.
    TableGrow { table: u32, dst: Slot, init: Slot, delta: Slot },
    TableFill { table: u32, index: Slot, val: Slot, n: Slot },
    TableCopy { dst_table: u16, src_table: u16, dst: Slot, src: Slot, n: Slot },
    TableInit { table: u16, seg: u32, dst: Slot, src: Slot, n: Slot },
    ElemDrop { seg: u32 },
    RefIsNull { dst: Slot, src: Slot },
    RefFunc { dst: Slot, func: u32 },
    /// `dst = min(a, u32::MAX)`: an i64 index or size of a 64-bit table (table64) for the
    /// table instructions, which read 32 bits (tables hold fewer than 2^32 - 1 elements, so
    /// a saturated index is out of bounds exactly when the original is).
    SatU32 { dst: Slot, a: Slot },
    /// `ref.as_non_null`: `dst = src`, trapping on null.
    RefAsNonNull { dst: Slot, src: Slot },
    /// `throw` of tag `tag` (module index) with the `n` payload values from slot `base` on.
    Throw { tag: u32, base: Slot, n: u16 },
    /// `throw_ref` of the exception reference in `src`.
    ThrowRef { src: Slot },
    /// Never emitted by the lowering: where the executor goes to leave. A handler that
    /// stops (trap, yield, return from the outermost frame, …) records why and continues
    /// here, so that every handler ends in exactly one dispatch (see `exec::handlers`).
    Halt,
    /// Never emitted by the lowering either: where a call instruction whose callee the fast
    /// path does not take continues, to make the call out of line (see `exec::handlers`).
    CallSlow,
}

/// What a catch clause of a `try_table` catches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchKind {
    /// `catch` / `catch_ref` of this tag (module index).
    Tag(u32),
    TagRef(u32),
    /// `catch_all` / `catch_all_ref`.
    All,
    AllRef,
    /// A legacy `catch` of this tag / `catch_all`: the exception reference at `base` (where
    /// `rethrow` finds it), the payload after it.
    Legacy(u32),
    LegacyAll,
}

/// One catch clause: what it catches, and its landing pad (the instruction that moves the
/// payload, at the handler's `base`, to the clause's label and branches there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Catch {
    pub kind: CatchKind,
    pub pad: u32,
}

/// The handlers of one `try_table`: an exception raised by an instruction at `start..end`
/// (a `throw`, or a call the exception leaves) is matched against `catches` in order; the
/// first that matches gets the payload (and for the `…Ref` kinds the exception reference
/// after it) in the slots from `base` on and runs its pad. Inner `try_table`s come first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handler {
    pub start: u32,
    pub end: u32,
    pub base: Slot,
    pub catches: Box<[Catch]>,
    /// A legacy `try … delegate`: no catches; the search goes on from this index of the
    /// function's handlers (the first of the block delegated to, or of those around it).
    pub delegate: Option<u32>,
}

/// One function lowered to internal code.
#[derive(Clone, Debug, Default)]
pub struct CompiledFunc {
    pub(crate) code: Vec<Instr>,
    /// Byte offset in the module of the Wasm instruction each internal instruction came from.
    pub(crate) offsets: Vec<u32>,
    pub(crate) num_params: u32,
    /// Parameters plus declared locals.
    pub(crate) num_locals: u32,
    pub(crate) num_results: u32,
    /// Slots the frame needs at most (locals + deepest operand stack).
    pub(crate) max_slots: u32,
    /// What the call handlers' fast path needs from the frame pointer on: `max_slots`, but
    /// at least `num_params` plus the declared local slots rounded up to a multiple of 8 (at
    /// least 8): it zeroes them in blocks of 8. `u32::MAX` (never on the fast path) for a stub.
    pub(crate) enter_slots: u32,
    /// Where the Wasm values live at the positions a checkpoint can hold
    /// ([`super::stackmap`]).
    pub(crate) map: super::stackmap::StackMap,
    /// Exception handlers, innermost first (`try_table`).
    pub(crate) handlers: Box<[Handler]>,
}

impl Instr {
    /// The plain call a (tail) call instruction makes when it keeps its frame (`ReturnCall` →
    /// `Call`, `ReturnCallIndirect` → `CallIndirect`, `ReturnCallRef` → `CallRef`); `None` for
    /// anything else.
    pub fn as_call(self) -> Option<Instr> {
        match self {
            Instr::Call { .. } | Instr::CallIndirect { .. } | Instr::CallRef { .. } => Some(self),
            Instr::ReturnCallRef { type_idx, func, base } => Some(Instr::CallRef { type_idx, func, base }),
            Instr::ReturnCall { func, base } => Some(Instr::Call { func, base }),
            Instr::ReturnCallIndirect { type_idx, table, index, base } => {
                Some(Instr::CallIndirect { type_idx, table, index, base })
            }
            _ => None,
        }
    }
}

impl CompiledFunc {
    /// The stub of a function not lowered yet. It has no code, and its `enter_slots` is out of
    /// the call handlers' fast path's reach, so every call of it goes the slow way, which lowers
    /// it first (`exec::handlers::enter!`). Nothing else looks at its sizes: it never has a
    /// frame (a frame's program counter lies inside its code).
    pub(crate) fn lazy() -> CompiledFunc {
        CompiledFunc { num_locals: u32::MAX, enter_slots: u32::MAX, ..Default::default() }
    }

    /// [`CompiledFunc::enter_slots`] of a function with `p` parameter slots, `l` local slots in
    /// all and a frame of `max` slots.
    pub(crate) fn enter_slots(p: u32, l: u32, max: u32) -> u32 {
        max.max(p + (l - p).div_ceil(8).max(1) * 8)
    }

    /// Adds `base` to the pool index of every `V128Const` and `I8x16Shuffle` (the code's pool
    /// appended at `base` to another).
    pub(crate) fn rebase_pool(&mut self, base: u32) {
        if base == 0 {
            return;
        }
        for i in &mut self.code {
            if let Instr::V128Const { idx, .. } | Instr::I8x16Shuffle { idx, .. } = i {
                *idx += base;
            }
        }
    }

    /// Whether this is the stub of a function not lowered yet ([`CompiledFunc::lazy`]): a
    /// lowered function has code (its entry safe point at least).
    #[inline(always)]
    pub fn is_lazy(&self) -> bool {
        self.code.is_empty()
    }

    /// The lowered code.
    pub fn code(&self) -> &[Instr] {
        &self.code
    }

    /// Byte offset in the module of the Wasm instruction each internal instruction came from.
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    pub fn num_params(&self) -> u32 {
        self.num_params
    }

    /// Parameters plus declared locals.
    pub fn num_locals(&self) -> u32 {
        self.num_locals
    }

    pub fn num_results(&self) -> u32 {
        self.num_results
    }

    /// Slots the frame needs at most (locals + deepest operand stack).
    pub fn max_slots(&self) -> u32 {
        self.max_slots
    }

    /// Where the Wasm values live at resume positions ([`super::stackmap`]).
    pub fn stack_map(&self) -> &super::stackmap::StackMap {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn instr_is_small() {
        assert!(std::mem::size_of::<Instr>() <= 16, "{}", std::mem::size_of::<Instr>());
    }
}
