;; Declared locals start at zero on every call, whatever the stack held before: the call
;; handlers' fast path zeroes them in blocks of 8 slots (past the frame's end when it has
;; fewer), for any number of locals, at any depth. `dirty` leaves non-zero values in the
;; stack slots that the next call's frame takes; each callee then sums its locals.

(module
  (func $dirty (param $v i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
           i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local.set 1 (local.get $v)) (local.set 2 (local.get $v)) (local.set 3 (local.get $v))
    (local.set 4 (local.get $v)) (local.set 5 (local.get $v)) (local.set 6 (local.get $v))
    (local.set 7 (local.get $v)) (local.set 8 (local.get $v)) (local.set 9 (local.get $v))
    (local.set 10 (local.get $v)) (local.set 11 (local.get $v)) (local.set 12 (local.get $v))
    (local.set 13 (local.get $v)) (local.set 14 (local.get $v)) (local.set 15 (local.get $v))
    (local.set 16 (local.get $v)) (local.set 17 (local.get $v)) (local.set 18 (local.get $v))
    (local.set 19 (local.get $v)) (local.set 20 (local.get $v)) (local.set 21 (local.get $v))
    (local.set 22 (local.get $v)) (local.set 23 (local.get $v)) (local.set 24 (local.get $v))
    (local.set 25 (local.get $v)) (local.set 26 (local.get $v)) (local.set 27 (local.get $v))
    (local.set 28 (local.get $v)) (local.set 29 (local.get $v)) (local.set 30 (local.get $v))
    (local.set 31 (local.get $v)) (local.set 32 (local.get $v)))

  ;; No declared locals; then 1, 7, 8, 9, 16, 17 and 20 of them (one, two and three blocks).
  (func $l0 (param i64) (result i64) (local.get 0))
  (func $l1 (param i64) (result i64) (local i64) (local.get 1))
  (func $l7 (param i64) (result i64) (local i64 i64 i64 i64 i64 i64 i64)
    (i64.add (local.get 1) (i64.add (local.get 4) (local.get 7))))
  (func $l8 (param i64 i64) (result i64) (local i64 i64 i64 i64 i64 i64 i64 i64)
    (i64.add (local.get 2) (i64.add (local.get 5) (local.get 9))))
  (func $l9 (param i64) (result i64) (local i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (i64.add (local.get 1) (i64.add (local.get 8) (local.get 9))))
  (func $l16 (param i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (i64.add (local.get 1) (i64.add (local.get 9) (local.get 16))))
  (func $l17 (param i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (i64.add (local.get 8) (i64.add (local.get 16) (local.get 17))))
  (func $l20 (param i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (i64.add (local.get 1) (i64.add (local.get 17) (local.get 20))))
  ;; A v128 local takes two slots: four of them fill a block.
  (func $v4 (param i64) (result i64) (local v128 v128 v128 v128)
    (i64.add (i64x2.extract_lane 0 (local.get 1))
      (i64.add (i64x2.extract_lane 1 (local.get 3)) (i64x2.extract_lane 1 (local.get 4)))))

  (func (export "sum") (result i64)
    (local $s i64)
    (call $dirty (i64.const 1))
    (local.set $s (call $l0 (i64.const 0)))
    (call $dirty (i64.const 2))
    (local.set $s (i64.add (local.get $s) (call $l1 (i64.const 0))))
    (call $dirty (i64.const 3))
    (local.set $s (i64.add (local.get $s) (call $l7 (i64.const 0))))
    (call $dirty (i64.const 4))
    (local.set $s (i64.add (local.get $s) (call $l8 (i64.const 0) (i64.const 0))))
    (call $dirty (i64.const 5))
    (local.set $s (i64.add (local.get $s) (call $l9 (i64.const 0))))
    (call $dirty (i64.const 6))
    (local.set $s (i64.add (local.get $s) (call $l16 (i64.const 0))))
    (call $dirty (i64.const 7))
    (local.set $s (i64.add (local.get $s) (call $l17 (i64.const 0))))
    (call $dirty (i64.const 8))
    (local.set $s (i64.add (local.get $s) (call $l20 (i64.const 0))))
    (call $dirty (i64.const 9))
    (local.set $s (i64.add (local.get $s) (call $v4 (i64.const 0))))
    (local.get $s))

  ;; The same at every depth of a recursion that grows the stack (each level dirties the
  ;; slots the next level's locals take, then calls).
  (func $rec (export "rec") (param $n i32) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.const 0))
      (else
        (call $dirty (i64.extend_i32_u (local.get $n)))
        (i64.add
          (i64.add (local.get 1) (i64.add (local.get 6) (local.get 11)))
          (i64.add (call $l20 (i64.const 0))
            (call $rec (i32.sub (local.get $n) (i32.const 1)))))))))

(assert_return (invoke "sum") (i64.const 0))
(assert_return (invoke "rec" (i32.const 1)) (i64.const 0))
(assert_return (invoke "rec" (i32.const 20000)) (i64.const 0))
