;; Multi-memory guest (Wasm 3.0): `multimem.wat ROUNDS SIZE`. Memory 0 holds the WASI buffers;
;; memory 1 (grown to SIZE*r bytes each round r) runs a sieve of Eratosthenes with memory.fill and
;; byte stores; memory 2 (maximum 4 pages: grown once a round until that fails) takes every load and
;; store width; memory.init, memory.copy between every pair of the memories. Prints
;; `round R sum=… pages=… grow=… mix=…`; exits 71 if memory 1 cannot grow.
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
  ;; Memory 1: the work area (grows), memory 2: a small scratch memory with a maximum.
  (memory $work 1)
  (memory $scratch 1 4)
  (data (i32.const 3072) "round")
  (data (i32.const 3080) "sum")
  (data (i32.const 3088) "pages")
  (data (i32.const 3096) "mix")
  (data (i32.const 3104) "done")
  (data (i32.const 3112) "grow")
  (data $seed "chiwawa two memories")
  (data (memory $scratch) (i32.const 16) "\01\02\03\04\05\06\07\08")

  ;; Sieve of Eratosthenes over n bytes of memory 1 (fill, then byte stores); the sum of primes.
  (func $sieve (param $n i32) (result i64)
    (local $i i32) (local $j i32) (local $sum i64)
    (memory.fill $work (i32.const 0) (i32.const 1) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (i32.mul (local.get $i) (local.get $i)) (local.get $n)))
        (if (i32.load8_u $work (local.get $i))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $end
              (loop $inner
                (br_if $end (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 $work (local.get $j) (i32.const 0))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.set $i (i32.const 2))
    (block $done2
      (loop $sum
        (br_if $done2 (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.load8_u $work (local.get $i))
          (then (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sum)))
    (local.get $sum))

  ;; Every load and store width on memory 2 and memory 1, copies between all three memories.
  (func $mix (param $r i32) (result i64)
    (local $i i32) (local $h i64)
    (i64.store $scratch offset=8 (i32.const 0) (i64.mul (i64.extend_i32_u (local.get $r)) (i64.const 0x9e3779b97f4a7c15)))
    (i32.store16 $scratch (i32.const 24) (i32.add (local.get $r) (i32.const 0x1234)))
    (f64.store $scratch (i32.const 32) (f64.convert_i32_u (local.get $r)))
    (f32.store $scratch (i32.const 40) (f32.div (f32.convert_i32_u (local.get $r)) (f32.const 3)))
    (i64.store32 $scratch (i32.const 44) (i64.const -7))
    (memory.init $work $seed (i32.const 1000) (i32.const 0) (i32.const 20))
    (memory.copy $work $scratch (i32.const 1100) (i32.const 0) (i32.const 48))
    (memory.copy $scratch $work (i32.const 100) (i32.const 1000) (i32.const 20))
    (memory.copy $work $work (i32.const 1101) (i32.const 1100) (i32.const 60))
    (memory.copy 0 $work (i32.const 5000) (i32.const 1100) (i32.const 64))
    (local.set $i (i32.const 0))
    (loop $next
      (local.set $h (i64.add (i64.rotl (local.get $h) (i64.const 7))
        (i64.xor (i64.load $work offset=1100 (local.get $i))
          (i64.extend_i32_u (i32.load8_u (i32.add (i32.const 5000) (local.get $i)))))))
      (local.set $h (i64.xor (local.get $h) (i64.load16_s $scratch (local.get $i))))
      (local.set $h (i64.add (local.get $h) (i64.load32_u $scratch offset=100 (i32.and (local.get $i) (i32.const 15)))))
      (local.set $h (i64.add (local.get $h) (i64.reinterpret_f64 (f64.load $scratch (i32.const 32)))))
      (local.set $h (i64.xor (local.get $h) (i64.extend_i32_s (i32.reinterpret_f32 (f32.load $scratch (i32.const 40))))))
      (local.set $h (i64.add (local.get $h) (i64.load8_s $work (i32.add (i32.const 1000) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 56))))
    (local.get $h))

  (func $line
    (call $putc (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (global.get $len))
    (global.set $len (i32.const 0))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $proc_exit (i32.const 70)))))

  (func (export "_start")
    (local $rounds i32) (local $size i32) (local $r i32) (local $n i32) (local $g i32)
    (local.set $rounds (call $arg (i32.const 1) (i32.const 6)))
    (local.set $size (call $arg (i32.const 2) (i32.const 40000)))
    (local.set $r (i32.const 1))
    (block $end
      (loop $round
        (br_if $end (i32.gt_u (local.get $r) (local.get $rounds)))
        (local.set $n (i32.mul (local.get $size) (local.get $r)))
        ;; Grow memory 1 to hold n bytes; memory 2 to its maximum, then once more (fails).
        (block $big
          (loop $grow
            (br_if $big (i32.ge_u (i32.mul (memory.size $work) (i32.const 65536)) (local.get $n)))
            (if (i32.eq (memory.grow $work (i32.const 1)) (i32.const -1))
              (then (call $proc_exit (i32.const 71))))
            (br $grow)))
        (local.set $g (memory.grow $scratch (i32.const 1)))
        (call $puts (i32.const 3072) (i32.const 5))
        (call $putc (i32.const 32)) (call $putu (i64.extend_i32_u (local.get $r)))
        (call $kv (i32.const 3080) (i32.const 3) (call $sieve (local.get $n)))
        (call $kv (i32.const 3088) (i32.const 5) (i64.extend_i32_u (memory.size $work)))
        (call $kv (i32.const 3112) (i32.const 4) (i64.extend_i32_s (local.get $g)))
        (call $kx (i32.const 3096) (i32.const 3) (call $mix (local.get $r)))
        (call $line)
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $round)))
    (call $puts (i32.const 3104) (i32.const 4))
    (call $line))
)
