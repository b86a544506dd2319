;; Exception handling (Wasm 3.0) regressions.
;;
;; A return_call inside a try_table leaves the try_table: an exception the callee throws is
;; not caught by the caller's handlers, also when the callee (another instance's function)
;; cannot take the frame's place and the call keeps it.
(module $A
  (tag $e (export "e"))
  (func (export "thrower") (throw $e)))
(register "A")
(module
  (tag $e (import "A" "e"))
  (func $thrower (import "A" "thrower"))
  (func $inner
    (block $h
      (try_table (catch $e $h) (return_call $thrower)))
    (unreachable))
  (func (export "f") (result i32)
    (block $h2
      (try_table (catch $e $h2) (call $inner))
      (return (i32.const 0)))
    (i32.const 1)))
(assert_return (invoke "f") (i32.const 1))

;; The same within one instance (the callee takes the frame's place).
(module
  (tag $e)
  (func $thrower (throw $e))
  (func $inner
    (block $h
      (try_table (catch $e $h) (return_call $thrower)))
    (unreachable))
  (func (export "f") (result i32)
    (block $h2
      (try_table (catch $e $h2) (call $inner))
      (return (i32.const 0)))
    (i32.const 1)))
(assert_return (invoke "f") (i32.const 1))
