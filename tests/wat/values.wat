;; Every value type in every place a checkpoint records one (issue 16's compatibility corpus
;; and cross-lowering tests): i32, i64, f32, f64, funcref and externref values in locals, in
;; mutable globals, in a table, on the operand stack at a loop header (a loop whose parameters
;; are one value of each type), and on the operand stack below a recursive call — there as a
;; pending constant, a deferred `local.get`, a computed value, a table read and a null
;; reference, which the lowerings keep in different places. NaN payloads are only moved,
;; never computed with, so every host gives the same bits. Prints one line per round and a
;; final checksum.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (type $op (func (param i32) (result i32)))
  (table $t 4 funcref)
  (table $call 1 funcref)
  (elem (table $t) (i32.const 0) func $k0 $k1 $k2 $k3)
  (global $gi (mut i32) (i32.const 7))
  (global $gl (mut i64) (i64.const -3))
  (global $gf (mut f32) (f32.const nan:0x200001))
  (global $gd (mut f64) (f64.const -nan:0x8000000000001))
  (global $gr (mut funcref) (ref.null func))
  (global $ge (mut externref) (ref.null extern))
  (global $h (mut i64) (i64.const 0xcbf29ce484222325))
  (func $k0 (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $k1 (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $k2 (param i32) (result i32) (i32.xor (local.get 0) (i32.const 0x55)))
  (func $k3 (param i32) (result i32) (i32.rotl (local.get 0) (i32.const 5)))
  ;; h = (h ^ x) * FNV prime
  (func $mix (param $x i64)
    (global.set $h (i64.mul (i64.xor (global.get $h) (local.get $x)) (i64.const 0x100000001b3))))
  ;; calls a funcref (null: 0) through a one-element table
  (func $apply (param $f funcref) (param $x i32) (result i32)
    (if (result i32) (ref.is_null (local.get $f))
      (then (i32.const 0))
      (else
        (table.set $call (i32.const 0) (local.get $f))
        (call_indirect $call (type $op) (local.get $x) (i32.const 0)))))
  ;; A loop whose parameters are an i64, f32, f64, funcref and externref: at its header (a
  ;; safe point) the operand stack holds one of each, and the locals hold one of each too.
  (func $spin (param $n i32) (param $a i64) (param $b f32) (param $c f64) (param $r funcref)
              (param $e externref) (result i64)
    (local $i i32) (local $acc i64)
    (local $ta i64) (local $tb f32) (local $tc f64) (local $tr funcref) (local $te externref)
    (local.get $a) (local.get $b) (local.get $c) (local.get $r) (local.get $e)
    (loop $l (param i64 f32 f64 funcref externref) (result i64 f32 f64 funcref externref)
      (local.set $te) (local.set $tr) (local.set $tc) (local.set $tb) (local.set $ta)
      (local.set $acc (i64.add (local.get $acc) (local.get $ta)))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (i32.reinterpret_f32 (local.get $tb)))))
      (local.set $acc (i64.xor (local.get $acc) (i64.reinterpret_f64 (local.get $tc))))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (call $apply (local.get $tr) (local.get $i)))))
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (ref.is_null (local.get $te)))))
      ;; the next iteration's values
      (i64.add (i64.mul (local.get $ta) (i64.const 6364136223846793005)) (i64.const 1442695040888963407))
      (select (local.get $tb) (f32.convert_i32_s (local.get $i)) (i32.and (local.get $i) (i32.const 1)))
      (select (global.get $gd) (f64.convert_i64_s (local.get $ta)) (i32.eqz (i32.and (local.get $i) (i32.const 3))))
      (table.get $t (i32.and (local.get $i) (i32.const 3)))
      (local.get $te)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    ;; fold the loop's results in
    (local.set $te) (local.set $tr) (local.set $tc) (local.set $tb) (local.set $ta)
    (global.set $gr (local.get $tr))
    (global.set $gf (local.get $tb))
    (i64.add (local.get $acc)
      (i64.add (local.get $ta) (i64.reinterpret_f64 (local.get $tc)))))
  ;; A recursion holding, below each recursive call, an i32 constant, a deferred read of the
  ;; i64 parameter, a computed f32, a funcref read from the table and a null externref.
  (func $deep (param $d i32) (param $x i64) (result i64)
    (local $f f32) (local $res i64) (local $e externref) (local $fr funcref) (local $ff f32)
    (local $xx i64) (local $ii i32)
    (local.set $f (f32.convert_i32_s (local.get $d)))
    (if (result i64) (i32.eqz (local.get $d))
      (then
        (call $spin (i32.const 2000) (local.get $x) (global.get $gf) (global.get $gd)
                    (global.get $gr) (global.get $ge)))
      (else
        (i32.const 17)
        (local.get $x)
        (f32.mul (local.get $f) (f32.const 1.5))
        (table.get $t (i32.and (local.get $d) (i32.const 3)))
        (ref.null extern)
        (call $deep (i32.sub (local.get $d) (i32.const 1)) (i64.add (local.get $x) (i64.const 1)))
        (local.set $res) (local.set $e) (local.set $fr) (local.set $ff) (local.set $xx) (local.set $ii)
        (i64.add (local.get $res)
          (i64.add (i64.mul (local.get $xx) (i64.extend_i32_u (local.get $ii)))
            (i64.add (i64.extend_i32_u (i32.reinterpret_f32 (local.get $ff)))
              (i64.add (i64.extend_i32_u (ref.is_null (local.get $e)))
                       (i64.extend_i32_u (call $apply (local.get $fr) (local.get $d))))))))))
  ;; prints h as 16 hex digits and a newline, after a prefix byte
  (func $print (param $tag i32) (param $v i64) (local $p i32)
    (i32.store8 (i32.const 100) (local.get $tag))
    (i32.store8 (i32.const 101) (i32.const 32))
    (local.set $p (i32.const 16))
    (loop $d
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (i32.add (i32.const 102) (local.get $p))
        (i32.load8_u offset=200 (i32.wrap_i64 (i64.and (local.get $v) (i64.const 15)))))
      (local.set $v (i64.shr_u (local.get $v) (i64.const 4)))
      (br_if $d (local.get $p)))
    (i32.store8 (i32.const 118) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 19))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (data (i32.const 200) "0123456789abcdef")
  (func (export "_start") (local $round i32) (local $v i64)
    (loop $rounds
      (local.set $v (call $deep (i32.add (i32.const 20) (i32.rem_u (local.get $round) (i32.const 7)))
                                (i64.extend_i32_u (local.get $round))))
      (call $mix (local.get $v))
      ;; every global type changes
      (global.set $gi (i32.add (global.get $gi) (i32.wrap_i64 (local.get $v))))
      (global.set $gl (i64.xor (global.get $gl) (local.get $v)))
      (global.set $gd (select (global.get $gd) (f64.const 2.5) (i32.and (local.get $round) (i32.const 1))))
      (call $mix (i64.extend_i32_u (global.get $gi)))
      (call $mix (global.get $gl))
      (call $mix (i64.reinterpret_f64 (global.get $gd)))
      (call $mix (i64.extend_i32_u (i32.reinterpret_f32 (global.get $gf))))
      (call $print (i32.const 114) (global.get $h))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $rounds (i32.lt_u (local.get $round) (i32.const 24))))
    (call $print (i32.const 61) (global.get $h))))
