//! Fusion: operations that take over the instruction just emitted (compare→branch, loop
//! steps, constant operands as immediates, f64 operations on loaded values, memory updates,
//! `select` on bit tests).

use super::{Opnd, KONST, T};
use crate::compile::ir::{AddBr, AddBrS, Bin, BinImm, BinMem, CmpBr, CmpBrImm, Instr, Slot, Store};
use crate::error::Error;
use wasmparser::Operator;

impl T<'_> {
    /// `x += c` right before a conditional branch on `x` (the last instruction, at `j`): one
    /// `I32AddBr*` instead, unless a label sits between them.
    pub(super) fn fuse_loop_step(&mut self, j: u32) -> u32 {
        let ju = j as usize;
        if j == 0 || ju + 1 != self.code.len() || self.label_pos == j {
            return j;
        }
        if let Some(fused) = Self::loop_step_by_slot(self.code[ju - 1], self.code[ju]) {
            self.code.pop();
            self.offsets.pop();
            self.code[ju - 1] = fused;
            return j - 1;
        }
        let Instr::I32AddImm(add) = self.code[ju - 1] else { return j };
        if add.dst != add.a {
            return j;
        }
        let step = |imm: i32, target: u32| AddBr { a: add.a, add: add.imm, imm, target };
        use Instr as I;
        let fused = match self.code[ju] {
            I::BrIfNez { cond, target } if cond == add.a => I::I32AddBrNe(step(0, target)),
            I::BrIfEqz { cond, target } if cond == add.a => I::I32AddBrEq(step(0, target)),
            I::BrI32EqImm(k) if k.a == add.a => I::I32AddBrEq(step(k.imm, k.target)),
            I::BrI32NeImm(k) if k.a == add.a => I::I32AddBrNe(step(k.imm, k.target)),
            I::BrI32LtSImm(k) if k.a == add.a => I::I32AddBrLtS(step(k.imm, k.target)),
            I::BrI32LtUImm(k) if k.a == add.a => I::I32AddBrLtU(step(k.imm, k.target)),
            I::BrI32GtSImm(k) if k.a == add.a => I::I32AddBrGtS(step(k.imm, k.target)),
            I::BrI32GtUImm(k) if k.a == add.a => I::I32AddBrGtU(step(k.imm, k.target)),
            I::BrI32LeSImm(k) if k.a == add.a => I::I32AddBrLeS(step(k.imm, k.target)),
            I::BrI32LeUImm(k) if k.a == add.a => I::I32AddBrLeU(step(k.imm, k.target)),
            I::BrI32GeSImm(k) if k.a == add.a => I::I32AddBrGeS(step(k.imm, k.target)),
            I::BrI32GeUImm(k) if k.a == add.a => I::I32AddBrGeU(step(k.imm, k.target)),
            _ => return j,
        };
        self.code.pop();
        self.offsets.pop();
        self.code[ju - 1] = fused;
        j - 1
    }

    /// `x += y` (`i32.add`/`i64.add` of two slots into the first) right before a comparison of
    /// `x` with a slot and a branch: one `I32AddBr*S`/`I64AddBr*S`.
    pub(super) fn loop_step_by_slot(add: Instr, br: Instr) -> Option<Instr> {
        use Instr as I;
        // The step's other operand; `x + y` and `y + x` both step `x`.
        let step = |x: Bin, k: CmpBr| AddBrS {
            a: x.dst,
            add: if x.a == x.dst { x.b } else { x.a },
            b: k.b,
            target: k.target,
        };
        let (I::I32Add(x) | I::I64Add(x)) = add else { return None };
        if x.a != x.dst && x.b != x.dst {
            return None;
        }
        Some(match (add, br) {
            (I::I32Add(x), I::BrI32Eq(k)) if k.a == x.dst => I::I32AddBrEqS(step(x, k)),
            (I::I32Add(x), I::BrI32Ne(k)) if k.a == x.dst => I::I32AddBrNeS(step(x, k)),
            (I::I32Add(x), I::BrI32LtS(k)) if k.a == x.dst => I::I32AddBrLtSS(step(x, k)),
            (I::I32Add(x), I::BrI32LtU(k)) if k.a == x.dst => I::I32AddBrLtUS(step(x, k)),
            (I::I32Add(x), I::BrI32GtS(k)) if k.a == x.dst => I::I32AddBrGtSS(step(x, k)),
            (I::I32Add(x), I::BrI32GtU(k)) if k.a == x.dst => I::I32AddBrGtUS(step(x, k)),
            (I::I32Add(x), I::BrI32LeS(k)) if k.a == x.dst => I::I32AddBrLeSS(step(x, k)),
            (I::I32Add(x), I::BrI32LeU(k)) if k.a == x.dst => I::I32AddBrLeUS(step(x, k)),
            (I::I32Add(x), I::BrI32GeS(k)) if k.a == x.dst => I::I32AddBrGeSS(step(x, k)),
            (I::I32Add(x), I::BrI32GeU(k)) if k.a == x.dst => I::I32AddBrGeUS(step(x, k)),
            (I::I64Add(x), I::BrI64Eq(k)) if k.a == x.dst => I::I64AddBrEqS(step(x, k)),
            (I::I64Add(x), I::BrI64Ne(k)) if k.a == x.dst => I::I64AddBrNeS(step(x, k)),
            (I::I64Add(x), I::BrI64LtS(k)) if k.a == x.dst => I::I64AddBrLtSS(step(x, k)),
            (I::I64Add(x), I::BrI64LtU(k)) if k.a == x.dst => I::I64AddBrLtUS(step(x, k)),
            (I::I64Add(x), I::BrI64GtS(k)) if k.a == x.dst => I::I64AddBrGtSS(step(x, k)),
            (I::I64Add(x), I::BrI64GtU(k)) if k.a == x.dst => I::I64AddBrGtUS(step(x, k)),
            (I::I64Add(x), I::BrI64LeS(k)) if k.a == x.dst => I::I64AddBrLeSS(step(x, k)),
            (I::I64Add(x), I::BrI64LeU(k)) if k.a == x.dst => I::I64AddBrLeUS(step(x, k)),
            (I::I64Add(x), I::BrI64GeS(k)) if k.a == x.dst => I::I64AddBrGeSS(step(x, k)),
            (I::I64Add(x), I::BrI64GeU(k)) if k.a == x.dst => I::I64AddBrGeUS(step(x, k)),
            _ => return None,
        })
    }

    /// An f64 operation. When an operand is the result of the `f64.load` (or `f64.load` at an
    /// added constant) just emitted, a temporary read only here, the operation takes the load
    /// over: `m` builds `mem OP b` (the loaded operand on the left), `mr` builds `b OP mem`
    /// (the same as `m` for commutative operations). The fused instruction keeps the load's
    /// code offset: the load is what may trap.
    pub(super) fn f64_binary(
        &mut self,
        f: fn(Bin) -> Instr,
        m: fn(BinMem) -> Instr,
        mr: fn(BinMem) -> Instr,
    ) -> Result<(), Error> {
        let h = self.height() - 2;
        let ob = self.pop_any();
        let oa = self.pop_any();
        let loaded = |o: Opnd, height: u32| {
            let Opnd::Slot(t) = o else { return None };
            match self.just_wrote(t, height)? {
                (li, Instr::F64Load(l)) => Some((li, l.addr, 0, l.offset)),
                (li, Instr::F64LoadAt(l)) => Some((li, l.a, l.imm, l.offset)),
                _ => None,
            }
        };
        // The other operand must need no code (a constant would be materialized after the load).
        let fused = match (oa, ob) {
            (Opnd::Slot(a), Opnd::Slot(_)) => loaded(ob, h + 1).map(|l| (l, a, mr)),
            _ => None,
        }
        .or_else(|| match (oa, ob) {
            (Opnd::Slot(_), Opnd::Slot(b)) => loaded(oa, h).map(|l| (l, b, m)),
            _ => None,
        });
        let dst = self.push()?;
        if let Some(((li, a, imm, offset), b, g)) = fused {
            self.code[li as usize] = g(BinMem { dst, a, b, imm, offset });
            self.last_result = Some(li);
            return Ok(());
        }
        let b = self.slot_at(ob, h + 1);
        let a = self.slot_at(oa, h);
        self.result(f(Bin { dst, a, b }));
        Ok(())
    }

    /// `f64.store` of the result of an f64 operation that took over the `f64.load` of the same
    /// address (the same slot, no added constant, the same offset): the operation becomes an
    /// update of memory (`x[i] += y`: `F64AddU`), keeping the load's code offset. Sound
    /// because the load, the operation and the store run at one point, with the address slot
    /// unchanged between them; the result was a temporary read only by the store.
    pub(super) fn f64_update(&mut self, memarg: wasmparser::MemArg) -> bool {
        let n = self.stack.len();
        let (addr, val) = (self.stack[n - 2], self.stack[n - 1]);
        if addr == KONST || val == KONST {
            return false;
        }
        let Some((li, ins)) = self.just_wrote(val, n as u32 - 1) else { return false };
        let (g, x): (fn(Store) -> Instr, BinMem) = match ins {
            Instr::F64AddM(x) => (Instr::F64AddU, x),
            Instr::F64SubM(x) => (Instr::F64SubU, x),
            Instr::F64SubMR(x) => (Instr::F64SubRU, x),
            Instr::F64MulM(x) => (Instr::F64MulU, x),
            Instr::F64DivM(x) => (Instr::F64DivU, x),
            Instr::F64DivMR(x) => (Instr::F64DivRU, x),
            _ => return false,
        };
        if x.a != addr || x.imm != 0 || x.offset as u64 != memarg.offset {
            return false;
        }
        self.stack.truncate(n - 2);
        self.code[li as usize] = g(Store { addr, val: x.b, offset: x.offset });
        self.last_result = None;
        true
    }

    /// `select` on a bit test (`i32.and`/`i64.and` with a constant, the i64 one through
    /// `i64.eqz`, the i32 one directly or through `i32.eqz`) computed just before into the
    /// temporary `cond`: one `SelectAnd` that takes the test over (the first instruction to
    /// replace and the replacement).
    pub(super) fn select_and(
        &self,
        cond: Slot,
        a: Slot,
        b: Slot,
        dst: Slot,
        eqz: Option<(u32, Instr)>,
    ) -> Option<(u32, Instr)> {
        // The `and` (index, operands, whether 64-bit) that wrote the temporary `x` just before `li`.
        let and_before = |li: u32, x: Slot| -> Option<(u32, BinImm, bool)> {
            // A branch may land on the `eqz` (then the `and` may not have run just before).
            if self.label_pos == li || x != cond {
                return None;
            }
            let (k, wide) = match *self.code.get((li as usize).checked_sub(1)?)? {
                Instr::I32AndImm(k) => (k, false),
                Instr::I64AndImm(k) => (k, true),
                _ => return None,
            };
            (k.dst == x).then_some((li - 1, k, wide))
        };
        let (at, k, wide, swap) = match eqz {
            Some((li, eqz @ (Instr::I32Eqz(u) | Instr::I64Eqz(u)))) => {
                let (at, k, wide) = and_before(li, u.a)?;
                // The eqz's width must be the and's.
                if wide != matches!(eqz, Instr::I64Eqz(_)) {
                    return None;
                }
                (at, k, wide, true)
            }
            Some((li, Instr::I32AndImm(k))) => (li, k, false, false),
            _ => return None,
        };
        let (a, b) = if swap { (b, a) } else { (a, b) };
        let (c, mask) = (k.a, k.imm);
        Some((
            at,
            if wide {
                Instr::SelectAnd64 { dst, a, b, c, mask }
            } else {
                Instr::SelectAnd { dst, a, b, c, mask }
            },
        ))
    }

    /// The immediate for a pending constant operand, if `f` accepts its value
    /// (sign-interpreted as i32 or i64).
    pub(super) fn imm_of(o: Opnd, f: impl Fn(i64) -> Option<i32>) -> Option<i32> {
        match o {
            Opnd::K(v, wide) => f(if wide { v as i64 } else { v as u32 as i32 as i64 }),
            Opnd::Slot(_) => None,
        }
    }

    /// A binary operation, folding a constant right operand into `k` (and a constant left
    /// operand into `flip`, for commutative operations and mirrored comparisons). `rhs` maps
    /// the right constant to the immediate.
    pub(super) fn binary_with(
        &mut self,
        f: fn(Bin) -> Instr,
        k: fn(BinImm) -> Instr,
        flip: Option<fn(BinImm) -> Instr>,
        rhs: impl Fn(i64) -> Option<i32>,
    ) -> Result<(), Error> {
        let h = self.height() - 2;
        let ob = self.pop_any();
        let oa = self.pop_any();
        let i = if let Some(imm) = Self::imm_of(ob, rhs) {
            let a = self.slot_at(oa, h);
            k(BinImm { dst: 0, a, imm })
        } else if let (Some(g), Some(imm)) = (flip, Self::imm_of(oa, |v| i32::try_from(v).ok())) {
            let b = self.slot_at(ob, h + 1);
            g(BinImm { dst: 0, a: b, imm })
        } else {
            let b = self.slot_at(ob, h + 1);
            let a = self.slot_at(oa, h);
            f(Bin { dst: 0, a, b })
        };
        let dst = self.push()?;
        let mut i = i;
        *i.result_slot_mut().expect("binary result") = dst;
        self.result(i);
        Ok(())
    }

    pub(super) fn binary_k(
        &mut self,
        f: fn(Bin) -> Instr,
        k: fn(BinImm) -> Instr,
        flip: Option<fn(BinImm) -> Instr>,
    ) -> Result<(), Error> {
        self.binary_with(f, k, flip, |v| i32::try_from(v).ok())
    }

    /// `a - c` becomes `a + (-c)`.
    pub(super) fn sub_k(
        &mut self,
        f: fn(Bin) -> Instr,
        k: fn(BinImm) -> Instr,
        wide: bool,
    ) -> Result<(), Error> {
        self.binary_with(f, k, None, move |v| {
            if wide {
                v.checked_neg().and_then(|n| i32::try_from(n).ok())
            } else {
                Some((v as i32).wrapping_neg())
            }
        })
    }

    /// The last instruction, if nothing was emitted since and its result is `slot`, the
    /// temporary at stack height `height` (popped by the caller): its only reader is the
    /// instruction being lowered, which may take its work over ([`T::take_over`]).
    pub(super) fn just_wrote(&self, slot: Slot, height: u32) -> Option<(u32, Instr)> {
        let li = self.last_result?;
        let mut ins = self.code[li as usize];
        (slot == self.canon(height) && ins.result_slot_mut().copied() == Some(slot)).then_some((li, ins))
    }

    /// Replaces the instruction at `li` (found by [`T::just_wrote`]) with `ins`, which does its
    /// work and the current operator's.
    pub(super) fn take_over(&mut self, li: u32, mut ins: Instr) {
        self.last_result = ins.result_slot_mut().is_some().then_some(li);
        self.code[li as usize] = ins;
        self.offsets[li as usize] = self.offset;
    }
}

/// Turns `cmp; br_if` into one compare-and-branch (`when_true` = branch if the comparison holds).
/// Integer comparisons have exact negations, so `cmp; if` (branch when false) fuses too.
pub(super) fn fuse_compare(last: Instr, cond: Slot, when_true: bool, target: u32) -> Option<Instr> {
    use Instr as I;
    let b = |x: Bin| CmpBr { a: x.a, b: x.b, target };
    let k = |x: BinImm| CmpBrImm { a: x.a, imm: x.imm, target };
    let fused = match last {
        I::I32Eqz(u) if u.dst == cond => {
            return Some(if when_true {
                I::BrIfEqz { cond: u.a, target }
            } else {
                I::BrIfNez { cond: u.a, target }
            })
        }
        I::I32Eq(x) if x.dst == cond => (I::BrI32Eq(b(x)), I::BrI32Ne(b(x))),
        I::I32Ne(x) if x.dst == cond => (I::BrI32Ne(b(x)), I::BrI32Eq(b(x))),
        I::I32LtS(x) if x.dst == cond => (I::BrI32LtS(b(x)), I::BrI32GeS(b(x))),
        I::I32LtU(x) if x.dst == cond => (I::BrI32LtU(b(x)), I::BrI32GeU(b(x))),
        I::I32GtS(x) if x.dst == cond => (I::BrI32GtS(b(x)), I::BrI32LeS(b(x))),
        I::I32GtU(x) if x.dst == cond => (I::BrI32GtU(b(x)), I::BrI32LeU(b(x))),
        I::I32LeS(x) if x.dst == cond => (I::BrI32LeS(b(x)), I::BrI32GtS(b(x))),
        I::I32LeU(x) if x.dst == cond => (I::BrI32LeU(b(x)), I::BrI32GtU(b(x))),
        I::I32GeS(x) if x.dst == cond => (I::BrI32GeS(b(x)), I::BrI32LtS(b(x))),
        I::I32GeU(x) if x.dst == cond => (I::BrI32GeU(b(x)), I::BrI32LtU(b(x))),
        I::I64Eq(x) if x.dst == cond => (I::BrI64Eq(b(x)), I::BrI64Ne(b(x))),
        I::I64Ne(x) if x.dst == cond => (I::BrI64Ne(b(x)), I::BrI64Eq(b(x))),
        I::I64LtS(x) if x.dst == cond => (I::BrI64LtS(b(x)), I::BrI64GeS(b(x))),
        I::I64LtU(x) if x.dst == cond => (I::BrI64LtU(b(x)), I::BrI64GeU(b(x))),
        I::I64GtS(x) if x.dst == cond => (I::BrI64GtS(b(x)), I::BrI64LeS(b(x))),
        I::I64GtU(x) if x.dst == cond => (I::BrI64GtU(b(x)), I::BrI64LeU(b(x))),
        I::I64LeS(x) if x.dst == cond => (I::BrI64LeS(b(x)), I::BrI64GtS(b(x))),
        I::I64LeU(x) if x.dst == cond => (I::BrI64LeU(b(x)), I::BrI64GtU(b(x))),
        I::I64GeS(x) if x.dst == cond => (I::BrI64GeS(b(x)), I::BrI64LtS(b(x))),
        I::I64GeU(x) if x.dst == cond => (I::BrI64GeU(b(x)), I::BrI64LtU(b(x))),
        I::I64Eqz(u) if u.dst == cond => {
            let z = CmpBrImm { a: u.a, imm: 0, target };
            (I::BrI64EqImm(z), I::BrI64NeImm(z))
        }
        I::I32EqImm(x) if x.dst == cond => (I::BrI32EqImm(k(x)), I::BrI32NeImm(k(x))),
        I::I32NeImm(x) if x.dst == cond => (I::BrI32NeImm(k(x)), I::BrI32EqImm(k(x))),
        I::I32LtSImm(x) if x.dst == cond => (I::BrI32LtSImm(k(x)), I::BrI32GeSImm(k(x))),
        I::I32LtUImm(x) if x.dst == cond => (I::BrI32LtUImm(k(x)), I::BrI32GeUImm(k(x))),
        I::I32GtSImm(x) if x.dst == cond => (I::BrI32GtSImm(k(x)), I::BrI32LeSImm(k(x))),
        I::I32GtUImm(x) if x.dst == cond => (I::BrI32GtUImm(k(x)), I::BrI32LeUImm(k(x))),
        I::I32LeSImm(x) if x.dst == cond => (I::BrI32LeSImm(k(x)), I::BrI32GtSImm(k(x))),
        I::I32LeUImm(x) if x.dst == cond => (I::BrI32LeUImm(k(x)), I::BrI32GtUImm(k(x))),
        I::I32GeSImm(x) if x.dst == cond => (I::BrI32GeSImm(k(x)), I::BrI32LtSImm(k(x))),
        I::I32GeUImm(x) if x.dst == cond => (I::BrI32GeUImm(k(x)), I::BrI32LtUImm(k(x))),
        I::I64EqImm(x) if x.dst == cond => (I::BrI64EqImm(k(x)), I::BrI64NeImm(k(x))),
        I::I64NeImm(x) if x.dst == cond => (I::BrI64NeImm(k(x)), I::BrI64EqImm(k(x))),
        I::I64LtSImm(x) if x.dst == cond => (I::BrI64LtSImm(k(x)), I::BrI64GeSImm(k(x))),
        I::I64LtUImm(x) if x.dst == cond => (I::BrI64LtUImm(k(x)), I::BrI64GeUImm(k(x))),
        I::I64GtSImm(x) if x.dst == cond => (I::BrI64GtSImm(k(x)), I::BrI64LeSImm(k(x))),
        I::I64GtUImm(x) if x.dst == cond => (I::BrI64GtUImm(k(x)), I::BrI64LeUImm(k(x))),
        I::I64LeSImm(x) if x.dst == cond => (I::BrI64LeSImm(k(x)), I::BrI64GtSImm(k(x))),
        I::I64LeUImm(x) if x.dst == cond => (I::BrI64LeUImm(k(x)), I::BrI64GtUImm(k(x))),
        I::I64GeSImm(x) if x.dst == cond => (I::BrI64GeSImm(k(x)), I::BrI64LtSImm(k(x))),
        I::I64GeUImm(x) if x.dst == cond => (I::BrI64GeUImm(k(x)), I::BrI64LtUImm(k(x))),
        _ => return None,
    };
    Some(if when_true { fused.0 } else { fused.1 })
}

/// Operators whose handlers read every i32 operand as its low 32 bits (`as u32`), so
/// that an `i32.wrap_i64` feeding them is a no-op: i32 arithmetic, comparisons and
/// conversions, and loads and stores (the address; the value of the i32 stores). Not
/// `select`, `local.set`, calls, returns and the like, which keep all 64 bits, nor
/// `i64.extend_i32_u`, a no-op that relies on i32 slots being zero-extended.
pub(super) fn reads_narrow(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::I32Add
            | O::I32Sub
            | O::I32Mul
            | O::I32DivS
            | O::I32DivU
            | O::I32RemS
            | O::I32RemU
            | O::I32And
            | O::I32Or
            | O::I32Xor
            | O::I32Shl
            | O::I32ShrS
            | O::I32ShrU
            | O::I32Rotl
            | O::I32Rotr
            | O::I32Eq
            | O::I32Ne
            | O::I32LtS
            | O::I32LtU
            | O::I32GtS
            | O::I32GtU
            | O::I32LeS
            | O::I32LeU
            | O::I32GeS
            | O::I32GeU
            | O::I32Eqz
            | O::I32Clz
            | O::I32Ctz
            | O::I32Popcnt
            | O::I32Extend8S
            | O::I32Extend16S
            | O::I64ExtendI32S
            | O::F32ConvertI32S
            | O::F32ConvertI32U
            | O::F64ConvertI32S
            | O::F64ConvertI32U
            | O::I32Load { .. }
            | O::I64Load { .. }
            | O::F32Load { .. }
            | O::F64Load { .. }
            | O::I32Load8S { .. }
            | O::I32Load8U { .. }
            | O::I32Load16S { .. }
            | O::I32Load16U { .. }
            | O::I64Load8S { .. }
            | O::I64Load8U { .. }
            | O::I64Load16S { .. }
            | O::I64Load16U { .. }
            | O::I64Load32S { .. }
            | O::I64Load32U { .. }
            | O::I32Store { .. }
            | O::I64Store { .. }
            | O::F32Store { .. }
            | O::F64Store { .. }
            | O::I32Store8 { .. }
            | O::I32Store16 { .. }
            | O::I64Store8 { .. }
            | O::I64Store16 { .. }
            | O::I64Store32 { .. }
    )
}
