;; Fuzz guest: nested loops mixing a checksum into a global and memory, printing it at the end.
(module $loop
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $sum (export "sum") (mut i64) (i64.const 0))
  (global $f (mut f64) (f64.const 1.5))
  (func $mix (param $x i64) (result i64)
    (i64.add (i64.rotl (local.get $x) (i64.const 7)) (i64.const 0x9e3779b97f4a7c15)))
  (func (export "_start")
    (local $i i32) (local $j i32) (local $s i64)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $s (call $mix (i64.xor (local.get $s) (i64.extend_i32_u (local.get $j)))))
        (i64.store (i32.and (i32.shl (local.get $j) (i32.const 3)) (i32.const 0xfff8)) (local.get $s))
        (global.set $f (f64.add (global.get $f) (f64.convert_i64_s (i64.and (local.get $s) (i64.const 255)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (i32.const 100))))
      (global.set $sum (i64.add (global.get $sum) (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (i32.const 200))))
    ;; print 8 hex-ish bytes of the sum
    (i64.store (i32.const 32) (i64.or (i64.and (global.get $sum) (i64.const 0x0f0f0f0f0f0f0f0f)) (i64.const 0x4040404040404040)))
    (i32.store8 (i32.const 40) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 32))
    (i32.store (i32.const 4) (i32.const 9))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
