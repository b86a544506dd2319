//! The checkpoint compatibility corpus (docs/FORMAT.md §16, issue 16): checkpoint files written
//! by earlier releases, committed under `tests/compat/` with their module and what resuming
//! them must give. Every build must restore each of them — under both lowerings — and finish
//! byte-identically: a change that breaks an old checkpoint fails here.
//!
//! A case is a directory: `module.wasm`, `checkpoint.ckpt`, `args` (the guest's arguments, one
//! per line), `stdout` and `exit` (of the resumed run), and for guests with files `data/` (the
//! preopened directory handed to the restore as `/data`) and `data.expected/` (it at the end).
//! `scripts/gen-compat.sh` writes cases; committed ones are never regenerated.
#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_chiwawa");

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("checkpoint.ckpt").is_file())
        .collect();
    cases.sort();
    cases
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Every file under `dir` (relative path → contents).
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((p.strip_prefix(root).unwrap().display().to_string(), fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Resumes `case` under `lowering`; checks stdout, exit code and files.
fn resume(case: &Path, lowering: &str) {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let what = format!("{name} ({lowering} lowering)");
    let t = tempfile::tempdir().unwrap();
    let args: Vec<String> =
        fs::read_to_string(case.join("args")).unwrap().lines().map(str::to_owned).collect();
    let mut c = Command::new(BIN);
    c.current_dir(t.path()).env("CHIWAWA_LOWERING", lowering).arg("run");
    if case.join("data").is_dir() {
        copy_tree(&case.join("data"), &t.path().join("data"));
        c.args(["--dir", "data::/data"]);
    }
    c.arg("--restore").arg(case.join("checkpoint.ckpt")).args(["--checkpoint-dir", "ck"]);
    c.arg(case.join("module.wasm")).args(&args);
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let want_exit: i32 = fs::read_to_string(case.join("exit")).unwrap().trim().parse().unwrap();
    assert_eq!(o.status.code(), Some(want_exit), "{what}: exit code\n{stderr}");
    assert!(stderr.contains("resuming from"), "{what}: did not resume\n{stderr}");
    assert!(
        o.stdout == fs::read(case.join("stdout")).unwrap(),
        "{what}: stdout differs:\n{}\n--- stderr\n{stderr}",
        String::from_utf8_lossy(&o.stdout)
    );
    if case.join("data.expected").is_dir() {
        assert!(tree(&t.path().join("data")) == tree(&case.join("data.expected")), "{what}: files differ");
    }
}

#[test]
fn every_committed_checkpoint_resumes_identically() {
    let cases = corpus();
    // The corpus holds at least the issue-16 set: deep recursion, references and tables,
    // memory.grow, every value type, tail calls, open files, a suspended host call — each
    // as written by format version 2, and version-1 files (converted on restore).
    for want in
        ["v2-rec", "v2-refs", "v2-tables", "v2-memgrow", "v2-values", "v2-tailcall", "v2-counter", "v2-sleep"]
    {
        assert!(cases.iter().any(|c| c.ends_with(want)), "tests/compat/{want} is missing");
    }
    assert!(cases.iter().any(|c| c.file_name().unwrap().to_string_lossy().starts_with("v1-")));
    for case in &cases {
        if case.file_name().unwrap().to_string_lossy().starts_with("v1-") {
            // Version 1 recorded the optimized lowering's internal positions: only it converts
            // them; the plain lowering refuses cleanly, and the files stay as they are.
            resume(case, "optimized");
            refuses_under_plain(case);
        } else {
            for lowering in ["optimized", "plain"] {
                resume(case, lowering);
            }
        }
    }
}

fn refuses_under_plain(case: &Path) {
    let t = tempfile::tempdir().unwrap();
    let before = fs::read(case.join("checkpoint.ckpt")).unwrap();
    let args: Vec<String> =
        fs::read_to_string(case.join("args")).unwrap().lines().map(str::to_owned).collect();
    let mut c = Command::new(BIN);
    c.current_dir(t.path()).env("CHIWAWA_LOWERING", "plain").arg("run");
    if case.join("data").is_dir() {
        copy_tree(&case.join("data"), &t.path().join("data"));
        c.args(["--dir", "data::/data"]);
    }
    c.arg("--restore").arg(case.join("checkpoint.ckpt")).args(["--checkpoint-dir", "ck"]);
    let o = c.arg(case.join("module.wasm")).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}: {stderr}", case.display());
    assert!(stderr.contains("only the optimized lowering can convert"), "{}: {stderr}", case.display());
    assert!(o.stdout.is_empty());
    assert_eq!(fs::read(case.join("checkpoint.ckpt")).unwrap(), before);
}

/// `inspect` reads every committed file, and shows version-2 frames as function + Wasm offset.
#[test]
fn inspect_reads_every_committed_checkpoint() {
    for case in corpus() {
        let o = Command::new(BIN)
            .arg("inspect")
            .arg("--json")
            .arg(case.join("checkpoint.ckpt"))
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}: {out}", case.display());
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["valid"], true, "{}: {out}", case.display());
        let version = v["format_version"].as_u64().unwrap();
        let frames = v["frames"].as_u64().unwrap();
        if version == 2 {
            let list = v["frame_list"].as_array().unwrap();
            assert_eq!(list.len() as u64, frames, "{}", case.display());
            for f in list {
                assert!(f["offset"].as_u64().unwrap() > 0 && !f["name"].as_str().unwrap().is_empty());
            }
        }
    }
}
