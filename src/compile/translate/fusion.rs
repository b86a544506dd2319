//! Fusion: operations that take over the instruction just emitted (compare→branch, loop
//! steps, constant operands as immediates, f64 operations on loaded values, memory updates,
//! `select` on bit tests).

use super::{Opnd, KONST, T};
use crate::compile::ir::{AddBr, AddBrS, Bin, BinImm, BinMem, CmpBr, CmpBrImm, Instr, Slot, Store};
use crate::compile::isa;
use crate::error::Error;

impl T<'_> {
    /// `x += c` right before a conditional branch on `x` (the last instruction, at `j`): one
    /// `I32…StepImmBr` instead, unless a label sits between them.
    pub(super) fn fuse_loop_step(&mut self, j: u32) -> u32 {
        let ju = j as usize;
        if self.plain || j == 0 || ju + 1 != self.code.len() || self.label_pos == j {
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
            I::BrIfNez { cond, target } if cond == add.a => I::I32NeStepImmBr(step(0, target)),
            I::BrIfEqz { cond, target } if cond == add.a => I::I32EqStepImmBr(step(0, target)),
            br => match isa::step_imm_branch(br) {
                Some((k, g)) if k.a == add.a => g(step(k.imm, k.target)),
                _ => return j,
            },
        };
        self.code.pop();
        self.offsets.pop();
        self.code[ju - 1] = fused;
        j - 1
    }

    /// `x += y` (`i32.add`/`i64.add` of two slots into the first) right before a comparison of
    /// `x` with a slot and a branch: one `…StepBr`.
    pub(super) fn loop_step_by_slot(add: Instr, br: Instr) -> Option<Instr> {
        // The step's other operand; `x + y` and `y + x` both step `x`.
        let step = |x: Bin, k: CmpBr| AddBrS {
            a: x.dst,
            add: if x.a == x.dst { x.b } else { x.a },
            b: k.b,
            target: k.target,
        };
        let (x, k, g) = isa::step_branch(add, br)?;
        if (x.a != x.dst && x.b != x.dst) || k.a != x.dst {
            return None;
        }
        Some(g(step(x, k)))
    }

    /// An f64 operation (a lane-wise `v128` one when `v128`). When an operand is the result of
    /// the `f64.load` (`v128.load`), or such a load at an added constant, just emitted, a
    /// temporary read only here, the operation takes the load over: `m` builds `mem OP b` (the
    /// loaded operand on the left), `mr` builds `b OP mem` (the same as `m` for commutative
    /// operations). The fused instruction keeps the load's code offset: the load is what may
    /// trap.
    pub(super) fn f64_binary(
        &mut self,
        f: fn(Bin) -> Instr,
        m: fn(BinMem) -> Instr,
        mr: fn(BinMem) -> Instr,
        v128: bool,
    ) -> Result<(), Error> {
        let h = self.height() - 2;
        let ob = self.pop_any();
        let oa = self.pop_any();
        let loaded = |o: Opnd, height: u32| {
            let Opnd::Slot(t) = o else { return None };
            match (v128, self.just_wrote(t, height)?) {
                (false, (li, Instr::F64Load(l))) | (true, (li, Instr::V128Load(l))) => {
                    Some((li, l.addr, 0, l.offset))
                }
                (false, (li, Instr::F64LoadAt(l))) | (true, (li, Instr::V128LoadAt(l))) => {
                    Some((li, l.a, l.imm, l.offset))
                }
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
        let dst = self.push_w(if v128 { 2 } else { 1 })?;
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

    /// `f64.store` (or `v128.store`) of the result of an f64 (`v128`) operation that took over
    /// the `f64.load` (`v128.load`) of the same address (the same slot, no added constant, the same offset): the operation becomes an
    /// update of memory (`x[i] += y`: `F64AddU`), keeping the load's code offset. Sound
    /// because the load, the operation and the store run at one point, with the address slot
    /// unchanged between them; the result was a temporary read only by the store.
    pub(super) fn f64_update(&mut self, memarg: wasmparser::MemArg) -> bool {
        let n = self.stack.len();
        let (addr, val) = (self.stack[n - 2], self.stack[n - 1]);
        // (The load taken over is of memory 0: so must the store be.)
        if addr == KONST
            || val == KONST
            || memarg.target != wasmparser::MemArgTarget::Memory(0)
            || self.memory64(0)
        {
            return false;
        }
        let Some((li, ins)) = self.just_wrote(val, n as u32 - 1) else { return false };
        let Some((x, g)) = isa::update_of(ins) else { return false };
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
    match last {
        Instr::I32Eqz(u) if u.dst == cond => Some(if when_true {
            Instr::BrIfEqz { cond: u.a, target }
        } else {
            Instr::BrIfNez { cond: u.a, target }
        }),
        Instr::I64Eqz(u) if u.dst == cond => {
            let z = CmpBrImm { a: u.a, imm: 0, target };
            Some(if when_true { Instr::I64EqImmBr(z) } else { Instr::I64NeImmBr(z) })
        }
        _ => isa::compare_branch(last, cond, when_true, target),
    }
}
