;; memory.grow checkpoint guest: `memgrow.wat [STEPS]` (default 40).
;; Memory starts at 2 pages. Step s grows it by 1 + s%3 pages (max 256), writes eight
;; i64 words into one page (1 + a multiple of 8, so most pages stay all-zero and
;; checkpoints stay sparse), every 5th step memory.fills a stretch of the newest page and
;; memory.copies a block into page 0, then checksums every word written so far (the
;; filled and copied stretches included) plus a sparse scan of all pages, and prints the
;; sum. At the end a grow past the maximum must fail with -1.
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
  (memory (export "memory") 2 256)
  (data (i32.const 3072) "mem")
  (data (i32.const 3080) "s")
  (data (i32.const 3088) "pages")
  (data (i32.const 3096) "old")
  (data (i32.const 3104) "sum")
  (data (i32.const 3112) "grow failed")
  (data (i32.const 3128) "over max")
  (data (i32.const 3144) "done")
  (data (i32.const 3152) "steps")
  (data (i32.const 3160) "words")

  ;; the address log of written words lives at 16384.. in page 0 (4 bytes each)
  (global $nlog (mut i32) (i32.const 0))

  (func $log (param $addr i32)
    (if (i32.lt_u (global.get $nlog) (i32.const 4096))
      (then
        (i32.store (i32.add (i32.const 16384) (i32.shl (global.get $nlog) (i32.const 2))) (local.get $addr))
        (global.set $nlog (i32.add (global.get $nlog) (i32.const 1))))))

  (func $checksum (param $pages i32) (result i64)
    (local $sum i64) (local $k i32) (local $q i32) (local $w i32)
    (local.set $sum (i64.const 0x243f6a8885a308d3))
    (block $done
      (loop $log
        (br_if $done (i32.ge_u (local.get $k) (global.get $nlog)))
        (local.set $sum (i64.add (i64.rotl (local.get $sum) (i64.const 5))
                                 (i64.load (i32.load (i32.add (i32.const 16384)
                                                              (i32.shl (local.get $k) (i32.const 2)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $log)))
    (block $done
      (loop $page
        (br_if $done (i32.ge_u (local.get $q) (local.get $pages)))
        (local.set $w (i32.const 0))
        (loop $word
          (local.set $sum (i64.xor (i64.mul (local.get $sum) (i64.const 0x100000001b3))
                                   (i64.load (i32.add (i32.shl (local.get $q) (i32.const 16))
                                                      (i32.shl (local.get $w) (i32.const 14))))))
          (local.set $w (i32.add (local.get $w) (i32.const 1)))
          (br_if $word (i32.lt_u (local.get $w) (i32.const 4))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $page)))
    (local.get $sum))

  (func $main (export "_start")
    (local $steps i32) (local $s i32) (local $old i32) (local $pages i32) (local $p i32)
    (local $j i32) (local $addr i32) (local $x i64)
    (local.set $steps (call $arg (i32.const 1) (i32.const 40)))
    (local.set $x (i64.const 88172645463325252))
    (local.set $s (i32.const 1))
    (block $end
      (loop $step
        (br_if $end (i32.gt_u (local.get $s) (local.get $steps)))
        (local.set $old (memory.grow (i32.add (i32.const 1) (i32.rem_u (local.get $s) (i32.const 3)))))
        (if (i32.eq (local.get $old) (i32.const -1))
          (then (call $puts (i32.const 3112) (i32.const 11)) (call $endl) (call $proc_exit (i32.const 1))))
        (local.set $pages (memory.size))
        ;; p = 1 + 8*k <= pages-1: page 0 holds the preamble's buffers and the address log
        (local.set $p (i32.add (i32.const 1)
                               (i32.shl (i32.rem_u (i32.mul (local.get $s) (i32.const 7))
                                                   (i32.add (i32.shr_u (i32.sub (local.get $pages) (i32.const 2))
                                                                       (i32.const 3))
                                                            (i32.const 1)))
                                        (i32.const 3))))
        (local.set $j (i32.const 0))
        (loop $touch
          (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
          (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
          (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
          (local.set $addr
            (i32.add (i32.shl (local.get $p) (i32.const 16))
                     (i32.and (i32.rem_u (i32.add (i32.mul (local.get $s) (i32.const 8191))
                                                  (i32.mul (local.get $j) (i32.const 4099)))
                                         (i32.const 65528))
                              (i32.const -8))))
          (i64.store (local.get $addr) (local.get $x))
          (call $log (local.get $addr))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $touch (i32.lt_u (local.get $j) (i32.const 8))))
        (if (i32.eqz (i32.rem_u (local.get $s) (i32.const 5)))
          (then
            (memory.fill (i32.add (i32.shl (local.get $old) (i32.const 16)) (i32.const 1000))
                         (local.get $s) (i32.const 300))
            (memory.copy (i32.add (i32.const 40960) (i32.shl (i32.and (local.get $s) (i32.const 15)) (i32.const 8)))
                         (i32.add (i32.shl (local.get $old) (i32.const 16)) (i32.const 1000))
                         (i32.const 256))
            ;; both stretches are read back by every later checksum
            (call $log (i32.add (i32.shl (local.get $old) (i32.const 16)) (i32.const 1288)))
            (call $log (i32.add (i32.const 40960) (i32.shl (i32.and (local.get $s) (i32.const 15)) (i32.const 8))))))
        (call $puts (i32.const 3072) (i32.const 3))
        (call $kv (i32.const 3080) (i32.const 1) (i64.extend_i32_u (local.get $s)))
        (call $kv (i32.const 3096) (i32.const 3) (i64.extend_i32_u (local.get $old)))
        (call $kv (i32.const 3088) (i32.const 5) (i64.extend_i32_u (local.get $pages)))
        (call $kx (i32.const 3104) (i32.const 3) (call $checksum (local.get $pages)))
        (call $endl)
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $step)))
    (call $puts (i32.const 3128) (i32.const 8))
    (call $kv (i32.const 3096) (i32.const 3) (i64.extend_i32_u (memory.grow (i32.const 1000))))
    (call $kv (i32.const 3088) (i32.const 5) (i64.extend_i32_u (memory.size)))
    (call $endl)
    (call $puts (i32.const 3144) (i32.const 4))
    (call $kv (i32.const 3152) (i32.const 5) (i64.extend_i32_u (local.get $steps)))
    (call $kv (i32.const 3160) (i32.const 5) (i64.extend_i32_u (global.get $nlog)))
    (call $endl))
)
