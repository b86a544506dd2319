;; memory64 guest (Wasm 3.0): `mem64.wat ROUNDS CELLS STEPS [BASE]`. Memory 0 (32-bit) holds the
;; WASI buffers. Memory 1 is 64-bit and grows to hold CELLS sparse cells 96 MiB apart starting
;; just below BASE MiB (4096 by default: more than 4 GiB of address space), of which only the
;; cells' pages are touched. Each round writes and reads every load and store width at every cell, runs the
;; bulk operators across the 4 GiB line and between the memories (mixed index types), and mixes
;; STEPS times through a 64-bit table (call_indirect with an i64 index). Memory 2 is 64-bit with a
;; maximum of 3 pages (its grow fails from round 3 on: -1 as an i64). Prints
;; `round R hash=… pages=… tab=… grow=… grow=… high=…`; exits 71 if memory 1 cannot grow.
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
  ;; Memory 1: 64-bit, grown past 4 GiB and written sparsely; memory 2: 64-bit with a maximum.
  (memory $big i64 1)
  (memory $small i64 1 3)
  ;; A 64-bit table: call_indirect, table.grow/size/fill/set/get with i64 operands.
  (type $step (func (param i64) (result i64)))
  (table $ops i64 4 funcref)
  (elem (table $ops) (i64.const 0) func $rot $mulx $inc $neg)
  (global $gib i64 (i64.const 0x40000000))
  (data (i32.const 3072) "round")
  (data (i32.const 3080) "hash")
  (data (i32.const 3088) "pages")
  (data (i32.const 3096) "tab")
  (data (i32.const 3104) "done")
  (data (i32.const 3112) "grow")
  (data (i32.const 3120) "high")
  (data $seed "chiwawa memory64, far beyond 4 GiB")
  (data (memory $big) (i64.const 65000) "\01\02\03\04\05\06\07\08")

  (func $rot (type $step) (i64.rotl (local.get 0) (i64.const 13)))
  (func $mulx (type $step) (i64.mul (local.get 0) (i64.const 0x9e3779b97f4a7c15)))
  (func $inc (type $step) (i64.add (local.get 0) (i64.const 0x1234567)))
  (func $neg (type $step) (i64.sub (i64.const 0) (local.get 0)))

  ;; Where cell 0 lies (BASE MiB, 4096 by default) and the address of sparse cell k:
  ;; k * 96 MiB + 8k + BASE - 200, across the whole memory.
  (global $base (mut i64) (i64.const 0x100000000))
  (func $cell (param $k i64) (result i64)
    (i64.add (i64.add (i64.mul (local.get $k) (i64.const 0x6000000)) (i64.shl (local.get $k) (i64.const 3)))
      (i64.sub (global.get $base) (i64.const 200))))

  ;; Round r: every width at sparse cells of memory 1 (k = 0 .. cells-1, wrapping around its
  ;; size), bulk operators across the 4 GiB line, `steps` rounds of table-driven mixing.
  (func $round (param $r i64) (param $cells i64) (param $steps i32) (result i64)
    (local $k i64) (local $a i64) (local $h i64) (local $i i32) (local $size i64)
    (local.set $size (i64.mul (memory.size $big) (i64.const 65536)))
    (local.set $h (local.get $r))
    (local.set $k (i64.const 0))
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $k) (local.get $cells)))
        (local.set $a (i64.rem_u (call $cell (local.get $k)) (i64.sub (local.get $size) (i64.const 64))))
        (i64.store $big (local.get $a) (i64.add (i64.load $big (local.get $a)) (i64.xor (local.get $k) (local.get $r))))
        (i32.store $big offset=8 (local.get $a) (i32.wrap_i64 (local.get $h)))
        (i64.store16 $big offset=12 (local.get $a) (local.get $k))
        (i64.store8 $big offset=14 (local.get $a) (local.get $r))
        (f64.store $big offset=16 (local.get $a) (f64.convert_i64_u (local.get $a)))
        (f32.store $big offset=24 (local.get $a) (f32.convert_i64_s (local.get $h)))
        (i64.store32 $big offset=28 (local.get $a) (i64.const -7))
        (local.set $h (i64.add (i64.rotl (local.get $h) (i64.const 5))
          (i64.xor (i64.load $big (local.get $a)) (i64.load32_u $big offset=8 (local.get $a)))))
        (local.set $h (i64.add (local.get $h) (i64.load16_s $big offset=12 (local.get $a))))
        (local.set $h (i64.xor (local.get $h) (i64.load8_u $big offset=14 (local.get $a))))
        (local.set $h (i64.add (local.get $h) (i64.reinterpret_f64 (f64.load $big offset=16 (local.get $a)))))
        (local.set $h (i64.add (local.get $h) (i64.extend_i32_u (i32.reinterpret_f32 (f32.load $big offset=24 (local.get $a))))))
        (local.set $h (i64.add (local.get $h) (i64.load32_s $big offset=28 (local.get $a))))
        (local.set $h (i64.add (local.get $h) (i64.extend_i32_s (i32.load8_s $big offset=30 (local.get $a)))))
        (local.set $h (i64.add (local.get $h) (i64.extend_i32_u (i32.load16_u $big offset=12 (local.get $a)))))
        (local.set $k (i64.add (local.get $k) (i64.const 1)))
        (br $next)))
    ;; Bulk operators straddling 4 GiB (when the memory is that large) and between memories.
    (local.set $a (i64.sub (i64.rem_u (i64.const 0x100000000) (i64.sub (local.get $size) (i64.const 4096))) (i64.const 100)))
    (memory.fill $big (local.get $a) (i32.wrap_i64 (i64.add (local.get $r) (i64.const 0x41))) (i64.const 200))
    (memory.init $big $seed (i64.add (local.get $a) (i64.const 50)) (i32.const 0) (i32.const 34))
    (memory.copy $big $big (i64.add (local.get $a) (i64.const 1000)) (local.get $a) (i64.const 300))
    (memory.copy $small $big (i64.const 100) (i64.add (local.get $a) (i64.const 1000)) (i64.const 300))
    (memory.copy 0 $big (i32.const 5000) (local.get $a) (i32.const 256))
    (memory.copy $big 0 (i64.const 65000) (i32.const 5000) (i32.const 16))
    (local.set $i (i32.const 0))
    (loop $fold
      (local.set $h (i64.add (i64.rotl (local.get $h) (i64.const 3))
        (i64.xor (i64.load $small offset=100 (i64.extend_i32_u (local.get $i)))
          (i64.extend_i32_u (i32.load8_u (i32.add (i32.const 5000) (local.get $i)))))))
      (local.set $h (i64.add (local.get $h) (i64.load $big (i64.add (i64.const 65000) (i64.extend_i32_u (i32.and (local.get $i) (i32.const 7)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fold (i32.lt_u (local.get $i) (i32.const 256))))
    ;; Table-driven mixing through the 64-bit table.
    (local.set $i (i32.const 0))
    (block $end
      (loop $mix
        (br_if $end (i32.ge_u (local.get $i) (local.get $steps)))
        (local.set $h (call_indirect $ops (type $step) (local.get $h)
          (i64.rem_u (i64.add (local.get $h) (i64.extend_i32_u (local.get $i))) (table.size $ops))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $mix)))
    (local.get $h))

  (func (export "_start")
    (local $rounds i32) (local $cells i32) (local $steps i32) (local $r i32) (local $g i64)
    (local $want i64) (local $h i64)
    (local.set $rounds (call $arg (i32.const 1) (i32.const 4)))
    (local.set $cells (call $arg (i32.const 2) (i32.const 64)))
    (local.set $steps (call $arg (i32.const 3) (i32.const 1000)))
    (global.set $base (i64.shl (i64.extend_i32_u (call $arg (i32.const 4) (i32.const 4096))) (i64.const 20)))
    ;; Memory 1 grows to hold every cell: past 4 GiB from 44 cells on (in steps of 16384 pages).
    (local.set $want (i64.add (i64.div_u (call $cell (i64.extend_i32_u (local.get $cells))) (i64.const 65536)) (i64.const 1)))
    (block $big
      (loop $grow
        (br_if $big (i64.ge_u (memory.size $big) (local.get $want)))
        (if (i64.eq (memory.grow $big (i64.const 16384)) (i64.const -1))
          (then (call $proc_exit (i32.const 71))))
        (br $grow)))
    ;; The 64-bit table grows by one entry (a copy of $rot) each run; a failed grow is -1.
    (local.set $g (table.grow $ops (ref.func $rot) (i64.const 1)))
    (table.set $ops (i64.const 4) (table.get $ops (i64.const 1)))
    (table.fill $ops (i64.const 4) (ref.func $inc) (i64.const 1))
    (local.set $r (i32.const 1))
    (block $end
      (loop $round
        (br_if $end (i32.gt_u (local.get $r) (local.get $rounds)))
        (local.set $h (call $round (i64.extend_i32_u (local.get $r)) (i64.extend_i32_u (local.get $cells)) (local.get $steps)))
        (call $puts (i32.const 3072) (i32.const 5))
        (call $putc (i32.const 32)) (call $putu (i64.extend_i32_u (local.get $r)))
        (call $kx (i32.const 3080) (i32.const 4) (local.get $h))
        (call $kv (i32.const 3088) (i32.const 5) (memory.size $big))
        (call $kv (i32.const 3096) (i32.const 3) (table.size $ops))
        (call $kv (i32.const 3112) (i32.const 4) (local.get $g))
        (call $kv (i32.const 3112) (i32.const 4) (memory.grow $small (i64.const 1)))
        (call $kv (i32.const 3120) (i32.const 4) (i64.load8_u $big (i64.sub (i64.mul (memory.size $big) (i64.const 65536)) (i64.const 1))))
        (call $endl)
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $round)))
    (call $puts (i32.const 3104) (i32.const 4))
    (call $endl))
)
