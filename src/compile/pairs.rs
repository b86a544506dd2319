//! Pairs: two instructions that run one after the other in every program (profiles of the
//! third-party corpus, issue 17: two copies, two increments, a scaled index added to a base,
//! two loads) executed by one handler, one dispatch instead of two.
//!
//! The first instruction of a pair becomes its pair kind (`Copy2`, …) and does both
//! operations; the second stays where it is, untouched, and the pair's handler reads its
//! operands from there and continues after it. So no program counter moves (stack maps,
//! trap offsets, branch targets and checkpoints are as without pairs), and the second still
//! runs by itself if control ever arrives at it — which it does not: a pair is only made where
//! the second is reached by falling through from the first alone (not a branch target, a
//! landing pad, or the return point of a call or `Poll`). A trap of the second operation is
//! reported at the second instruction. The registers end as the second instruction leaves
//! them, so the accumulator's rewrites (done before) stay right.

use super::accumulator::entries;
use super::ir::Instr;

/// Makes the pairs of `code` (branch targets still absolute; `pads`: the catch clauses'
/// landing pads).
pub fn fuse(code: &mut [Instr], pads: impl IntoIterator<Item = u32>) {
    let entry = entries(code, pads);
    let mut i = 0;
    while i + 1 < code.len() {
        if !entry[i + 1] {
            if let Some(p) = pair(code[i], code[i + 1]) {
                code[i] = p;
                i += 2;
                continue;
            }
        }
        i += 1;
    }
}

/// The pair kind for `a` followed by `b`, if there is one.
fn pair(a: Instr, b: Instr) -> Option<Instr> {
    use Instr as I;
    Some(match (a, b) {
        (I::Copy { dst, src }, I::Copy { .. }) => I::Copy2 { dst, src },
        (I::I32AddImm(x), I::I32AddImm(_)) => I::I32AddImm2 { dst: x.dst, a: x.a, imm: x.imm },
        (I::I32ShlImm(x), I::I32AddA(_)) => I::I32ShlImmAdd { dst: x.dst, a: x.a, imm: x.imm },
        (I::I32ShlImmA(x), I::I32AddA(_)) => I::I32ShlImmAAdd { dst: x.dst, a: x.a, imm: x.imm },
        (I::I32Load(x), I::I32Load(_)) => I::I32Load2 { dst: x.dst, addr: x.addr, offset: x.offset },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::ir::{Bin, BinImm, Load};

    #[test]
    fn pairs_only_where_the_second_is_reached_by_falling_through() {
        let add = |dst, a, imm| Instr::I32AddImm(BinImm { dst, a, imm });
        let mut code = vec![
            Instr::Poll { cost: 1, height: 4 },
            add(1, 1, 1),
            add(2, 2, 1),
            add(3, 3, 1),
            Instr::Copy { dst: 0, src: 1 },
            // A branch target: no pair with the copy before.
            Instr::Copy { dst: 1, src: 2 },
            Instr::Copy { dst: 2, src: 3 },
            Instr::I32ShlImmA(BinImm { dst: 3, a: 2, imm: 2 }),
            Instr::I32AddA(Bin { dst: 3, a: 3, b: 0 }),
            Instr::I32Load(Load { dst: 1, addr: 3, offset: 0 }),
            Instr::I32Load(Load { dst: 2, addr: 3, offset: 4 }),
            Instr::BrIfNez { cond: 1, target: 5 },
            Instr::Return { from: 1, n: 1 },
        ];
        let before = code.clone();
        fuse(&mut code, []);
        assert_eq!(code[1], Instr::I32AddImm2 { dst: 1, a: 1, imm: 1 });
        assert_eq!(code[3], before[3], "the third increment has no partner left");
        assert_eq!(code[4], before[4], "the next copy is a branch target");
        assert_eq!(code[5], Instr::Copy2 { dst: 1, src: 2 });
        assert_eq!(code[7], Instr::I32ShlImmAAdd { dst: 3, a: 2, imm: 2 });
        assert_eq!(code[9], Instr::I32Load2 { dst: 1, addr: 3, offset: 0 });
        // The second of each pair stays as it was.
        for i in [2, 6, 8, 10] {
            assert_eq!(code[i], before[i]);
        }
    }
}
