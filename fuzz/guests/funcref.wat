;; Fuzz guest: Wasm 3.0 typed function references. Recursion through call_ref deep enough for
;; many frames waiting at a call_ref, a return_call_ref loop, br_on_null / br_on_non_null,
;; ref.as_non_null, (ref $t) and (ref null $t) params, locals and globals (one exported), a
;; nullable table (grown) and a non-nullable one with an initialiser, table.get feeding
;; call_ref, call_indirect through the typed table; a line per round on stdout (fd_write).
(module $funcref
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (type $op (func (param i64) (result i64)))
  (type $rec (func (param i32 i64 (ref $op)) (result i64)))
  (type $step (func (param i32 i64 (ref null $op)) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 64) "funcref: round\n")
  (table $ops 4 8 (ref null $op))
  (table $fixed 3 (ref $op) (ref.func $inc))
  (elem (table $ops) (i32.const 0) (ref null $op) (ref.func $inc) (ref.func $dbl) (ref.null $op) (ref.func $mix))
  (elem declare func $chain $tail)
  (global $g (ref $op) (ref.func $mix))
  (global $cur (export "cur") (mut (ref null $op)) (ref.null $op))
  (global $acc (export "acc") (mut i64) (i64.const 1))
  (global $nulls (mut i32) (i32.const 0))
  (func $inc (type $op) (i64.add (local.get 0) (i64.const 1)))
  (func $dbl (type $op) (i64.add (i64.rotl (local.get 0) (i64.const 1)) (i64.const 1)))
  (func $mix (type $op)
    (i64.xor (i64.mul (local.get 0) (i64.const 0x9e3779b97f4a7c15)) (i64.shr_u (local.get 0) (i64.const 29))))
  ;; $n times acc = f(f(acc)); a null $f is counted in $nulls and returns acc (br_on_null).
  (func $apply (param $f (ref null $op)) (param $n i32) (param $acc i64) (result i64)
    (local $nn (ref $op))
    (block $is_null
      (local.set $nn (br_on_null $is_null (local.get $f)))
      (loop $again
        (if (local.get $n)
          (then
            (local.set $acc
              (call_ref $op (call_ref $op (local.get $acc) (local.get $nn)) (ref.as_non_null (local.get $f))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $again))))
      (return (local.get $acc)))
    (global.set $nulls (i32.add (global.get $nulls) (i32.const 1)))
    (local.get $acc))
  ;; Non-tail recursion through call_ref: a frame per level waits at the call_ref of the next
  ;; level (above the result of a call_ref of a table.get), whose operation (a (ref $op)
  ;; parameter) comes from the non-nullable table.
  (func $chain (type $rec)
    (local $self (ref $rec))
    (local.set $self (ref.func $chain))
    (if (result i64) (i32.eqz (local.get 0))
      (then (local.get 1))
      (else
        (i64.add
          (call_ref $op (i64.extend_i32_u (local.get 0)) (table.get $fixed (i32.const 0)))
          (call_ref $rec
            (i32.sub (local.get 0) (i32.const 1))
            (call_ref $op (local.get 1) (local.get 2))
            (table.get $fixed (i32.rem_u (local.get 0) (i32.const 3)))
            (local.get $self))))))
  ;; A return_call_ref loop in constant frame space: each step applies the previous step's
  ;; operation (when not null) and one from the nullable table (br_on_non_null; a null entry
  ;; falls back to the immutable non-null global).
  (func $tail (type $step)
    (local $f (ref $op))
    (if (i32.eqz (local.get 0)) (then (return (local.get 1))))
    (block $none
      (local.set 1 (call_ref $op (local.get 1) (br_on_null $none (local.get 2)))))
    (local.set $f
      (block $found (result (ref $op))
        (br_on_non_null $found (table.get $ops (i32.rem_u (local.get 0) (table.size $ops))))
        (global.set $nulls (i32.add (global.get $nulls) (i32.const 1)))
        (global.get $g)))
    (global.set $cur (local.get $f))
    (return_call_ref $step
      (i32.sub (local.get 0) (i32.const 1))
      (local.get 1)
      (if (result (ref null $op)) (i32.and (local.get 0) (i32.const 4))
        (then (ref.null $op))
        (else (local.get $f)))
      (ref.func $tail)))
  (func $say (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $r i32) (local $v i64) (local $f (ref null $op)) (local $k (ref $op))
    (local.set $k (global.get $g))
    (loop $round
      (local.set $v
        (call_ref $rec (i32.add (i32.const 150) (i32.mul (local.get $r) (i32.const 50)))
          (global.get $acc) (local.get $k) (ref.func $chain)))
      (local.set $f (table.get $ops (i32.and (local.get $r) (i32.const 3))))
      (local.set $v (call $apply (local.get $f) (i32.const 202) (local.get $v)))
      (local.set $v (call $tail (i32.const 500) (local.get $v) (local.get $f)))
      (local.set $k (ref.as_non_null (global.get $cur)))
      ;; Odd rounds put the last operation two slots on, even ones a null.
      (table.set $ops (i32.and (i32.add (local.get $r) (i32.const 2)) (i32.const 3))
        (if (result (ref null $op)) (i32.and (local.get $r) (i32.const 1))
          (then (local.get $k))
          (else (ref.null $op))))
      (table.set $fixed (i32.rem_u (local.get $r) (i32.const 3)) (local.get $k))
      (if (i32.eq (local.get $r) (i32.const 2))
        (then (drop (table.grow $ops (ref.null $op) (i32.const 2)))))
      (global.set $acc
        (i64.xor (call_indirect $fixed (type $op) (local.get $v) (i32.const 1)) (i64.extend_i32_u (global.get $nulls))))
      (call $say (i32.const 64) (i32.const 15))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $round (i32.lt_u (local.get $r) (i32.const 6))))
    (i64.store (i32.const 8) (global.get $acc))))
