//! Shared harness of `tests/checkpoint.rs` and `tests/crash.rs` (each includes it with
//! `#[path = "wat/harness.rs"] mod harness;`; it is not a test target of its own).
//!
//! Everything goes through the real `chiwawa` binary. One scenario lives in a [`Root`]:
//!
//! ```text
//! ROOT/            process cwd (a temp dir, on /dev/shm when available: fsync is free there)
//! ROOT/sb/         preopened as `--dir sb::/sb` for guests that write files (counter.wasm)
//! ROOT/ck/         `--checkpoint-dir ck` (relative, so checkpoint bytes do not depend on ROOT)
//! ROOT/stdout.txt  the guest's stdout, opened in append mode, starting with HEADER
//! ```
//!
//! chiwawa's stderr (RUST_LOG=chiwawa=info) is a pipe read by the test: a regular-file
//! stderr is truncated back on restore, which erases chiwawa's own log lines (see
//! `stderr_log_file_keeps_chiwawa_messages` in crash.rs).
//!
//! Kills are SIGKILL. [`kill_when_checkpointed`] first freezes the process with SIGSTOP and
//! only kills it if the checkpoint directory holds a generation at that instant: a kill
//! before the first checkpoint (or after the finished guest cleared its generations)
//! cannot be undone by chiwawa, see the ignored test `kill_before_first_checkpoint_*`.
//!
//! Checkpoint files are parsed and fully verified here, independently of chiwawa's code,
//! from docs/FORMAT.md (header, section CRCs, end-section chain).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Checkpoint directory, relative to the root.
pub const CK: &str = "ck";
/// The guest's stdout file, relative to the root.
pub const STDOUT: &str = "stdout.txt";
/// First line of the stdout file before the first run (a supervisor's `>> log`).
pub const HEADER: &[u8] = b"=== supervisor: app.log opened for append ===\n";
/// No single run of a test guest may take longer (debug build, 2 busy cores).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(90);

pub const KIND_END: u32 = 0;
pub const KIND_MACHINE: u32 = 1;
pub const KIND_STORE: u32 = 2;
pub const KIND_MEMORY: u32 = 3;
pub const KIND_WASI: u32 = 4;
pub const KIND_META: u32 = 5;
/// Clock readings at capture: the only section that depends on when it was written.
pub const KIND_CLOCK: u32 = 6;
/// An incremental generation's memory: a manifest of pages kept in `pack-*.pages` files.
pub const KIND_PAGES: u32 = 7;
pub const HEADER_LEN: usize = 152;
pub const MAGIC: &[u8; 8] = b"\x89CHW\r\n\x1a\n";

pub fn chiwawa() -> &'static str {
    env!("CARGO_BIN_EXE_chiwawa")
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ------------------------------------------------------------------------------- guests

/// A guest program and its arguments.
#[derive(Clone, Debug)]
pub struct Guest {
    pub name: String,
    pub module: PathBuf,
    pub args: Vec<String>,
    /// Preopen ROOT/sb as /sb (the guest writes files there).
    pub sandbox: bool,
}

impl Guest {
    /// `tests/wat/NAME.wat` with arguments.
    pub fn wat(name: &str, args: &[&str]) -> Guest {
        Self::file(name, &format!("tests/wat/{name}.wat"), args)
    }

    /// `tests/guests/wasm/NAME.wasm` with arguments (a guest built from C, C++ or Rust).
    pub fn wasm(name: &str, args: &[&str]) -> Guest {
        Self::file(name, &format!("tests/guests/wasm/{name}.wasm"), args)
    }

    fn file(name: &str, path: &str, args: &[&str]) -> Guest {
        let module = manifest_dir().join(path);
        assert!(module.is_file(), "missing guest {}", module.display());
        Guest {
            name: name.into(),
            module,
            args: args.iter().map(|s| s.to_string()).collect(),
            sandbox: false,
        }
    }

    /// `tests/guests/wasm/counter.wasm N M /sb`: N iterations, a line every M to stdout and
    /// to /sb/out.txt (opened once with O_APPEND).
    pub fn counter(n: u64, m: u64) -> Guest {
        let module = manifest_dir().join("tests/guests/wasm/counter.wasm");
        assert!(module.is_file(), "missing guest {}", module.display());
        Guest {
            name: "counter".into(),
            module,
            args: vec![n.to_string(), m.to_string(), "/sb".into()],
            sandbox: true,
        }
    }

    pub fn key(&self) -> String {
        format!("{} {}", self.name, self.args.join(" "))
    }
}

// ------------------------------------------------------------------------------- roots

fn tmp_base() -> Option<PathBuf> {
    static BASE: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASE.get_or_init(|| {
        if let Some(d) = std::env::var_os("CHIWAWA_TEST_TMPDIR") {
            return Some(PathBuf::from(d));
        }
        let shm = PathBuf::from("/dev/shm");
        (shm.is_dir() && tempfile::tempdir_in(&shm).is_ok()).then_some(shm)
    })
    .clone()
}

/// One scenario's directory; see the module docs.
pub struct Root {
    tmp: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Root {
        let tmp = match tmp_base() {
            Some(b) => tempfile::Builder::new().prefix("chiwawa-ck-").tempdir_in(b),
            None => tempfile::Builder::new().prefix("chiwawa-ck-").tempdir(),
        }
        .unwrap();
        fs::create_dir(tmp.path().join("sb")).unwrap();
        Root { tmp }
    }

    /// A new root with the header already in its stdout file.
    pub fn with_header() -> Root {
        let r = Root::new();
        fs::write(r.stdout_path(), HEADER).unwrap();
        r
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }
    pub fn ck(&self) -> PathBuf {
        self.path().join(CK)
    }
    pub fn stdout_path(&self) -> PathBuf {
        self.path().join(STDOUT)
    }
    pub fn stdout_bytes(&self) -> Vec<u8> {
        fs::read(self.stdout_path()).unwrap_or_default()
    }
    /// Every file below ROOT/sb, by relative path.
    pub fn sandbox_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        read_tree(&self.path().join("sb"), &self.path().join("sb"), &mut out);
        out
    }
    /// Copies sb/, ck/ (if any) and the stdout file of `other` into this (empty) root.
    pub fn copy_from(&self, other: &Root) {
        copy_tree(&other.path().join("sb"), &self.path().join("sb"));
        if other.ck().exists() {
            copy_tree(&other.ck(), &self.ck());
        }
        if other.stdout_path().exists() {
            fs::copy(other.stdout_path(), self.stdout_path()).unwrap();
        }
    }
}

fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            read_tree(root, &p, out);
        } else {
            out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap());
        }
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Names in a directory, sorted (empty if it does not exist).
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => vec![],
    };
    v.sort();
    v
}

// ------------------------------------------------------------------------------- processes

/// Where the guest's stdout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// ROOT/stdout.txt in append mode.
    File,
    /// A pipe read by the test.
    Pipe,
}

/// `chiwawa run [--dir sb::/sb] OPTS MODULE ARGS` in ROOT, with RUST_LOG=chiwawa=info and no
/// failpoint (unless `env` sets one).
pub fn command(root: &Root, guest: &Guest, opts: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(chiwawa());
    c.current_dir(root.path()).arg("run");
    if guest.sandbox {
        c.args(["--dir", "sb::/sb"]);
    }
    c.args(opts).arg(&guest.module).args(&guest.args);
    c.env_remove("CHIWAWA_FAILPOINT").env("RUST_LOG", "chiwawa=info").env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(Stdio::null());
    c
}

pub struct Running {
    pub child: Child,
    pub started: Instant,
    reader: Option<JoinHandle<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    what: String,
}

/// How a run ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stderr: String,
    /// Stdout when it was a pipe.
    pub stdout: Vec<u8>,
    pub elapsed: Duration,
    /// Killed by the test (SIGKILL).
    pub killed: bool,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    pub fn signal(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal()
    }
    /// Asserts chiwawa itself did not panic (Rust panics print "panicked" and exit 101).
    pub fn assert_no_panic(&self, ctx: &str) {
        assert!(
            !self.stderr.contains("panicked") && self.code() != Some(101),
            "{ctx}: chiwawa panicked (status {:?}):\n{}",
            self.status,
            self.stderr
        );
    }
}

pub fn spawn(root: &Root, guest: &Guest, opts: &[&str], env: &[(&str, &str)], out: Out) -> Running {
    let mut c = command(root, guest, opts, env);
    c.stderr(Stdio::piped());
    match out {
        Out::File => {
            let f = OpenOptions::new().append(true).create(true).open(root.stdout_path()).unwrap();
            c.stdout(f);
        }
        Out::Pipe => {
            c.stdout(Stdio::piped());
        }
    }
    let what = format!("chiwawa run {opts:?} {} in {}", guest.key(), root.path().display());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot spawn {what}: {e}"));
    let reader = child.stdout.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            s.read_to_end(&mut v).unwrap();
            v
        })
    });
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut pipe = child.stderr.take().unwrap();
    let buf = stderr.clone();
    let stderr_reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    Running { child, started: Instant::now(), reader, stderr, stderr_reader: Some(stderr_reader), what }
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What it wrote to stderr so far.
    pub fn stderr_now(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn finish(mut self, status: ExitStatus, killed: bool) -> Finished {
        let stdout = self.reader.take().map(|h| h.join().unwrap()).unwrap_or_default();
        if let Some(h) = self.stderr_reader.take() {
            h.join().unwrap();
        }
        let stderr = self.stderr_now();
        Finished { status, stderr, stdout, elapsed: self.started.elapsed(), killed }
    }

    /// Whether it has exited (reaping it if so).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for the process to exit by itself (panics after RUN_TIMEOUT).
    pub fn wait(mut self) -> Finished {
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return self.finish(st, false);
            }
            if self.started.elapsed() > RUN_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr_now();
                panic!("{} did not finish within {RUN_TIMEOUT:?}; stderr:\n{stderr}", self.what);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// SIGKILL now and reap. If it already exited by itself, that status is returned
    /// (`killed` = false).
    pub fn kill(mut self) -> Finished {
        if let Some(st) = self.child.try_wait().unwrap() {
            return self.finish(st, false);
        }
        signal(self.pid(), SIGKILL);
        let st = self.child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        let killed = st.signal() == Some(SIGKILL);
        self.finish(st, killed)
    }

    /// Polls until `cond` holds (true) or the process exits or `timeout` passes (false).
    pub fn wait_until(&mut self, timeout: Duration, mut cond: impl FnMut(&Running) -> bool) -> bool {
        let t0 = Instant::now();
        loop {
            if cond(self) {
                return true;
            }
            if self.exited().is_some() || t0.elapsed() > timeout {
                return cond(self);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// A process still running when its test gives up (a failed assertion) is killed, never
/// left behind stopped or running.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.pid(), SIGKILL);
            let _ = self.child.wait();
        }
    }
}

pub const SIGKILL: i32 = 9;
#[cfg(target_os = "linux")]
pub const SIGSTOP: i32 = 19;
#[cfg(target_os = "linux")]
pub const SIGCONT: i32 = 18;
#[cfg(not(target_os = "linux"))]
pub const SIGSTOP: i32 = 17;
#[cfg(not(target_os = "linux"))]
pub const SIGCONT: i32 = 19;
pub const SIGABRT: i32 = 6;

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

pub fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a child we have not reaped yet (its pid cannot be reused).
    unsafe {
        libc_kill(pid, sig);
    }
}

/// Sends SIGSTOP and waits until the process is really stopped (Linux: state `T` in
/// /proc/PID/stat). Returns false if it exited instead.
fn freeze(r: &mut Running) -> bool {
    signal(r.pid(), SIGSTOP);
    let stat = PathBuf::from(format!("/proc/{}/stat", r.pid()));
    let t0 = Instant::now();
    loop {
        match fs::read_to_string(&stat) {
            Ok(s) => {
                let state = s.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
                match state {
                    Some('T') | Some('t') => return true,
                    Some('Z') | Some('X') => return false,
                    _ => {}
                }
            }
            Err(_) => {
                // No procfs: give the signal time to land.
                std::thread::sleep(Duration::from_millis(5));
                return r.exited().is_none();
            }
        }
        if r.exited().is_some() {
            return false;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "process did not stop");
        std::thread::yield_now();
    }
}

/// Generation files as listed by [`list_gens`]: (generation, path), newest first.
pub type Gens = [(u64, PathBuf)];

/// When [`kill_when_checkpointed`] starts its delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillFrom {
    /// From the spawn: often lands in start-up or in the restore itself.
    Spawn,
    /// From the moment the guest runs: the first generation exists (fresh run) or the run
    /// logged "resuming from" (restart). Lands mostly while the guest computes and prints.
    Running,
}

/// Waits for `from`, then `delay`, then freezes the process; if the checkpoint directory
/// then holds at least one generation, calls `observe(generations)` and SIGKILLs it (Ok).
/// If it holds none (no checkpoint yet, or the finished guest already cleared or is
/// archiving them) the process is resumed and the check repeated every 0.3 ms. Err if it
/// exited by itself.
#[allow(clippy::result_large_err)] // Err gives the still running (or exited) process back
pub fn kill_when_checkpointed(
    mut r: Running,
    ck: &Path,
    from: KillFrom,
    delay: Duration,
    observe: &mut dyn FnMut(&Gens),
) -> Result<Finished, Running> {
    if from == KillFrom::Running {
        let resuming = !list_gens(ck).is_empty();
        loop {
            let ready =
                if resuming { r.stderr_now().contains("resuming from") } else { !list_gens(ck).is_empty() };
            if ready || r.exited().is_some() || r.started.elapsed() > RUN_TIMEOUT {
                break;
            }
            std::thread::sleep(Duration::from_micros(300));
        }
    }
    std::thread::sleep(delay);
    loop {
        if r.exited().is_some() {
            return Err(r);
        }
        assert!(r.started.elapsed() < RUN_TIMEOUT, "{} did not finish within {RUN_TIMEOUT:?}", r.what);
        if !freeze(&mut r) {
            return Err(r);
        }
        let gens = list_gens(ck);
        // An archive-* directory appears only when the finished guest archives its
        // generations (--keep-on-exit): not a moment to kill at.
        let archiving = dir_names(ck).iter().any(|n| n.starts_with("archive-"));
        if !gens.is_empty() && !archiving {
            observe(&gens);
            let f = r.kill();
            assert!(f.killed, "a stopped process exited by itself: {:?}", f.status);
            return Ok(f);
        }
        signal(r.pid(), SIGCONT);
        std::thread::sleep(Duration::from_micros(300));
    }
}

// ------------------------------------------------------------------------------- references

/// An uninterrupted run without any checkpoint option.
#[derive(Debug)]
pub struct Reference {
    pub stdout: Vec<u8>,
    pub code: i32,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Reference {
    pub fn lines(&self) -> Vec<&[u8]> {
        split_lines(&self.stdout)
    }
}

/// The reference result of `guest` (computed once per process and cached).
pub fn reference(guest: &Guest) -> Arc<Reference> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Arc<Reference>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().unwrap().get(&guest.key()) {
        return r.clone();
    }
    let root = Root::new();
    let f = spawn(&root, guest, &[], &[], Out::Pipe).wait();
    f.assert_no_panic("reference run");
    let code = f.code().unwrap_or_else(|| panic!("reference run of {} died: {:?}", guest.key(), f.status));
    assert!(!f.stdout.is_empty(), "reference run of {} printed nothing", guest.key());
    assert_eq!(
        dir_names(root.path()),
        ["sb"],
        "a run without checkpoint options must not create a checkpoint directory"
    );
    let r = Arc::new(Reference { stdout: f.stdout, code, files: root.sandbox_files() });
    cache.lock().unwrap().insert(guest.key(), r.clone());
    r
}

pub fn split_lines(b: &[u8]) -> Vec<&[u8]> {
    b.split_inclusive(|&c| c == b'\n').collect()
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts `actual == expected` with a readable first difference.
pub fn assert_bytes_eq(actual: &[u8], expected: &[u8], ctx: &str) {
    if actual == expected {
        return;
    }
    let a = split_lines(actual);
    let e = split_lines(expected);
    let i = a.iter().zip(&e).position(|(x, y)| x != y).unwrap_or(a.len().min(e.len()));
    panic!(
        "{ctx}: {} bytes / {} lines, expected {} bytes / {} lines; first difference at line {}:\n  actual:   {:?}\n  expected: {:?}\n--- actual tail ---\n{}",
        actual.len(),
        a.len(),
        expected.len(),
        e.len(),
        i + 1,
        a.get(i).map(|l| show(l)),
        e.get(i).map(|l| show(l)),
        show(&actual[actual.len().saturating_sub(600)..])
    );
}

/// The scenario ended exactly like the uninterrupted run: stdout file = HEADER + reference
/// stdout, the same files in sb/, and an empty checkpoint directory.
pub fn assert_equivalent(root: &Root, reference: &Reference, ctx: &str) {
    assert_equivalent_in(root, &root.ck(), reference, ctx)
}

/// [`assert_equivalent`] with the checkpoint directory at `ck`.
pub fn assert_equivalent_in(root: &Root, ck: &Path, reference: &Reference, ctx: &str) {
    let mut want = HEADER.to_vec();
    want.extend_from_slice(&reference.stdout);
    assert_bytes_eq(&root.stdout_bytes(), &want, &format!("{ctx}: stdout file"));
    let files = root.sandbox_files();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        reference.files.keys().collect::<Vec<_>>(),
        "{ctx}: files in the sandbox"
    );
    for (k, v) in &files {
        assert_bytes_eq(v, &reference.files[k], &format!("{ctx}: sb/{k}"));
    }
    assert_eq!(dir_names(ck), Vec::<String>::new(), "{ctx}: checkpoint directory not empty at the end");
}

/// At-least-once delivery of `reference`'s output through a pipe across restarts: `runs` holds
/// what each run wrote, in order. Each run's output is a piece of the reference output that
/// starts no later than where the run before stopped (a run resumes from a generation taken
/// at or before the point it was killed, which may be in the middle of a line: programs write
/// lines in pieces), and the last run reaches the end. Checked byte for byte.
pub fn assert_at_least_once(runs: &[Vec<u8>], reference: &Reference, ctx: &str) {
    let all = &reference.stdout;
    let mut pos = 0usize; // where the previous run stopped, in the reference output
    for (k, o) in runs.iter().enumerate() {
        // The latest start at or before `pos` from which the reference continues with `o`.
        let start = (0..=pos.min(all.len())).rev().find(|&p| all[p..].starts_with(o));
        let Some(p) = start else {
            panic!(
                "{ctx}: run {} wrote what the reference does not, from any point up to byte {pos}:\n{}",
                k + 1,
                show(o)
            );
        };
        pos = p + o.len();
    }
    assert_eq!(
        pos,
        all.len(),
        "{ctx}: the output does not reach the end of the reference (byte {pos} of {})",
        all.len()
    );
}

// ------------------------------------------------------------------------------- kill loops

/// How a scenario kills and restarts.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Stop killing after this many kills; the next run finishes.
    pub max_kills: usize,
    /// Chance (num, den) that a run is killed at all.
    pub kill_chance: (u64, u64),
    /// A kill is attempted after a uniformly random delay below this, counted from the
    /// spawn (one kill in four) or from the moment the guest runs ([`KillFrom`]).
    pub max_delay: Duration,
}

/// Runs `chiwawa run OPTS guest` `count` times with CHIWAWA_FAILPOINT=mid-prune: each run
/// resumes from the newest generation, commits exactly one more at its first checkpoint and
/// aborts right after pruning, so generation g ends at a deterministic position. Asserts the
/// aborts and that the directory `ck` then holds generations newest, newest-1, ... (as many
/// as --keep leaves).
pub fn make_generations(root: &Root, ck: &Path, guest: &Guest, opts: &[&str], count: u64) {
    let first = list_gens(ck).first().map_or(1, |g| g.0 + 1);
    for g in first..first + count {
        let f = spawn(root, guest, opts, &[("CHIWAWA_FAILPOINT", "mid-prune")], Out::File).wait();
        f.assert_no_panic("mid-prune run");
        assert_eq!(f.signal(), Some(SIGABRT), "mid-prune run {g} should abort: {:?}\n{}", f.status, f.stderr);
        assert!(f.stderr.contains("failpoint 'mid-prune' reached"), "{}", f.stderr);
        let gens: Vec<u64> = list_gens(ck).iter().map(|x| x.0).collect();
        let want: Vec<u64> = (1..=g).rev().take(gens.len().max(1)).collect();
        assert_eq!(gens, want, "after mid-prune run {g}");
        if g > 1 {
            assert_eq!(resumed_from(&f.stderr).first().map(|r| r.1), Some(g - 1), "{}", f.stderr);
        }
    }
}

#[derive(Debug, Default)]
pub struct Driven {
    pub runs: usize,
    pub kills: usize,
    /// Runs that logged "resuming from".
    pub resumes: usize,
    /// Runs whose restore cut back output written after the checkpoint (stdout or a file).
    pub rollbacks: usize,
    /// The final run's exit code.
    pub code: i32,
    /// Stderr of every run, concatenated.
    pub stderr: String,
    /// Stderr of each run.
    pub run_stderr: Vec<String>,
}

/// Runs `chiwawa run OPTS guest` with stdout to ROOT/stdout.txt, killing it (see
/// [`kill_when_checkpointed`]) and starting it again with the same command until a run
/// exits by itself. Every run that starts while ROOT/ck holds generations must log
/// "resuming from". `observe` sees the directory of each frozen process before its kill.
pub fn drive(
    root: &Root,
    guest: &Guest,
    opts: &[&str],
    rng: &mut Rng,
    plan: &Plan,
    observe: &mut dyn FnMut(&Gens),
) -> Driven {
    drive_with_env(root, guest, opts, &[], rng, plan, observe)
}

/// [`drive`] with environment variables for every run (and `CHIWAWA_LOWERING=plain` for every
/// second run, unless `env` sets the lowering).
pub fn drive_with_env(
    root: &Root,
    guest: &Guest,
    opts: &[&str],
    env: &[(&str, &str)],
    rng: &mut Rng,
    plan: &Plan,
    observe: &mut dyn FnMut(&Gens),
) -> Driven {
    let mut d = Driven::default();
    loop {
        let had_gens = !list_gens(&root.ck()).is_empty();
        // Runs alternate between the two lowerings (issue 16): most resumes restore a
        // generation written under the other one.
        let mut env = env.to_vec();
        if d.runs % 2 == 1 && !env.iter().any(|(k, _)| *k == "CHIWAWA_LOWERING") {
            env.push(("CHIWAWA_LOWERING", "plain"));
        }
        let r = spawn(root, guest, opts, &env, Out::File);
        d.runs += 1;
        let kill = d.kills < plan.max_kills && rng.chance(plan.kill_chance);
        let f = if kill {
            let delay = Duration::from_micros(rng.below(plan.max_delay.as_micros() as u64 + 1));
            let from = if rng.chance((1, 4)) { KillFrom::Spawn } else { KillFrom::Running };
            match kill_when_checkpointed(r, &root.ck(), from, delay, observe) {
                Ok(f) => f,
                Err(r) => r.wait(),
            }
        } else {
            r.wait()
        };
        f.assert_no_panic(&guest.key());
        d.stderr.push_str(&f.stderr);
        d.run_stderr.push(f.stderr.clone());
        let resumed = f.stderr.contains("resuming from");
        d.resumes += usize::from(resumed);
        d.rollbacks += usize::from(f.stderr.contains("restore: truncating"));
        if had_gens && !f.killed {
            assert!(
                resumed,
                "run {} of {} started with generations but did not resume:\n{}",
                d.runs,
                guest.key(),
                f.stderr
            );
        }
        if f.killed {
            d.kills += 1;
            continue;
        }
        d.code = f
            .code()
            .unwrap_or_else(|| panic!("{} died by itself: {:?}\n{}", guest.key(), f.status, f.stderr));
        return d;
    }
}

// ------------------------------------------------------------------------------- PRNG

/// xorshift64* — deterministic, seeded per test.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the test name, or from CHIWAWA_TEST_SEED (printed on every use so a
    /// failure can be replayed).
    pub fn for_test(name: &str) -> Rng {
        let seed = match std::env::var("CHIWAWA_TEST_SEED") {
            Ok(s) => s.parse::<u64>().expect("CHIWAWA_TEST_SEED must be a u64"),
            Err(_) => name
                .bytes()
                .fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3)),
        };
        eprintln!("{name}: seed {seed} (set CHIWAWA_TEST_SEED to replay)");
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, (num, den): (u64, u64)) -> bool {
        self.below(den) < num
    }
}

// ------------------------------------------------------------------------------- format

pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    !data.iter().fold(!0u32, |c, &b| t[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// One section of a parsed checkpoint (offsets into `Ckpt::bytes`).
#[derive(Clone, Debug)]
pub struct Section {
    pub kind: u32,
    /// Offset of the section (its kind field).
    pub start: usize,
    pub payload: std::ops::Range<usize>,
}

impl Section {
    /// Offset of its CRC trailer.
    pub fn crc_at(&self) -> usize {
        self.payload.end
    }
}

/// A fully verified checkpoint file.
#[derive(Clone, Debug)]
pub struct Ckpt {
    pub bytes: Vec<u8>,
    pub flags: u32,
    pub module_hash: [u8; 32],
    pub module_len: u64,
    pub generation: u64,
    pub created_unix_nanos: u64,
    pub instructions: u64,
    /// Sections before the end section.
    pub sections: Vec<Section>,
}

impl Ckpt {
    pub fn payload(&self, s: &Section) -> &[u8] {
        &self.bytes[s.payload.clone()]
    }
    pub fn section(&self, kind: u32) -> Option<&Section> {
        self.sections.iter().find(|s| s.kind == kind)
    }
}

/// Parses and verifies a checkpoint per docs/FORMAT.md §3–§7.
pub fn parse_ckpt(bytes: Vec<u8>) -> Result<Ckpt, String> {
    let b = &bytes;
    if b.is_empty() {
        return Err("empty".into());
    }
    if b.len() < HEADER_LEN {
        return Err(format!("short header ({} bytes)", b.len()));
    }
    if &b[..8] != MAGIC {
        return Err("bad magic".into());
    }
    if !(1..=2).contains(&u32_at(b, 8)) {
        return Err(format!("version {}", u32_at(b, 8)));
    }
    if crc32(&b[..148]) != u32_at(b, 148) {
        return Err("header CRC".into());
    }
    let flags = u32_at(b, 12);
    let producer_len = b[81] as usize;
    if flags != 0 && flags != 1
        || b[82..84] != [0, 0]
        || producer_len > 64
        || b[84 + producer_len..148].iter().any(|&x| x != 0)
    {
        return Err("invalid header".into());
    }
    let mut chain = b[148..152].to_vec();
    let mut sections = Vec::new();
    let mut at = HEADER_LEN;
    loop {
        if b.len() < at + 16 {
            return Err(format!("truncated at section {} header", sections.len()));
        }
        let kind = u32_at(b, at);
        let sflags = u32_at(b, at + 4);
        let len = u64_at(b, at + 8);
        let end = (at as u64 + 16)
            .checked_add(len)
            .filter(|&e| e + 4 <= b.len() as u64)
            .ok_or_else(|| format!("truncated in section {}", sections.len()))? as usize;
        if crc32(&b[at..end]) != u32_at(b, end) {
            return Err(format!("CRC of section {}", sections.len()));
        }
        if sflags != 0 {
            return Err("section flags".into());
        }
        if kind == KIND_END {
            if len != 8
                || u32_at(b, at + 16) as usize != sections.len()
                || u32_at(b, at + 20) != crc32(&chain)
            {
                return Err("end section mismatch".into());
            }
            if end + 4 != b.len() {
                return Err("bytes after the end section".into());
            }
            break;
        }
        chain.extend_from_slice(&b[end..end + 4]);
        sections.push(Section { kind, start: at, payload: at + 16..end });
        at = end + 4;
    }
    Ok(Ckpt {
        flags,
        module_hash: b[16..48].try_into().unwrap(),
        module_len: u64_at(b, 48),
        generation: u64_at(b, 56),
        created_unix_nanos: u64_at(b, 64),
        instructions: u64_at(b, 72),
        sections,
        bytes,
    })
}

pub fn read_ckpt(path: &Path) -> Result<Ckpt, String> {
    parse_ckpt(fs::read(path).map_err(|e| e.to_string())?)
}

/// Builds a container from a 152-byte header (its CRC is recomputed) and sections, with
/// correct CRCs and end section: a structurally valid file whatever the payloads hold.
pub fn build_ckpt(header: &[u8], sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = header[..HEADER_LEN].to_vec();
    let hcrc = crc32(&out[..148]);
    out[148..152].copy_from_slice(&hcrc.to_le_bytes());
    let mut chain = out[148..152].to_vec();
    let push = |out: &mut Vec<u8>, kind: u32, payload: &[u8]| {
        let start = out.len();
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(payload);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
        crc
    };
    for (kind, payload) in sections {
        let crc = push(&mut out, *kind, payload);
        chain.extend_from_slice(&crc.to_le_bytes());
    }
    let mut end = (sections.len() as u32).to_le_bytes().to_vec();
    end.extend_from_slice(&crc32(&chain).to_le_bytes());
    push(&mut out, KIND_END, &end);
    out
}

/// `gen-{g:016x}.ckpt`
pub fn gen_name(g: u64) -> String {
    format!("gen-{g:016x}.ckpt")
}

/// Canonical generation files in `dir`, newest first.
pub fn list_gens(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = dir_names(dir)
        .into_iter()
        .filter_map(|n| {
            let hex = n.strip_prefix("gen-")?.strip_suffix(".ckpt")?;
            if hex.len() != 16 || !hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
                return None;
            }
            let p = dir.join(&n);
            p.is_file().then(|| (u64::from_str_radix(hex, 16).unwrap(), p))
        })
        .collect();
    v.sort_by_key(|g| std::cmp::Reverse(g.0));
    v
}

/// Commit temp files (`.gen-*.tmp`, `.pack-*.tmp`) in `dir`.
pub fn temp_files(dir: &Path) -> Vec<String> {
    dir_names(dir)
        .into_iter()
        .filter(|n| (n.starts_with(".gen-") || n.starts_with(".pack-")) && n.ends_with(".tmp"))
        .collect()
}

/// Page pack files (`pack-*.pages`) in `dir`, ascending by name.
pub fn packs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        dir_names(dir).into_iter().filter(|n| n.starts_with("pack-") && n.ends_with(".pages")).collect();
    v.sort();
    v
}

/// Parses "resuming from PATH (generation G, I instructions...)" lines of a stderr log.
pub fn resumed_from(stderr: &str) -> Vec<(String, u64, u64)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("resuming from ")? + "resuming from ".len()..];
            let (path, rest) = rest.rsplit_once(" (generation ")?;
            let (g, rest) = rest.split_once(", ")?;
            let (i, _) = rest.split_once(" instructions")?;
            Some((path.to_string(), g.parse().ok()?, i.parse().ok()?))
        })
        .collect()
}

// ------------------------------------------------------------------------------- inspect

/// `chiwawa inspect --json PATH`: one map of (top-level field → raw value, strings unquoted)
/// per generation.
pub fn inspect_json(cwd: &Path, path: &str) -> Vec<BTreeMap<String, String>> {
    let out = Command::new(chiwawa()).current_dir(cwd).args(["inspect", "--json", path]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "inspect panicked");
    stdout.lines().map(json_fields).collect()
}

/// The scalar top-level fields of one JSON object (nested arrays/objects are skipped).
fn json_fields(line: &str) -> BTreeMap<String, String> {
    let b = line.as_bytes();
    let mut out = BTreeMap::new();
    let mut i = 1;
    let string_end = |mut j: usize| {
        while b[j] != b'"' {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        j
    };
    while i < b.len() && b[i] == b'"' {
        let k_end = string_end(i + 1);
        let key = &line[i + 1..k_end];
        i = k_end + 2; // past `":`
        let value = if b[i] == b'"' {
            let e = string_end(i + 1);
            let v = line[i + 1..e].to_string();
            i = e + 1;
            Some(v)
        } else if b[i] == b'[' || b[i] == b'{' {
            let mut depth = 0;
            loop {
                match b[i] {
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => depth -= 1,
                    b'"' => i = string_end(i + 1),
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            None
        } else {
            let s = i;
            while b[i] != b',' && b[i] != b'}' {
                i += 1;
            }
            Some(line[s..i].to_string())
        };
        if let Some(v) = value {
            out.insert(key.to_string(), v);
        }
        i += 1; // past `,` (or the final `}`)
    }
    out
}

/// A module that prints "before", sleeps `ns` nanoseconds in one `poll_oneoff` (a relative
/// monotonic-clock subscription), then prints "after".
pub fn sleeper_wat(ns: u64) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "before\n")
  (data (i32.const 220) "after\n")
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (call $print (i32.const 200) (i32.const 7))
    (i64.store (i32.const 300) (i64.const 42))
    (i32.store8 (i32.const 308) (i32.const 0))
    (i32.store (i32.const 316) (i32.const 1))
    (i64.store (i32.const 324) (i64.const {ns}))
    (i64.store (i32.const 332) (i64.const 0))
    (i32.store16 (i32.const 340) (i32.const 0))
    (if (call $poll (i32.const 300) (i32.const 400) (i32.const 1) (i32.const 500)) (then unreachable))
    (call $print (i32.const 220) (i32.const 6))))"#
    )
}
