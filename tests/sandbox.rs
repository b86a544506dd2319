//! The sandbox holds across restarts, through the real binary: what chiwawa itself does on disk
//! for a restored guest (reopening its descriptors, truncating grown files back, rolling back the
//! undo journal) stays beneath the guest's preopens, however the guest rearranged them or the
//! checkpoint was crafted.
//!
//! Every test keeps a sentinel file next to the preopen (`outside.txt`) and checks that it is
//! byte for byte untouched, that the refused restart exits with status 1 and a one-line
//! `error:` message naming the descriptor (or journal entry) and why, and that nothing new
//! appeared outside the preopen.

use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::dir::parse_generation_file_name;
use chiwawa::checkpoint::format::{parse_checkpoint, CheckpointWriter, SectionKind};
use chiwawa::wasi::{FdKind, FdState, WasiState};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SENTINEL: &[u8] = b"SENTINEL: a file outside the preopen that chiwawa must never touch\n";

/// A command guest that opens `out.txt` in its preopen (fd 3) for appending, writes `before\n`,
/// computes for a while (checkpoints are taken meanwhile), then, with `make_symlink`, replaces
/// `out.txt` by the relative symlink `../outside.txt` (`path_unlink_file` + `path_symlink`, as any
/// guest may), computes for a long time more, writes `after\n` and exits.
fn guest_wat(make_symlink: bool) -> String {
    let escape = if make_symlink {
        r#"
    (if (call $unlink (i32.const 3) (i32.const 0) (i32.const 7)) (then (unreachable)))
    (if (call $symlink (i32.const 16) (i32.const 14) (i32.const 3) (i32.const 0) (i32.const 7))
      (then (unreachable)))"#
    } else {
        ""
    };
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $unlink (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "out.txt")
  (data (i32.const 16) "../outside.txt")
  (data (i32.const 48) "before\n")
  (data (i32.const 64) "after\n")
  (func $spin (param $n i64)
    (local $i i64)
    (loop $l
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $i) (local.get $n)))))
  (func $put (param $ptr i32) (param $len i32)
    (i32.store (i32.const 100) (local.get $ptr))
    (i32.store (i32.const 104) (local.get $len))
    (if (call $write (i32.load (i32.const 112)) (i32.const 100) (i32.const 1) (i32.const 108))
      (then (unreachable))))
  (func (export "_start")
    ;; out.txt: O_CREAT, rights FD_WRITE, fdflags APPEND
    (if (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 7) (i32.const 1)
          (i64.const 64) (i64.const 0) (i32.const 1) (i32.const 112))
      (then (unreachable)))
    (call $put (i32.const 48) (i32.const 7))
    (call $spin (i64.const 2000000)){escape}
    (call $spin (i64.const 100000000000))
    (call $put (i32.const 64) (i32.const 6))
    (call $exit (i32.const 0))))
"#
    )
}

/// A temporary directory holding the module, the preopen `sb` (guest `/sb`), the checkpoint
/// directory `ck` and the sentinel `outside.txt`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(make_symlink: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sb")).unwrap();
        std::fs::write(dir.path().join("guest.wat"), guest_wat(make_symlink)).unwrap();
        std::fs::write(dir.path().join("outside.txt"), SENTINEL).unwrap();
        Setup { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_chiwawa"));
        c.current_dir(self.dir.path())
            .args([
                "run",
                "--dir",
                "sb::/sb",
                "--checkpoint-dir",
                "ck",
                "--every-instructions",
                "1000003",
                "--self-contained",
            ])
            .args(extra)
            .arg("guest.wat")
            .env_remove("CHIWAWA_FAILPOINT")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// Generation files in `ck`, oldest first.
    fn generations(&self) -> Vec<PathBuf> {
        let mut v: Vec<(u64, PathBuf)> = std::fs::read_dir(self.path("ck"))
            .map(|rd| {
                rd.filter_map(|e| {
                    let e = e.ok()?;
                    Some((parse_generation_file_name(e.file_name().to_str()?)?, e.path()))
                })
                .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// First run: until `ready` holds (and a generation exists), then SIGKILL.
    fn run_and_kill(&self, ready: impl Fn(&Setup) -> bool) {
        let mut child = self.command(&[]).stderr(Stdio::null()).spawn().unwrap();
        let ok =
            wait_until(&mut child, Duration::from_secs(60), || ready(self) && !self.generations().is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(ok, "the first run ended or took too long before it was ready");
    }

    /// Names directly in the temporary directory (the test's own files, `sb`, `ck`).
    fn top_level(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    fn assert_sentinel_untouched(&self, ctx: &str) {
        assert_eq!(std::fs::read(self.path("outside.txt")).unwrap(), SENTINEL, "{ctx}: outside.txt changed");
    }
}

/// Polls `cond` every 20 ms until it holds (true), the child exits or `timeout` passes (false).
fn wait_until(child: &mut Child, timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let t0 = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if child.try_wait().unwrap().is_some() || t0.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to its end, killing it (and failing) after 60 s: a restore that was not refused
/// resumes the guest's long computation.
fn run_bounded(mut cmd: Command, ctx: &str) -> Output {
    let mut child = cmd.spawn().unwrap();
    let finished = wait_until(&mut child, Duration::from_secs(60), || false);
    if !finished && child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        panic!(
            "{ctx}: the restart was not refused (still running after 60 s); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child.wait_with_output().unwrap()
}

/// Exit status 1, no panic, exactly one `error:` line and it is the last line, containing every
/// string of `wanted`. Returns that line.
fn assert_refused(out: &Output, wanted: &[&str], ctx: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{ctx}: exit status; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{ctx}: panic:\n{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{ctx}: want one error line:\n{stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "{ctx}: the error is not the last line:\n{stderr}");
    eprintln!("{ctx}: {}", errors[0]);
    for w in wanted {
        assert!(errors[0].contains(w), "{ctx}: the error lacks {w:?}: {}", errors[0]);
    }
    errors[0].to_string()
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).map(|m| m.file_type().is_symlink()).unwrap_or(false)
}

/// (a) The guest itself replaces the file it holds open for appending by a relative symlink out
/// of its preopen; after a kill, rerunning the same command must refuse to reopen it rather than
/// truncate `outside.txt` back to the checkpointed size and append to it.
#[test]
fn guest_made_symlink_out_of_the_preopen_is_refused_on_restart() {
    let s = Setup::new(true);
    s.run_and_kill(|s| is_symlink(&s.path("sb/out.txt")));
    s.assert_sentinel_untouched("after the first run");
    let before = s.top_level();

    let out = run_bounded(s.command(&[]), "restart");
    let line = assert_refused(&out, &["descriptor", "/sb/out.txt", "outside"], "restart");
    assert!(line.contains("nothing was changed on disk"), "{line}");
    s.assert_sentinel_untouched("after the restart");
    assert!(is_symlink(&s.path("sb/out.txt")), "the guest's symlink was replaced");
    assert_eq!(s.top_level(), before, "something appeared next to the preopen");
    // Every generation is kept for the user to look at.
    assert!(!s.generations().is_empty());
}

/// The same with the file replaced from outside (what the guest could have done): and with
/// `--restore` of a copied generation rather than the directory's own.
#[test]
fn file_replaced_by_symlink_out_is_refused_with_restore_file() {
    let s = Setup::new(false);
    s.run_and_kill(|s| s.path("sb/out.txt").exists());
    let gen = s.generations().pop().unwrap();
    std::fs::copy(&gen, s.path("copy.ckpt")).unwrap();
    std::fs::remove_file(s.path("sb/out.txt")).unwrap();
    std::os::unix::fs::symlink("../outside.txt", s.path("sb/out.txt")).unwrap();
    let before = s.top_level();
    let out = run_bounded(s.command(&["--restore", "copy.ckpt"]), "--restore");
    assert_refused(&out, &["descriptor", "/sb/out.txt", "outside"], "--restore");
    s.assert_sentinel_untouched("--restore");
    assert_eq!(s.top_level(), before);
}

/// The newest generation with its WASI state changed by `edit` and written back with valid
/// CRCs (sections copied as they are, the Wasi one re-encoded).
fn crafted(gen: &Path, edit: impl FnOnce(&mut WasiState)) -> Vec<u8> {
    let bytes = std::fs::read(gen).unwrap();
    let c = parse_checkpoint(&bytes).unwrap();
    let mut w = CheckpointWriter::new(Vec::new(), &c.header).unwrap();
    let mut edit = Some(edit);
    for sec in &c.sections {
        if sec.kind == SectionKind::Wasi {
            let mut ws: WasiState = codec::decode(sec.payload).unwrap();
            (edit.take().expect("one Wasi section"))(&mut ws);
            w.section(SectionKind::Wasi, &codec::encode(&ws).unwrap()).unwrap();
        } else {
            w.section(sec.kind, sec.payload).unwrap();
        }
    }
    let out = w.finish().unwrap();
    parse_checkpoint(&out).expect("the crafted checkpoint is well formed");
    out
}

fn out_txt(ws: &mut WasiState) -> &mut FdState {
    ws.fds.iter_mut().find(|f| f.kind == FdKind::File && f.path == "out.txt").expect("out.txt descriptor")
}

/// (b) Crafted checkpoints (valid CRCs) whose descriptor for `out.txt` was rewritten to lead out
/// of the preopen, or that are inconsistent: each is refused before anything is opened or
/// truncated. The descriptor is writable with a checkpointed size of 0, so following it would
/// truncate the sentinel.
#[test]
fn crafted_checkpoints_cannot_reach_outside_the_preopen() {
    let s = Setup::new(false);
    s.run_and_kill(|s| s.path("sb/out.txt").exists());
    let gen = s.generations().pop().unwrap();
    // A symlink inside the preopen that leads out (as if the guest had made it).
    std::os::unix::fs::symlink("..", s.path("sb/up")).unwrap();
    let sentinel_abs = s.path("outside.txt").display().to_string();
    let set_path = |p: String| {
        move |ws: &mut WasiState| {
            let f = out_txt(ws);
            f.path = p;
            f.size = Some(0);
        }
    };
    type Edit = Box<dyn FnOnce(&mut WasiState)>;
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        ("../outside.txt", Box::new(set_path("../outside.txt".into())), &["descriptor", "'..'"]),
        ("a/../../outside.txt", Box::new(set_path("a/../../outside.txt".into())), &["descriptor", "'..'"]),
        ("/etc/passwd", Box::new(set_path("/etc/passwd".into())), &["descriptor", "absolute"]),
        ("absolute sentinel", Box::new(set_path(sentinel_abs)), &["descriptor", "absolute"]),
        (
            "symlink out",
            Box::new(set_path("up/outside.txt".into())),
            &["descriptor", "/sb/up/outside.txt", "outside"],
        ),
        ("NUL", Box::new(set_path("out.txt\0../../outside.txt".into())), &["descriptor", "NUL"]),
        (
            "unknown preopen",
            Box::new(|ws: &mut WasiState| out_txt(ws).preopen = Some(7)),
            &["descriptor", "unknown preopen #7"],
        ),
        (
            "duplicated fd",
            Box::new(|ws: &mut WasiState| {
                let mut dup = out_txt(ws).clone();
                dup.path = "../outside.txt".into();
                ws.fds.push(dup);
            }),
            &["descriptor", "twice"],
        ),
        (
            "stdout with a path",
            Box::new(|ws: &mut WasiState| {
                let f = ws.fds.iter_mut().find(|f| f.kind == FdKind::Stdout).unwrap();
                f.path = "../outside.txt".into();
            }),
            &["descriptor 1"],
        ),
        (
            "size beyond any file",
            Box::new(|ws: &mut WasiState| out_txt(ws).size = Some(u64::MAX)),
            &["descriptor", "beyond"],
        ),
    ];
    for (name, edit, wanted) in cases {
        std::fs::write(s.path("crafted.ckpt"), crafted(&gen, edit)).unwrap();
        let before = s.top_level();
        let out_before = std::fs::read(s.path("sb/out.txt")).unwrap();
        let out = run_bounded(s.command(&["--restore", "crafted.ckpt"]), name);
        assert_refused(&out, wanted, name);
        s.assert_sentinel_untouched(name);
        assert_eq!(std::fs::read(s.path("sb/out.txt")).unwrap(), out_before, "{name}: out.txt changed");
        assert_eq!(s.top_level(), before, "{name}: something appeared next to the preopen");
    }
}

/// A valid checkpoint after all these refusals still restores (the tests above do not pass for
/// a restore that refuses everything).
#[test]
fn an_untouched_checkpoint_still_restores() {
    let s = Setup::new(false);
    s.run_and_kill(|s| s.path("sb/out.txt").exists());
    let gen = s.generations().pop().unwrap();
    std::fs::write(s.path("crafted.ckpt"), crafted(&gen, |_| {})).unwrap();
    let log = s.path("restore.log");
    let mut child = s
        .command(&["--restore", "crafted.ckpt"])
        .env("RUST_LOG", "chiwawa=info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // It logs "resuming from" and goes on with the guest's long computation.
    let resumed = wait_until(&mut child, Duration::from_secs(60), || {
        std::fs::read_to_string(&log).unwrap_or_default().contains("resuming from")
    });
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(resumed && still_running, "restore failed:\n{stderr}");
    s.assert_sentinel_untouched("valid restore");
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// (c) Hostile undo-journal entries (the journal is in the checkpoint directory, and the guest
/// can redirect the paths it names with symlinks after the open): the restart refuses, and
/// nothing outside the preopen is truncated or removed.
#[test]
fn hostile_journal_entries_touch_nothing_outside() {
    let s = Setup::new(false);
    s.run_and_kill(|s| s.path("sb/out.txt").exists());
    let journal = s.path("ck/journal");
    // The header as the run wrote it, but for the newest generation (the kill may have landed
    // between a generation's commit and the journal's restart for it).
    let header = std::fs::read_to_string(&journal).unwrap().lines().next().unwrap().to_string();
    let newest = s.generations().pop().unwrap();
    let newest = parse_generation_file_name(newest.file_name().unwrap().to_str().unwrap()).unwrap();
    let fields: Vec<&str> = header.split(' ').collect();
    assert!(fields.len() >= 4 && fields[0] == "chiwawa-journal", "{header}");
    let header = format!("chiwawa-journal {} {newest} {}", fields[1], fields[3..].join(" "));
    std::fs::create_dir(s.path("elsewhere")).unwrap();
    std::fs::write(s.path("elsewhere/victim"), SENTINEL).unwrap();
    std::os::unix::fs::symlink("../elsewhere", s.path("sb/away")).unwrap();
    std::os::unix::fs::symlink("../outside.txt", s.path("sb/grown.txt")).unwrap();
    let abs = s.path("outside.txt").display().to_string();
    let cases: &[(&str, bool, &str, &[&str])] = &[
        // A file that existed: truncated back to 0 if followed.
        ("existed, through a symlinked dir", true, "away/victim", &["outside", "nothing was rolled back"]),
        ("existed, the file a symlink out", true, "grown.txt", &["outside", "nothing was rolled back"]),
        // A file created since: removed if followed.
        ("created, through a symlinked dir", false, "away/victim", &["outside", "nothing was rolled back"]),
        ("'..' in the path", true, "../outside.txt", &["bad path"]),
        ("absolute path", true, &abs, &["bad path"]),
    ];
    for (name, existed, path, wanted) in cases {
        let entry = format!("open {} 0 {} {}", *existed as u8, hex("/sb"), hex(path));
        std::fs::write(&journal, format!("{header}\n{entry}\n")).unwrap();
        let before = s.top_level();
        let out = run_bounded(s.command(&[]), name);
        assert_refused(&out, wanted, name);
        s.assert_sentinel_untouched(name);
        assert_eq!(std::fs::read(s.path("elsewhere/victim")).unwrap(), SENTINEL, "{name}: victim changed");
        assert_eq!(s.top_level(), before, "{name}");
    }
}

/// The same for a run killed before its first checkpoint (the journal of generation 0, undone
/// when the next run starts over): refused, nothing outside touched, and the guest does not
/// start over on top of it.
#[test]
fn hostile_journal_of_an_interrupted_start_touches_nothing_outside() {
    let s = Setup::new(false);
    s.run_and_kill(|s| s.path("sb/out.txt").exists());
    let journal = s.path("ck/journal");
    let header = std::fs::read_to_string(&journal).unwrap().lines().next().unwrap().to_string();
    let fields: Vec<&str> = header.split(' ').collect();
    let header = format!("chiwawa-journal {} 0 {}", fields[1], fields[3]);
    for g in s.generations() {
        std::fs::remove_file(g).unwrap();
    }
    std::fs::create_dir(s.path("elsewhere")).unwrap();
    std::fs::write(s.path("elsewhere/victim"), SENTINEL).unwrap();
    std::os::unix::fs::symlink("../elsewhere", s.path("sb/away")).unwrap();
    for existed in [true, false] {
        let entry = format!("open {} 0 {} {}", existed as u8, hex("/sb"), hex("away/victim"));
        std::fs::write(&journal, format!("{header}\n{entry}\n")).unwrap();
        let ctx = format!("start over, existed {existed}");
        let out = run_bounded(s.command(&[]), &ctx);
        assert_refused(&out, &["interrupted run", "outside", "nothing was rolled back"], &ctx);
        s.assert_sentinel_untouched(&ctx);
        assert_eq!(std::fs::read(s.path("elsewhere/victim")).unwrap(), SENTINEL, "{ctx}");
        assert!(s.generations().is_empty(), "{ctx}: the guest started over");
    }
}

/// A checkpoint directory the guest can reach is worth a warning (the guest could replace its
/// generations and journal).
#[test]
fn checkpoint_directory_inside_a_preopen_is_warned_about() {
    let s = Setup::new(false);
    std::fs::write(s.path("empty.wat"), r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
        .unwrap();
    let run = |ck: &str| {
        Command::new(env!("CARGO_BIN_EXE_chiwawa"))
            .current_dir(s.dir.path())
            .args(["run", "--dir", "sb::/sb", "--checkpoint-dir", ck, "empty.wat"])
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let inside = run("sb/ck");
    assert!(inside.status.success());
    let stderr = String::from_utf8_lossy(&inside.stderr);
    assert!(stderr.contains("is inside the preopened directory"), "{stderr}");
    let outside = run("ck");
    assert!(outside.status.success());
    let stderr = String::from_utf8_lossy(&outside.stderr);
    assert!(!stderr.contains("inside the preopened directory"), "{stderr}");
}
