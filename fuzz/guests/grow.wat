;; Fuzz guest: memory.grow to a maximum, bulk memory (fill, copy, init, data.drop), and
;; progress lines on stdout through WASI fd_write.
(module $grow
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 6)
  (data $msg "grow: page\n")
  (data (i32.const 64) "done\n")
  (global $pages (export "pages") (mut i32) (i32.const 1))
  (func $say (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $old i32) (local $i i32)
    (memory.init $msg (i32.const 128) (i32.const 0) (i32.const 11))
    (loop $g
      (local.set $old (memory.grow (i32.const 1)))
      (if (i32.ge_s (local.get $old) (i32.const 0))
        (then
          (global.set $pages (memory.size))
          (memory.fill (i32.mul (local.get $old) (i32.const 65536)) (i32.add (local.get $old) (i32.const 65)) (i32.const 4096))
          (local.set $i (i32.const 0))
          (loop $w
            (i32.store (i32.add (i32.mul (local.get $old) (i32.const 65536)) (i32.shl (local.get $i) (i32.const 4)))
                       (i32.mul (local.get $i) (local.get $old)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $w (i32.lt_u (local.get $i) (i32.const 2000))))
          (memory.copy (i32.const 4096) (i32.mul (local.get $old) (i32.const 65536)) (i32.const 256))
          (call $say (i32.const 128) (i32.const 11))
          (br $g))))
    (data.drop $msg)
    (call $say (i32.const 64) (i32.const 5))))
