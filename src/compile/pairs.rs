//! Pairs: two to four instructions that run one after the other in every program (profiles of
//! the third-party corpus, issue 17: two copies, two increments, a scaled index added to a base
//! and loaded, two loads, a bit field, a bit test and its branch, a function's epilogue,
//! arguments and their call, …) executed by one handler, one dispatch instead of two to four.
//!
//! The pairs are rows of the instruction-set table (`build/isa.rs`, `pairs`), which generates
//! their kinds ([`PAIR_KINDS`]), the patterns `fuse` looks for ([`pair`], [`triple`], [`quad`])
//! and their handlers (each runs the handler bodies of its kinds in turn). The first
//! instruction of a pair becomes its pair kind (`Copy2`, …) and does all the operations; the
//! others stay where they are, untouched, and the pair's handler reads their operands from
//! there and continues after the last. So no program counter moves (stack maps, trap offsets,
//! branch targets and checkpoints are as without pairs), and the others still run by
//! themselves if control ever arrives at them — which it does not: a pair is only made where
//! they are reached by falling through alone (not a branch target, a landing pad, or the
//! return point of a call or `Poll`). A trap or branch of any operation is that instruction's
//! own, at its own program counter. The registers end as the last instruction leaves them, so
//! the accumulator's rewrites (done before) stay right.

use super::accumulator::entries;
use super::ir::{Instr, Op};

/// Makes the pairs of `code` (branch targets still absolute; `pads`: the catch clauses'
/// landing pads).
pub fn fuse(code: &mut [Instr], pads: impl IntoIterator<Item = u32>) {
    let entry = entries(code, pads);
    let mut i = 0;
    while i + 1 < code.len() {
        if !entry[i + 1] {
            if i + 3 < code.len() && !entry[i + 2] && !entry[i + 3] {
                if let Some(q) = quad(code[i], code[i + 1], code[i + 2], code[i + 3]) {
                    code[i] = q;
                    i += 4;
                    continue;
                }
            }
            if i + 2 < code.len() && !entry[i + 2] {
                if let Some(t) = triple(code[i], code[i + 1], code[i + 2]) {
                    code[i] = t;
                    i += 3;
                    continue;
                }
            }
            if let Some(p) = pair(code[i], code[i + 1]) {
                code[i] = p;
                i += 2;
                continue;
            }
        }
        i += 1;
    }
}

// `PAIR_KINDS`, `pair`, `triple` and `quad`, generated from the pair table (`build/isa.rs`,
// `pairs`).
include!(concat!(env!("OUT_DIR"), "/isa_pairs.rs"));

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
            Instr::I32MulImm(BinImm { dst: 3, a: 3, imm: 3 }),
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
        assert_eq!(code[3], before[3], "a multiplication pairs with nothing");
        assert_eq!(code[4], before[4], "the next copy is a branch target");
        assert_eq!(code[5], Instr::Copy2 { dst: 1, src: 2 });
        assert_eq!(code[7], Instr::I32ShlImmAAdd { dst: 3, a: 2, imm: 2 });
        assert_eq!(code[9], Instr::I32Load2 { dst: 1, addr: 3, offset: 0 });
        // The second of each pair stays as it was.
        for i in [2, 6, 8, 10] {
            assert_eq!(code[i], before[i]);
        }
    }

    #[test]
    fn triples_need_both_followers_reached_by_falling_through() {
        let shl = Instr::I32ShlImm(BinImm { dst: 2, a: 1, imm: 2 });
        let add = Instr::I32AddA(Bin { dst: 2, a: 2, b: 0 });
        let load = Instr::I32LoadA(Load { dst: 3, addr: 2, offset: 0 });
        let code = |target| {
            vec![
                Instr::Poll { cost: 1, height: 4 },
                shl,
                add,
                load,
                Instr::BrIfNez { cond: 3, target },
                Instr::Return { from: 3, n: 1 },
            ]
        };
        let mut c = code(5);
        fuse(&mut c, []);
        assert_eq!(c[1], Instr::I32ShlImmAddLoad { dst: 2, a: 1, imm: 2 });
        assert_eq!(&c[2..4], &[add, load]);
        // The load is a branch target: the first two only.
        let mut c = code(3);
        fuse(&mut c, []);
        assert_eq!(c[1], Instr::I32ShlImmAdd { dst: 2, a: 1, imm: 2 });
        assert_eq!(&c[2..4], &[add, load]);
    }
}

/// A script in which the lowering makes every pair kind (checked below) and runs each.
#[cfg(test)]
const SCRIPT: &str = r#"
(module
  (memory 1)
  (data (i32.const 0) "\08\00\00\00\10\00\00\00\2a\00\00\00\f0\ff\ff\ff\04\00\00\00")
  (func (export "copy2") (param i32 i32) (result i32) (local i32 i32)
    (local.set 2 (local.get 1)) (local.set 3 (local.get 0))
    (i32.sub (local.get 2) (local.get 3)))
  (func (export "add2") (param i32 i32) (result i32)
    (local.set 0 (i32.add (local.get 0) (i32.const 1)))
    (local.set 1 (i32.add (local.get 1) (i32.const 2)))
    (i32.mul (local.get 0) (local.get 1)))
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (local.get $n))))
    (local.get $i))
  (func (export "add_store") (param $p i32) (param $x i32) (result i32)
    (i32.store (local.get $p) (i32.add (local.get $x) (i32.const 5)))
    (i32.load (local.get $p)))
  (func (export "add_a_store") (param $p i32) (param $q i32) (result i32)
    (i32.store (local.get $p) (i32.add (i32.load8_u (local.get $q)) (i32.const 5)))
    (i32.load (local.get $p)))
  (func (export "shl_add") (param $b i32) (param $i i32) (result i32)
    (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2))))
  (func (export "shl_a_add") (param $b i32) (param $p i32) (result i32)
    (i32.add (local.get $b) (i32.shl (i32.load (local.get $p)) (i32.const 2))))
  (func (export "field") (param $x i32) (result i32)
    (i32.and (i32.shr_u (local.get $x) (i32.const 3)) (i32.const 0xff0)))
  (func (export "field_a") (param $p i32) (result i32)
    (i32.and (i32.shr_u (i32.load (local.get $p)) (i32.const 3)) (i32.const 0xff0)))
  (func (export "bit_nez") (param $x i32) (result i32)
    (block $b (br_if $b (i32.and (local.get $x) (i32.const 4))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "bit_eqz") (param $x i32) (result i32)
    (block $b (br_if $b (i32.eqz (i32.and (local.get $x) (i32.const 4)))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "bit_a_nez") (param $p i32) (result i32)
    (block $b (br_if $b (i32.and (i32.load16_u (local.get $p)) (i32.const 4))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "bit_a_eqz") (param $p i32) (result i32)
    (block $b (br_if $b (i32.eqz (i32.and (i32.load16_u (local.get $p)) (i32.const 4)))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "load2") (param $p i32) (param $q i32) (result i32)
    (i32.sub (i32.load (local.get $p)) (i32.load (local.get $q))))
  (func (export "deref") (param $p i32) (result i32)
    (i32.load (i32.load (local.get $p))))
  (func (export "load_add") (param $p i32) (param $x i32) (result i32)
    (i32.add (i32.load (local.get $p)) (local.get $x)))
  (func (export "store2") (param $p i32) (param $x i32) (param $y i32) (result i32)
    (i32.store (local.get $p) (local.get $x))
    (i32.store offset=4 (local.get $p) (local.get $y))
    (i32.sub (i32.load offset=4 (local.get $p)) (i32.load (local.get $p))))
  (global $sp (mut i32) (i32.const 1024))
  (global $g (mut i32) (i32.const 0))
  (func (export "switch") (param $p i32) (result i32)
    (block $d (block $c1 (block $c0
      (br_table $c0 $c1 $d (i32.add (i32.load16_u (local.get $p)) (i32.const -8))))
      (return (i32.const 100)))
      (return (i32.const 101)))
    (i32.const 102))
  (func (export "const_select") (param $x i32) (param $c i32) (result i32)
    (select (i32.const 7) (local.get $x) (local.get $c)))
  (func (export "consts") (param $c i32) (result i32)
    (select (i32.const 7) (i32.const 9) (local.get $c)))
  (func $twice (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
  (func (export "copy_call") (param $x i32) (result i32)
    (call $twice (local.get $x)))
  (func (export "copy64") (param $p i32) (param $q i32) (result i64)
    (i64.store (local.get $q) (i64.load (local.get $p)))
    (i64.load (local.get $q)))
  (func (export "copy32") (param $p i32) (param $q i32) (result i32)
    (i32.store (local.get $q) (i32.load (local.get $p)))
    (i32.load (local.get $q)))
  (func (export "null_nez") (param $p i32) (result i32)
    (block $b (br_if $b (i32.load (local.get $p))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "null_eqz") (param $p i32) (result i32)
    (block $b (br_if $b (i32.eqz (i32.load (local.get $p)))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "frame") (result i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 16)))
    (global.get $sp))
  (func (export "set_g") (param $x i32) (result i32)
    (global.set $g (i32.add (local.get $x) (i32.const 3)))
    (global.get $g))
  (func (export "set_g_a") (param $p i32) (result i32)
    (global.set $g (i32.add (i32.load16_u (local.get $p)) (i32.const 3)))
    (global.get $g))
  (func (export "steps") (param $n i32) (result i32) (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $i))
  (func (export "index") (param $b i32) (param $i i32) (result i32) (local $t i32)
    (local.set $t (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2))))
    (i32.add (i32.load (local.get $t)) (local.get $t)))
  (func (export "index_a") (param $p i32) (result i32) (local $t i32)
    (local.set $t (i32.add (local.get $p) (i32.shl (i32.load (local.get $p)) (i32.const 1))))
    (i32.add (i32.load (local.get $t)) (local.get $t)))
  (func (export "incref") (param $p i32) (result i32)
    (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 1)))
    (i32.load (local.get $p)))
  (func (export "skip_eqz") (param $c i32) (param $x i32) (result i32)
    (block $b (br_if $b (i32.eqz (local.get $c)))
      (local.set $x (i32.add (local.get $x) (i32.const 10))))
    (local.get $x))
  (func (export "block_copy") (param $c i32) (param $x i32) (result i32)
    (block $b (result i32)
      (if (local.get $c) (then (br $b (local.get $x))))
      (i32.const 5)))
  (func (export "block_const") (param $c i32) (result i32)
    (block $b (result i32)
      (if (local.get $c) (then (br $b (i32.const 6))))
      (i32.const 5)))
  (func (export "neg_off") (param $x i32) (result i32)
    (i32.sub (i32.const 100) (i32.mul (local.get $x) (local.get $x))))
  (func (export "add_copy") (param $x i32) (param $y i32) (result i32) (local i32)
    (local.set $x (i32.add (local.get $x) (i32.const 3)))
    (local.set 2 (local.get $y))
    (i32.sub (local.get $x) (local.get 2)))
  (func (export "bytes") (param $p i32) (param $q i32) (result i32)
    (i32.sub (i32.load8_u (local.get $p)) (i32.load8_u (local.get $q))))
  (func (export "is_byte") (param $p i32) (result i32)
    (block $b (br_if $b (i32.ne (i32.load8_u (local.get $p)) (i32.const 42))) (return (i32.const 1)))
    (i32.const 0))
  (func (export "move_byte") (param $p i32) (param $q i32) (result i32)
    (i32.store8 (local.get $q) (i32.load8_u (local.get $p)))
    (i32.load8_u (local.get $q))))
(assert_return (invoke "copy2" (i32.const 3) (i32.const 10)) (i32.const 7))
(assert_return (invoke "add2" (i32.const 3) (i32.const 10)) (i32.const 48))
(assert_return (invoke "count" (i32.const 1000)) (i32.const 1000))
(assert_return (invoke "add_store" (i32.const 100) (i32.const 37)) (i32.const 42))
(assert_trap (invoke "add_store" (i32.const 65534) (i32.const 1)) "out of bounds memory access")
(assert_return (invoke "add_a_store" (i32.const 100) (i32.const 8)) (i32.const 47))
(assert_return (invoke "shl_add" (i32.const 100) (i32.const 3)) (i32.const 112))
(assert_return (invoke "shl_a_add" (i32.const 100) (i32.const 8)) (i32.const 268))
(assert_return (invoke "field" (i32.const 0xfedcba98)) (i32.const 0x750))
(assert_return (invoke "field_a" (i32.const 12)) (i32.const 0xff0))
(assert_return (invoke "bit_nez" (i32.const 4)) (i32.const 1))
(assert_return (invoke "bit_nez" (i32.const 3)) (i32.const 0))
(assert_return (invoke "bit_eqz" (i32.const 4)) (i32.const 0))
(assert_return (invoke "bit_eqz" (i32.const 3)) (i32.const 1))
(assert_return (invoke "bit_a_nez" (i32.const 4)) (i32.const 0))
(assert_return (invoke "bit_a_nez" (i32.const 16)) (i32.const 1))
(assert_return (invoke "bit_a_eqz" (i32.const 4)) (i32.const 1))
(assert_return (invoke "bit_a_eqz" (i32.const 16)) (i32.const 0))
(assert_return (invoke "load2" (i32.const 8) (i32.const 4)) (i32.const 26))
(assert_trap (invoke "load2" (i32.const 8) (i32.const 65533)) "out of bounds memory access")
(assert_trap (invoke "load2" (i32.const 65533) (i32.const 8)) "out of bounds memory access")
(assert_return (invoke "deref" (i32.const 0)) (i32.const 42))
(assert_trap (invoke "deref" (i32.const 12)) "out of bounds memory access")
(assert_return (invoke "load_add" (i32.const 8) (i32.const -2)) (i32.const 40))
(assert_return (invoke "store2" (i32.const 200) (i32.const 5) (i32.const 12)) (i32.const 7))
(assert_trap (invoke "store2" (i32.const 65530) (i32.const 5) (i32.const 12)) "out of bounds memory access")
(assert_return (invoke "switch" (i32.const 0)) (i32.const 100))
(assert_return (invoke "switch" (i32.const 16)) (i32.const 102))
(assert_return (invoke "switch" (i32.const 8)) (i32.const 102))
(assert_return (invoke "switch" (i32.const 4)) (i32.const 102))
(assert_return (invoke "const_select" (i32.const 3) (i32.const 1)) (i32.const 7))
(assert_return (invoke "const_select" (i32.const 3) (i32.const 0)) (i32.const 3))
(assert_return (invoke "consts" (i32.const 0)) (i32.const 9))
(assert_return (invoke "consts" (i32.const 5)) (i32.const 7))
(assert_return (invoke "copy_call" (i32.const 21)) (i32.const 42))
(assert_return (invoke "copy64" (i32.const 0) (i32.const 300)) (i64.const 0x1000000008))
(assert_trap (invoke "copy64" (i32.const 65530) (i32.const 300)) "out of bounds memory access")
(assert_return (invoke "copy32" (i32.const 8) (i32.const 300)) (i32.const 42))
(assert_trap (invoke "copy32" (i32.const 8) (i32.const 65534)) "out of bounds memory access")
(assert_return (invoke "null_nez" (i32.const 0)) (i32.const 1))
(assert_return (invoke "null_nez" (i32.const 400)) (i32.const 0))
(assert_return (invoke "null_eqz" (i32.const 0)) (i32.const 0))
(assert_return (invoke "null_eqz" (i32.const 400)) (i32.const 1))
(assert_return (invoke "frame") (i32.const 1008))
(assert_return (invoke "set_g" (i32.const 4)) (i32.const 7))
(assert_return (invoke "set_g_a" (i32.const 8)) (i32.const 45))
(assert_return (invoke "steps" (i32.const 50)) (i32.const 50))
(assert_return (invoke "index" (i32.const 4) (i32.const 1)) (i32.const 50))
(assert_trap (invoke "index" (i32.const 65532) (i32.const 1)) "out of bounds memory access")
(assert_return (invoke "index_a" (i32.const 0)) (i32.const 20))
(assert_return (invoke "incref" (i32.const 12)) (i32.const -15))
(assert_trap (invoke "incref" (i32.const 65534)) "out of bounds memory access")
(assert_return (invoke "skip_eqz" (i32.const 0) (i32.const 1)) (i32.const 1))
(assert_return (invoke "skip_eqz" (i32.const 1) (i32.const 1)) (i32.const 11))
(assert_return (invoke "block_copy" (i32.const 1) (i32.const 9)) (i32.const 9))
(assert_return (invoke "block_copy" (i32.const 0) (i32.const 9)) (i32.const 5))
(assert_return (invoke "block_const" (i32.const 1)) (i32.const 6))
(assert_return (invoke "block_const" (i32.const 0)) (i32.const 5))
(assert_return (invoke "neg_off" (i32.const 3)) (i32.const 91))
(assert_return (invoke "add_copy" (i32.const 3) (i32.const 1)) (i32.const 5))
(assert_return (invoke "bytes" (i32.const 8) (i32.const 0)) (i32.const 34))
(assert_return (invoke "is_byte" (i32.const 8)) (i32.const 1))
(assert_return (invoke "is_byte" (i32.const 0)) (i32.const 0))
(assert_return (invoke "move_byte" (i32.const 8) (i32.const 600)) (i32.const 42))
(assert_trap (invoke "move_byte" (i32.const 8) (i32.const 65536)) "out of bounds memory access")
(module
  (memory 1)
  (data (i32.const 0) "\08\00\00\00\10\00\00\00\2a\00\00\00\f0\ff\ff\ff\04\00\00\00\07\00\00\00\00\00\00\00")
  (global $g (mut i32) (i32.const 1000))
  (func $epi (param $x i32) (global.set $g (i32.add (local.get $x) (i32.const 16))))
  (func (export "epilogue") (param $x i32) (result i32) (call $epi (local.get $x)) (global.get $g))
  (func (export "prologue") (result i32)
    (global.set $g (i32.sub (global.get $g) (i32.const 32))) (global.get $g))
  (func (export "g_plus") (result i32) (i32.add (global.get $g) (i32.const 5)))
  (func $sub2 (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
  (func $sub3 (param i32 i32 i32) (result i32) (i32.sub (i32.sub (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "call2") (param i32 i32) (result i32) (call $sub2 (local.get 1) (local.get 0)))
  (func (export "call3") (param i32 i32 i32) (result i32) (call $sub3 (local.get 2) (local.get 0) (local.get 1)))
  (func (export "call2k") (param i32 i32) (result i32) (call $sub3 (local.get 1) (local.get 0) (i32.const 5)))
  (func (export "consts_call") (result i32) (call $sub2 (i32.const 50) (i32.const 8)))
  (func (export "tee_load") (param $p i32) (result i32) (local $t i32)
    (i32.add (i32.load (local.tee $t (i32.add (local.get $p) (i32.const 4)))) (local.get $t)))
  (func (export "tee_load_a") (param $p i32) (result i32) (local $t i32)
    (i32.add (i32.load (local.tee $t (i32.add (i32.load16_u (local.get $p)) (i32.const 4)))) (local.get $t)))
  (func (export "mul_add_load") (param $a i32) (param $b i32) (param $p i32) (result i32) (local $t i32)
    (i32.sub (i32.load (local.tee $t (i32.add (i32.mul (local.get $a) (local.get $b)) (local.get $p))))
      (local.get $t)))
  (func (export "mul_add_load8") (param $a i32) (param $b i32) (param $p i32) (result i32) (local $t i32)
    (i32.sub (i32.load8_u (local.tee $t (i32.add (i32.mul (local.get $a) (local.get $b)) (local.get $p))))
      (local.get $t)))
  (func (export "mul_add_load_at") (param $a i32) (param $b i32) (param $p i32) (result i32)
    (i32.load (i32.add (i32.add (i32.mul (local.get $a) (local.get $b)) (local.get $p)) (i32.const 8))))
  (func (export "row_a") (param $p i32) (param $b i32) (result i32)
    (i32.add (i32.mul (i32.load (local.get $p)) (i32.const 12)) (local.get $b)))
  (func (export "row") (param $i i32) (param $b i32) (result i32)
    (i32.add (i32.mul (local.get $i) (i32.const 12)) (local.get $b)))
  (func (export "entry_at") (param $p i32) (result i32)
    (i32.load (i32.add (i32.shl (i32.load (local.get $p)) (i32.const 1)) (i32.const 4))))
  (func (export "field_add") (param $x i32) (param $b i32) (result i32)
    (i32.add (i32.and (i32.shr_u (local.get $x) (i32.const 3)) (i32.const 0xff0)) (local.get $b)))
  (func (export "index_k") (param $b i32) (param $i i32) (result i32)
    (i32.add (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2))) (i32.const 7)))
  (func (export "index_a_k") (param $b i32) (param $p i32) (result i32)
    (i32.add (i32.add (local.get $b) (i32.shl (i32.load (local.get $p)) (i32.const 2))) (i32.const 7)))
  (func (export "load_index") (param $p i32) (param $b i32) (param $i i32) (result i32) (local $v i32)
    (local.set $v (i32.load (local.get $p)))
    (i32.sub (local.get $v) (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2)))))
  (func (export "step_index") (param $i i32) (param $b i32) (param $j i32) (result i32) (local $k i32)
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (local.set $k (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
    (i32.sub (local.get $k) (local.get $i)))
  (func (export "load_eq") (param $p i32) (param $x i32) (result i32)
    (block $b (br_if $b (i32.eq (i32.load (local.get $p)) (local.get $x))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "load_gt_u") (param $p i32) (param $x i32) (result i32)
    (block $b (br_if $b (i32.gt_u (i32.load (local.get $p)) (local.get $x))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "load_mask") (param $p i32) (result i32) (i32.and (i32.load (local.get $p)) (i32.const 0xff)))
  (func (export "load_then_step") (param $p i32) (param $i i32) (result i32) (local $v i32)
    (local.set $v (i32.load (local.get $p)))
    (local.set $i (i32.add (local.get $i) (i32.const 3)))
    (i32.sub (local.get $v) (local.get $i)))
  (func (export "load3") (param $p i32) (result i32) (local $a i32) (local $b i32) (local $c i32)
    (local.set $a (i32.load (local.get $p)))
    (local.set $b (i32.load offset=4 (local.get $p)))
    (local.set $c (i32.load offset=8 (local.get $p)))
    (i32.sub (i32.sub (local.get $c) (local.get $b)) (local.get $a)))
  (func (export "load_add_store") (param $p i32) (param $x i32) (param $q i32) (result i32)
    (i32.store (local.get $q) (i32.add (i32.load (local.get $p)) (local.get $x)))
    (i32.load (local.get $q)))
  (func (export "deref_inc") (param $a i32) (param $b i32) (param $q i32) (result i32)
    (i32.store (local.get $q) (i32.add (i32.load (i32.mul (local.get $a) (local.get $b))) (i32.const 1)))
    (i32.load (local.get $q)))
  (func (export "byte_bit_eqz") (param $p i32) (result i32)
    (block $b (br_if $b (i32.eqz (i32.and (i32.load8_u (local.get $p)) (i32.const 4)))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "byte_bit_nez") (param $p i32) (result i32)
    (block $b (br_if $b (i32.and (i32.load8_u (local.get $p)) (i32.const 4))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "load64_k") (param $p i32) (result i64) (i64.add (i64.load (local.get $p)) (i64.const 5)))
  (func (export "mul_add_store") (param $a i32) (param $b i32) (param $c i32) (param $q i32) (result i32)
    (i32.store (local.get $q) (i32.add (i32.mul (local.get $a) (local.get $b)) (local.get $c)))
    (i32.load (local.get $q)))
  (func (export "mul_add_k") (param $a i32) (param $b i32) (param $c i32) (result i32)
    (i32.add (i32.add (i32.mul (local.get $a) (local.get $b)) (local.get $c)) (i32.const 3)))
  (func (export "flag_skip") (param $c i32) (param $x i32) (result i32) (local $r i32)
    (block $b
      (local.set $r (i32.const 0))
      (br_if $b (i32.eqz (local.get $c)))
      (local.set $r (local.get $x)))
    (local.get $r))
  (func (export "const_copy") (param $x i32) (result i32) (local $a i32) (local $b i32)
    (local.set $a (i32.const 5)) (local.set $b (local.get $x))
    (i32.sub (local.get $a) (local.get $b)))
  (func (export "copy_const") (param $x i32) (result i32) (local $a i32) (local $b i32)
    (local.set $b (local.get $x)) (local.set $a (i32.const 5))
    (i32.sub (local.get $b) (local.get $a)))
  (func (export "step_const") (param $i i32) (result i32) (local $a i32)
    (local.set $i (i32.add (local.get $i) (i32.const 1))) (local.set $a (i32.const 5))
    (i32.sub (local.get $i) (local.get $a)))
  (func (export "const_addr") (result i32) (i32.load (i32.const 8)))
  (func (export "bit") (param $n i32) (result i32) (i32.shl (i32.const 1) (local.get $n)))
  (func (export "mul64k") (param $x i64) (result i64) (i64.mul (local.get $x) (i64.const 0x100000001)))
  (func (export "and64k") (param $x i64) (result i64) (i64.and (local.get $x) (i64.const 0xff00000000)))
  (func (export "steps2") (result i32) (local $a i32) (local $b i32) (local $i i32)
    (loop $l
      (local.set $a (i32.add (local.get $a) (i32.const 3)))
      (local.set $b (i32.add (local.get $b) (i32.const 2)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (i32.const 10))))
    (i32.add (local.get $a) (local.get $b)))
  (func (export "steps1") (result i32) (local $a i32) (local $i i32)
    (loop $l
      (local.set $a (i32.add (local.get $a) (i32.const 3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (i32.const 10))))
    (local.get $a))
  (func (export "add3") (param $a i32) (param $b i32) (param $c i32) (result i32)
    (local.set $a (i32.add (local.get $a) (i32.const 1)))
    (local.set $b (i32.add (local.get $b) (i32.const 2)))
    (local.set $c (i32.add (local.get $c) (i32.const 3)))
    (i32.sub (i32.sub (local.get $c) (local.get $b)) (local.get $a)))
  (func (export "next_lt_u") (param $x i32) (param $n i32) (result i32)
    (block $b (br_if $b (i32.lt_u (i32.add (local.get $x) (i32.const 1)) (local.get $n))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "copy_test") (param $x i32) (result i32) (local $y i32)
    (block $b (local.set $y (local.get $x)) (br_if $b (local.get $y)) (return (i32.const 7)))
    (local.get $y))
  (func (export "copy_load") (param $x i32) (param $p i32) (result i32) (local $y i32)
    (local.set $y (local.get $x))
    (i32.sub (i32.load (local.get $p)) (local.get $y))))
(assert_return (invoke "epilogue" (i32.const 5)) (i32.const 21))
(assert_return (invoke "prologue") (i32.const -11))
(assert_return (invoke "g_plus") (i32.const -6))
(assert_return (invoke "call2" (i32.const 3) (i32.const 10)) (i32.const 7))
(assert_return (invoke "call3" (i32.const 1) (i32.const 2) (i32.const 30)) (i32.const 27))
(assert_return (invoke "call2k" (i32.const 3) (i32.const 40)) (i32.const 32))
(assert_return (invoke "consts_call") (i32.const 42))
(assert_return (invoke "tee_load" (i32.const 0)) (i32.const 20))
(assert_return (invoke "tee_load_a" (i32.const 0)) (i32.const -4))
(assert_trap (invoke "tee_load_a" (i32.const 65535)) "out of bounds memory access")
(assert_return (invoke "mul_add_load" (i32.const 2) (i32.const 2) (i32.const 4)) (i32.const 34))
(assert_return (invoke "mul_add_load8" (i32.const 2) (i32.const 2) (i32.const 4)) (i32.const 34))
(assert_trap (invoke "mul_add_load8" (i32.const 256) (i32.const 256) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "mul_add_load_at" (i32.const 1) (i32.const 4) (i32.const 0)) (i32.const -16))
(assert_return (invoke "row_a" (i32.const 0) (i32.const 5)) (i32.const 101))
(assert_return (invoke "row" (i32.const 3) (i32.const 5)) (i32.const 41))
(assert_return (invoke "entry_at" (i32.const 16)) (i32.const -16))
(assert_return (invoke "field_add" (i32.const 0xfedcba98) (i32.const 1)) (i32.const 0x751))
(assert_return (invoke "index_k" (i32.const 100) (i32.const 3)) (i32.const 119))
(assert_return (invoke "index_a_k" (i32.const 100) (i32.const 16)) (i32.const 123))
(assert_return (invoke "load_index" (i32.const 8) (i32.const 100) (i32.const 3)) (i32.const -70))
(assert_return (invoke "step_index" (i32.const 5) (i32.const 100) (i32.const 2)) (i32.const 102))
(assert_return (invoke "load_eq" (i32.const 8) (i32.const 42)) (i32.const 1))
(assert_return (invoke "load_eq" (i32.const 8) (i32.const 41)) (i32.const 0))
(assert_return (invoke "load_gt_u" (i32.const 12) (i32.const 5)) (i32.const 1))
(assert_return (invoke "load_gt_u" (i32.const 16) (i32.const 5)) (i32.const 0))
(assert_return (invoke "load_mask" (i32.const 12)) (i32.const 240))
(assert_return (invoke "load_then_step" (i32.const 8) (i32.const 10)) (i32.const 29))
(assert_return (invoke "load3" (i32.const 0)) (i32.const 18))
(assert_trap (invoke "load3" (i32.const 65528)) "out of bounds memory access")
(assert_return (invoke "load_add_store" (i32.const 8) (i32.const 8) (i32.const 600)) (i32.const 50))
(assert_trap (invoke "load_add_store" (i32.const 65534) (i32.const 0) (i32.const 600)) "out of bounds memory access")
(assert_trap (invoke "load_add_store" (i32.const 8) (i32.const 0) (i32.const 65534)) "out of bounds memory access")
(assert_return (invoke "deref_inc" (i32.const 2) (i32.const 4) (i32.const 600)) (i32.const 43))
(assert_return (invoke "byte_bit_eqz" (i32.const 16)) (i32.const 0))
(assert_return (invoke "byte_bit_eqz" (i32.const 0)) (i32.const 1))
(assert_return (invoke "byte_bit_nez" (i32.const 16)) (i32.const 1))
(assert_return (invoke "byte_bit_nez" (i32.const 0)) (i32.const 0))
(assert_return (invoke "load64_k" (i32.const 0)) (i64.const 68719476749))
(assert_return (invoke "mul_add_store" (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 600)) (i32.const 17))
(assert_return (invoke "mul_add_k" (i32.const 3) (i32.const 4) (i32.const 5)) (i32.const 20))
(assert_return (invoke "flag_skip" (i32.const 0) (i32.const 9)) (i32.const 0))
(assert_return (invoke "flag_skip" (i32.const 1) (i32.const 9)) (i32.const 9))
(assert_return (invoke "const_copy" (i32.const 2)) (i32.const 3))
(assert_return (invoke "copy_const" (i32.const 9)) (i32.const 4))
(assert_return (invoke "step_const" (i32.const 9)) (i32.const 5))
(assert_return (invoke "const_addr") (i32.const 42))
(assert_return (invoke "bit" (i32.const 5)) (i32.const 32))
(assert_return (invoke "mul64k" (i64.const 3)) (i64.const 12884901891))
(assert_return (invoke "and64k" (i64.const 0x123456789a)) (i64.const 77309411328))
(assert_return (invoke "steps2") (i32.const 50))
(assert_return (invoke "steps1") (i32.const 30))
(assert_return (invoke "add3" (i32.const 10) (i32.const 20) (i32.const 40)) (i32.const 10))
(assert_return (invoke "next_lt_u" (i32.const 3) (i32.const 5)) (i32.const 1))
(assert_return (invoke "next_lt_u" (i32.const 4) (i32.const 5)) (i32.const 0))
(assert_return (invoke "copy_test" (i32.const 3)) (i32.const 3))
(assert_return (invoke "copy_test" (i32.const 0)) (i32.const 7))
(assert_return (invoke "copy_load" (i32.const 2) (i32.const 8)) (i32.const 40))
(module
  (memory 1)
  (data (i32.const 0) "\08\00\00\00\10\00\00\00\2a\00\00\00\f0\ff\ff\ff\04\00\00\00\07\00\00\00\00\00\00\00")
  (type $un (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $dbl $neg)
  (func $dbl (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
  (func $neg (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
  (func (export "ne_copy") (param $x i32) (result i32) (local $y i32)
    (local.set $y (i32.const 100))
    (block $b (br_if $b (i32.ne (i32.mul (local.get $x) (local.get $x)) (i32.const 9)))
      (local.set $y (local.get $x)))
    (local.get $y))
  (func (export "byte_is") (param $p i32) (param $i i32) (result i32)
    (block $b (br_if $b (i32.ne (i32.load8_u (local.tee $p (i32.add (local.get $p) (local.get $i)))) (i32.const 42)))
      (return (i32.const 1)))
    (i32.const 0))
  (func (export "bytes_ne") (param $p i32) (param $q i32) (result i32)
    (block $b (br_if $b (i32.ne (i32.load8_u (local.get $p)) (i32.load8_u (local.get $q)))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "field_byte") (param $x i32) (param $b i32) (result i32) (local $t i32)
    (i32.sub
      (i32.load8_u (local.tee $t (i32.add (i32.and (i32.shr_u (local.get $x) (i32.const 3)) (i32.const 0xff0)) (local.get $b))))
      (local.get $t)))
  (func (export "load_is_k") (param $p i32) (result i32)
    (block $b (br_if $b (i32.eq (i32.load (local.get $p)) (i32.const 42))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "shl_at") (param $i i32) (result i32)
    (i32.load (i32.add (i32.shl (local.get $i) (i32.const 2)) (i32.const 4))))
  (func (export "maybe_load") (param $c i32) (param $p i32) (result i32) (local $r i32)
    (local.set $r (i32.sub (i32.const 0) (local.get $c)))
    (block $b (br_if $b (i32.eqz (local.get $c))) (local.set $r (i32.load (local.get $p))))
    (local.get $r))
  (func (export "maybe_load_a") (param $a i32) (param $b i32) (param $p i32) (result i32) (local $r i32)
    (local.set $r (i32.const -1))
    (block $z (br_if $z (i32.eqz (i32.mul (local.get $a) (local.get $b)))) (local.set $r (i32.load (local.get $p))))
    (local.get $r))
  (func (export "load_xor") (param $p i32) (param $x i32) (result i32) (i32.xor (i32.load (local.get $p)) (local.get $x)))
  (func (export "entry_null") (param $b i32) (param $i i32) (result i32)
    (block $z
      (br_if $z (i32.eqz (i32.load (i32.add (local.get $b) (i32.shl (i32.mul (local.get $i) (local.get $i)) (i32.const 2))))))
      (return (i32.const 1)))
    (i32.const 0))
  (func (export "load_at_load") (param $p i32) (param $q i32) (result i32) (local $a i32) (local $c i32)
    (local.set $a (i32.load (i32.add (local.get $p) (i32.const 4))))
    (local.set $c (i32.load (local.get $q)))
    (i32.sub (local.get $a) (local.get $c)))
  (func (export "load_k") (param $p i32) (result i32) (i32.add (i32.load (local.get $p)) (i32.const 5)))
  (func (export "flags") (param $x i32) (result i32)
    (block $b
      (br_if $b (i32.eqz (i32.and (local.get $x) (i32.const 1))))
      (br_if $b (i32.eqz (i32.and (local.get $x) (i32.const 2))))
      (return (i32.const 1)))
    (i32.const 0))
  (func (export "byte_mask") (param $p i32) (result i32) (i32.and (i32.load8_u (local.get $p)) (i32.const 6)))
  (func (export "byte_at") (param $p i32) (result i32) (i32.load8_u (i32.load (local.get $p))))
  (func (export "fnv") (param $h i64) (param $x i64) (result i64)
    (i64.mul (i64.xor (i64.mul (local.get $h) (local.get $h)) (local.get $x)) (i64.const 0x100000001b3)))
  (func (export "load_le_u") (param $p i32) (param $x i32) (result i32)
    (block $b (br_if $b (i32.le_u (i32.load (local.get $p)) (local.get $x))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "max_u") (param $p i32) (param $b i32) (result i32)
    (select (i32.load (local.get $p)) (local.get $b) (i32.gt_u (i32.load (local.get $p)) (local.get $b))))
  (func (export "min_u") (param $p i32) (param $b i32) (result i32)
    (select (i32.load (local.get $p)) (local.get $b) (i32.lt_u (i32.load (local.get $p)) (local.get $b))))
  (func (export "copy64_at") (param $p i32) (param $q i32) (result i64)
    (i64.store (local.get $q) (i64.load (i32.add (local.get $p) (i32.const 8))))
    (i64.load (local.get $q)))
  (func (export "copy64_a") (param $p i32) (param $q i32) (result i64)
    (i64.store (local.get $q) (i64.load (i32.load (local.get $p))))
    (i64.load (local.get $q)))
  (func (export "sum64_store") (param $x i64) (param $y i64) (param $q i32) (result i64)
    (i64.store (local.get $q) (i64.add (i64.mul (local.get $x) (local.get $x)) (local.get $y)))
    (i64.load (local.get $q)))
  (func (export "indirect") (param $x i32) (param $i i32) (result i32)
    (call_indirect (type $un) (local.get $x) (local.get $i)))
  (func (export "add_step") (param $a i32) (param $b i32) (param $i i32) (result i32) (local $s i32)
    (local.set $s (i32.add (local.get $a) (local.get $b)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (i32.sub (local.get $s) (local.get $i)))
  (func (export "byte_nez") (param $p i32) (param $i i32) (result i32)
    (block $b (br_if $b (i32.load8_u (local.tee $p (i32.add (local.get $p) (local.get $i))))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "switch1") (param $x i32) (result i32)
    (block $d (block $c1 (block $c0
      (br_table $c0 $c1 $d (i32.add (local.get $x) (i32.const -1))))
      (return (i32.const 100)))
      (return (i32.const 101)))
    (i32.const 102))
  (func (export "step_load64") (param $i i32) (param $p i32) (result i64)
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (i64.add (i64.load (i32.add (local.get $p) (i32.const 8))) (i64.extend_i32_u (local.get $i))))
  (func (export "deref2") (param $a i32) (param $b i32) (result i32)
    (i32.load (i32.load (i32.mul (local.get $a) (local.get $b)))))
  (func (export "align4") (param $x i32) (result i32) (i32.and (i32.add (local.get $x) (i32.const 3)) (i32.const -4)))
  (func (export "half_nez") (param $p i32) (result i32)
    (block $b (br_if $b (i32.load16_u (local.get $p))) (return (i32.const 0)))
    (i32.const 1))
  (func (export "copy_a") (param $a i32) (param $b i32) (param $q i32) (result i32)
    (i32.store (local.get $q) (i32.load (i32.mul (local.get $a) (local.get $b))))
    (i32.load (local.get $q))))
(assert_return (invoke "ne_copy" (i32.const 3)) (i32.const 3))
(assert_return (invoke "ne_copy" (i32.const 2)) (i32.const 100))
(assert_return (invoke "byte_is" (i32.const 4) (i32.const 4)) (i32.const 1))
(assert_return (invoke "byte_is" (i32.const 0) (i32.const 0)) (i32.const 0))
(assert_trap (invoke "byte_is" (i32.const 65536) (i32.const 0)) "out of bounds memory access")
(assert_return (invoke "bytes_ne" (i32.const 8) (i32.const 8)) (i32.const 0))
(assert_return (invoke "bytes_ne" (i32.const 8) (i32.const 0)) (i32.const 1))
(assert_trap (invoke "bytes_ne" (i32.const 8) (i32.const 65536)) "out of bounds memory access")
(assert_return (invoke "field_byte" (i32.const 0x80) (i32.const -8)) (i32.const 34))
(assert_return (invoke "load_is_k" (i32.const 8)) (i32.const 1))
(assert_return (invoke "load_is_k" (i32.const 4)) (i32.const 0))
(assert_return (invoke "shl_at" (i32.const 1)) (i32.const 42))
(assert_return (invoke "maybe_load" (i32.const 0) (i32.const 8)) (i32.const 0))
(assert_return (invoke "maybe_load" (i32.const 1) (i32.const 8)) (i32.const 42))
(assert_return (invoke "maybe_load_a" (i32.const 0) (i32.const 3) (i32.const 8)) (i32.const -1))
(assert_return (invoke "maybe_load_a" (i32.const 2) (i32.const 3) (i32.const 8)) (i32.const 42))
(assert_trap (invoke "maybe_load_a" (i32.const 2) (i32.const 3) (i32.const 65534)) "out of bounds memory access")
(assert_return (invoke "load_xor" (i32.const 8) (i32.const 15)) (i32.const 37))
(assert_return (invoke "entry_null" (i32.const 0) (i32.const 2)) (i32.const 1))
(assert_return (invoke "entry_null" (i32.const 8) (i32.const 2)) (i32.const 0))
(assert_return (invoke "load_at_load" (i32.const 4) (i32.const 16)) (i32.const 38))
(assert_return (invoke "load_k" (i32.const 8)) (i32.const 47))
(assert_return (invoke "flags" (i32.const 3)) (i32.const 1))
(assert_return (invoke "flags" (i32.const 1)) (i32.const 0))
(assert_return (invoke "flags" (i32.const 2)) (i32.const 0))
(assert_return (invoke "byte_mask" (i32.const 16)) (i32.const 4))
(assert_return (invoke "byte_at" (i32.const 4)) (i32.const 4))
(assert_return (invoke "fnv" (i64.const 3) (i64.const 5)) (i64.const 13194139538532))
(assert_return (invoke "load_le_u" (i32.const 16) (i32.const 4)) (i32.const 1))
(assert_return (invoke "load_le_u" (i32.const 8) (i32.const 4)) (i32.const 0))
(assert_return (invoke "max_u" (i32.const 8) (i32.const 5)) (i32.const 42))
(assert_return (invoke "max_u" (i32.const 8) (i32.const 50)) (i32.const 50))
(assert_return (invoke "min_u" (i32.const 8) (i32.const 5)) (i32.const 5))
(assert_return (invoke "min_u" (i32.const 8) (i32.const 50)) (i32.const 42))
(assert_return (invoke "copy64_at" (i32.const 0) (i32.const 600)) (i64.const 0xfffffff00000002a))
(assert_return (invoke "copy64_a" (i32.const 16) (i32.const 600)) (i64.const 0x0000002a00000010))
(assert_return (invoke "sum64_store" (i64.const 3) (i64.const 4) (i32.const 600)) (i64.const 13))
(assert_trap (invoke "sum64_store" (i64.const 3) (i64.const 4) (i32.const 65530)) "out of bounds memory access")
(assert_return (invoke "indirect" (i32.const 21) (i32.const 0)) (i32.const 42))
(assert_return (invoke "indirect" (i32.const 21) (i32.const 1)) (i32.const -21))
(assert_trap (invoke "indirect" (i32.const 21) (i32.const 2)) "undefined element")
(assert_return (invoke "add_step" (i32.const 10) (i32.const 20) (i32.const 4)) (i32.const 25))
(assert_return (invoke "byte_nez" (i32.const 4) (i32.const 4)) (i32.const 1))
(assert_return (invoke "byte_nez" (i32.const 24) (i32.const 0)) (i32.const 0))
(assert_return (invoke "switch1" (i32.const 1)) (i32.const 100))
(assert_return (invoke "switch1" (i32.const 2)) (i32.const 101))
(assert_return (invoke "switch1" (i32.const 0)) (i32.const 102))
(assert_return (invoke "step_load64" (i32.const 4) (i32.const 0)) (i64.const 0xfffffff00000002f))
(assert_return (invoke "deref2" (i32.const 1) (i32.const 4)) (i32.const 4))
(assert_return (invoke "align4" (i32.const 5)) (i32.const 8))
(assert_return (invoke "half_nez" (i32.const 16)) (i32.const 1))
(assert_return (invoke "half_nez" (i32.const 24)) (i32.const 0))
(assert_return (invoke "copy_a" (i32.const 2) (i32.const 4) (i32.const 600)) (i32.const 42))
"#;

#[cfg(test)]
mod script {
    use super::SCRIPT;
    use crate::compile::ir::Op;

    /// Every pair kind runs, with the results and traps of the instructions it stands for.
    #[test]
    fn every_pair_kind_runs_as_its_two_instructions() {
        let s = crate::wast::run_text("pairs", SCRIPT);
        assert_eq!(s.failed, 0, "{:?}", s.failures);
        let seen = crate::test_util::lowered_kinds(SCRIPT);
        let missing: Vec<Op> =
            super::PAIR_KINDS.iter().copied().filter(|&o| !seen.contains(&(o as u16))).collect();
        assert!(missing.is_empty(), "pair kinds the script never makes: {missing:?}");
    }
}
