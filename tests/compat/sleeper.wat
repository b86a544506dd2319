;; Compatibility-corpus guest: sleeps 1 s in poll_oneoff between two lines, called with values
;; of several types waiting below the call, so that a checkpoint taken during the sleep has a
;; top frame suspended at a host call (`Resume::AtCall`) with its arguments on the stack.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "before sleep\n")
  (data (i32.const 220) "after sleep 0000\n")
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $sleep (param $k i64) (param $x f64) (result i32)
    (i64.store (i32.const 300) (local.get $k))
    (i32.store8 (i32.const 308) (i32.const 0))
    (i32.store (i32.const 316) (i32.const 1))
    (i64.store (i32.const 324) (i64.const 1000000000))
    (i64.store (i32.const 332) (i64.const 0))
    (i32.store16 (i32.const 340) (i32.const 0))
    ;; an i64, an f64 and an i32 wait below the host call
    (i32.add
      (i32.wrap_i64 (i64.add (local.get $k)
        (i64.trunc_f64_s (f64.add (local.get $x)
          (f64.convert_i32_u (i32.mul (i32.const 3)
            (call $poll (i32.const 300) (i32.const 400) (i32.const 1) (i32.const 500))))))))
      (i32.load (i32.const 500))))
  (func (export "_start") (local $r i32)
    (call $print (i32.const 200) (i32.const 13))
    (local.set $r (call $sleep (i64.const 40) (f64.const 2.75)))
    ;; r = 40 + 2 + 1 = 43: its digits into "after sleep 0000"
    (i32.store8 (i32.const 234) (i32.add (i32.const 48) (i32.div_u (local.get $r) (i32.const 10))))
    (i32.store8 (i32.const 235) (i32.add (i32.const 48) (i32.rem_u (local.get $r) (i32.const 10))))
    (call $print (i32.const 220) (i32.const 17))))
