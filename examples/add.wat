;; Exports for `chiwawa run --invoke`:
;;   chiwawa run --invoke add examples/add.wat 40 2        → 42
;;   chiwawa run --invoke fac examples/add.wat 20          → 2432902008176640000
;;   chiwawa run --invoke hypot examples/add.wat 3 4       → 5
;;   chiwawa run --invoke divmod examples/add.wat 17 5     → 3 and 2 (multi-value)
;;   chiwawa run --invoke div examples/add.wat 1 0         → trap: integer divide by zero (exit 134)
(module $add
  (func $add (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func $fac (export "fac") (param $n i64) (result i64)
    (if (result i64) (i64.le_u (local.get $n) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get $n) (call $fac (i64.sub (local.get $n) (i64.const 1)))))))
  (func (export "hypot") (param $x f64) (param $y f64) (result f64)
    (f64.sqrt (f64.add (f64.mul (local.get $x) (local.get $x)) (f64.mul (local.get $y) (local.get $y)))))
  (func (export "divmod") (param $a i32) (param $b i32) (result i32 i32)
    (i32.div_u (local.get $a) (local.get $b))
    (i32.rem_u (local.get $a) (local.get $b)))
  (func $div (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "f32_min") (param f32 f32) (result f32)
    (f32.min (local.get 0) (local.get 1))))
