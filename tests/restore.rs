//! Restore trusts nothing (issue 12): checkpoint files whose CRCs are all valid but whose
//! contents were crafted — program counters, frame chains, function references in globals,
//! locals, operand slots and tables, immutable globals, table and memory sizes, huge lengths —
//! are refused through the real binary with a clear one-line error and exit 1: never a panic,
//! a signal, or a resumption that runs. The unmodified files restore and finish identically.
#![cfg(target_os = "linux")]

#[path = "wat/harness.rs"]
mod harness;

use chiwawa::checkpoint::codec;
use chiwawa::snapshot::{MachineImage, StoreImage};
use harness::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn refs_wat() -> PathBuf {
    manifest_dir().join("tests/wat/refs.wat")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(chiwawa()).current_dir(dir).args(args).output().expect("run chiwawa")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Generations of refs.wat at many positions (archived when the guest finished), and the
/// uninterrupted run's stdout.
fn generations(dir: &Path) -> (Vec<PathBuf>, String) {
    let wat = refs_wat();
    let plain = run(dir, &["run", wat.to_str().unwrap()]);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let o = run(
        dir,
        &[
            "run",
            "--checkpoint-dir",
            "ck",
            "--every-instructions",
            "7919",
            "--keep",
            "1000",
            "--keep-on-exit",
            // one file each: the crafted variants are written and restored elsewhere
            "--self-contained",
            wat.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), text(&plain.stdout));
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("ck"))
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect()
            } else {
                vec![p]
            }
        })
        .filter(|p| p.extension().is_some_and(|x| x == "ckpt"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "too few generations: {}", files.len());
    (files, text(&plain.stdout))
}

type Sections = Vec<(u32, Vec<u8>)>;

fn sections_of(bytes: &[u8]) -> (Vec<u8>, Sections) {
    let c = parse_ckpt(bytes.to_vec()).expect("valid checkpoint");
    let s = c.sections.iter().map(|s| (s.kind, c.payload(s).to_vec())).collect();
    (bytes[..HEADER_LEN].to_vec(), s)
}

fn machine(s: &Sections) -> MachineImage {
    codec::decode(&s.iter().find(|x| x.0 == KIND_MACHINE).unwrap().1).unwrap()
}

fn store(s: &Sections) -> StoreImage {
    codec::decode(&s.iter().find(|x| x.0 == KIND_STORE).unwrap().1).unwrap()
}

fn with_machine(header: &[u8], s: &Sections, m: &MachineImage) -> Vec<u8> {
    let mut s = s.clone();
    s.iter_mut().find(|x| x.0 == KIND_MACHINE).unwrap().1 = codec::encode(m).unwrap();
    build_ckpt(header, &s)
}

fn with_store(header: &[u8], s: &Sections, st: &StoreImage) -> Vec<u8> {
    let mut s = s.clone();
    s.iter_mut().find(|x| x.0 == KIND_STORE).unwrap().1 = codec::encode(st).unwrap();
    build_ckpt(header, &s)
}

/// Restores `bytes` with `--restore`: returns (exit code, stderr, stdout). Never a panic or a
/// signal.
fn restore(dir: &Path, bytes: &[u8], what: &str) -> (Option<i32>, String, String) {
    restore_with(dir, bytes, what, &[])
}

fn restore_with(dir: &Path, bytes: &[u8], what: &str, opts: &[&str]) -> (Option<i32>, String, String) {
    fs::write(dir.join("x.ckpt"), bytes).unwrap();
    let _ = fs::remove_dir_all(dir.join("ck2"));
    let wat = refs_wat();
    let mut args = vec!["run", "--restore", "x.ckpt", "--checkpoint-dir", "ck2"];
    args.extend_from_slice(opts);
    args.push(wat.to_str().unwrap());
    let o = run(dir, &args);
    let err = text(&o.stderr);
    assert!(!err.contains("panicked"), "{what}: chiwawa panicked: {err}");
    assert!(o.status.code().is_some(), "{what}: killed by a signal: {:?}\n{err}", o.status);
    (o.status.code(), err, text(&o.stdout))
}

/// Must be refused: exit 1, one `error:` line naming the file and containing `why`, no output.
fn refused(dir: &Path, bytes: &[u8], what: &str, why: &str) {
    let (code, err, out) = restore(dir, bytes, what);
    assert_eq!(code, Some(1), "{what}: must be refused\n{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{what}: {err}"));
    assert!(line.contains("cannot restore from x.ckpt"), "{what}: {line}");
    assert!(line.contains(why), "{what}: {line:?} should say {why:?}");
    assert_eq!(out, "", "{what}: the guest ran");
}

/// refs.wat instantiated as chiwawa does: for each store address of a Wasm function its
/// code length, and the store addresses of the module's functions.
fn layout() -> (std::collections::HashMap<u32, u32>, Vec<u32>) {
    use chiwawa::guest::{Entry, Guest};
    use chiwawa::runtime::store::FuncKind;
    let bytes = chiwawa::session::load_module_bytes(&refs_wat()).unwrap();
    let m = std::sync::Arc::new(chiwawa::Module::new(&bytes).unwrap());
    let wasi = chiwawa::wasi::WasiCtx::new(&Default::default()).unwrap();
    let g = Guest::instantiate(m.clone(), wasi, chiwawa::runtime::Limits::default(), Entry::Command).unwrap();
    let mut lens = std::collections::HashMap::new();
    for (addr, f) in g.store.funcs().iter().enumerate() {
        if let FuncKind::Wasm { index, .. } = f.kind {
            lens.insert(addr as u32, m.code()[(index - m.num_imported_funcs()) as usize].code().len() as u32);
        }
    }
    (lens, g.store.instances()[g.instance as usize].funcs().to_vec())
}

#[test]
fn unmodified_generations_restore_and_finish_identically() {
    let d = tempfile::tempdir().unwrap();
    let (files, want) = generations(d.path());
    for f in files.iter().step_by(3) {
        let bytes = fs::read(f).unwrap();
        let (header, s) = sections_of(&bytes);
        // rebuilt through the test's encoder, to prove the crafted cases differ only in the field
        let (code, err, out) = restore(d.path(), &build_ckpt(&header, &s), "unmodified");
        assert_eq!(code, Some(0), "{}: {err}", f.display());
        assert_eq!(out, want, "{}", f.display());
    }
}

#[test]
fn crafted_program_counters_and_frames_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (files, _) = generations(d.path());
    let (lens, _) = layout();
    // the deepest checkpoint: a recursion of walk frames below work's loop
    let f = files.iter().max_by_key(|f| machine(&sections_of(&fs::read(f).unwrap()).1).frames.len()).unwrap();
    let (header, s) = sections_of(&fs::read(f).unwrap());
    let m = machine(&s);
    assert!(m.frames.len() >= 5, "premise: a deep stack ({} frames)", m.frames.len());
    let mut tried = 0;
    for i in 0..m.frames.len() {
        let len = lens[&m.frames[i].func];
        let orig = m.frames[i].pc;
        for pc in [0, len.saturating_sub(1), len, len + 1, u32::MAX, orig + 1, orig.wrapping_sub(1)] {
            if pc == orig {
                continue;
            }
            let mut x = m.clone();
            x.frames[i].pc = pc;
            let what = format!("frame {i} of {}: pc {orig} -> {pc} (len {len})", m.frames.len());
            if [0, len, len + 1, u32::MAX].contains(&pc) {
                refused(d.path(), &with_machine(&header, &s, &x), &what, "position a checkpoint can hold");
            } else {
                // A neighbour may be another legal resume position (just after the entry's
                // safe point, say): then the run goes on from there, never crashing.
                let (code, err, _) = restore(d.path(), &with_machine(&header, &s, &x), &what);
                assert!(
                    code == Some(1) && err.contains("position a checkpoint can hold")
                        || matches!(code, Some(0) | Some(134)),
                    "{what}: {code:?} {err}"
                );
            }
            tried += 1;
        }
        // frame pointers: one slot off either way
        for fp in [m.frames[i].fp.wrapping_add(1), m.frames[i].fp.wrapping_sub(1), u32::MAX] {
            let mut x = m.clone();
            x.frames[i].fp = fp;
            let (code, err, _) =
                restore(d.path(), &with_machine(&header, &s, &x), &format!("frame {i} fp {fp}"));
            assert_eq!(code, Some(1), "frame {i}: fp {} -> {fp} must be refused\n{err}", m.frames[i].fp);
            tried += 1;
        }
    }
    // a callee frame replaced by another function; the bottom frame replaced
    let mut x = m.clone();
    let top = x.frames.len() - 1;
    x.frames[top - 1].func = x.frames[top].func;
    refused(d.path(), &with_machine(&header, &s, &x), "callee swapped", "position a checkpoint can hold");
    let mut x = m.clone();
    x.frames[0].func = x.frames[1].func;
    refused(d.path(), &with_machine(&header, &s, &x), "bottom frame", "bottom frame");
    // a frame dropped from the middle
    let mut x = m.clone();
    x.frames.remove(2);
    refused(d.path(), &with_machine(&header, &s, &x), "frame dropped", "position a checkpoint can hold");
    // frames of a call that has not started; no frames while started
    let mut x = m.clone();
    x.started = false;
    refused(d.path(), &with_machine(&header, &s, &x), "not started", "not started");
    let mut x = m.clone();
    x.frames.clear();
    refused(d.path(), &with_machine(&header, &s, &x), "no frames", "without frames");
    assert!(tried > 50);
}

#[test]
fn crafted_function_references_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (files, _) = generations(d.path());
    let (lens, funcs) = layout();
    // references are store addresses + 1; the store also holds every WASI function, which
    // the module did not import: a reference to one of those is no reference it can hold
    let not_imported = (0..).find(|a| !funcs.contains(a) && !lens.contains_key(a)).unwrap();
    let last = *funcs.iter().max().unwrap() as u64;
    let bad_refs = [last + 2, u64::from(not_imported) + 1, 4_294_967_295, u64::MAX];
    let f = files.iter().max_by_key(|f| machine(&sections_of(&fs::read(f).unwrap()).1).frames.len()).unwrap();
    let (header, s) = sections_of(&fs::read(f).unwrap());
    let (m, st) = (machine(&s), store(&s));
    // globals: index 0 is the mutable funcref $g
    for &r in &bad_refs {
        let mut x = st.clone();
        x.globals[0] = r;
        refused(d.path(), &with_store(&header, &s, &x), &format!("global ref {r}"), "does not exist");
    }
    // the largest valid reference is accepted (the last function)
    let mut x = st.clone();
    x.globals[0] = last + 1;
    let (code, err, _) = restore(d.path(), &with_store(&header, &s, &x), "global ref = last function");
    assert_eq!(code, Some(0), "{err}");
    // tables
    for &r in &bad_refs {
        let mut x = st.clone();
        x.tables[0].elems[1] = r;
        refused(d.path(), &with_store(&header, &s, &x), &format!("table ref {r}"), "does not exist");
    }
    // the funcref local $r of every walk frame (slot 1: after the parameter)
    let walk = m.frames[1].func;
    let mut n = 0;
    for (i, fr) in m.frames.iter().enumerate().filter(|(_, f)| f.func == walk) {
        let mut x = m.clone();
        x.stack[fr.fp as usize + 1] = bad_refs[i % bad_refs.len()];
        refused(d.path(), &with_machine(&header, &s, &x), &format!("local of frame {i}"), "does not exist");
        n += 1;
    }
    assert!(n >= 3, "premise: walk frames on the stack");
    // the operand slot holding table.get's result below the recursive call (slot 2 of the
    // walk frames that wait in `call $walk`: parameter, local, then that operand)
    let mut n = 0;
    for (i, fr) in m.frames.iter().enumerate() {
        let callee = m.frames.get(i + 1);
        if fr.func == walk && callee.is_some_and(|c| c.func == walk) {
            let mut x = m.clone();
            x.stack[fr.fp as usize + 2] = u64::MAX;
            refused(
                d.path(),
                &with_machine(&header, &s, &x),
                &format!("operand of frame {i}"),
                "does not exist",
            );
            n += 1;
        }
    }
    assert!(n >= 2, "premise: walk frames waiting in the recursive call");
}

#[test]
fn crafted_globals_tables_memories_and_lengths_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (files, _) = generations(d.path());
    let (header, s) = sections_of(&fs::read(&files[files.len() / 2]).unwrap());
    let st = store(&s);
    // the immutable global $k (index 1)
    let mut x = st.clone();
    x.globals[1] = 8;
    refused(d.path(), &with_store(&header, &s, &x), "immutable global", "immutable global");
    // table below its minimum (4) and above its maximum (8)
    let mut x = st.clone();
    x.tables[0].elems.truncate(3);
    refused(d.path(), &with_store(&header, &s, &x), "table shrunk", "minimum");
    let mut x = st.clone();
    x.tables[0].elems.resize(9, 0);
    refused(d.path(), &with_store(&header, &s, &x), "table grown", "limit");
    // global and table counts
    let mut x = st.clone();
    x.globals.push(0);
    refused(d.path(), &with_store(&header, &s, &x), "extra global", "globals saved");
    // memories: more pages than the limit, fewer than the minimum, twice the same memory,
    // a memory the module does not have, a huge page count. Memory payload (FORMAT.md):
    // index u32 | size_pages u64 | max u64 | stored count u64 | pages.
    let mem = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut s = s.clone();
        let i = s.iter().position(|x| x.0 == KIND_MEMORY).unwrap();
        f(&mut s[i].1);
        build_ckpt(&header, &s)
    };
    refused(d.path(), &mem(&|p| p[4..12].copy_from_slice(&70_000u64.to_le_bytes())), "memory pages", "limit");
    refused(d.path(), &mem(&|p| p[4..12].copy_from_slice(&u64::MAX.to_le_bytes())), "memory pages max", "");
    refused(d.path(), &mem(&|p| p[4..12].copy_from_slice(&0u64.to_le_bytes())), "memory pages 0", "");
    refused(d.path(), &mem(&|p| p[0..4].copy_from_slice(&1u32.to_le_bytes())), "memory index 1", "memory 1");
    let mut twice = s.clone();
    let i = twice.iter().position(|x| x.0 == KIND_MEMORY).unwrap();
    twice.insert(i, twice[i].clone());
    refused(d.path(), &build_ckpt(&header, &twice), "memory twice", "saved twice");
    // lengths that drive allocations: a stack of 2^60 slots, 2^40 frames
    let m = machine(&s);
    let mut enc = codec::encode(&m).unwrap();
    let stack_len_at = enc.len() - 8 * m.stack.len() - 8;
    enc[stack_len_at..stack_len_at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let mut huge = s.clone();
    huge.iter_mut().find(|x| x.0 == KIND_MACHINE).unwrap().1 = enc;
    refused(d.path(), &build_ckpt(&header, &huge), "huge stack", "");

    // instruction counters at the end of the range, with instruction-count checkpoints due
    for executed in [u64::MAX, u64::MAX - 3, 1 << 63] {
        let mut x = m.clone();
        x.executed = executed;
        let what = format!("executed {executed}");
        let (code, err, _) = restore_with(
            d.path(),
            &with_machine(&header, &s, &x),
            &what,
            &["--every-instructions", "1000", "--keep", "2"],
        );
        assert!(matches!(code, Some(0) | Some(1)), "{what}: {code:?} {err}");
    }
}
