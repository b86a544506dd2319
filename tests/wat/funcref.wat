;; Typed function references guest (Wasm 3.0): `funcref.wat ROUNDS SIZE`.
;; Each round r: $apply runs SIZE*r call_refs of the operation in table slot r & 3 (null: br_on_null
;; counts it), $chain recurses SIZE/4 + r levels deep through call_ref (a frame per level), $tail
;; runs 3*SIZE return_call_ref steps in constant frame space choosing its operation from a
;; nullable table with br_on_non_null; non-null locals, globals and a table with an initialiser.
;; Prints `round R apply=… chain=… tail=… nulls=N`.
(module
  ;; ---- shared preamble (identical in every tests/wat guest) -------------------------
  ;; Memory layout of page 0: 0..8 iovec, 8..12 nwritten, 16..24 args sizes,
  ;; 256..1024 line buffer, 1024..1280 argv pointers, 1280..3072 argv bytes,
  ;; 3072..4096 string constants, 4096.. guest data.
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (global $len (mut i32) (i32.const 0))
  (func $putc (param $c i32)
    (i32.store8 (i32.add (i32.const 256) (global.get $len)) (local.get $c))
    (global.set $len (i32.add (global.get $len) (i32.const 1))))
  (func $puts (param $p i32) (param $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (call $putc (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))
  ;; unsigned decimal
  (func $putu (param $v i64)
    (if (i64.ge_u (local.get $v) (i64.const 10))
      (then (call $putu (i64.div_u (local.get $v) (i64.const 10)))))
    (call $putc (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10))))))
  ;; 16 lower-case hex digits
  (func $puthex (param $v i64)
    (local $i i32) (local $d i32)
    (local.set $i (i32.const 60))
    (loop $next
      (local.set $d (i32.wrap_i64 (i64.and (i64.shr_u (local.get $v) (i64.extend_i32_u (local.get $i))) (i64.const 15))))
      (call $putc (select (i32.add (local.get $d) (i32.const 48)) (i32.add (local.get $d) (i32.const 87))
                          (i32.lt_u (local.get $d) (i32.const 10))))
      (local.set $i (i32.sub (local.get $i) (i32.const 4)))
      (br_if $next (i32.ge_s (local.get $i) (i32.const 0)))))
  ;; " key=" followed by a decimal / hex value; the key is a string constant
  (func $kv (param $p i32) (param $n i32) (param $v i64)
    (call $putc (i32.const 32)) (call $puts (local.get $p) (local.get $n)) (call $putc (i32.const 61))
    (call $putu (local.get $v)))
  (func $kx (param $p i32) (param $n i32) (param $v i64)
    (call $putc (i32.const 32)) (call $puts (local.get $p) (local.get $n)) (call $putc (i32.const 61))
    (call $puthex (local.get $v)))
  ;; newline, then one fd_write of the whole line to stdout
  (func $endl
    (call $putc (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (global.get $len))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $proc_exit (i32.const 70))))
    (global.set $len (i32.const 0)))
  ;; argv[i] as an unsigned decimal, or $default when absent or not a number
  (func $arg (param $i i32) (param $default i32) (result i32)
    (local $p i32) (local $c i32) (local $v i32) (local $any i32)
    (if (call $args_sizes_get (i32.const 16) (i32.const 20)) (then (return (local.get $default))))
    (if (i32.le_u (i32.load (i32.const 16)) (local.get $i)) (then (return (local.get $default))))
    (if (i32.gt_u (i32.load (i32.const 16)) (i32.const 64)) (then (return (local.get $default))))
    (if (i32.gt_u (i32.load (i32.const 20)) (i32.const 1792)) (then (return (local.get $default))))
    (if (call $args_get (i32.const 1024) (i32.const 1280)) (then (return (local.get $default))))
    (local.set $p (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
    (block $done
      (loop $digit
        (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
        (local.set $any (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $digit)))
    (select (local.get $v) (local.get $default) (local.get $any)))
;; ---- end of preamble -----------------------------------------------------------
  (memory (export "memory") 1)
  (data (i32.const 3072) "round")
  (data (i32.const 3080) "apply")
  (data (i32.const 3088) "chain")
  (data (i32.const 3096) "tail")
  (data (i32.const 3104) "done")
  (data (i32.const 3112) "nulls")
  (type $op (func (param i64) (result i64)))
  (type $rec (func (param i32 i64) (result i64)))
  (type $step (func (param i32 i64 (ref null $op)) (result i64)))

  (func $inc (type $op) (i64.add (local.get 0) (i64.const 1)))
  (func $double (type $op) (i64.add (i64.rotl (local.get 0) (i64.const 1)) (i64.const 1)))
  (func $mix (type $op)
    (i64.xor (i64.mul (local.get 0) (i64.const 0x9e3779b97f4a7c15)) (i64.shr_u (local.get 0) (i64.const 29))))

  ;; An immutable non-null global, a nullable table and a non-nullable one with an initialiser.
  (global $g (ref $op) (ref.func $mix))
  (global $last (mut (ref null $op)) (ref.null $op))
  (table $ops 4 (ref null $op))
  (table $fixed 3 (ref $op) (ref.func $inc))
  (elem (table $ops) (i32.const 0) (ref null $op) (ref.func $inc) (ref.func $double) (ref.null $op) (ref.func $mix))
  (elem declare func $chain $tail)
  (global $nulls (mut i32) (i32.const 0))

  ;; n times acc = f(acc), f checked non-null once; a null f returns acc (br_on_null).
  (func $apply (param $f (ref null $op)) (param $n i32) (param $acc i64) (result i64)
    (local $nn (ref $op))
    (block $is_null
      (local.set $nn (br_on_null $is_null (local.get $f)))
      (block $done
        (loop $again
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $acc (call_ref $op (local.get $acc) (ref.as_non_null (local.get $nn))))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $again)))
      (return (local.get $acc)))
    (global.set $nulls (i32.add (global.get $nulls) (i32.const 1)))
    (local.get $acc))

  ;; Deep non-tail recursion through call_ref: a frame per level waits at a call_ref.
  (func $chain (type $rec)
    (if (result i64) (i32.eqz (local.get 0))
      (then (local.get 1))
      (else
        (i64.add
          (call_ref $rec (i32.sub (local.get 0) (i32.const 1))
            (call_ref $op (local.get 1) (table.get $fixed (i32.rem_u (local.get 0) (i32.const 3))))
            (ref.func $chain))
          (i64.extend_i32_u (local.get 0))))))

  ;; Unbounded tail recursion through return_call_ref: the operation of each step comes from
  ;; the nullable table (br_on_non_null), a null entry falls back to the global.
  (func $tail (type $step)
    (local $f (ref $op))
    (if (i32.eqz (local.get 0)) (then (return (local.get 1))))
    (local.set $f
      (block $found (result (ref $op))
        (br_on_non_null $found (table.get $ops (i32.and (local.get 0) (i32.const 3))))
        (global.set $nulls (i32.add (global.get $nulls) (i32.const 1)))
        (global.get $g)))
    (global.set $last (local.get $f))
    (return_call_ref $step
      (i32.sub (local.get 0) (i32.const 1))
      (call_ref $op (local.get 1) (local.get $f))
      (local.get $f)
      (ref.func $tail)))

  (func $line
    (call $putc (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (global.get $len))
    (global.set $len (i32.const 0))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $proc_exit (i32.const 70)))))

  (func (export "_start")
    (local $rounds i32) (local $size i32) (local $r i32) (local $v i64)
    (local.set $rounds (call $arg (i32.const 1) (i32.const 6)))
    (local.set $size (call $arg (i32.const 2) (i32.const 20000)))
    (local.set $r (i32.const 1))
    (block $end
      (loop $round
        (br_if $end (i32.gt_u (local.get $r) (local.get $rounds)))
        (call $puts (i32.const 3072) (i32.const 5))
        (call $putc (i32.const 32)) (call $putu (i64.extend_i32_u (local.get $r)))
        (local.set $v
          (call $apply (table.get $ops (i32.and (local.get $r) (i32.const 3)))
            (i32.mul (local.get $size) (local.get $r)) (i64.extend_i32_u (local.get $r))))
        (call $kx (i32.const 3080) (i32.const 5) (local.get $v))
        (call $kx (i32.const 3088) (i32.const 5)
          (call_ref $rec (i32.add (i32.div_u (local.get $size) (i32.const 4)) (local.get $r))
            (local.get $v) (ref.func $chain)))
        (call $kx (i32.const 3096) (i32.const 4)
          (call $tail (i32.mul (local.get $size) (i32.const 3)) (local.get $v) (global.get $last)))
        (call $kv (i32.const 3112) (i32.const 5) (i64.extend_i32_u (global.get $nulls)))
        (call $line)
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $round)))
    (call $puts (i32.const 3104) (i32.const 4))
    (call $line))
)
