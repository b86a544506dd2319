;; Sum of a 1 MiB array read 200 times with i64.load and written back with i64.store: the
;; cost of a load and a store on a 64-bit memory (benches/wat/mem64_loop.wat; the two files
;; differ only in the memory's index type and address arithmetic).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory i64 16)
  (func (export "_start")
    (local $a i64) (local $r i32) (local $s i64)
    (loop $rounds
      (local.set $a (i64.const 0))
      (loop $inner
        (local.set $s (i64.add (local.get $s) (i64.load (local.get $a))))
        (i64.store (local.get $a) (i64.add (local.get $s) (i64.const 1)))
        (local.set $a (i64.add (local.get $a) (i64.const 8)))
        (br_if $inner (i64.lt_u (local.get $a) (i64.const 1048576))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rounds (i32.lt_u (local.get $r) (i32.const 200))))
    (call $exit (i32.wrap_i64 (i64.and (local.get $s) (i64.const 127))))))
