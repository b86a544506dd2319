//! Graceful stop (issue 18): SIGTERM, SIGINT and SIGHUP make a checkpointing run take a
//! checkpoint at the next safe point and exit with 128 + the signal; the next run resumes from
//! exactly that generation and ends byte-identical to an uninterrupted run. Also while the
//! guest sleeps in `poll_oneoff` or waits for stdin, and with a second signal arriving while
//! the stop checkpoint is being written (abandoned: the previous generation stays).
#![cfg(target_os = "linux")]

#[path = "wat/harness.rs"]
mod harness;

use harness::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what} (did the guest finish first?)");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The "stopped after a checkpoint at N instructions (generation G" line → (N, G).
fn stop_line(stderr: &str, name: &str) -> (u64, u64) {
    let l = stderr
        .lines()
        .find(|l| l.contains(&format!("{name}: stopped after a checkpoint at")))
        .unwrap_or_else(|| panic!("no stop line for {name}:\n{stderr}"));
    let num = |after: &str| -> u64 {
        let rest = &l[l.find(after).unwrap() + after.len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    (num("checkpoint at "), num("(generation "))
}

#[test]
fn stop_signals_checkpoint_and_the_next_run_resumes_from_there() {
    let g = Guest::counter(100_000_000, 10_000);
    let r = reference(&g);
    for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")] {
        let root = Root::with_header();
        // no periodic checkpoint: the stop's is the only one
        let opts = ["--checkpoint-dir", CK, "--every", "1h"];
        let run = spawn(&root, &g, &opts, &[], Out::File);
        wait_until("output", Duration::from_secs(60), || root.stdout_bytes().len() > HEADER.len() + 20);
        signal(run.pid(), sig);
        let f = run.wait();
        f.assert_no_panic(name);
        assert_eq!(f.code(), Some(128 + sig), "{name}: {}", f.stderr);
        let (at, generation) = stop_line(&f.stderr, name);
        let gens = list_gens(&root.ck());
        assert_eq!(gens.len(), 1, "{name}: {gens:?}");
        let c = read_ckpt(&gens[0].1).unwrap();
        assert_eq!((c.generation, c.instructions), (generation, at), "{name}");
        // The same command again: resumes from the stop's checkpoint, ends like an
        // uninterrupted run.
        let f = spawn(&root, &g, &opts, &[], Out::File).wait();
        assert_eq!(f.code(), Some(0), "{name}: {}", f.stderr);
        let resumed = resumed_from(&f.stderr);
        assert_eq!(resumed.len(), 1, "{name}: {}", f.stderr);
        assert_eq!((resumed[0].1, resumed[0].2), (generation, at), "{name}: {}", f.stderr);
        assert_equivalent(&root, &r, name);
    }
}

#[test]
fn stop_during_a_long_sleep_is_prompt() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("sleeper.wat");
    std::fs::write(&m, sleeper_wat(30_000_000_000)).unwrap();
    let args = ["run", "--checkpoint-dir", "ck", "--every", "1h", m.to_str().unwrap()];
    let mut c = Command::new(chiwawa())
        .current_dir(d.path())
        .args(args)
        .env("RUST_LOG", "chiwawa=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    signal(c.id() as i32, SIGTERM);
    let st = c.wait().unwrap();
    let took = t0.elapsed();
    let o = c.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(st.code(), Some(128 + SIGTERM), "{err}");
    assert!(took < Duration::from_secs(3), "the stop waited for the sleep: {took:?}");
    stop_line(&err, "SIGTERM");
    assert_eq!(list_gens(&d.path().join("ck")).len(), 1);
}

#[test]
fn stop_while_blocked_on_stdin_is_prompt_and_resumes() {
    let d = tempfile::tempdir().unwrap();
    let m = manifest_dir().join("tests/guests/wasm/stdin_echo.wasm");
    let args = ["run", "--checkpoint-dir", "ck", "--every", "1h", m.to_str().unwrap()];
    let spawn = || {
        Command::new(chiwawa())
            .current_dir(d.path())
            .args(args)
            .env("RUST_LOG", "chiwawa=info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // stdin: a pipe nobody writes to
    let mut c = spawn();
    // (held open until the run is over: closing it would be an end of file)
    let held = c.stdin.take();
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    signal(c.id() as i32, SIGTERM);
    let o = c.wait_with_output().unwrap();
    drop(held);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(128 + SIGTERM), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(3), "the stop waited for stdin");
    assert!(o.stdout.is_empty(), "the guest went on: {}", String::from_utf8_lossy(&o.stdout));
    stop_line(&err, "SIGTERM");
    // Resumed with input: reads it all from the start.
    let mut c = spawn();
    c.stdin.take().unwrap().write_all(b"hello\nworld\n").unwrap();
    let o = c.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(resumed_from(&err).len(), 1, "{err}");
    assert!(out.contains("bytes=12 lines=2") && out.contains("first line=[hello]"), "{out}");
}

/// A second signal while the stop checkpoint is being written ends the process at once; the
/// half-written checkpoint is never committed, and the next run resumes from the generation
/// before it and still ends like an uninterrupted run.
#[test]
fn second_signal_abandons_the_stop_checkpoint() {
    let g = Guest::counter(20_000_000, 10_000);
    let r = reference(&g);
    let root = Root::with_header();
    make_generations(&root, &root.ck(), &g, &["--checkpoint-dir", CK, "--every-instructions", "500009"], 1);
    let before = list_gens(&root.ck());
    assert!(!before.is_empty());
    let opts = ["--checkpoint-dir", CK, "--every", "1h"];
    let stall = [("CHIWAWA_FAILPOINT", "mid-write"), ("CHIWAWA_FAILPOINT_STALL_MS", "30000")];
    let run = spawn(&root, &g, &opts, &stall, Out::File);
    // (the stop handlers are installed before the restore logs this)
    wait_until("the resumed run", Duration::from_secs(60), || !resumed_from(&run.stderr_now()).is_empty());
    signal(run.pid(), SIGTERM);
    wait_until("the stalled write", Duration::from_secs(30), || run.stderr_now().contains("stalling"));
    let t0 = Instant::now();
    signal(run.pid(), SIGINT);
    let f = run.wait();
    assert!(t0.elapsed() < Duration::from_secs(5), "the second signal did not end it at once");
    assert_eq!(f.code(), Some(128 + SIGINT), "{}", f.stderr);
    assert!(!f.stderr.contains("stopped after a checkpoint"), "{}", f.stderr);
    assert_eq!(list_gens(&root.ck()), before, "the abandoned checkpoint was committed");
    // and the previous generation still takes the guest to the end
    let f = spawn(&root, &g, &opts, &[], Out::File).wait();
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    assert_eq!(resumed_from(&f.stderr)[0].1, before[0].0, "{}", f.stderr);
    assert_equivalent(&root, &r, "after an abandoned stop checkpoint");
}

/// Issue 18: SIGTERM, SIGINT or SIGHUP at seeded random moments — during start-up and restore,
/// while the guest computes, and (in half of the runs, which stall 15 ms in the middle of every
/// page-pack write) while a checkpoint is being written. Every run that stops gracefully exits
/// with 128 + the signal after a checkpoint, and the next run resumes from exactly that one;
/// the job ends byte-identical to an uninterrupted run.
#[test]
fn stop_signals_at_random_moments_lose_nothing() {
    // (Long enough for at least 10 stops at up to 120 ms apart: 400 rounds became too few once
    // the interpreter got faster and started sooner.)
    let g = Guest::wat("dirty", &["16", "2000", "3"]);
    let r = reference(&g);
    let root = Root::with_header();
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "150001", "--keep", "3"];
    let mut rng = Rng::for_test("stop_signals_at_random_moments_lose_nothing");
    let signals = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")];
    let (mut stops, mut during_writes, mut finished) = (0, 0, false);
    // (instructions, generation) of the previous run's stop checkpoint
    let mut last: Option<(u64, u64)> = None;
    for run_no in 0..60 {
        let stall = rng.chance((1, 2));
        let env: &[(&str, &str)] = if stall {
            &[("CHIWAWA_FAILPOINT", "pages-after-fsync"), ("CHIWAWA_FAILPOINT_STALL_MS", "15")]
        } else {
            &[]
        };
        let run = spawn(&root, &g, &opts, env, Out::File);
        std::thread::sleep(Duration::from_micros(rng.below(120_000)));
        let (sig, name) = signals[rng.below(3) as usize];
        signal(run.pid(), sig);
        let f = run.wait();
        f.assert_no_panic(name);
        let resumed = resumed_from(&f.stderr);
        if let (Some((at, generation)), Some(x)) = (last, resumed.first()) {
            assert_eq!((x.1, x.2), (generation, at), "run {run_no} did not resume from the stop checkpoint");
        }
        match (f.code(), f.signal()) {
            (Some(0), _) => {
                finished = true;
                break;
            }
            (Some(c), _) if c == 128 + sig => {
                last = Some(stop_line(&f.stderr, name));
                stops += 1;
                during_writes += usize::from(f.stderr.contains("stalling"));
            }
            // Before the handlers are installed (loading the module) a signal still has its
            // default effect: a crash, which the next run recovers from like any other.
            (None, Some(s)) if s == sig => last = None,
            other => panic!("run {run_no}: {name} gave {other:?}\n{}", f.stderr),
        }
    }
    if !finished {
        let f = spawn(&root, &g, &opts, &[], Out::File).wait();
        assert_eq!(f.code(), Some(0), "{}", f.stderr);
        if let (Some((at, generation)), Some(x)) = (last, resumed_from(&f.stderr).first()) {
            assert_eq!((x.1, x.2), (generation, at));
        }
    }
    eprintln!("random stops: {stops} graceful ({during_writes} in runs whose pack writes stalled), finished: {finished}");
    assert!(stops >= 10, "only {stops} graceful stops");
    assert!(during_writes >= 3, "only {during_writes} stops in runs whose pack writes stalled");
    assert_equivalent(&root, &r, "random stops");
}
