//! WASI preview1 conformance: every guest in `tests/guests/wasm/` runs under the real
//! `chiwawa run` binary and under the Wasmtime reference (`scripts/wasmtime-run.py`, the
//! `wasmtime` PyPI package) with the same wasmtime-style flags, each in a fresh temp dir.
//! The two runs must produce byte-identical stdout, the same exit code and the same
//! resulting directory tree (names, kinds, file contents, symlink targets).
//!
//! Layout of one run:   ROOT/            (temp dir, process cwd)
//!                      ROOT/sandbox/    preopened as `--dir ROOT/sandbox::/sandbox`
//! The whole of ROOT is compared, so writes that escape the preopen are caught too.
//!
//! Needs python3 with `wasmtime` installed: `scripts/install-deps.sh`. Without it every
//! test fails (never silently passes). Guests are rebuilt with `tests/guests/build.sh`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Guest path of the preopened directory.
const GUEST_DIR: &str = "/sandbox";
/// Upper bound for a single guest run (an interpreter in a debug build is slow).
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// Result of one guest run.
#[derive(Debug)]
struct Out {
    runtime: &'static str,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Exit code; `None` if killed by a signal or by the timeout.
    code: Option<i32>,
    timed_out: bool,
    /// Everything under ROOT after the run, keyed by path relative to ROOT.
    tree: BTreeMap<String, Entry>,
    /// Tree of ROOT right after `setup`, before the guest ran.
    tree_before: BTreeMap<String, Entry>,
}

impl Out {
    fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `NAME`: `tests/guests/wasm/NAME.wasm`; `wat:NAME`: the text guest `tests/wat/NAME.wat`.
fn guest_path(guest: &str) -> PathBuf {
    if let Some(name) = guest.strip_prefix("wat:") {
        return manifest_dir().join("tests/wat").join(format!("{name}.wat"));
    }
    let p = manifest_dir().join("tests/guests/wasm").join(format!("{guest}.wasm"));
    assert!(p.is_file(), "missing guest {} (rebuild with tests/guests/build.sh)", p.display());
    p
}

/// Fails the calling test unless python3 can import the pinned wasmtime module.
fn require_reference() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = CHECK.get_or_init(|| {
        let script = manifest_dir().join("scripts/wasmtime-run.py");
        if !script.is_file() {
            return Err(format!("{} is missing", script.display()));
        }
        match Command::new("python3").args(["-c", "import wasmtime"]).stdin(Stdio::null()).output() {
            Err(e) => Err(format!("cannot run python3: {e}")),
            Ok(o) if !o.status.success() => {
                Err(format!("python3 cannot import wasmtime: {}", String::from_utf8_lossy(&o.stderr).trim()))
            }
            Ok(_) => Ok(()),
        }
    });
    if let Err(e) = r {
        panic!("Wasmtime reference unavailable ({e}): run scripts/install-deps.sh");
    }
}

/// Snapshot of everything below `root` (symlinks are not followed). Absolute symlink
/// targets inside `root` are rewritten to `$ROOT/...` so runs in different temp dirs compare.
fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&p).unwrap().to_string_lossy().into_owned();
                let root_s = root.to_string_lossy();
                let target = match target.strip_prefix(root_s.as_ref()) {
                    Some(rest) => format!("$ROOT{rest}"),
                    None => target,
                };
                out.insert(rel, Entry::Symlink(target));
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

fn fmt_tree(t: &BTreeMap<String, Entry>) -> String {
    let mut s = String::new();
    for (k, v) in t {
        let d = match v {
            Entry::Dir => "dir".to_string(),
            Entry::Symlink(t) => format!("-> {t}"),
            Entry::File(b) if b.len() <= 64 => format!("file {:?}", String::from_utf8_lossy(b)),
            Entry::File(b) => format!("file {} bytes", b.len()),
        };
        s.push_str(&format!("  {k}: {d}\n"));
    }
    s
}

/// Runs `program args...` with cwd `cwd`, feeding `stdin`, with a timeout.
fn exec(mut cmd: Command, stdin: &[u8]) -> (Vec<u8>, Vec<u8>, Option<i32>, bool) {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut cin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = cin.write_all(&input); // the guest may exit without reading: ignore EPIPE
    });
    let mut cout = child.stdout.take().unwrap();
    let mut cerr = child.stderr.take().unwrap();
    let r_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = cout.read_to_end(&mut v);
        v
    });
    let r_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = cerr.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > RUN_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    (r_out.join().unwrap(), r_err.join().unwrap(), status.code(), timed_out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Chiwawa,
    Reference,
}

fn run_one(
    rt: Runtime,
    guest: &str,
    args: &[&str],
    env: &[(&str, &str)],
    setup: fn(&Path),
    stdin: &[u8],
) -> Out {
    let module = guest_path(guest);
    let tmp = tempfile::Builder::new().prefix("chiwawa-wasi-").tempdir().unwrap();
    // Canonical path: symlink targets written by `setup` match the snapshot prefix.
    let root = tmp.path().canonicalize().unwrap();
    let sandbox = root.join("sandbox");
    fs::create_dir(&sandbox).unwrap();
    setup(&sandbox);
    let tree_before = snapshot(&root);

    let mut flags: Vec<OsString> = Vec::new();
    let mut dir = OsString::from(&sandbox);
    dir.push(format!("::{GUEST_DIR}"));
    flags.push("--dir".into());
    flags.push(dir);
    for (k, v) in env {
        flags.push("--env".into());
        flags.push(format!("{k}={v}").into());
    }
    let mut cmd = match rt {
        Runtime::Chiwawa => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_chiwawa"));
            c.arg("run");
            c
        }
        Runtime::Reference => {
            let mut c = Command::new("python3");
            c.arg(manifest_dir().join("scripts/wasmtime-run.py"));
            c
        }
    };
    cmd.args(&flags).arg(&module).args(args).current_dir(&root);
    cmd.env_remove("RUST_LOG"); // keep chiwawa's stderr quiet
    let (stdout, stderr, code, timed_out) = exec(cmd, stdin);
    let tree = snapshot(&root);
    Out {
        runtime: if rt == Runtime::Chiwawa { "chiwawa" } else { "wasmtime" },
        stdout,
        stderr,
        code,
        timed_out,
        tree,
        tree_before,
    }
}

fn no_setup(_: &Path) {}

/// Runs `guest` under chiwawa and the Wasmtime reference: `(chiwawa, reference)`.
fn run_both(guest: &str, args: &[&str], env: &[(&str, &str)], setup: fn(&Path)) -> (Out, Out) {
    run_both_stdin(guest, args, env, setup, b"")
}

fn run_both_stdin(
    guest: &str,
    args: &[&str],
    env: &[(&str, &str)],
    setup: fn(&Path),
    stdin: &[u8],
) -> (Out, Out) {
    require_reference();
    let reference = run_one(Runtime::Reference, guest, args, env, setup, stdin);
    assert!(
        !reference.timed_out && reference.code.is_some(),
        "reference run of {guest} did not finish: {reference:?}"
    );
    let chiwawa = run_one(Runtime::Chiwawa, guest, args, env, setup, stdin);
    (chiwawa, reference)
}

fn first_diff_line(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("first difference at line {}:\n  chiwawa:  {x}\n  wasmtime: {y}", i + 1);
        }
    }
    format!("line counts differ: chiwawa {} vs wasmtime {}", a.lines().count(), b.lines().count())
}

/// The core assertion: identical stdout, exit code and directory tree.
fn assert_same(guest: &str, c: &Out, r: &Out) {
    let ctx = || {
        format!(
            "guest {guest}\n--- chiwawa (code {:?}{}) stdout:\n{}--- chiwawa stderr:\n{}\n--- wasmtime (code {:?}) stdout:\n{}--- wasmtime stderr:\n{}",
            c.code,
            if c.timed_out { ", TIMED OUT" } else { "" },
            c.stdout_str(),
            String::from_utf8_lossy(&c.stderr),
            r.code,
            r.stdout_str(),
            String::from_utf8_lossy(&r.stderr),
        )
    };
    assert!(!c.timed_out, "chiwawa timed out after {RUN_TIMEOUT:?}\n{}", ctx());
    if c.stdout != r.stdout {
        panic!("stdout differs: {}\n{}", first_diff_line(&c.stdout_str(), &r.stdout_str()), ctx());
    }
    assert_eq!(c.code, r.code, "exit code differs\n{}", ctx());
    if c.tree != r.tree {
        panic!(
            "directory trees differ\n--- chiwawa:\n{}--- wasmtime:\n{}{}",
            fmt_tree(&c.tree),
            fmt_tree(&r.tree),
            ctx()
        );
    }
}

/// `run_both` + `assert_same`, plus a check that the reference exited with `code`
/// (guards against a broken guest or reference making both sides agree on garbage).
fn check(guest: &str, args: &[&str], env: &[(&str, &str)], setup: fn(&Path), code: i32) -> Out {
    let (c, r) = run_both(guest, args, env, setup);
    assert_eq!(r.code, Some(code), "reference exit code for {guest}: {r:?}");
    assert_same(guest, &c, &r);
    r
}

fn check_stdin(guest: &str, stdin: &[u8]) -> Out {
    let (c, r) = run_both_stdin(guest, &[], &[], no_setup, stdin);
    assert_eq!(r.code, Some(0), "reference exit code for {guest}: {r:?}");
    assert_same(guest, &c, &r);
    r
}

fn assert_contains(out: &Out, needle: &str) {
    let s = out.stdout_str();
    assert!(s.contains(needle), "{} stdout lacks {needle:?}:\n{s}", out.runtime);
}

fn assert_no_line_with(out: &Out, needle: &str) {
    let s = out.stdout_str();
    assert!(!s.contains(needle), "{} stdout unexpectedly contains {needle:?}:\n{s}", out.runtime);
}

// ---------------------------------------------------------------- args, env

const ARGS: &[&str] = &["first", "with space", "", "ünïcødé ✓", "--dir", "a=b"];
const ENV: &[(&str, &str)] =
    &[("CHIWAWA_TEST", "hello world"), ("EMPTY", ""), ("WITH_EQ", "a=b=c"), ("UNI", "ö✓")];

#[test]
fn args_env_c() {
    let r = check("args_env", ARGS, ENV, no_setup, 0);
    assert_contains(&r, "argv[0]=[args_env.wasm]");
    assert_contains(&r, "argc=7");
    assert_contains(&r, "env[2]=[WITH_EQ=a=b=c]");
}

#[test]
fn args_env_c_empty() {
    let r = check("args_env", &[], &[], no_setup, 0);
    assert_contains(&r, "argc=1\n");
    assert_contains(&r, "envc=0\n");
}

#[test]
fn args_env_rust() {
    let r = check("rs_args_env", ARGS, ENV, no_setup, 0);
    assert_contains(&r, "argv[0]=\"rs_args_env.wasm\"");
}

// ---------------------------------------------------------------- files

#[test]
fn files_c() {
    let r = check("files", &[GUEST_DIR], &[], no_setup, 0);
    assert_contains(&r, "big read back 100000 bytes");
    assert_contains(&r, "match=1");
}

#[test]
fn files_rust() {
    let r = check("rs_files", &[GUEST_DIR], &[], no_setup, 0);
    assert_contains(&r, "match=true");
}

fn setup_preexisting(sandbox: &Path) {
    fs::write(sandbox.join("a.txt"), b"pre-existing contents that are longer than hello world\n").unwrap();
    fs::create_dir(sandbox.join("keep")).unwrap();
    fs::write(sandbox.join("keep/untouched.bin"), [0u8, 1, 2, 255]).unwrap();
}

#[test]
fn files_c_overwrites_existing() {
    check("files", &[GUEST_DIR], &[], setup_preexisting, 0);
}

// ---------------------------------------------------------------- directories, symlinks

#[test]
fn dirs_c() {
    let r = check("dirs", &[GUEST_DIR], &[], no_setup, 0);
    assert_contains(&r, "read d1/e2/via_link.txt: [written via symlinked dir]");
}

#[test]
fn dirs_rust() {
    let r = check("rs_dirs", &[GUEST_DIR], &[], no_setup, 0);
    assert_contains(&r, "read_link ln_top: ok \"top.txt\"");
}

fn setup_listing(sandbox: &Path) {
    for name in ["zeta", "alpha", "Mixed", "_under", "dot.d", "ü"] {
        fs::write(sandbox.join(name), name.as_bytes()).unwrap();
    }
    fs::create_dir(sandbox.join("subdir")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("alpha", sandbox.join("link_alpha")).unwrap();
}

#[test]
fn dirs_c_prepopulated() {
    let r = check("dirs", &[GUEST_DIR], &[], setup_listing, 0);
    assert_contains(&r, "initial: 10 entries:");
}

// ---------------------------------------------------------------- errors

#[test]
fn errors_c() {
    let r = check("errors", &[GUEST_DIR], &[], no_setup, 0);
    assert_contains(&r, "open missing: ERR errno=44 (No such file or directory)");
}

#[test]
fn errors_rust() {
    let r = check("rs_errors", &[GUEST_DIR], &[], no_setup, 0);
    assert_contains(&r, "open missing: NotFound");
}

/// A guest given a directory that is not preopened: every access fails in wasi-libc.
#[test]
fn errors_c_not_preopened() {
    check("errors", &["/not-preopened"], &[], no_setup, 0);
}

// ---------------------------------------------------------------- clocks, random

#[test]
fn clock_random_c() {
    let r = check("clock_random", &[], &[], no_setup, 0);
    assert_no_line_with(&r, "false");
}

#[test]
fn clock_random_rust() {
    let r = check("rs_clock_random", &[], &[], no_setup, 0);
    assert_no_line_with(&r, "false");
}

// ---------------------------------------------------------------- exit codes, traps

/// A real C++ program with C++ exceptions (Wasm 3.0 exception handling, built by clang 22 with
/// `-fwasm-exceptions` and the exnref encoding; `tests/guests/cxx/`): RAII cleanups while
/// unwinding, catches by type and base class, `catch (...)` and `throw;`, exception_ptr,
/// exceptions thrown inside libc++, a loop throwing 66 666 times.
#[test]
fn cxx_exceptions() {
    let r = check("cxx_eh", &[], &[], no_setup, 0);
    assert_contains(&r, "parse=33334 io=33333 ok=33333 sum=496296 live=0");
    assert!(r.stdout_str().ends_with("done\n"), "{}", r.stdout_str());
}

/// The same program ending with an exception nothing catches: like a trap (exit 134).
#[test]
fn cxx_exceptions_uncaught() {
    let r = check("cxx_eh", &["1000", "boom"], &[], no_setup, 134);
    assert_contains(&r, "throwing uncaught exception");
}

/// The same C++ program built with the legacy exception encoding (`try`, `catch`, `rethrow`,
/// `delegate`: clang's default until LLVM 22, in many released binaries). Wasmtime does not run
/// that encoding: chiwawa must print, and exit with, what Wasmtime prints for the standard
/// build (Node, whose V8 runs both, agrees).
#[test]
fn cxx_legacy_exceptions() {
    require_reference();
    for (args, code) in [(&[][..], 0), (&["1000", "boom"][..], 134)] {
        let c = run_one(Runtime::Chiwawa, "cxx_eh_legacy", args, &[], no_setup, b"");
        let r = run_one(Runtime::Reference, "cxx_eh", args, &[], no_setup, b"");
        assert_eq!(r.code, Some(code), "reference: {r:?}");
        assert_same("cxx_eh_legacy", &c, &r);
    }
}

/// The Wasm 3.0 text guests (`tests/wat/`), each a WASI program: tail-recursive state machines
/// (`tailcall`), typed function references, exceptions, two and three memories, and a 64-bit
/// memory grown past 4 GiB and written sparsely, with a 64-bit table (`mem64`).
#[test]
fn wasm3_guests() {
    for (guest, args) in [
        ("wat:tailcall", &["3", "200000"][..]),
        ("wat:funcref", &["3", "2000"]),
        ("wat:exn", &["3", "2000"]),
        ("wat:multimem", &["3", "3000"]),
        ("wat:mem64", &["3", "45", "2000"]),
    ] {
        let r = check(guest, args, &[], no_setup, 0);
        assert!(r.stdout_str().ends_with("done\n"), "{guest}: {}", r.stdout_str());
    }
    // More than 4 GiB of address space: round lines report the pages.
    let r = check("wat:mem64", &["1", "45", "10"], &[], no_setup, 0);
    assert_contains(&r, "pages=147457");
}

#[test]
fn exit3_c() {
    let r = check("exit3", &[], &[], no_setup, 3);
    assert_eq!(r.stdout_str(), "about to exit(3)\n");
}

#[test]
fn exit3_rust() {
    check("rs_exit3", &[], &[], no_setup, 3);
}

#[test]
fn ret0_c() {
    let r = check("ret0", &[], &[], no_setup, 0);
    assert_eq!(r.stdout_str(), "returning 0 from main\n");
}

/// `unreachable` → wasmtime run prints the trap on stderr and exits 134 (128 + SIGABRT).
#[test]
fn trap_c() {
    let (c, r) = run_both("trap", &[], &[], no_setup);
    assert_eq!(r.code, Some(134));
    assert_same("trap", &c, &r);
    assert!(!c.stderr.is_empty(), "chiwawa printed nothing on stderr for a trap");
}

#[test]
fn panic_rust() {
    let (c, r) = run_both("rs_panic", &[], &[], no_setup);
    assert_eq!(r.code, Some(134));
    assert_same("rs_panic", &c, &r);
    let err = String::from_utf8_lossy(&c.stderr);
    assert!(err.contains("index out of bounds"), "guest panic message missing from stderr:\n{err}");
}

// ---------------------------------------------------------------- stdin

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

#[test]
fn stdin_c_small() {
    let r = check_stdin("stdin_echo", b"hello\nworld\n");
    assert_contains(&r, "bytes=12 lines=2 fnv=3d3d5389");
}

#[test]
fn stdin_c_large() {
    let r = check_stdin("stdin_echo", &stdin_data(1 << 20));
    assert_contains(&r, "bytes=1048576 ");
}

#[test]
fn stdin_c_empty() {
    let r = check_stdin("stdin_echo", b"");
    assert_contains(&r, "bytes=0 lines=0");
}

#[test]
fn stdin_rust() {
    let r = check_stdin("rs_stdin", &stdin_data(300_000));
    assert_contains(&r, "bytes=300000 ");
}

// ---------------------------------------------------------------- counter (checkpoint workload)

#[test]
fn counter_c() {
    let r = check("counter", &["200000", "50000", GUEST_DIR], &[], no_setup, 0);
    let out = match r.tree.get("sandbox/out.txt") {
        Some(Entry::File(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("out.txt missing: {other:?}"),
    };
    assert_eq!(out.lines().count(), 4, "out.txt:\n{out}");
    // stdout = the progress lines (same as out.txt) + the final line.
    assert_eq!(r.stdout_str(), format!("{out}done n=200000 sum=84892d2640bf9224\n"));
}

/// counter appends to an existing out.txt (O_APPEND) rather than truncating it.
fn setup_counter_existing(sandbox: &Path) {
    fs::write(sandbox.join("out.txt"), b"previous run\n").unwrap();
}

#[test]
fn counter_c_appends() {
    let r = check("counter", &["30000", "10000", GUEST_DIR], &[], setup_counter_existing, 0);
    match r.tree.get("sandbox/out.txt") {
        Some(Entry::File(b)) => assert!(b.starts_with(b"previous run\nstep 1 ")),
        other => panic!("out.txt: {other:?}"),
    }
}

// ---------------------------------------------------------------- SIMD (v128)

fn sandbox_file(out: &Out, name: &str) -> Vec<u8> {
    match out.tree.get(&format!("sandbox/{name}")) {
        Some(Entry::File(b)) => b.clone(),
        other => panic!("{}: sandbox/{name} missing: {other:?}", out.runtime),
    }
}

const SIMD_FAMILIES: [&str; 14] = [
    "load_store",
    "splat_lanes",
    "shuffle",
    "int_arith",
    "sat_minmax",
    "shifts",
    "compares",
    "bitwise",
    "widen_narrow",
    "f32x4",
    "f64x2",
    "conversions",
    "pipeline",
    "wrote",
];

/// Every one of the 236 fixed-width SIMD instructions through `<wasm_simd128.h>` (clang -O3
/// -msimd128), one checksum line per family, plus a 4096-byte file written by a SIMD pipeline.
/// The guest never hashes a NaN, so every line is exact.
#[test]
fn simd_intrinsics_c() {
    let r = check("simd_intrin", &[GUEST_DIR], &[], no_setup, 0);
    let out = r.stdout_str();
    let families: Vec<&str> = out.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(families, SIMD_FAMILIES, "{out}");
    // Values from Wasmtime 50 (wasmi 2.0 agrees).
    assert_contains(&r, "int_arith    5a54de8c6d7702b3\n");
    assert_contains(&r, "conversions  e1845722941e9556\n");
    assert_contains(&r, "wrote simd_out.bin 4096 bytes fnv=4d1f9dd2\n");
    assert_eq!(sandbox_file(&r, "simd_out.bin").len(), 4096);
}

/// Plain C loops auto-vectorised by clang -O3 -msimd128 (saxpy, i16 dot product, byte
/// min/max/count/search, RGB to gray, saturating add, SAD, i32 reductions, conversions).
/// A scalar build of the same source prints the same lines.
#[test]
fn simd_autovectorized_c() {
    let r = check("simd_auto", &[], &[], no_setup, 0);
    assert_contains(&r, "round 2\n");
    assert_contains(&r, "total 222b5c5e\n");
    let r = check("simd_auto", &["1"], &[], no_setup, 0);
    let out = r.stdout_str();
    assert!(out.starts_with("round 0\n") && !out.contains("round 1"), "{out}");
}

/// Rust with `core::arch::wasm32` intrinsics and iterator loops, built with +simd128.
#[test]
fn simd_rust() {
    let r = check("rs_simd", &[], &[], no_setup, 0);
    assert_contains(&r, "total 443505ddc5d06301\n");
    check("rs_simd", &["5"], &[], no_setup, 0);
}

/// The checkpoint workload with a SIMD loop (`simd_counter`): same protocol as `counter`.
#[test]
fn simd_counter_c() {
    let r = check("simd_counter", &["20000", "5000", GUEST_DIR], &[], no_setup, 0);
    let out = String::from_utf8(sandbox_file(&r, "out.txt")).unwrap();
    assert_eq!(out.lines().count(), 4, "out.txt:\n{out}");
    assert_eq!(r.stdout_str(), format!("{out}done n=20000 sum=d5df3b61cd317236 buf=9f0b67be\n"));
}

// ---------------------------------------------------------------- sandbox escapes

const OUTSIDE: &[u8] = b"outside secret: must never be read or changed\n";

/// ROOT/outside.txt next to the preopen, plus links from inside pointing out of it.
fn setup_escape(sandbox: &Path) {
    let root = sandbox.parent().unwrap();
    fs::write(root.join("outside.txt"), OUTSIDE).unwrap();
    fs::write(sandbox.join("inside.txt"), b"inside\n").unwrap();
    fs::create_dir(sandbox.join("a")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("../outside.txt", sandbox.join("link_out")).unwrap();
        symlink(root.join("outside.txt"), sandbox.join("link_abs")).unwrap();
        symlink("..", sandbox.join("link_dir")).unwrap();
    }
}

fn assert_escape_contained(o: &Out) {
    let s = o.stdout_str();
    let attempts: Vec<&str> = s.lines().filter(|l| l.starts_with("ATTEMPT ")).collect();
    assert!(attempts.len() >= 24, "{}: expected >= 24 ATTEMPT lines, got:\n{s}", o.runtime);
    for l in &attempts {
        assert!(l.contains(": FAIL "), "{}: sandbox escape succeeded: {l}\n{s}", o.runtime);
    }
    assert!(!s.contains("ESCAPED"), "{}: {s}", o.runtime);
    assert!(s.contains("control: open inside.txt ok"), "{}: sandbox itself unusable:\n{s}", o.runtime);
    assert!(s.contains("escaped\n") && s.contains(", 0 escaped"), "{}: no summary:\n{s}", o.runtime);
    assert_eq!(o.code, Some(0), "{}: escape guest exit code", o.runtime);
    // Nothing inside or outside the preopen was created, removed or modified.
    assert_eq!(
        o.tree,
        o.tree_before,
        "{}: files changed\n--- before:\n{}--- after:\n{}",
        o.runtime,
        fmt_tree(&o.tree_before),
        fmt_tree(&o.tree)
    );
    assert_eq!(o.tree.get("outside.txt"), Some(&Entry::File(OUTSIDE.to_vec())));
}

/// Security property, independent of errno details: every escape attempt fails and
/// nothing outside (or inside) the preopen changes.
#[test]
fn escape_attempts_all_fail() {
    require_reference();
    let r = run_one(Runtime::Reference, "escape", &[GUEST_DIR], &[], setup_escape, b"");
    assert_escape_contained(&r);
    let c = run_one(Runtime::Chiwawa, "escape", &[GUEST_DIR], &[], setup_escape, b"");
    assert_escape_contained(&c);
}

/// Same run, compared with Wasmtime byte for byte (errno values included).
#[test]
fn escape_matches_reference() {
    check("escape", &[GUEST_DIR], &[], setup_escape, 0);
}

/// Preopen under a different guest name: `--dir HOST::GUEST` mapping is honoured and
/// the host path is never visible to the guest.
#[test]
fn escape_host_path_not_visible() {
    require_reference();
    for rt in [Runtime::Reference, Runtime::Chiwawa] {
        let probe = tempfile::tempdir().unwrap();
        let probe_path = probe.path().canonicalize().unwrap();
        let host = probe_path.to_string_lossy().into_owned();
        // Ask the errors guest to use the *host* path: it is not a preopen, so all fail
        // and nothing is created there.
        let o = run_one(rt, "errors", &[host.as_str()], &[], no_setup, b"");
        assert_eq!(o.code, Some(0), "{}: {o:?}", o.runtime);
        assert_eq!(
            fs::read_dir(&probe_path).unwrap().count(),
            0,
            "{}: wrote into a non-preopened host dir",
            o.runtime
        );
    }
}
