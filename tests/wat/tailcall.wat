;; Tail-call guest: `tailcall.wat ROUNDS BASE`.
;; Each round r runs mutual tail recursion (return_call) $even/$odd over n = BASE + 37 r steps,
;; folding n into an accumulator, then a return_call_indirect loop through a table for n steps,
;; and prints `round R parity P acc A ind I`. `_start` tail-calls `$main`, so the bottom frame is
;; replaced, and lines are written by a function that tail-calls the host's fd_write.
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
  (data (i32.const 3080) "parity")
  (data (i32.const 3088) "acc")
  (data (i32.const 3096) "ind")
  (data (i32.const 3104) "done")
  (type $step (func (param i32 i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $down $stop)

  ;; Unbounded mutual tail recursion: constant frame space.
  (func $even (param $n i32) (param $acc i64) (result i64)
    (if (i32.eqz (local.get $n)) (then (return (i64.shl (local.get $acc) (i64.const 1)))))
    (return_call $odd (i32.sub (local.get $n) (i32.const 1))
      (i64.add (i64.mul (local.get $acc) (i64.const 31)) (i64.extend_i32_u (local.get $n)))))
  (func $odd (param $n i32) (param $acc i64) (result i64)
    (if (i32.eqz (local.get $n)) (then (return (i64.or (i64.shl (local.get $acc) (i64.const 1)) (i64.const 1)))))
    (return_call $even (i32.sub (local.get $n) (i32.const 1))
      (i64.xor (local.get $acc) (i64.extend_i32_u (local.get $n)))))

  ;; A loop of indirect tail calls: $down until n = 0, then $stop.
  (func $down (param $n i32) (param $acc i64) (result i64)
    (return_call_indirect (type $step)
      (i32.sub (local.get $n) (i32.const 1))
      (i64.add (local.get $acc) (i64.extend_i32_u (i32.mul (local.get $n) (local.get $n))))
      (i32.eqz (i32.sub (local.get $n) (i32.const 1)))))
  (func $stop (param $n i32) (param $acc i64) (result i64) (local.get $acc))

  ;; Writes the line buffer: a tail call of the host function (fd_write's result is ours).
  (func $flush (result i32)
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (global.get $len))
    (global.set $len (i32.const 0))
    (return_call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func $line
    (call $putc (i32.const 10))
    (if (call $flush) (then (call $proc_exit (i32.const 70)))))

  (func $main
    (local $rounds i32) (local $base i32) (local $r i32) (local $n i32) (local $v i64)
    (local.set $rounds (call $arg (i32.const 1) (i32.const 8)))
    (local.set $base (call $arg (i32.const 2) (i32.const 300000)))
    (local.set $r (i32.const 1))
    (block $end
      (loop $round
        (br_if $end (i32.gt_u (local.get $r) (local.get $rounds)))
        (local.set $n (i32.add (local.get $base) (i32.mul (local.get $r) (i32.const 37))))
        (local.set $v (call $even (local.get $n) (i64.extend_i32_u (local.get $r))))
        (call $puts (i32.const 3072) (i32.const 5))
        (call $putc (i32.const 32)) (call $putu (i64.extend_i32_u (local.get $r)))
        (call $kv (i32.const 3080) (i32.const 6) (i64.and (local.get $v) (i64.const 1)))
        (call $kx (i32.const 3088) (i32.const 3) (i64.shr_u (local.get $v) (i64.const 1)))
        (call $kv (i32.const 3096) (i32.const 3)
          (call $down (local.get $n) (i64.const 0)))
        (call $line)
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $round)))
    (call $puts (i32.const 3104) (i32.const 4))
    (call $line))

  ;; The entry tail-calls $main: the bottom frame becomes $main's.
  (func (export "_start") (return_call $main))
)
