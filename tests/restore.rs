//! Restore trusts nothing (issue 12): checkpoint files whose CRCs are all valid but whose
//! contents were crafted — Wasm positions, frame chains, value counts and types, function
//! references in globals, locals, operands and tables, immutable globals, table and memory sizes, huge lengths —
//! are refused through the real binary with a clear one-line error and exit 1: never a panic,
//! a signal, or a resumption that runs. The unmodified files restore and finish identically.
#![cfg(target_os = "linux")]

#[path = "wat/harness.rs"]
mod harness;

use chiwawa::checkpoint::codec;
use chiwawa::snapshot::{MachineImage, Resume, StoreImage, Value};
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
    let (files, out) = generations_of(dir, &refs_wat(), &[], "7919");
    assert!(files.len() > 10, "too few generations: {}", files.len());
    (files, out)
}

/// Generations of module `wat` with `args`, one every `every` instruction units (one file
/// each, archived when the guest finished), and the uninterrupted run's stdout, which the
/// checkpointed run must have printed too.
fn generations_of(dir: &Path, wat: &Path, args: &[&str], every: &str) -> (Vec<PathBuf>, String) {
    let mut plain_args = vec!["run", wat.to_str().unwrap()];
    plain_args.extend(args);
    let plain = run(dir, &plain_args);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let mut a = vec![
        "run",
        "--checkpoint-dir",
        "ck",
        "--every-instructions",
        every,
        "--keep",
        "1000",
        "--keep-on-exit",
        // one file each: the crafted variants are written and restored elsewhere
        "--self-contained",
        wat.to_str().unwrap(),
    ];
    a.extend(args);
    let o = run(dir, &a);
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
    assert!(files.len() > 5, "too few generations: {}", files.len());
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
    restore_module(dir, &refs_wat(), &[], bytes, what, opts)
}

/// Restores `bytes` of module `wat` run with `args`: (exit code, stderr, stdout).
fn restore_module(
    dir: &Path,
    wat: &Path,
    args: &[&str],
    bytes: &[u8],
    what: &str,
    opts: &[&str],
) -> (Option<i32>, String, String) {
    fs::write(dir.join("x.ckpt"), bytes).unwrap();
    let _ = fs::remove_dir_all(dir.join("ck2"));
    let mut a = vec!["run", "--restore", "x.ckpt", "--checkpoint-dir", "ck2"];
    a.extend_from_slice(opts);
    a.push(wat.to_str().unwrap());
    a.extend(args);
    let o = run(dir, &a);
    let err = text(&o.stderr);
    assert!(!err.contains("panicked"), "{what}: chiwawa panicked: {err}");
    assert!(o.status.code().is_some(), "{what}: killed by a signal: {:?}\n{err}", o.status);
    (o.status.code(), err, text(&o.stdout))
}

/// Must be refused: exit 1, one `error:` line naming the file and containing `why`, no output.
fn refused(dir: &Path, bytes: &[u8], what: &str, why: &str) {
    refused_module(dir, &refs_wat(), &[], bytes, what, why)
}

/// [`refused`], for module `wat` run with `args`.
fn refused_module(dir: &Path, wat: &Path, args: &[&str], bytes: &[u8], what: &str, why: &str) {
    let (code, err, out) = restore_module(dir, wat, args, bytes, what, &[]);
    assert_eq!(code, Some(1), "{what}: must be refused\n{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{what}: {err}"));
    assert!(line.contains("cannot restore from x.ckpt"), "{what}: {line}");
    assert!(line.contains(why), "{what}: {line:?} should say {why:?}");
    assert_eq!(out, "", "{what}: the guest ran");
}

/// The number of functions of refs.wat (imports first): function references are indices below it.
fn num_funcs() -> u32 {
    let bytes = chiwawa::session::load_module_bytes(&refs_wat()).unwrap();
    let m = chiwawa::Module::new(&bytes).unwrap();
    m.funcs().len() as u32
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
fn crafted_positions_and_frames_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (files, _) = generations(d.path());
    // the deepest checkpoint: a recursion of walk frames below work's loop
    let f = files.iter().max_by_key(|f| machine(&sections_of(&fs::read(f).unwrap()).1).frames.len()).unwrap();
    let (header, s) = sections_of(&fs::read(f).unwrap());
    let m = machine(&s);
    assert!(m.frames.len() >= 5, "premise: a deep stack ({} frames)", m.frames.len());
    let mut tried = 0;
    for i in 0..m.frames.len() {
        let orig = m.frames[i].offset;
        // Wasm offsets: nowhere near code, and one byte off either way (inside an operator)
        for off in [0, u32::MAX, orig + 1, orig.wrapping_sub(1)] {
            let mut x = m.clone();
            x.frames[i].offset = off;
            let what = format!("frame {i} of {}: offset {orig:#x} -> {off:#x}", m.frames.len());
            refused(d.path(), &with_machine(&header, &s, &x), &what, "the function has no");
            tried += 1;
        }
        // the other ways of standing there
        for at in [Resume::SafePoint, Resume::AfterCall, Resume::AtCall] {
            if at == m.frames[i].at {
                continue;
            }
            let mut x = m.clone();
            x.frames[i].at = at;
            let (code, err, _) =
                restore(d.path(), &with_machine(&header, &s, &x), &format!("frame {i} {at:?}"));
            assert_eq!(code, Some(1), "frame {i}: {:?} -> {at:?} must be refused\n{err}", m.frames[i].at);
            tried += 1;
        }
        // a local or an operand too many, too few, or of another type
        let mut x = m.clone();
        x.frames[i].locals.push(Value::I32(0));
        refused(d.path(), &with_machine(&header, &s, &x), "extra local", "locals saved");
        if !m.frames[i].locals.is_empty() {
            let mut x = m.clone();
            x.frames[i].locals.pop();
            refused(d.path(), &with_machine(&header, &s, &x), "missing local", "locals saved");
            let mut x = m.clone();
            x.frames[i].locals[0] = Value::I64(0); // no function here has an i64 first
            refused(d.path(), &with_machine(&header, &s, &x), "local type", "a i64 where the code has a");
        }
        let mut x = m.clone();
        x.frames[i].stack.push(Value::I32(0));
        refused(d.path(), &with_machine(&header, &s, &x), "extra operand", "operands saved");
        tried += 4;
    }
    // a callee frame replaced by another function; the bottom frame replaced
    let mut x = m.clone();
    let top = x.frames.len() - 1;
    x.frames[top - 1].func = x.frames[top].func;
    let (code, err, _) = restore(d.path(), &with_machine(&header, &s, &x), "callee swapped");
    assert_eq!(code, Some(1), "callee swapped\n{err}");
    let mut x = m.clone();
    x.frames[0].func = x.frames[1].func;
    refused(d.path(), &with_machine(&header, &s, &x), "bottom frame", "");
    // functions that do not exist, or are imported (no code)
    for func in [num_funcs(), u32::MAX, 0] {
        let mut x = m.clone();
        x.frames[1].func = func;
        refused(d.path(), &with_machine(&header, &s, &x), &format!("frame func {func}"), "frame 1");
    }
    // a frame dropped from the middle: the one below the top (`work`, called by the walk at
    // depth 0), whose caller then seems to call `work` from its `call $walk`. (Dropping one
    // walk of the recursion leaves a consistent, shallower recursion: a valid state.)
    let mut x = m.clone();
    x.frames.remove(top - 1);
    refused(
        d.path(),
        &with_machine(&header, &s, &x),
        "frame dropped",
        "not the function its caller's call calls",
    );
    // the top frame dropped: the new top waits for a call with no frame
    let mut x = m.clone();
    x.frames.pop();
    refused(d.path(), &with_machine(&header, &s, &x), "top dropped", "waits for a call");
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
    let n = num_funcs();
    // references are function indices of the module
    let bad_refs = [n, n + 1, u32::MAX];
    let f = files.iter().max_by_key(|f| machine(&sections_of(&fs::read(f).unwrap()).1).frames.len()).unwrap();
    let (header, s) = sections_of(&fs::read(f).unwrap());
    let (m, st) = (machine(&s), store(&s));
    // globals: index 0 is the mutable funcref $g
    for &r in &bad_refs {
        let mut x = st.clone();
        x.globals[0] = Value::FuncRef(Some(r));
        refused(d.path(), &with_store(&header, &s, &x), &format!("global ref {r}"), "does not exist");
    }
    // a value of another type
    let mut x = st.clone();
    x.globals[0] = Value::I32(1);
    refused(d.path(), &with_store(&header, &s, &x), "global type", "a i32 where the code has a funcref");
    // the largest valid reference is accepted (the last function)
    let mut x = st.clone();
    x.globals[0] = Value::FuncRef(Some(n - 1));
    let (code, err, _) = restore(d.path(), &with_store(&header, &s, &x), "global ref = last function");
    assert_eq!(code, Some(0), "{err}");
    // tables
    for &r in &bad_refs {
        let mut x = st.clone();
        x.tables[0].elems[1] = Value::FuncRef(Some(r));
        refused(d.path(), &with_store(&header, &s, &x), &format!("table ref {r}"), "does not exist");
    }
    // the funcref local $r of every walk frame (local 1: after the parameter)
    let walk = m.frames[1].func;
    let mut k = 0;
    for (i, _) in m.frames.iter().enumerate().filter(|(_, f)| f.func == walk) {
        let mut x = m.clone();
        x.frames[i].locals[1] = Value::FuncRef(Some(bad_refs[i % bad_refs.len()]));
        refused(d.path(), &with_machine(&header, &s, &x), &format!("local of frame {i}"), "does not exist");
        k += 1;
    }
    assert!(k >= 3, "premise: walk frames on the stack");
    // the operand holding table.get's result below the recursive call (operand 0 of the walk
    // frames that wait in `call $walk`)
    let mut k = 0;
    for (i, fr) in m.frames.iter().enumerate() {
        let callee = m.frames.get(i + 1);
        if fr.func == walk && callee.is_some_and(|c| c.func == walk) {
            assert!(matches!(fr.stack[..], [Value::FuncRef(_)]), "premise: {:?}", fr.stack);
            let mut x = m.clone();
            x.frames[i].stack[0] = Value::FuncRef(Some(u32::MAX));
            refused(
                d.path(),
                &with_machine(&header, &s, &x),
                &format!("operand of frame {i}"),
                "does not exist",
            );
            k += 1;
        }
    }
    assert!(k >= 2, "premise: walk frames waiting in the recursive call");
}

#[test]
fn crafted_globals_tables_memories_and_lengths_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (files, _) = generations(d.path());
    let (header, s) = sections_of(&fs::read(&files[files.len() / 2]).unwrap());
    let st = store(&s);
    // the immutable global $k (index 1)
    let mut x = st.clone();
    x.globals[1] = Value::I32(8);
    refused(d.path(), &with_store(&header, &s, &x), "immutable global", "immutable global");
    // table below its minimum (4) and above its maximum (8)
    let mut x = st.clone();
    x.tables[0].elems.truncate(3);
    refused(d.path(), &with_store(&header, &s, &x), "table shrunk", "minimum");
    let mut x = st.clone();
    x.tables[0].elems.resize(9, Value::FuncRef(None));
    refused(d.path(), &with_store(&header, &s, &x), "table grown", "limit");
    // global and table counts
    let mut x = st.clone();
    x.globals.push(Value::I32(0));
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
    // lengths that drive allocations: a top frame's operand stack of 2^60 values (its length
    // prefix is the last 8 bytes of the payload once the stack is emptied)
    let m = machine(&s);
    let mut e = m.clone();
    e.frames.last_mut().unwrap().stack.clear();
    let mut enc = codec::encode(&e).unwrap();
    let stack_len_at = enc.len() - 8;
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

fn wat_guest(name: &str) -> PathBuf {
    manifest_dir().join("tests/wat").join(format!("{name}.wat"))
}

/// Typed function references (Wasm 3.0): a global or table element must have its declared
/// type in full — no null in a non-nullable table, no function of another type.
#[test]
fn crafted_typed_references_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let args = ["2", "300"];
    let wat = wat_guest("funcref");
    let (files, _) = generations_of(d.path(), &wat, &args, "3001");
    let (header, s) = sections_of(&fs::read(&files[files.len() / 2]).unwrap());
    let st = store(&s);
    // funcref.wat: globals $len, $g (ref $op), $last (mut (ref null $op)), $nulls; tables $ops
    // (ref null $op), $fixed (ref $op); functions: 4 imports, 8 of the preamble, then $inc (12,
    // of type $op), $double, $mix, $apply, $chain (16, of type $rec), ...
    let mut x = st.clone();
    x.tables[1].elems[0] = Value::FuncRef(None);
    refused_module(
        d.path(),
        &wat,
        &args,
        &with_store(&header, &s, &x),
        "null in (ref $op) table",
        "table 1 element 0",
    );
    let mut x = st.clone();
    x.globals[2] = Value::FuncRef(Some(16));
    refused_module(d.path(), &wat, &args, &with_store(&header, &s, &x), "$chain in $last", "global 2");
    let mut x = st.clone();
    x.tables[0].elems[1] = Value::FuncRef(Some(16));
    refused_module(
        d.path(),
        &wat,
        &args,
        &with_store(&header, &s, &x),
        "$chain in $ops",
        "table 0 element 1",
    );
    // The right type, and null where it may be: accepted.
    let mut x = st.clone();
    x.globals[2] = Value::FuncRef(Some(12));
    x.tables[0].elems[1] = Value::FuncRef(None);
    let (code, err, _) =
        restore_module(d.path(), &wat, &args, &with_store(&header, &s, &x), "well typed", &[]);
    assert_eq!(code, Some(0), "{err}");
}

/// Exception handling (Wasm 3.0): the `Exceptions` section and the `exnref` values naming its
/// entries are checked like everything else.
#[test]
fn crafted_exceptions_are_refused() {
    use chiwawa::snapshot::{ExnImage, ExnsImage};
    const KIND_EXCEPTIONS: u32 = 8;
    let d = tempfile::tempdir().unwrap();
    let args = ["4", "200"];
    let wat = wat_guest("exn");
    let (files, _) = generations_of(d.path(), &wat, &args, "3001");
    // A generation holding exceptions: the table keeps up to 4.
    let f = files
        .iter()
        .rev()
        .find(|f| sections_of(&fs::read(f).unwrap()).1.iter().any(|x| x.0 == KIND_EXCEPTIONS))
        .expect("a generation with an Exceptions section");
    let (header, s) = sections_of(&fs::read(f).unwrap());
    let xs: ExnsImage = codec::decode(&s.iter().find(|x| x.0 == KIND_EXCEPTIONS).unwrap().1).unwrap();
    let n = xs.exns.len() as u32;
    assert!(n >= 1);
    let (code, err, _) = restore_module(d.path(), &wat, &args, &fs::read(f).unwrap(), "unmodified", &[]);
    assert_eq!(code, Some(0), "{err}");
    let with_exns = |x: &ExnsImage| {
        let mut s = s.clone();
        s.iter_mut().find(|x| x.0 == KIND_EXCEPTIONS).unwrap().1 = codec::encode(x).unwrap();
        build_ckpt(&header, &s)
    };
    // exn.wat: global 1 is $held (mut exnref); table 0 the exnref $stash.
    let st = store(&s);
    let mut x = st.clone();
    x.globals[1] = Value::ExnRef(Some(n));
    refused_module(
        d.path(),
        &wat,
        &args,
        &with_store(&header, &s, &x),
        "exnref past the section",
        "does not hold",
    );
    let mut x = st.clone();
    x.tables[0].elems[0] = Value::FuncRef(None);
    refused_module(
        d.path(),
        &wat,
        &args,
        &with_store(&header, &s, &x),
        "funcref in exnref table",
        "a funcref where",
    );
    // The section: a tag the module does not have, a payload of the wrong length or type, an
    // exception naming one the section does not hold.
    let mut x = xs.clone();
    x.exns[0].tag = 99;
    refused_module(d.path(), &wat, &args, &with_exns(&x), "tag 99", "no tag 99");
    let mut x = xs.clone();
    x.exns[0].payload.pop();
    refused_module(d.path(), &wat, &args, &with_exns(&x), "short payload", "payload values");
    let mut x = xs.clone();
    x.exns[0].payload.reverse();
    refused_module(d.path(), &wat, &args, &with_exns(&x), "payload types", "where the code has");
    let mut x = xs.clone();
    x.exns.push(ExnImage { tag: 1, payload: vec![Value::ExnRef(Some(n + 5)), Value::I32(0)] });
    refused_module(d.path(), &wat, &args, &with_exns(&x), "payload exnref", "does not hold");
    // Without the section, the references name nothing.
    let s2: Sections = s.iter().filter(|x| x.0 != KIND_EXCEPTIONS).cloned().collect();
    refused_module(d.path(), &wat, &args, &build_ckpt(&header, &s2), "no section", "does not hold");
}
