//! Accumulator forwarding: a pass over a lowered function that lets f64 results skip the
//! round trip through their slot.
//!
//! The executor keeps the result of the last f64-producing instruction (arithmetic, square
//! root, conversions, `f64.load`) in a machine register as well as in its slot: `fa`, one of
//! the handlers' arguments (see `exec::handlers`). An instruction that reads that slot while
//! the register still mirrors it may read the register instead. Chains of f64 arithmetic are
//! bound by latency, and the slot round trip (a store and a dependent load, forwarded by the
//! CPU in several cycles) is most of it: nbody's inner loop got much faster this way.
//!
//! The pass rewrites such readers to their accumulator forms (`F64AddA`, `F64SubB`,
//! `F64StoreA`, …), which have the same operands, so positions, branch targets and the
//! program counters in checkpoints are unaffected. It walks the code in order, following only
//! fall-through, and forgets what the register holds
//! - where control may arrive other than by falling through: branch targets, the instruction
//!   after a call (the callee used the register) or after a `Poll` (backward branches continue
//!   there, and so does a run resumed from a checkpoint, with the register unset), and the entry;
//! - at an instruction that writes the mirrored slot, or that it does not know.
//!
//! Every writer of the register also writes its slot, so a reader that is not rewritten still
//! sees the right value, and nothing about the register needs saving in a checkpoint: it is
//! never relied on across a safe point.

use super::ir::{Bin, Instr, Slot};

/// Rewrites the readers of the f64 register in `code` (branch targets still absolute).
pub fn forward(code: &mut [Instr]) {
    let entry = entries(code);
    let mut fa: Option<Slot> = None;
    for (i, ins) in code.iter_mut().enumerate() {
        if entry[i] {
            fa = None;
        }
        if let Some(x) = fa {
            *ins = reading(*ins, x);
        }
        fa = match f64_result(ins) {
            Some(d) => Some(d),
            None if fa.is_some() && keeps(ins, fa.unwrap_or_default()) => fa,
            None => None,
        };
    }
}

/// Positions control may reach other than by falling through from the instruction before.
fn entries(code: &[Instr]) -> Vec<bool> {
    let mut entry = vec![false; code.len() + 1];
    entry[0] = true;
    for (i, ins) in code.iter().enumerate() {
        let mut ins = *ins;
        ins.map_branch_target(|t| {
            if let Some(e) = entry.get_mut(t as usize) {
                *e = true;
            }
            t
        });
        if matches!(ins, Instr::Call { .. } | Instr::CallIndirect { .. } | Instr::Poll { .. }) {
            entry[i + 1] = true;
        }
    }
    entry
}

/// The accumulator form of `ins` when the register mirrors slot `x`, or `ins` itself.
fn reading(ins: Instr, x: Slot) -> Instr {
    use Instr as I;
    let swap = |b: Bin| Bin { dst: b.dst, a: b.b, b: b.a };
    match ins {
        I::F64Add(b) if b.a == x => I::F64AddA(b),
        I::F64Add(b) if b.b == x => I::F64AddA(swap(b)),
        I::F64Mul(b) if b.a == x && b.b == x => I::F64MulAA(b),
        I::F64Mul(b) if b.a == x => I::F64MulA(b),
        I::F64Mul(b) if b.b == x => I::F64MulA(swap(b)),
        I::F64Sub(b) if b.a == x => I::F64SubA(b),
        I::F64Sub(b) if b.b == x => I::F64SubB(b),
        I::F64Div(b) if b.a == x => I::F64DivA(b),
        I::F64Div(b) if b.b == x => I::F64DivB(b),
        I::F64Sqrt(u) if u.a == x => I::F64SqrtA(u),
        I::I64Store(s) if s.val == x => I::F64StoreA(s),
        I::I64StoreAt(s) if s.val == x => I::F64StoreAtA(s),
        other => other,
    }
}

/// The slot whose value an instruction also leaves in the f64 register.
fn f64_result(ins: &Instr) -> Option<Slot> {
    use Instr as I;
    match *ins {
        I::F64Add(b)
        | I::F64Sub(b)
        | I::F64Mul(b)
        | I::F64Div(b)
        | I::F64AddA(b)
        | I::F64SubA(b)
        | I::F64SubB(b)
        | I::F64MulA(b)
        | I::F64MulAA(b)
        | I::F64DivA(b)
        | I::F64DivB(b) => Some(b.dst),
        I::F64Sqrt(u)
        | I::F64SqrtA(u)
        | I::F64ConvertI32S(u)
        | I::F64ConvertI32U(u)
        | I::F64ConvertI64S(u)
        | I::F64ConvertI64U(u)
        | I::F64PromoteF32(u) => Some(u.dst),
        I::F64Load(l) => Some(l.dst),
        I::F64LoadAt(l) => Some(l.dst),
        _ => None,
    }
}

/// Whether `ins` (not a writer of the register) leaves slot `x` and the register as they are
/// and falls through (when it does not branch).
fn keeps(ins: &mut Instr, x: Slot) -> bool {
    if ins.is_store() || ins.is_cond_branch() || matches!(ins, Instr::GlobalSet { .. } | Instr::Br { .. }) {
        return true;
    }
    match ins {
        // Calls and the like write no single result slot: `None`, forget.
        Instr::Call { .. } | Instr::CallIndirect { .. } => false,
        _ => ins.result_slot_mut().is_some_and(|d| *d != x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::ir::{Load, Store};

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
        forward(&mut code);
        assert_eq!(code[2], Instr::F64MulAA(bin(4, 3, 3)));
        assert_eq!(code[3], Instr::F64SubB(bin(5, 1, 4)));
        assert_eq!(code[5], Instr::F64StoreA(Store { addr: 6, val: 5, offset: 0 }));
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
        forward(&mut code);
        assert_eq!(code[3], before[3], "slot 3 was overwritten");
        assert_eq!(code[5], before[5], "after a call");
        assert_eq!(code[7], before[7], "at a branch target");
        assert_eq!(code[9], before[9], "slot 6 is not the register's");
        assert_eq!(code[11], before[11], "after a safe point");
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
        forward(&mut code);
        assert_eq!(code[5], Instr::F64DivB(bin(6, 1, 3)));
    }
}
