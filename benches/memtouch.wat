;; Checkpoint-cost benchmark guest: `chiwawa run --invoke touch memtouch.wat MIB SPINS`
;; grows memory to MIB MiB, writes a non-zero word into every 4 KiB (so every page is
;; touched and non-zero), then mixes a checksum over the memory SPINS times and returns it.
(module
  (memory 1)
  (func (export "touch") (param $mib i32) (param $spins i32) (result i64)
    (local $bytes i32) (local $p i32) (local $sum i64) (local $k i32)
    (local.set $bytes (i32.mul (local.get $mib) (i32.const 1048576)))
    (if (i32.eq (memory.grow (i32.sub (i32.div_u (local.get $bytes) (i32.const 65536)) (i32.const 1))) (i32.const -1))
      (then unreachable))
    (loop $fill
      (i32.store (local.get $p) (i32.or (local.get $p) (i32.const 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $fill (i32.lt_u (local.get $p) (local.get $bytes))))
    (loop $spin
      (local.set $p (i32.const 0))
      (loop $sumloop
        (local.set $sum (i64.add (i64.rotl (local.get $sum) (i64.const 7))
                                 (i64.extend_i32_u (i32.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4096)))
        (br_if $sumloop (i32.lt_u (local.get $p) (local.get $bytes))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $k) (local.get $spins))))
    (local.get $sum)))
