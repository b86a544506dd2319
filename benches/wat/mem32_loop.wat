;; A 1 MiB array summed 2000 times with i64.load and written back with i64.store: the cost of
;; a load and a store on a 32-bit memory. benches/wat/mem32_loop.wat and mem64_loop.wat differ only
;; in the memory's index type (the 64-bit one zero-extends the same i32 counter, which costs no
;; instruction): `chiwawa run` each and time them (docs/PERFORMANCE.md).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 16)
  (func (export "_start")
    (local $a i32) (local $r i32) (local $s i64)
    (loop $rounds
      (local.set $a (i32.const 0))
      (loop $inner
        (local.set $s (i64.add (local.get $s) (i64.load (local.get $a))))
        (i64.store (local.get $a) (i64.add (local.get $s) (i64.const 1)))
        (local.set $a (i32.add (local.get $a) (i32.const 8)))
        (br_if $inner (i32.lt_u (local.get $a) (i32.const 1048576))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rounds (i32.lt_u (local.get $r) (i32.const 2000))))
    (call $exit (i32.wrap_i64 (i64.and (local.get $s) (i64.const 127))))))
