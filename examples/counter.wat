;; A long-running WASI command for trying checkpoints: it counts to 1_000_000_000 in steps,
;; mixing a checksum, and prints the count and the checksum every 50_000_000 iterations.
;;
;;   chiwawa run --every 2s examples/counter.wat      # kill -9 it any time, run it again: it resumes
(module $counter
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..8: iovec; 16..: text buffer
  (func $print_u64 (param $v i64)
    (local $p i32)
    (local.set $p (i32.const 100))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.sub (i32.const 101) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $i i64) (local $sum i64)
    (loop $count
      (local.set $sum (i64.add (i64.rotl (local.get $sum) (i64.const 5)) (i64.xor (local.get $i) (i64.const 0x9e3779b9))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (if (i64.eqz (i64.rem_u (local.get $i) (i64.const 50000000)))
        (then (call $print_u64 (local.get $i)) (call $print_u64 (local.get $sum))))
      (br_if $count (i64.lt_u (local.get $i) (i64.const 1000000000))))))
