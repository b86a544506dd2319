//! config/chiwawa-supervise.sh through real processes: chiwawa is killed with SIGKILL while it
//! runs, the supervisor restarts it, and the guest ends exactly as an uninterrupted run would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_chiwawa");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn supervisor() -> PathBuf {
    repo().join("config/chiwawa-supervise.sh")
}

fn counter() -> String {
    repo().join("tests/guests/wasm/counter.wasm").display().to_string()
}

/// The direct children of `pid` (Linux /proc).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn reference(dir: &Path, args: &[&str]) -> (String, String) {
    let sb = dir.join("ref");
    std::fs::create_dir_all(&sb).unwrap();
    let o = Command::new(BIN)
        .args(["run", "--dir", &format!("{}::/sandbox", sb.display()), &counter()])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success());
    (String::from_utf8(o.stdout).unwrap(), std::fs::read_to_string(sb.join("out.txt")).unwrap())
}

#[test]
fn restarts_after_kill_9_until_the_guest_finishes() {
    let d = tempfile::tempdir().unwrap();
    let args = ["3000000", "100000", "/sandbox"];
    let (ref_stdout, ref_out) = reference(d.path(), &args);
    let sb = d.path().join("sb");
    std::fs::create_dir_all(&sb).unwrap();
    let log = d.path().join("stdout.log");
    std::fs::write(&log, "log header\n").unwrap();
    let stdout = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut sup = Command::new("bash")
        .arg(supervisor())
        .args(["--backoff", "0", "--"])
        .arg(BIN)
        .args(["run", "--every-instructions", "20000", "--checkpoint-dir"])
        .arg(d.path().join("ck"))
        .args(["--dir", &format!("{}::/sandbox", sb.display()), &counter()])
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill chiwawa a few times, each after it made some progress.
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while kills < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(60 + 37 * kills));
        if let Ok(Some(_)) = sup.try_wait() {
            break;
        }
        for c in children(sup.id()) {
            if Command::new("kill").args(["-KILL", &c.to_string()]).status().unwrap().success() {
                kills += 1;
            }
        }
    }
    let out = sup.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(kills >= 2, "the guest finished before it could be killed twice ({kills}); make it longer");
    assert!(err.contains("restart 1 in 0s"), "{err}");
    assert!(err.contains("the guest finished with exit code 0"), "{err}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), format!("log header\n{ref_stdout}"));
    assert_eq!(std::fs::read_to_string(sb.join("out.txt")).unwrap(), ref_out);
}

#[test]
fn guest_exit_codes_end_supervision() {
    for (guest, code) in [("exit3.wasm", 3), ("trap.wasm", 134), ("ret0.wasm", 0)] {
        let d = tempfile::tempdir().unwrap();
        let m = repo().join("tests/guests/wasm").join(guest);
        let out = Command::new("bash")
            .arg(supervisor())
            .arg("--")
            .arg(BIN)
            .args(["run", "--every", "1s", "--checkpoint-dir"])
            .arg(d.path().join("ck"))
            .arg(&m)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{guest}: {err}");
        assert!(!err.contains("restart 1"), "{guest} was restarted: {err}");
        assert!(err.contains(&format!("finished with exit code {code} after 0 restart(s)")), "{err}");
    }
}

#[test]
fn chiwawa_failures_are_retried_up_to_the_limit() {
    let d = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let out = Command::new("bash")
        .arg(supervisor())
        .args(["--max-restarts", "2", "--backoff", "1", "--"])
        .arg(BIN)
        .args(["run", "--every", "1s"])
        .arg(d.path().join("missing.wasm"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("cannot read").count(), 3, "{err}");
    assert!(err.contains("restart 2 in 2s") && err.contains("restart limit (2) is reached"), "{err}");
    assert!(t0.elapsed() >= Duration::from_secs(3), "backoff 1 s + 2 s was not respected");
}

#[test]
fn a_migrated_guest_ends_supervision_on_the_source() {
    let d = tempfile::tempdir().unwrap();
    let sb = d.path().join("sb");
    std::fs::create_dir_all(&sb).unwrap();
    let dir = format!("{}::/sandbox", sb.display());
    let ck = d.path().join("ck");
    let sup = Command::new("bash")
        .arg(supervisor())
        .args(["--backoff", "0", "--"])
        .arg(BIN)
        .args(["run", "--every", "1h", "--checkpoint-dir"])
        .arg(&ck)
        .args(["--dir", &dir, &counter(), "200000000", "1000000", "/sandbox"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !sb.join("out.txt").exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "the guest did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let ck2 = d.path().join("ck2");
    let m = Command::new(BIN)
        .args(["migrate", "--checkpoint-dir"])
        .arg(&ck)
        .args(["--", BIN, "receive", "--checkpoint-dir"])
        .arg(&ck2)
        .args(["--dir", &dir, &counter()])
        .output()
        .unwrap();
    assert_eq!(m.status.code(), Some(0), "{}", String::from_utf8_lossy(&m.stderr));
    let out = sup.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("supervise: the guest migrated to another host"), "{err}");
    assert!(!err.contains("restart 1"), "{err}");
}
