;; Function-reference checkpoint guest (issue 12's restore checks): `refs.wat [ROUNDS]`
;; (default 40). Function references live everywhere a checkpoint must check them: a mutable
;; funcref global, a funcref local in every frame of a recursion, a funcref operand held in
;; a slot across a call (below the call's arguments), and a table rewritten with table.set.
;; Deep frames spend their time in a loop (safe points), so checkpoints land with the whole
;; recursion on the stack. Prints one checksum line.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (type $v (func (result i32)))
  (table $t 4 8 funcref)
  (elem (table $t) (i32.const 0) func $a $b $c $d)
  (global $g (mut funcref) (ref.func $a))
  (global $k i32 (i32.const 7))
  (func $a (result i32) (i32.const 1))
  (func $b (result i32) (i32.const 10))
  (func $c (result i32) (i32.const 100))
  (func $d (result i32) (i32.const 1000))
  ;; a loop of n iterations (a safe point per iteration)
  (func $work (param $n i32) (result i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 31)) (local.get $n)))
      (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l))
    (local.get $s))
  ;; stores f in the table and calls it through the table
  (func $take (param $f funcref) (param $x i32) (result i32)
    (table.set $t (i32.const 3) (local.get $f))
    (i32.add (local.get $x) (call_indirect (type $v) (i32.const 3))))
  (func $walk (param $d i32) (result i32) (local $r funcref)
    (local.set $r (table.get $t (i32.rem_u (local.get $d) (i32.const 3))))
    (global.set $g (local.get $r))
    (if (result i32) (i32.eqz (local.get $d))
      (then (call $work (i32.const 3000)))
      (else
        ;; table.get's result waits in a slot below the recursive call's argument
        (i32.add
          (call $take (table.get $t (i32.rem_u (local.get $d) (i32.const 4)))
                      (call $walk (i32.sub (local.get $d) (i32.const 1))))
          (call $take (local.get $r) (i32.const 0))))))
  (func (export "_start") (local $i i32) (local $acc i32) (local $p i32) (local $n i32)
    (local.set $n (i32.const 40))
    (loop $round
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 17))
                               (call $walk (i32.add (i32.const 10) (i32.rem_u (local.get $i) (i32.const 7))))))
      (local.set $acc (i32.add (local.get $acc)
                               (call_indirect (type $v) (i32.rem_u (local.get $i) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $round (i32.lt_u (local.get $i) (local.get $n))))
    (local.set $acc (i32.add (local.get $acc) (global.get $k)))
    ;; decimal digits of acc, backwards from 120, then "\n"
    (local.set $p (i32.const 120))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $acc) (i32.const 10))))
      (local.tee $acc (i32.div_u (local.get $acc) (i32.const 10)))
      (br_if $digit))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.sub (i32.const 121) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
