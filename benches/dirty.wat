;; Incremental-checkpoint benchmark guest:
;;   `chiwawa run --invoke dirty dirty.wat MIB ROUNDS PAGES SPIN`
;; grows memory to MIB MiB and writes a non-zero word into every 4 KiB (every page touched), then
;; ROUNDS rounds: each rewrites one word in each of PAGES pseudo-randomly chosen 64 KiB pages
;; (xorshift), then spins SPIN iterations of a cheap loop (the guest's "work" between
;; checkpoints). Returns a checksum of the words it wrote. With --every-instructions of about one
;; round, each generation sees PAGES changed pages.
(module
  (memory 1)
  (func (export "dirty") (param $mib i32) (param $rounds i32) (param $per i32) (param $spin i32) (result i64)
    (local $bytes i32) (local $pages i32) (local $p i32) (local $r i32) (local $k i32)
    (local $x i64) (local $sum i64) (local $i i32)
    (local.set $pages (i32.shl (local.get $mib) (i32.const 4)))
    (local.set $bytes (i32.shl (local.get $mib) (i32.const 20)))
    (if (i32.eq (memory.grow (i32.sub (local.get $pages) (i32.const 1))) (i32.const -1))
      (then unreachable))
    (loop $fill
      (i32.store (local.get $p) (i32.or (local.get $p) (i32.const 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $fill (i32.lt_u (local.get $p) (local.get $bytes))))
    (local.set $x (i64.const 88172645463325252))
    (block $end
      (loop $round
        (br_if $end (i32.ge_u (local.get $r) (local.get $rounds)))
        (local.set $k (i32.const 0))
        (block $touched
          (loop $touch
            (br_if $touched (i32.ge_u (local.get $k) (local.get $per)))
            (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
            (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
            (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
            (local.set $p (i32.shl (i32.wrap_i64 (i64.rem_u (local.get $x) (i64.extend_i32_u (local.get $pages))))
                                   (i32.const 16)))
            (i32.store offset=64 (local.get $p) (i32.wrap_i64 (local.get $x)))
            (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (i32.load offset=64 (local.get $p)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $touch)))
        (local.set $i (i32.const 0))
        (loop $work
          (local.set $sum (i64.add (local.get $sum) (i64.const 1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $work (i32.lt_u (local.get $i) (local.get $spin))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $round)))
    (local.get $sum)))
