;; Table-mutating checkpoint guest: `tables.wat [ITERS [PROBE]]` (defaults 4000, 0).
;; Every iteration calls through table $t (call_indirect, skipping null entries); the loop
;; keeps rewriting $t with table.set / table.fill / table.copy / table.init, grows it with
;; table.grow, and half-way uses and drops a passive element segment (elem.drop) and a
;; passive data segment (memory.init + data.drop). Progress goes to stdout.
;; It ends with a deliberate trap that only happens if the drop survived checkpoint and
;; restore: PROBE 0 re-initialises memory from the dropped data segment, PROBE 1 the table
;; from the dropped element segment (exit 134 either way; exit 0 would be a bug).
(module
  ;; ---- shared preamble (identical in every tests/wat guest) -------------------------
  ;; Memory layout of page 0: 0..8 iovec, 8..12 nwritten, 16..24 args sizes,
  ;; 256..1024 line buffer, 1024..1280 argv pointers, 1280..3072 argv bytes,
  ;; 3072..4096 string constants, 4096.. guest data.
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (global $len (mut i32) (i32.const 0))
  (func $putc (param $c i32)
    (i32.store8 (i32.add (i32.const 256) (global.get $len)) (local.get $c))
    (global.set $len (i32.add (global.get $len) (i32.const 1))))
  (func $puts (param $p i32) (param $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (call $putc (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next))))
  ;; unsigned decimal
  (func $putu (param $v i64)
    (if (i64.ge_u (local.get $v) (i64.const 10))
      (then (call $putu (i64.div_u (local.get $v) (i64.const 10)))))
    (call $putc (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10))))))
  ;; 16 lower-case hex digits
  (func $puthex (param $v i64)
    (local $i i32) (local $d i32)
    (local.set $i (i32.const 60))
    (loop $next
      (local.set $d (i32.wrap_i64 (i64.and (i64.shr_u (local.get $v) (i64.extend_i32_u (local.get $i))) (i64.const 15))))
      (call $putc (select (i32.add (local.get $d) (i32.const 48)) (i32.add (local.get $d) (i32.const 87))
                          (i32.lt_u (local.get $d) (i32.const 10))))
      (local.set $i (i32.sub (local.get $i) (i32.const 4)))
      (br_if $next (i32.ge_s (local.get $i) (i32.const 0)))))
  ;; " key=" followed by a decimal / hex value; the key is a string constant
  (func $kv (param $p i32) (param $n i32) (param $v i64)
    (call $putc (i32.const 32)) (call $puts (local.get $p) (local.get $n)) (call $putc (i32.const 61))
    (call $putu (local.get $v)))
  (func $kx (param $p i32) (param $n i32) (param $v i64)
    (call $putc (i32.const 32)) (call $puts (local.get $p) (local.get $n)) (call $putc (i32.const 61))
    (call $puthex (local.get $v)))
  ;; newline, then one fd_write of the whole line to stdout
  (func $endl
    (call $putc (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (global.get $len))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $proc_exit (i32.const 70))))
    (global.set $len (i32.const 0)))
  ;; argv[i] as an unsigned decimal, or $default when absent or not a number
  (func $arg (param $i i32) (param $default i32) (result i32)
    (local $p i32) (local $c i32) (local $v i32) (local $any i32)
    (if (call $args_sizes_get (i32.const 16) (i32.const 20)) (then (return (local.get $default))))
    (if (i32.le_u (i32.load (i32.const 16)) (local.get $i)) (then (return (local.get $default))))
    (if (i32.gt_u (i32.load (i32.const 16)) (i32.const 64)) (then (return (local.get $default))))
    (if (i32.gt_u (i32.load (i32.const 20)) (i32.const 1792)) (then (return (local.get $default))))
    (if (call $args_get (i32.const 1024) (i32.const 1280)) (then (return (local.get $default))))
    (local.set $p (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
    (block $done
      (loop $digit
        (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
        (local.set $any (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $digit)))
    (select (local.get $v) (local.get $default) (local.get $any)))
  ;; ---- end of preamble -----------------------------------------------------------
  (memory (export "memory") 1)
  (type $fn (func (param i64) (result i64)))
  (table $t 4 64 funcref)
  (table $pal 8 funcref)
  (elem (table $t) (i32.const 0) func $f0 $f1 $f2 $f3)
  (elem (table $pal) (i32.const 0) func $f0 $f1 $f2 $f3 $f4 $f5 $f6 $f7)
  (elem $pe func $f4 $f5 $f6 $f7)
  (elem $pe2 func $f7 $f6)
  (data $pd "passive data segment #1 (dropped)")
  (data (i32.const 3072) "tab")
  (data (i32.const 3080) "i")
  (data (i32.const 3088) "size")
  (data (i32.const 3096) "nulls")
  (data (i32.const 3104) "acc")
  (data (i32.const 3112) "grow")
  (data (i32.const 3120) "old")
  (data (i32.const 3128) "elem.init+drop")
  (data (i32.const 3144) "data.init+drop: ")
  (data (i32.const 3168) "final")
  (data (i32.const 3176) "probe dropped data segment (expect a trap)")
  (data (i32.const 3224) "probe dropped elem segment (expect a trap)")

  (func $f0 (type $fn) (i64.add (local.get 0) (i64.const 0x9e3779b97f4a7c15)))
  (func $f1 (type $fn) (i64.mul (local.get 0) (i64.const 0x100000001b3)))
  (func $f2 (type $fn) (i64.xor (local.get 0) (i64.shr_u (local.get 0) (i64.const 29))))
  (func $f3 (type $fn) (i64.rotl (local.get 0) (i64.const 17)))
  (func $f4 (type $fn) (i64.sub (local.get 0) (i64.const 12345)))
  (func $f5 (type $fn) (i64.xor (local.get 0) (i64.const 0x5555aaaa5555aaaa)))
  (func $f6 (type $fn) (i64.add (i64.shl (local.get 0) (i64.const 3)) (i64.const 7)))
  (func $f7 (type $fn) (i64.mul (i64.add (local.get 0) (i64.const 1)) (i64.const 31)))

  (func $status (param $i i32) (param $size i32) (param $nulls i32) (param $acc i64)
    (call $kv (i32.const 3080) (i32.const 1) (i64.extend_i32_u (local.get $i)))
    (call $kv (i32.const 3088) (i32.const 4) (i64.extend_i32_u (local.get $size)))
    (call $kv (i32.const 3096) (i32.const 5) (i64.extend_i32_u (local.get $nulls)))
    (call $kx (i32.const 3104) (i32.const 3) (local.get $acc))
    (call $endl))

  (func $main (export "_start")
    (local $iters i32) (local $probe i32) (local $i i32) (local $size i32) (local $slot i32)
    (local $nulls i32) (local $old i32) (local $acc i64)
    (local.set $iters (call $arg (i32.const 1) (i32.const 4000)))
    (local.set $probe (call $arg (i32.const 2) (i32.const 0)))
    (local.set $acc (i64.const 1))
    (block $end
      (loop $iter
        (br_if $end (i32.ge_u (local.get $i) (local.get $iters)))
        (local.set $size (table.size $t))
        (local.set $slot (i32.rem_u (local.get $i) (local.get $size)))
        (if (ref.is_null (table.get $t (local.get $slot)))
          (then
            (local.set $nulls (i32.add (local.get $nulls) (i32.const 1)))
            (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 3)) (i64.const 1))))
          (else
            (local.set $acc (call_indirect $t (type $fn) (local.get $acc) (local.get $slot)))))
        (if (i32.eq (i32.rem_u (local.get $i) (i32.const 7)) (i32.const 3))
          (then (table.set $t (i32.rem_u (i32.mul (local.get $i) (i32.const 13)) (local.get $size))
                              (table.get $pal (i32.and (i32.mul (local.get $i) (i32.const 5)) (i32.const 7))))))
        (if (i32.eq (i32.rem_u (local.get $i) (i32.const 11)) (i32.const 5))
          (then (table.set $t (i32.rem_u (i32.mul (local.get $i) (i32.const 3)) (local.get $size))
                              (ref.null func))))
        (if (i32.eq (i32.rem_u (local.get $i) (i32.const 53)) (i32.const 17))
          (then (table.copy $t $t (i32.const 0) (i32.shr_u (local.get $size) (i32.const 1))
                                  (i32.shr_u (local.get $size) (i32.const 1)))))
        (if (i32.eq (i32.rem_u (local.get $i) (i32.const 131)) (i32.const 7))
          (then (table.fill $t (local.get $slot) (table.get $pal (i32.and (local.get $i) (i32.const 7)))
                               (select (i32.const 2) (i32.const 1)
                                       (i32.lt_u (i32.add (local.get $slot) (i32.const 1)) (local.get $size))))))
        (if (i32.eq (i32.rem_u (local.get $i) (i32.const 157)) (i32.const 11))
          (then (table.init $t $pe2 (i32.rem_u (local.get $i) (i32.sub (local.get $size) (i32.const 1)))
                                    (i32.const 0) (i32.const 2))))
        (if (i32.and (i32.eqz (i32.rem_u (local.get $i) (i32.const 97)))
                     (i32.lt_u (local.get $size) (i32.const 60)))
          (then
            (local.set $old (table.grow $t (ref.func $f5)
                                        (i32.add (i32.const 1) (i32.rem_u (local.get $i) (i32.const 3)))))
            (call $puts (i32.const 3112) (i32.const 4))
            (call $kv (i32.const 3080) (i32.const 1) (i64.extend_i32_u (local.get $i)))
            (call $kv (i32.const 3120) (i32.const 3) (i64.extend_i32_u (local.get $old)))
            (call $kv (i32.const 3088) (i32.const 4) (i64.extend_i32_u (table.size $t)))
            (call $endl)))
        (if (i32.eq (local.get $i) (i32.div_u (local.get $iters) (i32.const 3)))
          (then
            (table.init $t $pe (i32.const 0) (i32.const 0) (i32.const 4))
            (elem.drop $pe)
            (call $puts (i32.const 3128) (i32.const 14))
            (call $status (local.get $i) (table.size $t) (local.get $nulls) (local.get $acc))))
        (if (i32.eq (local.get $i) (i32.div_u (local.get $iters) (i32.const 2)))
          (then
            (memory.init $pd (i32.const 4096) (i32.const 0) (i32.const 33))
            (data.drop $pd)
            (call $puts (i32.const 3144) (i32.const 16))
            (call $puts (i32.const 4096) (i32.const 33))
            (call $endl)))
        (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 250)))
          (then
            (call $puts (i32.const 3072) (i32.const 3))
            (call $status (local.get $i) (table.size $t) (local.get $nulls) (local.get $acc))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iter)))
    (call $puts (i32.const 3168) (i32.const 5))
    (call $status (local.get $i) (table.size $t) (local.get $nulls) (local.get $acc))
    (if (i32.eqz (local.get $probe))
      (then
        (call $puts (i32.const 3176) (i32.const 42)) (call $endl)
        (memory.init $pd (i32.const 0) (i32.const 0) (i32.const 1)))
      (else
        (call $puts (i32.const 3224) (i32.const 42)) (call $endl)
        (table.init $t $pe (i32.const 0) (i32.const 0) (i32.const 1)))))
)
