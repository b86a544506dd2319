//! A checkpoint requested during a long `poll_oneoff` sleep lands without waiting for the sleep
//! to end, and after a restore the guest sleeps only the remaining time.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_chiwawa");

/// Prints "before sleep", sleeps 6 s with poll_oneoff (relative monotonic clock), prints "after sleep".
const SLEEPER: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "before sleep\n")
  (data (i32.const 220) "after sleep\n")
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (call $print (i32.const 200) (i32.const 13))
    (i64.store (i32.const 300) (i64.const 42))
    (i32.store8 (i32.const 308) (i32.const 0))
    (i32.store (i32.const 316) (i32.const 1))
    (i64.store (i32.const 324) (i64.const 6000000000))
    (i64.store (i32.const 332) (i64.const 0))
    (i32.store16 (i32.const 340) (i32.const 0))
    (if (call $poll (i32.const 300) (i32.const 400) (i32.const 1) (i32.const 500)) (then unreachable))
    (if (i32.ne (i32.load (i32.const 500)) (i32.const 1)) (then unreachable))
    (if (i64.ne (i64.load (i32.const 400)) (i64.const 42)) (then unreachable))
    (call $print (i32.const 220) (i32.const 12))))"#;

fn generations(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".ckpt")).count()
        })
        .unwrap_or(0)
}

#[test]
fn checkpoint_lands_during_a_sleep_and_restore_sleeps_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let module = d.path().join("sleeper.wat");
    std::fs::write(&module, SLEEPER).unwrap();
    let ck = d.path().join("ck");
    let args =
        ["run", "--every", "300ms", "--checkpoint-dir", ck.to_str().unwrap(), module.to_str().unwrap()];

    let t0 = Instant::now();
    let mut first =
        Command::new(BIN).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    // The guest sleeps 6 s; generations must appear long before that.
    while generations(&ck) < 2 && t0.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let at = t0.elapsed();
    assert!(generations(&ck) >= 2, "no checkpoints during the sleep");
    assert!(first.try_wait().unwrap().is_none(), "the guest should still be sleeping");
    std::thread::sleep(Duration::from_millis(1500));
    first.kill().unwrap();
    let out = first.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before sleep\n");
    let killed_at = t0.elapsed();
    assert!(at < Duration::from_secs(4) && killed_at < Duration::from_secs(6), "{at:?} {killed_at:?}");

    // The restored guest resumes inside poll_oneoff with the remaining time: well under 6 s.
    let t1 = Instant::now();
    let out = Command::new(BIN).args(args).output().unwrap();
    let took = t1.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "after sleep\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming from"));
    assert!(took < Duration::from_millis(5500), "slept {took:?}: the full 6 s instead of the remainder");
    assert!(took > Duration::from_millis(500), "did not sleep the remainder at all ({took:?})");
    assert_eq!(generations(&ck), 0, "generations are cleared when the guest finishes");
}
