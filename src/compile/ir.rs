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
/// operation that reads its result. `dst = m OP b` (the `…R` kinds: `b OP m`), where `m` is
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
            $($(#[$m])* $o $({ $($f: $t),* })?,)*
        }

        /// The tags of [`Instr`], in the same order (both are generated from one list here).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        #[allow(clippy::enum_variant_names)]
        pub enum Op {
            $($b,)* $($u,)* $($l,)* $($s,)* $($c,)* $($bi,)* $($ci,)* $($la,)* $($sa,)* $($sk,)*
            $($li,)* $($si,)* $($ab,)* $($abs,)* $($bm,)* $($o,)*
        }

        impl Op {
            /// Number of instruction kinds.
            pub const COUNT: usize = [$(Op::$b,)* $(Op::$u,)* $(Op::$l,)* $(Op::$s,)* $(Op::$c,)*
                $(Op::$bi,)* $(Op::$ci,)* $(Op::$la,)* $(Op::$sa,)* $(Op::$sk,)* $(Op::$li,)*
                $(Op::$si,)* $(Op::$ab,)* $(Op::$abs,)* $(Op::$bm,)*
                $(Op::$o,)*].len();
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
                    Instr::Const32 { dst, .. }
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
                    | Instr::RefIsNull { dst, .. }
                    | Instr::RefFunc { dst, .. }
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
                    _ => return false,
                }
                true
            }
        }
    };
}

instrs! {
    bin: [
        I32Add, I32Sub, I32Mul, I32DivS, I32DivU, I32RemS, I32RemU, I32And, I32Or, I32Xor,
        I32Shl, I32ShrS, I32ShrU, I32Rotl, I32Rotr,
        I32Eq, I32Ne, I32LtS, I32LtU, I32GtS, I32GtU, I32LeS, I32LeU, I32GeS, I32GeU,
        I64Add, I64Sub, I64Mul, I64DivS, I64DivU, I64RemS, I64RemU, I64And, I64Or, I64Xor,
        I64Shl, I64ShrS, I64ShrU, I64Rotl, I64Rotr,
        I64Eq, I64Ne, I64LtS, I64LtU, I64GtS, I64GtU, I64LeS, I64LeU, I64GeS, I64GeU,
        F32Add, F32Sub, F32Mul, F32Div, F32Min, F32Max, F32Copysign,
        F32Eq, F32Ne, F32Lt, F32Gt, F32Le, F32Ge,
        F64Add, F64Sub, F64Mul, F64Div, F64Min, F64Max, F64Copysign,
        F64Eq, F64Ne, F64Lt, F64Gt, F64Le, F64Ge,
        // Accumulator forms (see `compile::accumulator`): `A` reads operand `a` from the
        // executor's f64 register instead of its slot, `B` operand `b`, `AA` both.
        F64AddA, F64SubA, F64SubB, F64MulA, F64MulAA, F64DivA, F64DivB,
        // Integer register forms: `A` takes operand `a` from it, `B` operand `b`.
        I32AddA, I32SubA, I32MulA, I32AndA, I32OrA, I32XorA, I32ShlA, I32ShrSA, I32ShrUA, I32RotlA, I32RotrA, I32EqA, I32NeA, I32LtSA, I32LtUA, I32GtSA, I32GtUA, I32LeSA, I32LeUA, I32GeSA, I32GeUA, I64AddA, I64SubA, I64MulA, I64AndA, I64OrA, I64XorA, I64ShlA, I64ShrSA, I64ShrUA, I64RotlA, I64RotrA, I64EqA, I64NeA, I64LtSA, I64LtUA, I64GtSA, I64GtUA, I64LeSA, I64LeUA, I64GeSA, I64GeUA, I32SubB, I32ShlB, I32ShrSB, I32ShrUB, I64SubB, I64ShlB, I64ShrSB, I64ShrUB,
    ],
    un: [
        I32Eqz, I32Clz, I32Ctz, I32Popcnt, I64Eqz, I64Clz, I64Ctz, I64Popcnt,
        F32Abs, F32Neg, F32Ceil, F32Floor, F32Trunc, F32Nearest, F32Sqrt,
        F64Abs, F64Neg, F64Ceil, F64Floor, F64Trunc, F64Nearest, F64Sqrt,
        I32WrapI64, I32TruncF32S, I32TruncF32U, I32TruncF64S, I32TruncF64U,
        I64ExtendI32S, I64ExtendI32U, I64TruncF32S, I64TruncF32U, I64TruncF64S, I64TruncF64U,
        F32ConvertI32S, F32ConvertI32U, F32ConvertI64S, F32ConvertI64U, F32DemoteF64,
        F64ConvertI32S, F64ConvertI32U, F64ConvertI64S, F64ConvertI64U, F64PromoteF32,
        I32Extend8S, I32Extend16S, I64Extend8S, I64Extend16S, I64Extend32S,
        I32TruncSatF32S, I32TruncSatF32U, I32TruncSatF64S, I32TruncSatF64U,
        I64TruncSatF32S, I64TruncSatF32U, I64TruncSatF64S, I64TruncSatF64U,
        F64SqrtA,
        // Operand `a` from the integer register.
        I32EqzA, I32ClzA, I32CtzA, I32PopcntA, I64EqzA, I64ClzA, I64CtzA, I64PopcntA, I32WrapI64A, I64ExtendI32SA, I64ExtendI32UA, I32Extend8SA, I32Extend16SA, I64Extend8SA, I64Extend16SA, I64Extend32SA,
    ],
    load: [
        I32Load, I64Load, I32Load8S, I32Load8U, I32Load16S, I32Load16U,
        I64Load8S, I64Load8U, I64Load16S, I64Load16U, I64Load32S, I64Load32U,
        // `f64.load`: as `I64Load`, and also sets the f64 register.
        F64Load,
        // The address from the integer register.
        I32LoadA, I64LoadA, I32Load8SA, I32Load8UA, I32Load16SA, I32Load16UA, I64Load8SA, I64Load8UA, I64Load16SA, I64Load16UA, I64Load32SA, I64Load32UA, F64LoadA,
    ],
    store: [
        I32Store, I64Store, I32Store8, I32Store16, I64Store8, I64Store16, I64Store32,
        // A 64-bit store of the f64 register (`val` names the slot it mirrors).
        F64StoreV,
        // Updates: an f64 operation that took over the `f64.load` of an operand, stored back
        // to the same address (`x[i] += y`): `mem = mem OP val` (`…RU`: `val OP mem`).
        F64AddU, F64SubU, F64SubRU, F64MulU, F64DivU, F64DivRU,
        // `A`: the address from the integer register; `V`: the value (for the updates, from
        // the f64 register); `AV`: both.
        F64AddUA, F64SubUA, F64SubRUA, F64MulUA, F64DivUA, F64DivRUA, F64AddUV, F64SubUV, F64SubRUV, F64MulUV, F64DivUV, F64DivRUV, F64AddUAV, F64SubUAV, F64SubRUAV, F64MulUAV, F64DivUAV, F64DivRUAV,
        I32StoreA, I64StoreA, I32Store8A, I32Store16A, I64Store8A, I64Store16A, I64Store32A, I32StoreV, I64StoreV, I32Store8V, I32Store16V, I64Store8V, I64Store16V, I64Store32V,
    ],
    cmpbr: [
        BrI32Eq, BrI32Ne, BrI32LtS, BrI32LtU, BrI32GtS, BrI32GtU, BrI32LeS, BrI32LeU,
        BrI32GeS, BrI32GeU,
        BrI64Eq, BrI64Ne, BrI64LtS, BrI64LtU, BrI64GtS, BrI64GtU, BrI64LeS, BrI64LeU,
        BrI64GeS, BrI64GeU,
        // Operand `a` from the integer register.
        BrI32EqA, BrI32NeA, BrI32LtSA, BrI32LtUA, BrI32GtSA, BrI32GtUA, BrI32LeSA, BrI32LeUA, BrI32GeSA, BrI32GeUA, BrI64EqA, BrI64NeA, BrI64LtSA, BrI64LtUA, BrI64GtSA, BrI64GtUA, BrI64LeSA, BrI64LeUA, BrI64GeSA, BrI64GeUA,
    ],
    binimm: [
        I32AddImm, I32MulImm, I32AndImm, I32OrImm, I32XorImm, I32ShlImm, I32ShrSImm, I32ShrUImm,
        I32EqImm, I32NeImm, I32LtSImm, I32LtUImm, I32GtSImm, I32GtUImm, I32LeSImm, I32LeUImm,
        I32GeSImm, I32GeUImm,
        I64AddImm, I64MulImm, I64AndImm, I64OrImm, I64XorImm, I64ShlImm, I64ShrSImm, I64ShrUImm,
        I64EqImm, I64NeImm, I64LtSImm, I64LtUImm, I64GtSImm, I64GtUImm, I64LeSImm, I64LeUImm,
        I64GeSImm, I64GeUImm,
        // Operand `a` from the integer register.
        I32AddImmA, I32MulImmA, I32AndImmA, I32OrImmA, I32XorImmA, I32ShlImmA, I32ShrSImmA, I32ShrUImmA, I32EqImmA, I32NeImmA, I32LtSImmA, I32LtUImmA, I32GtSImmA, I32GtUImmA, I32LeSImmA, I32LeUImmA, I32GeSImmA, I32GeUImmA, I64AddImmA, I64MulImmA, I64AndImmA, I64OrImmA, I64XorImmA, I64ShlImmA, I64ShrSImmA, I64ShrUImmA, I64EqImmA, I64NeImmA, I64LtSImmA, I64LtUImmA, I64GtSImmA, I64GtUImmA, I64LeSImmA, I64LeUImmA, I64GeSImmA, I64GeUImmA,
    ],
    cmpbrimm: [
        BrI32EqImm, BrI32NeImm, BrI32LtSImm, BrI32LtUImm, BrI32GtSImm, BrI32GtUImm, BrI32LeSImm,
        BrI32LeUImm, BrI32GeSImm, BrI32GeUImm,
        BrI64EqImm, BrI64NeImm, BrI64LtSImm, BrI64LtUImm, BrI64GtSImm, BrI64GtUImm, BrI64LeSImm,
        BrI64LeUImm, BrI64GeSImm, BrI64GeUImm,
        // Operand `a` from the integer register.
        BrI32EqImmA, BrI32NeImmA, BrI32LtSImmA, BrI32LtUImmA, BrI32GtSImmA, BrI32GtUImmA, BrI32LeSImmA, BrI32LeUImmA, BrI32GeSImmA, BrI32GeUImmA, BrI64EqImmA, BrI64NeImmA, BrI64LtSImmA, BrI64LtUImmA, BrI64GtSImmA, BrI64GtUImmA, BrI64LeSImmA, BrI64LeUImmA, BrI64GeSImmA, BrI64GeUImmA,
    ],
    loadat: [
        I32LoadAt, I64LoadAt, I32Load8SAt, I32Load8UAt, I32Load16SAt, I32Load16UAt,
        I64Load8SAt, I64Load8UAt, I64Load16SAt, I64Load16UAt, I64Load32SAt, I64Load32UAt,
        F64LoadAt,
        // Operand `a` from the integer register.
        I32LoadAtA, I64LoadAtA, I32Load8SAtA, I32Load8UAtA, I32Load16SAtA, I32Load16UAtA, I64Load8SAtA, I64Load8UAtA, I64Load16SAtA, I64Load16UAtA, I64Load32SAtA, I64Load32UAtA, F64LoadAtA,
    ],
    storeat: [
        I32StoreAt, I64StoreAt, I32Store8At, I32Store16At, I64Store32At, F64StoreAtV,
        // `A`: operand `addr` from the integer register; `V`: the value.
        I32StoreAtA, I64StoreAtA, I32Store8AtA, I32Store16AtA, I64Store32AtA, I32StoreAtV, I64StoreAtV, I32Store8AtV, I32Store16AtV, I64Store32AtV,
    ],
    storek: [
        I32StoreK, I64StoreK, I32Store8K, I32Store16K, I64Store32K,
        // The address from the integer register.
        I32StoreKA, I64StoreKA, I32Store8KA, I32Store16KA, I64Store32KA,
    ],
    loadidx: [
        I32LoadIdx, I64LoadIdx, F64LoadIdx, I32Load8SIdx, I32Load8UIdx, I32Load16SIdx,
        I32Load16UIdx, I64Load32SIdx, I64Load32UIdx,
        // The index from the integer register.
        I32LoadIdxA, I64LoadIdxA, F64LoadIdxA, I32Load8SIdxA, I32Load8UIdxA, I32Load16SIdxA, I32Load16UIdxA, I64Load32SIdxA, I64Load32UIdxA,
    ],
    storeidx: [
        I32StoreIdx, I64StoreIdx, I32Store8Idx, I32Store16Idx,
        // The index from the integer register.
        I32StoreIdxA, I64StoreIdxA, I32Store8IdxA, I32Store16IdxA,
    ],
    addbr: [
        I32AddBrEq, I32AddBrNe, I32AddBrLtS, I32AddBrLtU, I32AddBrGtS, I32AddBrGtU, I32AddBrLeS,
        I32AddBrLeU, I32AddBrGeS, I32AddBrGeU,
    ],
    addbrs: [
        I32AddBrEqS, I32AddBrNeS, I32AddBrLtSS, I32AddBrLtUS, I32AddBrGtSS, I32AddBrGtUS, I32AddBrLeSS, I32AddBrLeUS, I32AddBrGeSS, I32AddBrGeUS,
        I64AddBrEqS, I64AddBrNeS, I64AddBrLtSS, I64AddBrLtUS, I64AddBrGtSS, I64AddBrGtUS, I64AddBrLeSS, I64AddBrLeUS, I64AddBrGeSS, I64AddBrGeUS,
    ],
    binmem: [
        F64AddM, F64SubM, F64SubMR, F64MulM, F64DivM, F64DivMR,
        // `A`: the address operand `a` from the integer register; `F`: operand `b` from the
        // f64 register; `AF`: both.
        F64AddMA, F64SubMA, F64SubMRA, F64MulMA, F64DivMA, F64DivMRA,
        F64AddMF, F64SubMF, F64SubMRF, F64MulMF, F64DivMF, F64DivMRF,
        F64AddMAF, F64SubMAF, F64SubMRAF, F64MulMAF, F64DivMAF, F64DivMRAF,
    ],
    other: {
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
        Copy { dst: Slot, src: Slot },
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
        /// Return `n` values starting at `from` (they are copied to slots `0..n`).
        Return { from: Slot, n: u16 },
        /// Call function `func` (module index); its frame starts at slot `base` (the arguments).
        Call { func: u32, base: Slot },
        CallIndirect { type_idx: u32, table: u16, index: Slot, base: Slot },
        GlobalGet { dst: Slot, global: u32 },
        GlobalSet { src: Slot, global: u32 },
        MemorySize { dst: Slot },
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
        /// Never emitted by the lowering: where the executor goes to leave. A handler that
        /// stops (trap, yield, return from the outermost frame, …) records why and continues
        /// here, so that every handler ends in exactly one dispatch (see `exec::handlers`).
        Halt,
    }
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
    /// Where `funcref` values live at the positions a checkpoint can hold, so that a restore
    /// can check every saved function reference (see [`RefMap`]).
    pub(crate) refs: RefMap,
}

/// The slots of a function's frame that hold `funcref` values, built by the lowering from the
/// validator's types: locals of type `funcref`, and at each resume position (just after a
/// `Poll`, just after a call) the operand-stack slots that hold a materialized `funcref`.
/// Almost always empty; consulted only when a checkpoint is restored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefMap {
    pub locals: Box<[Slot]>,
    /// `(resume pc, slots)`, sorted by pc; only positions with at least one such slot.
    pub operands: Box<[(u32, Box<[Slot]>)]>,
}

impl RefMap {
    /// The operand-stack slots holding a `funcref` at resume position `pc`.
    pub fn operands_at(&self, pc: u32) -> &[Slot] {
        match self.operands.binary_search_by_key(&pc, |(p, _)| *p) {
            Ok(i) => &self.operands[i].1,
            Err(_) => &[],
        }
    }
}

/// How execution can stand at a program counter of a saved frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeAt {
    /// Just after a `Poll` safe point (where a paused run resumes).
    AfterPoll,
    /// Just after a call: the frame waits for its callee to return.
    AfterCall(Instr),
    /// At a call that was suspended by its host function (it runs again on resume).
    AtCall(Instr),
}

impl CompiledFunc {
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

    /// Where `funcref` values live (see [`RefMap`]).
    pub fn refs(&self) -> &RefMap {
        &self.refs
    }

    /// The ways a saved frame may legally stand at `pc` (only these positions are ever
    /// captured: a run pauses just after a `Poll`, or at a host call that suspends; the
    /// frames below wait just after a call); empty for any other value, `pc` 0 included.
    pub fn resume_at(&self, pc: u32) -> impl Iterator<Item = ResumeAt> + '_ {
        let at = |i: usize| self.code.get(i).copied();
        let is_call = |i: Instr| matches!(i, Instr::Call { .. } | Instr::CallIndirect { .. });
        let pc = pc as usize;
        let before = pc.checked_sub(1).and_then(at);
        let after_poll = matches!(before, Some(Instr::Poll { .. })).then_some(ResumeAt::AfterPoll);
        let after_call = before.filter(|&i| is_call(i)).map(ResumeAt::AfterCall);
        let at_call = at(pc).filter(|&i| is_call(i)).map(ResumeAt::AtCall);
        after_poll.into_iter().chain(after_call).chain(at_call)
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
