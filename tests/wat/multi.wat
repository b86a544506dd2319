;; Multi-value checkpoint guest: `multi.wat [ROUNDS]` (default 300).
;; Functions returning two and three values, blocks / ifs / loops with parameters and
;; several results, br_if and br_table carrying two values; a line every 10 rounds. The
;; inner loop carries its state as loop *parameters* on the operand stack across the
;; back-edge, so checkpoints at the loop header capture live operand-stack values, not
;; just locals.
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
  (data (i32.const 3072) "multi")
  (data (i32.const 3080) "r")
  (data (i32.const 3088) "a")
  (data (i32.const 3096) "b")
  (data (i32.const 3104) "acc")
  (data (i32.const 3112) "done")

  (func $step (param $x i64) (param $y i64) (result i64 i64)
    (local.get $y)
    (i64.add (i64.rotl (local.get $x) (i64.const 13))
             (i64.mul (local.get $y) (i64.const 0x9e3779b97f4a7c15))))
  (func $swap (param i64 i64) (result i64 i64) (local.get 1) (local.get 0))
  (func $triple (param $n i32) (result i32 i64 f64)
    (i32.mul (local.get $n) (i32.const 3))
    (i64.mul (i64.extend_i32_u (local.get $n)) (i64.const 0x100000001b3))
    (f64.sqrt (f64.convert_i32_u (local.get $n))))
  (func $divmod (param $a i64) (param $b i64) (result i64 i64)
    (i64.div_u (local.get $a) (local.get $b))
    (i64.rem_u (local.get $a) (local.get $b)))

  ;; 64 iterations of a loop whose two parameters carry the state across the back-edge.
  (func $round (param $a i64) (param $b i64) (result i64 i64)
    (local $i i32)
    (local.get $a) (local.get $b)
    (loop $inner (param i64 i64) (result i64 i64)
      (call $step)
      (block $blk (param i64 i64) (result i64 i64)
        (call $swap)
        (br_if $blk (i32.and (local.get $i) (i32.const 1)))
        (call $swap))
      (if (param i64) (result i64) (i32.eqz (i32.rem_u (local.get $i) (i32.const 3)))
        (then (i64.add (i64.const 1)))
        (else (i64.xor (i64.const 0x5555))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $inner (i32.lt_u (local.get $i) (i32.const 64)))))

  (func $main (export "_start")
    (local $rounds i32) (local $r i32) (local $a i64) (local $b i64) (local $acc i64)
    (local $tn i32) (local $ti i64) (local $tf f64) (local $q i64) (local $m i64)
    (local.set $rounds (call $arg (i32.const 1) (i32.const 300)))
    (local.set $a (i64.const 1))
    (local.set $b (i64.const 2))
    (local.set $r (i32.const 1))
    (block $end
      (loop $outer
        (br_if $end (i32.gt_u (local.get $r) (local.get $rounds)))
        (call $round (local.get $a) (local.get $b))
        (local.set $b)
        (local.set $a)
        (call $triple (local.get $r))
        (local.set $tf)
        (local.set $ti)
        (local.set $tn)
        (call $divmod (local.get $a) (i64.or (i64.and (local.get $b) (i64.const 0xffff)) (i64.const 1)))
        (local.set $m)
        (local.set $q)
        ;; br_table with two values: odd rounds leave the pair swapped
        (block $x (result i64 i64)
          (block $y (result i64 i64)
            (local.get $q) (local.get $m)
            (br_table $x $y (i32.and (local.get $r) (i32.const 1))))
          (call $swap))
        (local.set $m)
        (local.set $q)
        (local.set $acc
          (i64.xor (i64.rotl (local.get $acc) (i64.const 9))
                   (i64.add (i64.add (local.get $q) (i64.mul (local.get $m) (i64.const 31)))
                            (i64.xor (i64.add (i64.extend_i32_u (local.get $tn)) (local.get $ti))
                                     (i64.reinterpret_f64 (local.get $tf))))))
        (if (i32.eqz (i32.rem_u (local.get $r) (i32.const 10)))
          (then
            (call $puts (i32.const 3072) (i32.const 5))
            (call $kv (i32.const 3080) (i32.const 1) (i64.extend_i32_u (local.get $r)))
            (call $kx (i32.const 3088) (i32.const 1) (local.get $a))
            (call $kx (i32.const 3096) (i32.const 1) (local.get $b))
            (call $kx (i32.const 3104) (i32.const 3) (local.get $acc))
            (call $endl)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $outer)))
    (call $puts (i32.const 3112) (i32.const 4))
    (call $kx (i32.const 3104) (i32.const 3) (local.get $acc))
    (call $endl))
)
