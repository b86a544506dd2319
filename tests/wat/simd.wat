;; SIMD guest: `simd.wat ROUNDS SIZE`. v128 values live everywhere a checkpoint finds state:
;; $walk recurses SIZE frames deep carrying v128 parameters, locals and operands below each call;
;; its loop mixes a memory buffer through i8x16/i16x8/i32x4/i64x2/f32x4/f64x2 operations, lane
;; loads and stores, shuffles and a v128 global; an exception with a v128 payload comes back up.
;; Prints `round R mix=... acc=... buf=...` per round.
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
  (data (i32.const 3080) "mix")
  (data (i32.const 3088) "acc")
  (data (i32.const 3096) "buf")
  (global $acc (mut v128) (v128.const i32x4 0x9e3779b9 0x7f4a7c15 0x85ebca6b 0xc2b2ae35))
  (tag $up (param v128 i32))
  ;; One step over the 1 KiB buffer at 8192: every lane width and kind of operation.
  (func $mix (param $v v128) (param $seed i32) (result v128)
    (local $i i32) (local $x v128) (local $f v128) (local $d v128)
    (local.set $f (f32x4.convert_i32x4_s (local.get $v)))
    (local.set $d (f64x2.promote_low_f32x4 (local.get $f)))
    (loop $l
      (local.set $x (v128.load (i32.add (i32.const 8192) (local.get $i))))
      (local.set $x (i8x16.add_sat_u (local.get $x) (i8x16.splat (local.get $seed))))
      (local.set $x (v128.xor (local.get $x) (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get $v) (local.get $x))))
      (local.set $v (i32x4.add (i32x4.mul (local.get $v) (i32x4.splat (i32.const 0x01000193)))
                               (i32x4.extend_low_i16x8_u (i16x8.add (local.get $x) (i16x8.splat (local.get $i))))))
      (local.set $v (v128.xor (local.get $v) (i32x4.shr_u (local.get $v) (i32.const 13))))
      (local.set $f (f32x4.add (f32x4.mul (local.get $f) (f32x4.splat (f32.const 0.5))) (f32x4.convert_i32x4_u (local.get $x))))
      (local.set $d (f64x2.add (f64x2.sqrt (f64x2.abs (local.get $d))) (f64x2.promote_low_f32x4 (local.get $f))))
      (v128.store (i32.add (i32.const 8192) (local.get $i))
        (v128.bitselect (local.get $x) (local.get $v) (i8x16.eq (local.get $x) (i8x16.swizzle (local.get $v) (local.get $x)))))
      (v128.store8_lane 5 (i32.add (i32.const 8200) (local.get $i)) (local.get $v))
      (local.set $v (v128.load16_lane 3 (i32.add (i32.const 8194) (local.get $i)) (local.get $v)))
      (global.set $acc (i64x2.add (global.get $acc) (local.get $v)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1024))))
    (v128.xor (local.get $v)
      (v128.xor (i32x4.trunc_sat_f32x4_s (local.get $f)) (i64x2.splat (i64.trunc_sat_f64_s (f64x2.extract_lane 1 (local.get $d)))))))
  ;; Recursion: each frame keeps v128 values in its locals and below the call on its stack.
  (func $walk (param $n i32) (param $v v128) (result v128)
    (local $keep v128)
    (local.set $keep (i32x4.replace_lane 2 (local.get $v) (local.get $n)))
    (if (i32.eqz (local.get $n))
      (then (throw $up (call $mix (local.get $v) (i32.const 7)) (i32.const 1))))
    (i64x2.add
      (local.get $keep)
      (call $walk (i32.sub (local.get $n) (i32.const 1))
        (call $mix (local.get $v) (local.get $n)))))
  (func $round (param $size i32) (param $r i32) (result v128)
    (block $caught (result v128 i32)
      (try_table (catch $up $caught)
        (drop (call $walk (local.get $size) (i32x4.splat (local.get $r)))))
      (unreachable))
    (drop))
  (func $start (export "_start")
    (local $rounds i32) (local $size i32) (local $r i32) (local $m v128) (local $i i32) (local $h i64)
    (local.set $rounds (call $arg (i32.const 1) (i32.const 2)))
    (local.set $size (call $arg (i32.const 2) (i32.const 20)))
    (loop $round
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (local.set $m (call $round (local.get $size) (local.get $r)))
      (local.set $h (i64.const 0))
      (local.set $i (i32.const 0))
      (loop $sum
        (local.set $h (i64.add (i64.mul (local.get $h) (i64.const 0x100000001b3))
                               (i64.load (i32.add (i32.const 8192) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br_if $sum (i32.lt_u (local.get $i) (i32.const 1024))))
      (call $puts (i32.const 3072) (i32.const 5)) (call $putc (i32.const 32)) (call $putu (i64.extend_i32_u (local.get $r)))
      (call $kx (i32.const 3080) (i32.const 3) (i64.xor (i64x2.extract_lane 0 (local.get $m)) (i64x2.extract_lane 1 (local.get $m))))
      (call $kx (i32.const 3088) (i32.const 3) (i64.xor (i64x2.extract_lane 0 (global.get $acc)) (i64x2.extract_lane 1 (global.get $acc))))
      (call $kx (i32.const 3096) (i32.const 3) (local.get $h))
      (call $endl)
      (br_if $round (i32.lt_u (local.get $r) (local.get $rounds)))))
)
