;; Fuzz guest: a start function long enough to be paused (and checkpointed) in, then `_start`;
;; i32/i64/f32 globals, an exported mutable global, a passive data segment.
(module $start
  (memory 1 2)
  (data $d "\01\02\03\04\05\06\07\08")
  (global $n (mut i32) (i32.const 0))
  (global $x (export "x") (mut i64) (i64.const 7))
  (global $f (mut f32) (f32.const 0.5))
  (table 2 funcref)
  (elem (i32.const 0) func $step $init)
  (type $v (func))
  (func $step (type $v)
    (global.set $x (i64.mul (global.get $x) (i64.const 6364136223846793005)))
    (global.set $f (f32.mul (global.get $f) (f32.const 1.0001))))
  (func $init
    (memory.init $d (i32.const 100) (i32.const 0) (i32.const 8))
    (loop $l
      (call_indirect (type $v) (i32.const 0))
      (i64.store (i32.shl (i32.and (global.get $n) (i32.const 1023)) (i32.const 3)) (global.get $x))
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (global.get $n) (i32.const 3000)))))
  (start $init)
  (func (export "_start")
    (data.drop $d)
    (loop $m
      (call $step)
      (global.set $n (i32.sub (global.get $n) (i32.const 1)))
      (br_if $m (i32.gt_u (global.get $n) (i32.const 1000))))
    (if (i32.ne (i32.load8_u (i32.const 103)) (i32.const 4)) (then unreachable))))
