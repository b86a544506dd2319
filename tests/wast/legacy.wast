;; Legacy exception handling: the cases chiwawa's lowering must get right beyond the proposal's
;; own scripts (tests/wast/legacy-*.wast). A catch clause holds its exception in a hidden operand
;; below its own; `delegate` resumes the handler search at the block it names.
(module
  (tag $e (param i32))
  (tag $f)
  (func $throw (param i32) (throw $e (local.get 0)))

  ;; Results of a catch clause pass its hidden exception on their way to the try's end, by
  ;; falling through and by branching out of the clause.
  (func (export "catch-results") (param i32) (result i32 i64)
    try (result i32 i64)
      (call $throw (local.get 0))
      (i32.const 0) (i64.const 0)
    catch $e
      (i64.const 7)
      (br_if 0 (i32.eqz (local.get 0)))
      (drop) (i32.const 100) (i32.add) (i64.const 8)
    end)

  ;; A delegate from a catch clause to its own try: the try's catches do not cover the clause,
  ;; the handler around does.
  (func (export "delegate-from-catch") (result i32)
    try (result i32)
      try (result i32)
        (call $throw (i32.const 1)) (i32.const 0)
      catch $e
        drop
        try (result i32)
          (throw $f)
        delegate 0
      catch $f
        (i32.const 2)
      end
    catch $f
      (i32.const 3)
    end)

  ;; A delegate skips every handler between it and the block it names, even one whose body
  ;; is exactly the same code as that block's.
  (func (export "delegate-skips") (result i32)
    block $out (result i32)
      try $t (result i32)
        try (result i32)
          try (result i32)
            (throw $f)
          delegate $t
        catch_all
          (i32.const 10)
        end
      catch_all
        (i32.const 20)
      end
    end)

  ;; To a plain block: the handlers around that block.
  (func (export "delegate-to-block") (result i32)
    try (result i32)
      block (result i32)
        try (result i32)
          try (result i32)
            (throw $f)
          delegate 1
        catch_all
          (i32.const 1)
        end
      end
    catch $f
      (i32.const 2)
    end)

  ;; To the function's label: the caller.
  (func $delegate-out (result i32)
    try (result i32)
      (throw $f)
    delegate 0)
  (func (export "delegate-to-caller") (result i32)
    try (result i32)
      (call $delegate-out)
    catch $f
      (i32.const 5)
    end)

  ;; rethrow of an outer clause's exception from an inner clause, and of the inner one.
  (func (export "rethrow-outer") (param i32) (result i32)
    try (result i32)
      try (result i32)
        (call $throw (i32.const 41))
        (i32.const 0)
      catch $e
        drop
        try (result i32)
          (throw $f)
        catch $f
          (local.get 0)
          (if (then (rethrow 2)))
          (rethrow 0)
        end
      end
    catch $e
      (i32.const 1) (i32.add)
    catch $f
      (i32.const -1)
    end)

  ;; A try without catch clauses is a block.
  (func (export "no-catch") (result i32)
    try (result i32) (i32.const 9) end)

  ;; Deep recursion inside a catch clause keeps each frame's exception (rethrown at the end).
  (func $deep (param i32) (result i32)
    (local $p i32)
    try (result i32)
      (call $throw (local.get 0))
      (i32.const 0)
    catch $e
      (local.set $p)
      (if (i32.eqz (local.get 0)) (then (rethrow 1)))
      (i32.add (local.get $p) (call $deep (i32.sub (local.get 0) (i32.const 1))))
    end)
  (func (export "deep") (param i32) (result i32)
    try (result i32)
      (call $deep (local.get 0))
    catch $e
      (i32.const 1000) (i32.add)
    end)
)
(assert_return (invoke "catch-results" (i32.const 0)) (i32.const 0) (i64.const 7))
(assert_return (invoke "catch-results" (i32.const 5)) (i32.const 105) (i64.const 8))
(assert_return (invoke "delegate-from-catch") (i32.const 3))
(assert_return (invoke "delegate-skips") (i32.const 20))
(assert_return (invoke "delegate-to-block") (i32.const 2))
(assert_return (invoke "delegate-to-caller") (i32.const 5))
(assert_return (invoke "rethrow-outer" (i32.const 1)) (i32.const 42))
(assert_return (invoke "rethrow-outer" (i32.const 0)) (i32.const -1))
(assert_return (invoke "no-catch") (i32.const 9))
(assert_return (invoke "deep" (i32.const 100)) (i32.const 1000))

;; A catch clause is entered by unwinding, with nothing in the interpreter's registers: its
;; first instructions must read their operands from the slots, whatever the code before the
;; clause (the end of the try body) left in the registers.
(module
  (tag $e)
  (func $throw (throw $e))
  (func (export "reads-local") (param $x i32) (result i32)
    try (result i32)
      (call $throw) (local.get $x)
    catch_all
      (local.get $x)
    end)
  (func (export "after-update") (param $x i32) (result i32)
    try (result i32)
      (local.set $x (i32.add (local.get $x) (i32.const 1)))
      (if (local.get $x) (then (throw $e)))
      (local.get $x)
    catch $e
      (i32.add (local.get $x) (i32.const 10))
    end)
  (func (export "f64") (param $x f64) (result f64)
    try (result f64)
      (call $throw) (local.get $x)
    catch_all
      (f64.add (local.get $x) (f64.const 0.5))
    end))
(assert_return (invoke "reads-local" (i32.const 5)) (i32.const 5))
(assert_return (invoke "after-update" (i32.const 5)) (i32.const 16))
(assert_return (invoke "after-update" (i32.const -1)) (i32.const 0))
(assert_return (invoke "f64" (f64.const 2)) (f64.const 2.5))
