;; Exception handling guest (Wasm 3.0): `exn.wat ROUNDS SIZE [UNCAUGHT]`. Each round r: $dive
;; recurses SIZE + r frames deep and throws $boom (i32, i64); $relay catches it with catch_ref, keeps
;; the exnref in a local, a global and a table, spins in a loop while holding it, and throws $wrap
;; carrying that exnref; $round catches $wrap, rethrows the inner exception with throw_ref, catches its
;; payload, and catches a payload-less $plain with catch_all. Prints `round R deep=… sum=… caught=…
;; kept=…`; with UNCAUGHT = 1 it ends by throwing an exception nothing catches.
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
  (data (i32.const 3080) "deep")
  (data (i32.const 3088) "caught")
  (data (i32.const 3096) "kept")
  (data (i32.const 3104) "done")
  (data (i32.const 3112) "sum")
  (tag $boom (param i32 i64))
  (tag $wrap (param exnref i32))
  (tag $plain)
  (global $held (mut exnref) (ref.null exn))
  (table $stash 4 exnref)
  (global $caught (mut i32) (i32.const 0))

  ;; Recurses d frames deep, then throws $boom (d, acc): every frame on the way is left.
  (func $dive (param $d i32) (param $acc i64) (result i64)
    (if (i32.eqz (local.get $d))
      (then (throw $boom (i32.const 7) (local.get $acc))))
    (i64.add (call $dive (i32.sub (local.get $d) (i32.const 1))
      (i64.add (i64.mul (local.get $acc) (i64.const 31)) (i64.extend_i32_u (local.get $d))))
      (i64.const 1)))

  ;; Catches $boom with its reference, keeps it (global, table), wraps it into $wrap and throws
  ;; that; a loop runs while the references are held (checkpoints land there).
  (func $relay (param $d i32) (param $acc i64) (result i64)
    (local $e exnref) (local $i i32) (local $x i64)
    (block $got (result i32 i64 exnref)
      (try_table (catch_ref $boom $got)
        (drop (call $dive (local.get $d) (local.get $acc))))
      (unreachable))
    (local.set $e)
    (local.set $x)
    (drop)
    (global.set $held (local.get $e))
    (table.set $stash (i32.and (local.get $d) (i32.const 3)) (local.get $e))
    (loop $spin
      (local.set $x (i64.add (i64.rotl (local.get $x) (i64.const 5)) (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.mul (local.get $d) (i32.const 8)))))
    (throw $wrap (local.get $e) (i32.wrap_i64 (local.get $x))))

  ;; Catches $wrap, rethrows the wrapped $boom with throw_ref and catches it again with its
  ;; payload; $plain is caught by catch_all; the sum of everything seen.
  (func $round (param $r i32) (param $size i32) (result i64)
    (local $inner exnref) (local $k i32) (local $sum i64)
    (block $w (result exnref i32)
      (try_table (catch $wrap $w)
        (drop (call $relay (i32.add (local.get $size) (local.get $r)) (i64.extend_i32_u (local.get $r)))))
      (unreachable))
    (local.set $k)
    (local.set $inner)
    (local.set $sum (i64.extend_i32_u (local.get $k)))
    (block $b (result i32 i64)
      (try_table (catch $boom $b)
        (throw_ref (local.get $inner)))
      (unreachable))
    ;; the payload (i32 d, i64 acc) on the stack
    local.get $sum
    i64.add
    local.set $sum
    i64.extend_i32_u
    local.get $sum
    i64.add
    local.set $sum
    (block $all
      (try_table (catch_all $all)
        (throw $plain))
      (unreachable))
    (global.set $caught (i32.add (global.get $caught) (i32.const 3)))
    (local.get $sum))

  (func $line
    (call $putc (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (global.get $len))
    (global.set $len (i32.const 0))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $proc_exit (i32.const 70)))))

  (func (export "_start")
    (local $rounds i32) (local $size i32) (local $r i32) (local $kept i32) (local $t i32)
    (local.set $rounds (call $arg (i32.const 1) (i32.const 6)))
    (local.set $size (call $arg (i32.const 2) (i32.const 2000)))
    (local.set $r (i32.const 1))
    (block $end
      (loop $round
        (br_if $end (i32.gt_u (local.get $r) (local.get $rounds)))
        (call $puts (i32.const 3072) (i32.const 5))
        (call $putc (i32.const 32)) (call $putu (i64.extend_i32_u (local.get $r)))
        (call $kv (i32.const 3080) (i32.const 4) (i64.extend_i32_u (i32.add (local.get $size) (local.get $r))))
        (call $kx (i32.const 3112) (i32.const 3) (call $round (local.get $r) (local.get $size)))
        (call $kv (i32.const 3088) (i32.const 6) (i64.extend_i32_u (global.get $caught)))
        ;; how many references the table keeps
        (local.set $kept (i32.const 0))
        (local.set $t (i32.const 0))
        (loop $count
          (if (i32.eqz (ref.is_null (table.get $stash (local.get $t))))
            (then (local.set $kept (i32.add (local.get $kept) (i32.const 1)))))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br_if $count (i32.lt_u (local.get $t) (i32.const 4))))
        (call $kv (i32.const 3096) (i32.const 4) (i64.extend_i32_u (local.get $kept)))
        (call $line)
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $round)))
    ;; The last exception kept, rethrown and caught once more.
    (block $last (result i32 i64)
      (try_table (catch $boom $last)
        (throw_ref (global.get $held)))
      (unreachable))
    (drop)
    (drop)
    (call $puts (i32.const 3104) (i32.const 4))
    (call $line)
    ;; Uncaught: ends the guest like a trap when the second argument is 1.
    (if (i32.eq (call $arg (i32.const 3) (i32.const 0)) (i32.const 1))
      (then (throw $plain))))
)
