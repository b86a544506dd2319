//! Accumulator forwarding: a pass over a lowered function that lets results skip the round
//! trip through their slot.
//!
//! The executor keeps two registers besides the frame's slots, both handler arguments (see
//! `exec::handlers`): `ia`, the value last written to a slot by a handler with a single
//! result (all of them but the f64 ones and `TableGet`), and `fa`, the result of the last
//! f64-producing instruction (arithmetic, square root, conversions, `f64.load`). Each writer
//! also writes its slot. An instruction that reads a slot while a register still mirrors it
//! may read the register instead. Chains of dependent instructions are bound by latency, and
//! the slot round trip (a store and a dependent load, forwarded by the CPU in several cycles)
//! is much of it.
//!
//! The pass rewrites such readers to their register forms (`I32AddA`: operand `a` from `ia`;
//! `I64SubB`; `I32LtSBrA`; `I32LoadA`: the address; `I32StoreV`: the value; `F64MulA`,
//! `F64StoreV`, …). They have the same operands, so positions, branch targets and the program
//! counters in checkpoints are unaffected; commutative operations and comparisons (mirrored)
//! move the register's operand to `a`. The pass walks the code in order, following only
//! fall-through, and forgets what the registers hold
//! - where control may arrive other than by falling through: branch targets, the instruction
//!   after a call (the callee used the registers) or after a `Poll` (backward branches continue
//!   there, and so does a run resumed from a checkpoint, with the registers unset), the entry;
//! - when an instruction writes the mirrored slot without setting the register, or is one it
//!   does not know.
//!
//! Since every writer also writes its slot, an instruction that is not rewritten still reads
//! the right value, and nothing about the registers needs saving in a checkpoint: they are
//! never relied on across a safe point. Which kinds set the f64 register, and the register
//! forms, come from the instruction-set table (`compile::isa`), as do their handlers (whose
//! result template writes the register of the result's type), so they cannot disagree.

use super::ir::{Instr, Op, Slot};
use super::isa::{self, sets_f64_register};

/// Rewrites the readers of the registers in `code` (branch targets still absolute).
pub fn forward(code: &mut [Instr], pads: impl IntoIterator<Item = u32>) {
    let entry = entries(code, pads);
    // The slots whose values the registers hold.
    let (mut fa, mut ia) = (Mirror::default(), Mirror::default());
    for (i, ins) in code.iter_mut().enumerate() {
        if entry[i] {
            (fa, ia) = (Mirror::default(), Mirror::default());
        }
        // At most one rewrite per register (an instruction may read both: `F64AddMAB`).
        let before = *ins;
        for x in fa.slots() {
            if *ins == before {
                *ins = isa::reading(*ins, x);
            }
        }
        let before = *ins;
        for x in ia.slots() {
            if *ins == before {
                *ins = int_reading(*ins, x);
            }
        }
        let op = ins.op();
        let result = ins.result_slot_mut().copied();
        match (*ins, result) {
            // The copy's value is in both slots, and (`wr!`) in the integer register.
            (Instr::Copy { dst, src } | Instr::CopyA { dst, src }, _) => {
                ia = Mirror::one(src);
                ia.add(dst);
                if fa.contains(src) {
                    fa.add(dst);
                } else {
                    fa.remove(dst);
                }
            }
            // Two slots, no register.
            (_, Some(d)) if isa::writes_v128(op) => {
                for s in [d, d.wrapping_add(1)] {
                    ia.remove(s);
                    fa.remove(s);
                }
            }
            (_, Some(d)) if sets_f64_register(op) => {
                fa = Mirror::one(d);
                ia.remove(d);
            }
            (_, Some(d)) if sets_int_register(op) => {
                ia = Mirror::one(d);
                fa.remove(d);
            }
            _ if keeps_registers(ins) => {}
            _ => (fa, ia) = (Mirror::default(), Mirror::default()),
        }
    }
}

/// The slots (at most three) whose value a register holds.
#[derive(Clone, Copy, Default)]
struct Mirror([Option<Slot>; 3]);

impl Mirror {
    fn one(s: Slot) -> Self {
        Mirror([Some(s), None, None])
    }

    fn slots(self) -> impl Iterator<Item = Slot> {
        self.0.into_iter().flatten()
    }

    fn contains(&self, s: Slot) -> bool {
        self.0.contains(&Some(s))
    }

    fn remove(&mut self, s: Slot) {
        for e in &mut self.0 {
            if *e == Some(s) {
                *e = None;
            }
        }
    }

    /// Adds `s` (when full, in place of the last one).
    fn add(&mut self, s: Slot) {
        if self.contains(s) {
            return;
        }
        let free = self.0.iter().position(|e| e.is_none()).unwrap_or(self.0.len() - 1);
        self.0[free] = Some(s);
    }
}

/// Positions control may reach other than by falling through from the instruction before:
/// the start, branch targets, what follows a call or a `Poll`, and the landing pads of catch
/// clauses (`pads`: reached by unwinding, with the registers reset).
pub(super) fn entries(code: &[Instr], pads: impl IntoIterator<Item = u32>) -> Vec<bool> {
    let mut entry = vec![false; code.len() + 1];
    entry[0] = true;
    for p in pads {
        if let Some(e) = entry.get_mut(p as usize) {
            *e = true;
        }
    }
    for (i, ins) in code.iter().enumerate() {
        let mut ins = *ins;
        ins.map_branch_target(|t| {
            if let Some(e) = entry.get_mut(t as usize) {
                *e = true;
            }
            t
        });
        if matches!(ins, Instr::Poll { .. }) || ins.as_call().is_some() {
            entry[i + 1] = true;
        }
    }
    entry
}

/// The integer register form of `ins` when the register mirrors slot `x`, or `ins` itself:
/// the table's forms ([`isa::int_reading`]), and these, hand-written.
fn int_reading(mut ins: Instr, x: Slot) -> Instr {
    use Instr as I;
    // An indexed access with shift 0 adds base and index: either may be the register's.
    if let Some((base, idx, 0)) = ins.index_operands_mut() {
        if *base == x {
            std::mem::swap(base, idx);
        }
    }
    match ins {
        I::Copy { dst, src } if src == x => I::CopyA { dst, src },
        I::BrIfNez { cond, target } if cond == x => I::BrIfNezA { cond, target },
        I::BrIfEqz { cond, target } if cond == x => I::BrIfEqzA { cond, target },
        I::BrTable { index, len } if index == x => I::BrTableA { index, len },
        I::Select { dst, a, b, cond } if cond == x => I::SelectC { dst, a, b, cond },
        I::Select64 { dst, a, b, cond } if cond == x => I::Select64C { dst, a, b, cond },
        I::SelectAnd { dst, a, b, c, mask } if a == x && b != x => I::SelectAndA { dst, a, b, c, mask },
        I::SelectAnd { dst, a, b, c, mask } if b == x && a != x => I::SelectAndB { dst, a, b, c, mask },
        I::SelectAnd64 { dst, a, b, c, mask } if a == x && b != x => I::SelectAnd64A { dst, a, b, c, mask },
        I::SelectAnd64 { dst, a, b, c, mask } if b == x && a != x => I::SelectAnd64B { dst, a, b, c, mask },
        other => isa::int_reading(other, x),
    }
}

/// Whether the handler of `op`, an instruction with a single result slot that is not an f64
/// writer, sets the integer register to its result: all do (through `wr!`) except `TableGet`,
/// whose helper writes the slot.
fn sets_int_register(op: u16) -> bool {
    op != Op::TableGet as u16 && !sets_f64_register(op)
}

/// Whether `ins` (with no single result) leaves every slot and both registers as they are
/// and falls through when it does not branch.
fn keeps_registers(ins: &Instr) -> bool {
    ins.is_store()
        || ins.is_cond_branch()
        || matches!(ins, Instr::GlobalSet { .. } | Instr::GlobalSet128 { .. } | Instr::Br { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::ir::{Bin, Load, Store};

    fn bin(dst: Slot, a: Slot, b: Slot) -> Bin {
        Bin { dst, a, b }
    }

    #[test]
    fn readers_right_after_a_writer_use_the_register() {
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Load(Load { dst: 3, addr: 0, offset: 8 }),
            Instr::F64Mul(bin(4, 3, 3)),
            Instr::F64Sub(bin(5, 1, 4)),
            Instr::Const32 { dst: 6, val: 0 },
            Instr::I64Store(Store { addr: 6, val: 5, offset: 0 }),
            Instr::F64Add(bin(7, 2, 5)),
        ];
        forward(&mut code, []);
        assert_eq!(code[2], Instr::F64MulAB(bin(4, 3, 3)));
        assert_eq!(code[3], Instr::F64SubB(bin(5, 1, 4)));
        assert_eq!(code[5], Instr::F64StoreV(Store { addr: 6, val: 5, offset: 0 }));
        // Commutative: the register's operand moves to `a`.
        assert_eq!(code[6], Instr::F64AddA(bin(7, 5, 2)));
    }

    #[test]
    fn the_register_is_forgotten_where_it_may_be_stale() {
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Add(bin(3, 1, 2)),
            // Overwrites slot 3 without setting the register.
            Instr::Const64 { dst: 3, val: 0 },
            Instr::F64Add(bin(4, 3, 3)),
            Instr::Call { func: 0, base: 8 },
            Instr::F64Add(bin(5, 4, 4)),
            Instr::F64Add(bin(6, 1, 2)),
            // A branch target: reached from the branch below too.
            Instr::F64Add(bin(7, 6, 6)),
            Instr::BrIfNez { cond: 0, target: 7 },
            Instr::F64Sqrt(crate::compile::ir::Un { dst: 8, a: 6 }),
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Sqrt(crate::compile::ir::Un { dst: 9, a: 8 }),
        ];
        let before = code.clone();
        forward(&mut code, []);
        assert_eq!(code[3], before[3], "slot 3 was overwritten");
        assert_eq!(code[5], before[5], "after a call");
        assert_eq!(code[7], before[7], "at a branch target");
        assert_eq!(code[9], before[9], "slot 6 is not the register's");
        assert_eq!(code[11], before[11], "after a safe point");
    }

    #[test]
    fn integer_readers_use_the_integer_register() {
        use crate::compile::ir::{BinImm, CmpBr};
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::I32ShlImm(BinImm { dst: 3, a: 0, imm: 2 }),
            Instr::I32Add(bin(4, 1, 3)),
            Instr::I32Load(Load { dst: 5, addr: 4, offset: 0 }),
            Instr::I32Sub(bin(6, 2, 5)),
            Instr::I32LtSBr(CmpBr { a: 2, b: 6, target: 0 }),
            Instr::I32Store(Store { addr: 4, val: 6, offset: 0 }),
            Instr::I32GtS(bin(7, 1, 2)),
            Instr::Select { dst: 8, a: 1, b: 2, cond: 7 },
            // An f64 result does not change the integer register, and vice versa.
            Instr::F64Add(bin(9, 10, 11)),
            Instr::I32Eqz(crate::compile::ir::Un { dst: 12, a: 8 }),
            Instr::F64Mul(bin(13, 9, 9)),
        ];
        forward(&mut code, []);
        assert_eq!(code[2], Instr::I32AddA(bin(4, 3, 1)), "commutative: swapped");
        assert_eq!(code[3], Instr::I32LoadA(Load { dst: 5, addr: 4, offset: 0 }));
        assert_eq!(code[4], Instr::I32SubB(bin(6, 2, 5)));
        assert_eq!(code[5], Instr::I32GtSBrA(CmpBr { a: 6, b: 2, target: 0 }), "mirrored");
        assert_eq!(code[6], Instr::I32StoreV(Store { addr: 4, val: 6, offset: 0 }));
        assert_eq!(code[8], Instr::SelectC { dst: 8, a: 1, b: 2, cond: 7 });
        assert_eq!(
            code[10],
            Instr::I32EqzA(crate::compile::ir::Un { dst: 12, a: 8 }),
            "across an f64 result"
        );
        assert_eq!(code[11], Instr::F64MulAB(bin(13, 9, 9)));
    }

    #[test]
    fn indexed_accesses_take_the_index_from_the_register() {
        use crate::compile::ir::{BinImm, LoadIdx};
        let ld = LoadIdx { dst: 5, base: 1, idx: 4, shift: 2, offset: 0 };
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::I32AndImm(BinImm { dst: 4, a: 0, imm: 15 }),
            Instr::I32LoadIdx(ld),
            Instr::I32AndImm(BinImm { dst: 1, a: 0, imm: 15 }),
            Instr::I32LoadIdx(ld),
        ];
        forward(&mut code, []);
        assert_eq!(code[2], Instr::I32LoadIdxA(ld));
        assert_eq!(code[4], Instr::I32LoadIdx(ld), "the base has no register form");
    }

    #[test]
    fn copies_leave_the_value_in_both_slots() {
        use crate::compile::ir::BinImm;
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::I32AddImm(BinImm { dst: 6, a: 0, imm: -4096 }),
            Instr::Copy { dst: 12, src: 6 },
            Instr::I32Load(Load { dst: 6, addr: 6, offset: 0 }),
            Instr::I32Store(Store { addr: 12, val: 7, offset: 0 }),
            Instr::F64Mul(bin(20, 21, 22)),
            Instr::Copy { dst: 23, src: 20 },
            Instr::F64Add(bin(24, 23, 25)),
            Instr::Copy { dst: 20, src: 1 },
            Instr::F64Add(bin(26, 20, 25)),
        ];
        forward(&mut code, []);
        assert_eq!(code[2], Instr::CopyA { dst: 12, src: 6 });
        assert_eq!(code[3], Instr::I32LoadA(Load { dst: 6, addr: 6, offset: 0 }), "slot 6 too");
        assert_eq!(
            code[4],
            Instr::I32Store(Store { addr: 12, val: 7, offset: 0 }),
            "the load replaced slot 12"
        );
        assert_eq!(code[7], Instr::F64AddA(bin(24, 23, 25)), "the f64 register holds slot 23 too");
        assert_eq!(code[9], Instr::F64Add(bin(26, 20, 25)), "slot 20 was overwritten by a copy");
    }

    #[test]
    fn the_register_survives_instructions_that_leave_it_alone() {
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Div(bin(3, 1, 2)),
            Instr::Const32 { dst: 4, val: 16 },
            Instr::I32Load(Load { dst: 5, addr: 4, offset: 0 }),
            Instr::I32Store(Store { addr: 4, val: 5, offset: 0 }),
            Instr::F64Div(bin(6, 1, 3)),
        ];
        forward(&mut code, []);
        assert_eq!(code[5], Instr::F64DivB(bin(6, 1, 3)));
    }
}
