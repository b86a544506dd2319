;; Incremental-generation guest: `dirty.wat MIB ROUNDS PAGES`.
;; Grows memory to MIB MiB (at most 64) and writes a word into every 4 KiB, so every 64 KiB page
;; is non-zero. Then ROUNDS rounds: each rewrites one word in each of PAGES pseudo-randomly
;; chosen 64 KiB pages (an xorshift sequence), then checksums every 4 KiB word of memory and
;; prints `round R sum S`. Between checkpoints only the pages a round touched change: what
;; incremental generations are for.
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
  (memory (export "memory") 1 1024)
  (data (i32.const 3072) "round")
  (data (i32.const 3080) "sum")
  (data (i32.const 3088) "grow failed")

  (func $checksum (param $bytes i32) (result i64)
    (local $sum i64) (local $p i32)
    (local.set $sum (i64.const 0x243f6a8885a308d3))
    (loop $next
      (local.set $sum (i64.xor (i64.mul (local.get $sum) (i64.const 0x100000001b3))
                               (i64.extend_i32_u (i32.load (local.get $p)))))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $next (i32.lt_u (local.get $p) (local.get $bytes))))
    (local.get $sum))

  (func $main (export "_start")
    (local $mib i32) (local $rounds i32) (local $per i32) (local $bytes i32) (local $pages i32)
    (local $p i32) (local $r i32) (local $k i32) (local $x i64) (local $page i32)
    (local.set $mib (call $arg (i32.const 1) (i32.const 8)))
    (if (i32.gt_u (local.get $mib) (i32.const 64)) (then (local.set $mib (i32.const 64))))
    (if (i32.eqz (local.get $mib)) (then (local.set $mib (i32.const 1))))
    (local.set $rounds (call $arg (i32.const 2) (i32.const 20)))
    (local.set $per (call $arg (i32.const 3) (i32.const 4)))
    (local.set $pages (i32.shl (local.get $mib) (i32.const 4)))
    (local.set $bytes (i32.shl (local.get $mib) (i32.const 20)))
    (if (i32.eq (memory.grow (i32.sub (local.get $pages) (i32.const 1))) (i32.const -1))
      (then (call $puts (i32.const 3088) (i32.const 11)) (call $endl) (call $proc_exit (i32.const 1))))
    ;; every 4 KiB of memory non-zero (page 0's first 4 KiB holds the preamble's buffers)
    (local.set $p (i32.const 4096))
    (loop $fill
      (i32.store (i32.add (local.get $p) (i32.const 8)) (i32.or (local.get $p) (i32.const 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $fill (i32.lt_u (local.get $p) (local.get $bytes))))
    (local.set $x (i64.const 88172645463325252))
    (local.set $r (i32.const 1))
    (block $end
      (loop $round
        (br_if $end (i32.gt_u (local.get $r) (local.get $rounds)))
        (local.set $k (i32.const 0))
        (block $touched
          (loop $touch
            (br_if $touched (i32.ge_u (local.get $k) (local.get $per)))
            (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
            (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
            (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
            ;; a page in 1..pages-1, a word in its second 4 KiB
            (local.set $page (i32.add (i32.const 1)
              (i32.wrap_i64 (i64.rem_u (local.get $x) (i64.extend_i32_u (i32.sub (local.get $pages) (i32.const 1)))))))
            (i32.store (i32.add (i32.shl (local.get $page) (i32.const 16)) (i32.const 4096))
                       (i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 32))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $touch)))
        (call $puts (i32.const 3072) (i32.const 5))
        (call $putc (i32.const 32)) (call $putu (i64.extend_i32_u (local.get $r)))
        (call $kv (i32.const 3080) (i32.const 3) (call $checksum (local.get $bytes)))
        (call $endl)
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $round))))
)
