//! Crash safety of checkpointing, through the real `chiwawa run` binary.
//!
//! * A crash loop: counter.wasm SIGKILLed at 24 seeded random moments, restarted each time,
//!   ends exactly like an uninterrupted run; at every kill the directory holds only valid
//!   generations (at least one), and the next run resumes from the newest.
//! * Every failpoint of the commit protocol (`CHIWAWA_FAILPOINT`), with and without previous
//!   generations: the process aborts, nothing committed before is lost or changed, the
//!   restart finishes with the reference result.
//! * Damaged generations (header, payload, CRC trailer, truncation, empty, garbage) are
//!   skipped with a warning naming the file; the run resumes from the previous one.
//! * Checkpoints of another module are refused; bad `--restore` files are clean errors.
//!
//! Generations at exact positions are made with the `mid-prune` failpoint (each run commits
//! one generation and aborts: see `make_generations` in tests/wat/harness.rs).
//!
//! Ignored tests document known bugs (run them with `--ignored`): a renamed generation is
//! accepted, a postmortem checkpoint is resumed, a regular-file stderr is truncated on
//! restore (erasing chiwawa's own log), and a restart without the needed `--dir` throws
//! every generation away.
#![cfg(target_os = "linux")]

#[path = "wat/harness.rs"]
mod harness;

use harness::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Every failpoint of a commit, as the crate defines them (a new one is tested automatically).
use chiwawa::checkpoint::dir::FAILPOINTS;

/// counter.wasm for the failpoint and corruption tests: 40000 iterations (a few million
/// instruction units), a line every 1000.
fn counter() -> Guest {
    Guest::counter(40_000, 1_000)
}

/// Checkpoints every 50021 units: the first one comes before the guest's first line, the
/// third after it (both asserted where they matter).
const OPTS: &[&str] = &["--checkpoint-dir", CK, "--every-instructions", "50021"];

/// Names and bytes of everything in a directory (not recursive), but the writer lock (`lock`:
/// the PID of the last run that held it, rewritten by every run).
fn snapshot_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    dir_names(dir)
        .into_iter()
        .filter(|n| n != "lock")
        .map(|n| (n.clone(), fs::read(dir.join(&n)).unwrap_or_default()))
        .collect()
}

fn gen_numbers(dir: &Path) -> Vec<u64> {
    list_gens(dir).iter().map(|g| g.0).collect()
}

/// A root whose ck/ holds generations 1..=count of `counter()` (exact positions).
fn with_generations(count: u64) -> Root {
    let root = Root::with_header();
    make_generations(&root, &root.ck(), &counter(), OPTS, count);
    root
}

/// A fresh copy of `base` (its sandbox, stdout file and checkpoint directory).
fn copy_of(base: &Root) -> Root {
    let r = Root::new();
    fs::remove_dir(r.path().join("sb")).unwrap();
    r.copy_from(base);
    r
}

/// Runs `counter()` to the end without failpoint and checks the reference result; returns
/// the run's stderr.
fn finish(root: &Root, ctx: &str) -> String {
    let f = spawn(root, &counter(), OPTS, &[], Out::File).wait();
    f.assert_no_panic(ctx);
    assert_eq!(f.code(), Some(0), "{ctx}: exit status\n{}", f.stderr);
    assert_equivalent(root, &reference(&counter()), ctx);
    f.stderr
}

#[test]
fn crash_loop_counter() {
    let t0 = Instant::now();
    // About 1.5 s uninterrupted (most of it checkpointing); 24 kills at most 15 ms into a
    // run cover a fraction of that.
    let g = Guest::counter(3_000_000, 10_000);
    let r = reference(&g);
    let root = Root::with_header();
    let root_path = root.path().to_path_buf();
    let root_path = root_path.as_path();
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "50021", "--keep", "3"];
    let mut rng = Rng::for_test("crash_loop_counter");
    let plan = Plan { max_kills: 24, kill_chance: (1, 1), max_delay: Duration::from_millis(15) };
    let mut observed: Vec<(u64, u64)> = Vec::new(); // newest (generation, instructions) at each kill
    let mut observe = |gens: &Gens| {
        // Between kills: only complete, valid generations (at least one), at most keep + 1
        // of them (a crash between commit and prune), newer ones further along.
        // (Two kills in a row between a commit and its pruning leave one more.)
        assert!((1..=6).contains(&gens.len()), "{} generations: {gens:?}", gens.len());
        let ck: Vec<Ckpt> = gens
            .iter()
            .map(|(n, p)| {
                let c = read_ckpt(p).unwrap_or_else(|e| panic!("invalid generation {}: {e}", p.display()));
                assert_eq!(c.generation, *n);
                c
            })
            .collect();
        assert!(ck.windows(2).all(|w| w[0].instructions > w[1].instructions), "{gens:?}");
        // Incremental generations: every page every generation references is in its pack,
        // intact (`inspect` reads and checks each one).
        for m in inspect_json(root_path, CK) {
            assert_eq!(m["valid"], "true", "{m:?}");
        }
        if let Some(&(g, i)) = observed.last() {
            assert!(ck[0].generation >= g && ck[0].instructions >= i, "the newest generation went backwards");
        }
        observed.push((ck[0].generation, ck[0].instructions));
    };
    let d = drive(&root, &g, &opts, &mut rng, &plan, &mut observe);
    assert_eq!(
        d.kills, 24,
        "the guest finished before 24 kills ({} runs, exit {}):\n{}",
        d.runs, d.code, d.stderr
    );
    assert_eq!(d.code, 0);
    assert_equivalent(&root, &r, "crash loop");
    // Each run after a kill resumed from the newest generation seen at that kill (unless it
    // was killed itself before it got to say so).
    for (k, (g, i)) in observed.iter().enumerate() {
        let resumed = resumed_from(&d.run_stderr[k + 1]);
        if let Some(x) = resumed.first() {
            assert_eq!((x.1, x.2), (*g, *i), "run {} resumed from {x:?}", k + 2);
            assert_eq!(x.0, format!("ck/{}", gen_name(*g)));
        } else {
            assert!(k + 1 < d.run_stderr.len() - 1, "the last run did not resume");
        }
    }
    assert!(!d.stderr.contains("skipping checkpoint"), "a generation was damaged:\n{}", d.stderr);
    eprintln!("crash loop: {} runs, {} kills, {:.1?}", d.runs, d.kills, t0.elapsed());
}

#[test]
fn failpoints_with_previous_generations() {
    // Every step of the commit protocol in docs/FORMAT.md §14 has its failpoint.
    assert_eq!(
        FAILPOINTS,
        [
            "pages-mid-write",
            "pages-after-fsync",
            "pages-after-rename",
            "before-write",
            "mid-write",
            "after-write",
            "after-fsync",
            "after-rename",
            "after-dir-fsync",
            "mid-prune",
            "mid-page-prune",
        ]
    );
    let base = with_generations(3);
    let before = snapshot_dir(&base.ck());
    let gen_len = before[&gen_name(3)].len();
    for &fp in FAILPOINTS {
        let root = copy_of(&base);
        let f = spawn(&root, &counter(), OPTS, &[("CHIWAWA_FAILPOINT", fp)], Out::File).wait();
        f.assert_no_panic(fp);
        assert_eq!(f.signal(), Some(SIGABRT), "{fp}: expected an abort: {:?}\n{}", f.status, f.stderr);
        assert!(f.stderr.contains(&format!("failpoint '{fp}' reached")), "{fp}: {}", f.stderr);
        assert_eq!(resumed_from(&f.stderr).first().map(|x| x.1), Some(3), "{fp}: {}", f.stderr);

        // Generation 4 exists once renamed; pruning (keep 3) then removes generation 1.
        let renamed = matches!(fp, "after-rename" | "after-dir-fsync" | "mid-prune" | "mid-page-prune");
        let want: &[u64] = match fp {
            "after-rename" | "after-dir-fsync" => &[4, 3, 2, 1],
            "mid-prune" | "mid-page-prune" => &[4, 3, 2],
            _ => &[3, 2, 1],
        };
        let ck = root.ck();
        assert_eq!(gen_numbers(&ck), want, "{fp}: {:?}", dir_names(&ck));
        for (g, p) in list_gens(&ck) {
            let c = read_ckpt(&p).unwrap_or_else(|e| panic!("{fp}: generation {g} invalid: {e}"));
            if g <= 3 {
                assert!(fs::read(&p).unwrap() == before[&gen_name(g)], "{fp}: generation {g} changed");
            } else {
                assert!(c.instructions > read_ckpt(&ck.join(gen_name(3))).unwrap().instructions);
            }
        }
        // Every generation left is complete: its pages are all in their packs.
        for m in inspect_json(root.path(), CK) {
            assert_eq!(m["valid"], "true", "{fp}: {m:?}");
        }
        // Packs of the generations before the crash are untouched (a pack is never rewritten).
        for (name, bytes) in &before {
            if name.starts_with("pack-") && ck.join(name).exists() {
                assert!(fs::read(ck.join(name)).unwrap() == *bytes, "{fp}: {name} changed");
            }
        }
        let temps = temp_files(&ck);
        match fp {
            "pages-mid-write" | "pages-after-fsync" => {
                assert_eq!(temps.len(), 1, "{fp}: {:?}", dir_names(&ck));
                assert!(temps[0].starts_with(".pack-"), "{fp}: {temps:?}");
            }
            "pages-after-rename" => {
                // The pack of generation 4 is in place, the generation is not: the pack is an
                // orphan that nothing references, replaced by the next commit of generation 4.
                assert!(ck.join("pack-0000000000000004.pages").exists(), "{fp}: {:?}", dir_names(&ck));
                assert!(temps.is_empty(), "{fp}: {temps:?}");
            }
            "mid-write" | "after-write" | "after-fsync" => {
                assert_eq!(temps.len(), 1, "{fp}: {:?}", dir_names(&ck));
                let tmp = fs::read(ck.join(&temps[0])).unwrap();
                if fp == "mid-write" {
                    assert!(tmp.len() < gen_len, "{fp}: temp file of {} bytes is not partial", tmp.len());
                    assert!(parse_ckpt(tmp).is_err());
                } else {
                    assert_eq!(parse_ckpt(tmp).unwrap().generation, 4, "{fp}: complete temp file");
                }
            }
            _ => assert!(temps.is_empty(), "{fp}: {:?}", dir_names(&ck)),
        }

        // The failpoint run printed the first line after generation 3: resuming from 3 must
        // cut it off again, in the stdout file and in out.txt.
        let lines = split_lines(&root.stdout_bytes()).len();
        assert!(lines > 1, "{fp}: the premise: output after generation 3");
        let stderr = finish(&root, fp);
        let resumed = resumed_from(&stderr);
        assert_eq!(resumed.first().map(|x| x.1), Some(if renamed { 4 } else { 3 }), "{fp}: {stderr}");
        if !renamed {
            assert!(stderr.contains("truncating stdout") && stderr.contains("out.txt"), "{fp}: {stderr}");
        }
        assert!(!stderr.contains("skipping"), "{fp}: {stderr}");
    }
}

#[test]
fn failpoints_at_the_first_checkpoint() {
    for &fp in FAILPOINTS {
        let root = Root::with_header();
        let f = spawn(&root, &counter(), OPTS, &[("CHIWAWA_FAILPOINT", fp)], Out::File).wait();
        f.assert_no_panic(fp);
        assert_eq!(f.signal(), Some(SIGABRT), "{fp}: expected an abort: {:?}\n{}", f.status, f.stderr);
        assert!(f.stderr.contains(&format!("failpoint '{fp}' reached")), "{fp}: {}", f.stderr);
        // The premise of an exact result: nothing was printed before the first checkpoint.
        assert_eq!(root.stdout_bytes(), HEADER, "{fp}: output before the first checkpoint");
        let renamed = matches!(fp, "after-rename" | "after-dir-fsync" | "mid-prune" | "mid-page-prune");
        assert_eq!(gen_numbers(&root.ck()), if renamed { vec![1] } else { vec![] }, "{fp}");
        let stderr = finish(&root, fp);
        let resumed = resumed_from(&stderr);
        if renamed {
            assert_eq!(resumed.first().map(|x| x.1), Some(1), "{fp}: {stderr}");
        } else {
            assert!(resumed.is_empty(), "{fp}: {stderr}");
        }
    }
}

/// Damages the newest generation (3) of a copy of `base` with `damage`, restarts, and checks
/// the warning naming `victim` with `reason`, the resume from `from` and the final result.
fn corrupt_case(base: &Root, what: &str, damage: impl Fn(&Path), victims: &[(&str, &str)], from: u64) {
    let root = copy_of(base);
    damage(&root.ck());
    // `chiwawa inspect` agrees: the victims are invalid, the generation resumed from is valid.
    let listed = inspect_json(root.path(), CK);
    for (victim, _) in victims {
        let m = listed.iter().find(|m| m["path"].ends_with(victim));
        let m = m.unwrap_or_else(|| panic!("{what}: inspect does not list {victim}: {listed:?}"));
        assert_eq!(m["valid"], "false", "{what}: inspect calls {victim} valid");
    }
    let m = listed.iter().find(|m| m["path"].ends_with(&gen_name(from))).expect("listed");
    assert_eq!((m["valid"].as_str(), m["generation"].parse::<u64>().unwrap()), ("true", from), "{what}");
    let stderr = finish(&root, what);
    for (victim, reason) in victims {
        let line = stderr.lines().find(|l| l.contains("skipping checkpoint") && l.contains(victim));
        let line = line.unwrap_or_else(|| panic!("{what}: no warning about {victim}:\n{stderr}"));
        assert!(line.contains("WARN"), "{what}: {line}");
        assert!(line.contains(reason), "{what}: warning {line:?} should say {reason:?}");
    }
    let resumed = resumed_from(&stderr);
    assert_eq!(
        resumed.first().map(|x| (x.0.clone(), x.1)),
        Some((format!("ck/{}", gen_name(from)), from)),
        "{what}"
    );
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = fs::read(path).unwrap();
    f(&mut b);
    fs::write(path, b).unwrap();
}

#[test]
fn damaged_generations_fall_back_to_the_previous_one() {
    let base = with_generations(3);
    let g3 = read_ckpt(&base.ck().join(gen_name(3))).unwrap();
    let newest = |ck: &Path| ck.join(gen_name(3));
    let n3 = gen_name(3);
    let mem = g3.section(KIND_PAGES).expect("a Pages section").clone();
    let mem_index = g3.sections.iter().position(|s| s.kind == KIND_PAGES).unwrap();
    let machine_index = g3.sections.iter().position(|s| s.kind == KIND_MACHINE).unwrap();
    let machine = g3.section(KIND_MACHINE).unwrap().clone();
    let end_start = g3.sections.last().map(|s| s.crc_at() + 4).unwrap();

    corrupt_case(
        &base,
        "header byte",
        |ck| edit(&newest(ck), |b| b[20] ^= 0x10),
        &[(&n3, "CRC mismatch in header")],
        2,
    );
    corrupt_case(
        &base,
        "page manifest byte",
        |ck| edit(&newest(ck), |b| b[mem.payload.start + 28 + 30] ^= 1),
        &[(&n3, &format!("CRC mismatch in section {mem_index} (Pages)"))],
        2,
    );
    corrupt_case(
        &base,
        "CRC trailer byte",
        |ck| edit(&newest(ck), |b| b[machine.crc_at() + 2] ^= 0x80),
        &[(&n3, &format!("CRC mismatch in section {machine_index}"))],
        2,
    );
    corrupt_case(
        &base,
        "truncated to half",
        |ck| edit(&newest(ck), |b| b.truncate(b.len() / 2)),
        &[(&n3, "truncated")],
        2,
    );
    corrupt_case(
        &base,
        "end section cut off",
        |ck| edit(&newest(ck), |b| b.truncate(end_start)),
        &[(&n3, "missing end section")],
        2,
    );
    corrupt_case(&base, "empty file", |ck| fs::write(newest(ck), b"").unwrap(), &[(&n3, "empty file")], 2);
    // A garbage file with a newer generation name.
    let n255 = gen_name(255);
    corrupt_case(
        &base,
        "garbage named like a generation",
        |ck| {
            let mut rng = Rng::for_test("garbage generation");
            let junk: Vec<u8> = (0..70_000).map(|_| rng.next_u64() as u8).collect();
            fs::write(ck.join(gen_name(255)), junk).unwrap();
        },
        &[(&n255, "bad magic")],
        3,
    );
    // Two damaged: falls back two generations.
    let n2 = gen_name(2);
    corrupt_case(
        &base,
        "two newest damaged",
        |ck| {
            fs::write(newest(ck), b"").unwrap();
            edit(&ck.join(gen_name(2)), |b| b.truncate(b.len() - 1));
        },
        &[(&n3, "empty file"), (&n2, "truncated")],
        1,
    );
}

/// Issue 12: generations exist but none is usable → the run refuses (listing each file and
/// why, exit 1, nothing touched: no roll-back, no new output, the generations kept); with
/// `--fresh` it starts from the beginning.
#[test]
fn all_generations_damaged_refuses_unless_fresh() {
    let root = with_generations(2);
    while root.stdout_bytes() == HEADER {
        assert!(list_gens(&root.ck()).len() < 12, "counter.wasm printed nothing");
        make_generations(&root, &root.ck(), &counter(), OPTS, 1);
    }
    for (g, p) in list_gens(&root.ck()) {
        edit(&p, |b| b[HEADER_LEN + 30] ^= g as u8);
    }
    let stdout_before = root.stdout_bytes();
    let files_before = root.sandbox_files();
    let ck_before = snapshot_dir(&root.ck());
    assert!(stdout_before.len() > HEADER.len(), "the premise: output before the crash");
    let f = spawn(&root, &counter(), OPTS, &[], Out::File).wait();
    f.assert_no_panic("all damaged");
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert!(f.stderr.contains("no usable checkpoint") && f.stderr.contains("--fresh"), "{}", f.stderr);
    for (_, p) in list_gens(&root.ck()) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(f.stderr.lines().any(|l| l.contains(&name) && l.contains("CRC")), "{name}: {}", f.stderr);
    }
    assert!(resumed_from(&f.stderr).is_empty(), "{}", f.stderr);
    assert_bytes_eq(&root.stdout_bytes(), &stdout_before, "stdout untouched");
    assert_eq!(root.sandbox_files(), files_before, "sandbox untouched");
    assert_eq!(snapshot_dir(&root.ck()), ck_before, "checkpoint dir untouched");
    // --fresh: nothing to restore, so nothing is rolled back: what the runs printed so far
    // stays and the new run prints everything again.
    let out_before = files_before["out.txt"].clone();
    let opts: Vec<&str> = OPTS.iter().copied().chain(["--fresh"]).collect();
    let f = spawn(&root, &counter(), &opts, &[], Out::File).wait();
    f.assert_no_panic("all damaged, --fresh");
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    let r = reference(&counter());
    assert_bytes_eq(&root.stdout_bytes(), &[stdout_before, r.stdout.clone()].concat(), "stdout");
    assert_bytes_eq(
        &root.sandbox_files()["out.txt"],
        &[out_before, r.files["out.txt"].clone()].concat(),
        "out.txt",
    );
    assert_eq!(dir_names(&root.ck()), Vec::<String>::new());
}

/// docs/FORMAT.md §11: "The header's generation field MUST equal the number in the name; a
/// file whose header disagrees (e.g. renamed by hand) is rejected."
#[test]
fn renamed_generation_is_rejected() {
    let base = with_generations(3);
    let root = copy_of(&base);
    fs::copy(root.ck().join(gen_name(1)), root.ck().join(gen_name(9))).unwrap();
    let stderr = finish(&root, "renamed generation");
    let n9 = gen_name(9);
    assert!(stderr.lines().any(|l| l.contains("skipping checkpoint") && l.contains(&n9)), "{stderr}");
    assert_eq!(resumed_from(&stderr).first().map(|x| x.1), Some(3), "{stderr}");
}

#[test]
fn checkpoints_of_another_module_are_refused() {
    let root = with_generations(2);
    let before = snapshot_dir(&root.ck());
    let stdout_before = root.stdout_bytes();
    let b = Guest::wat("rec", &[]);
    let f = spawn(&root, &b, OPTS, &[], Out::File).wait();
    f.assert_no_panic("another module");
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    let err = f.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{}", f.stderr));
    assert!(err.contains("another module") && err.contains("--fresh"), "{err}");
    assert_eq!(snapshot_dir(&root.ck()), before, "the other module's checkpoints were touched");
    assert_eq!(root.stdout_bytes(), stdout_before, "the refused guest ran");

    // --fresh starts the other module over.
    let f = spawn(&root, &b, &[OPTS, &["--fresh"]].concat(), &[], Out::File).wait();
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    let r = reference(&b);
    assert_bytes_eq(&root.stdout_bytes(), &[stdout_before, r.stdout.clone()].concat(), "--fresh");
    // And --restore of a file of the first module is refused the same way.
    let g1 = root.path().join("a.ckpt");
    fs::write(&g1, &before[&gen_name(1)]).unwrap();
    let f = spawn(&root, &b, &["--restore", "a.ckpt"], &[], Out::File).wait();
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert!(
        f.stderr.contains("error: cannot restore from a.ckpt") && f.stderr.contains("another module"),
        "{}",
        f.stderr
    );
}

/// A checkpoint's sections as (kind, payload), for rebuilding variants with `build_ckpt`.
type Sections = Vec<(u32, Vec<u8>)>;

/// `--restore FILE` with FILE as given: exit 1, an `error:` line naming the file, no panic,
/// and the guest never ran.
fn assert_restore_refused(root: &Root, file: &str, what: &str, reason: &str) {
    let before = root.stdout_bytes();
    let f = spawn(root, &counter(), &["--restore", file, "--checkpoint-dir", "ck2"], &[], Out::File).wait();
    f.assert_no_panic(what);
    assert_eq!(f.code(), Some(1), "{what}: {:?}\n{}", f.status, f.stderr);
    let err = f.stderr.lines().find(|l| l.starts_with("error:"));
    let err = err.unwrap_or_else(|| panic!("{what}: no error line:\n{}", f.stderr));
    assert!(err.contains(&format!("cannot restore from {file}")), "{what}: {err}");
    assert!(err.contains(reason), "{what}: {err:?} should contain {reason:?}");
    assert_eq!(root.stdout_bytes(), before, "{what}: the guest ran");
}

#[test]
fn bad_restore_files_are_clean_errors() {
    // Self-contained generations: the crafted variants are written outside the directory.
    let root = Root::with_header();
    let opts: Vec<&str> = OPTS.iter().copied().chain(["--self-contained"]).collect();
    make_generations(&root, &root.ck(), &counter(), &opts, 1);
    let good = fs::read(root.ck().join(gen_name(1))).unwrap();
    let c = parse_ckpt(good.clone()).unwrap();
    let write = |name: &str, bytes: &[u8]| fs::write(root.path().join(name), bytes).unwrap();

    assert_restore_refused(&root, "missing.ckpt", "missing file", "cannot read");
    assert_restore_refused(&root, "sb", "a directory", "cannot read");
    write("empty.ckpt", b"");
    assert_restore_refused(&root, "empty.ckpt", "empty", "empty file");
    let mut rng = Rng::for_test("bad_restore_files_are_clean_errors");
    let garbage: Vec<u8> = (0..5000).map(|_| rng.next_u64() as u8).collect();
    write("garbage.ckpt", &garbage);
    assert_restore_refused(&root, "garbage.ckpt", "garbage", "bad magic");
    write("magic.ckpt", &[&MAGIC[..], &garbage].concat());
    assert_restore_refused(&root, "magic.ckpt", "magic + garbage", "");
    for cut in [
        1,
        7,
        8,
        11,
        12,
        100,
        151,
        152,
        160,
        c.sections[1].start,
        good.len() / 2,
        good.len() - 29,
        good.len() - 1,
    ] {
        write("cut.ckpt", &good[..cut]);
        assert_restore_refused(&root, "cut.ckpt", &format!("truncated to {cut} bytes"), "");
    }
    let mut v3 = good.clone();
    v3[8] = 3;
    write("v3.ckpt", &v3);
    assert_restore_refused(&root, "v3.ckpt", "format version 3", "version");
    write("long.ckpt", &[&good[..], b"x"].concat());
    assert_restore_refused(&root, "long.ckpt", "trailing byte", "after the end section");

    // Structurally valid containers (all CRCs right) with payloads that are not.
    let header = &good[..HEADER_LEN];
    let sections: Sections = c.sections.iter().map(|s| (s.kind, c.payload(s).to_vec())).collect();
    let with = |f: &dyn Fn(&mut Sections)| {
        let mut s = sections.clone();
        f(&mut s);
        build_ckpt(header, &s)
    };
    let payload = |s: &mut Sections, kind: u32| -> usize { s.iter().position(|x| x.0 == kind).unwrap() };
    let mut cases: Vec<(String, Vec<u8>, &str)> = vec![
        ("rebuilt unchanged".into(), build_ckpt(header, &sections), "SENTINEL"),
        ("no Machine section".into(), with(&|s| s.retain(|x| x.0 != KIND_MACHINE)), "Machine"),
        ("no Store section".into(), with(&|s| s.retain(|x| x.0 != KIND_STORE)), "Store"),
        ("no Wasi section".into(), with(&|s| s.retain(|x| x.0 != KIND_WASI)), "Wasi"),
        ("no Memory section".into(), with(&|s| s.retain(|x| x.0 != KIND_MEMORY)), "memor"),
        ("unknown section kind".into(), with(&|s| s.push((77, vec![1, 2, 3]))), "unknown section kind 77"),
        (
            "another module (hash)".into(),
            {
                let mut h = header.to_vec();
                h[16] ^= 1;
                build_ckpt(&h, &sections)
            },
            "another module",
        ),
    ];
    // (Meta is informational and ignored by the restorer, so a bad Meta payload is no error.)
    for kind in [KIND_MACHINE, KIND_STORE, KIND_WASI, KIND_MEMORY, KIND_CLOCK] {
        if !sections.iter().any(|s| s.0 == kind) {
            continue;
        }
        cases.push((
            format!("kind {kind}: one byte short"),
            with(&|s| {
                let i = payload(s, kind);
                s[i].1.pop();
            }),
            "",
        ));
        cases.push((
            format!("kind {kind}: one byte more"),
            with(&|s| {
                let i = payload(s, kind);
                s[i].1.push(0);
            }),
            "",
        ));
        cases.push((
            format!("kind {kind}: empty"),
            with(&|s| {
                let i = payload(s, kind);
                s[i].1.clear();
            }),
            "",
        ));
        // (A Clock payload is one u64: any 8 bytes are a valid reading.)
        for len in [1usize, 8, 64].into_iter().filter(|&l| kind != KIND_CLOCK || l != 8) {
            let junk: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            cases.push((
                format!("kind {kind}: {len} random bytes"),
                with(&|s| {
                    let i = payload(s, kind);
                    s[i].1 = junk.clone();
                }),
                "",
            ));
        }
        // The first 16 bytes (version and length prefixes) set to 0xff.
        if kind == KIND_CLOCK {
            continue;
        }
        cases.push((
            format!("kind {kind}: 0xff prefix"),
            with(&|s| {
                let i = payload(s, kind);
                for b in s[i].1.iter_mut().take(16) {
                    *b = 0xff;
                }
            }),
            "",
        ));
    }
    // Machine payload (docs/FORMAT.md §10, version 2; entry = Command): phase u32 @0 |
    // started u8 @4 | entry u32 @5 | executed u64 @9 | frames: u64 count @17, then frame 0:
    // func u32 @25 | offset u32 @29 | at u32 @33 | locals: u64 count @37 + values | stack …
    let m = |f: fn(&mut Vec<u8>)| {
        with(&|s| {
            let i = payload(s, KIND_MACHINE);
            f(&mut s[i].1)
        })
    };
    cases.extend([
        ("Machine: phase 7".to_string(), m(|p| p[0] = 7), ""),
        ("Machine: phase Start without a start function".into(), m(|p| p[0..4].fill(0)), "start function"),
        ("Machine: started = 2".into(), m(|p| p[4] = 2), ""),
        ("Machine: entry 9".into(), m(|p| p[5] = 9), ""),
        ("Machine: frame count huge".into(), m(|p| p[17..25].copy_from_slice(&u64::MAX.to_le_bytes())), ""),
        (
            "Machine: frame count 0 while started".into(),
            m(|p| {
                p.truncate(25);
                p[17..25].fill(0);
            }),
            "without frames",
        ),
        (
            "Machine: frame function out of range".into(),
            m(|p| p[25..29].copy_from_slice(&u32::MAX.to_le_bytes())),
            "no such function",
        ),
        (
            "Machine: frame offset out of range".into(),
            m(|p| p[29..33].copy_from_slice(&u32::MAX.to_le_bytes())),
            "the function has no",
        ),
        ("Machine: frame position kind 7".into(), m(|p| p[33] = 7), ""),
        (
            "Machine: frame locals count huge".into(),
            m(|p| p[37..45].copy_from_slice(&u64::MAX.to_le_bytes())),
            "",
        ),
        (
            "Machine: a local's value variant 9".into(),
            m(|p| {
                let n = u64::from_le_bytes(p[37..45].try_into().unwrap());
                if n > 0 {
                    p[45] = 9;
                } else {
                    p[37] = 1; // a local the function does not have
                }
            }),
            "",
        ),
        (
            // The payloads are version 2: read as version 1 they do not decode.
            "a version-2 file labelled version 1".into(),
            {
                let mut h = header.to_vec();
                h[8] = 1;
                let crc = crc32(&h[..148]);
                h[148..152].copy_from_slice(&crc.to_le_bytes());
                build_ckpt(&h, &sections)
            },
            "",
        ),
    ]);
    for (i, (what, bytes, reason)) in cases.iter().enumerate() {
        if *reason == "SENTINEL" {
            // The rebuilt container is byte-identical: the builder is right.
            assert!(*bytes == good, "build_ckpt does not reproduce the file");
            continue;
        }
        let name = format!("case{i}.ckpt");
        write(&name, bytes);
        assert_restore_refused(&root, &name, what, reason);
    }
}

/// When stderr is a regular file kept across restarts (`2>> app.log`), it is rolled back with
/// the guest like a regular-file stdout: what was written after the checkpoint — chiwawa's
/// messages of the killed run included — goes. The restarting run's own messages (the damaged
/// generation it skipped, the one it resumed from) are written after the rollback and stay.
#[test]
fn stderr_log_file_is_rolled_back_and_keeps_the_restart_messages() {
    let root = Root::with_header();
    let log = root.path().join("app.log");
    fs::write(&log, b"").unwrap();
    let run = |failpoint: Option<&str>| {
        let mut c = command(&root, &counter(), OPTS, &[]);
        if let Some(fp) = failpoint {
            c.env("CHIWAWA_FAILPOINT", fp);
        }
        c.stdout(fs::OpenOptions::new().append(true).open(root.stdout_path()).unwrap());
        c.stderr(fs::OpenOptions::new().append(true).open(&log).unwrap());
        c.status().unwrap()
    };
    // Two runs that each commit one generation and abort, then a damaged generation 2.
    run(Some("mid-prune"));
    run(Some("mid-prune"));
    assert_eq!(gen_numbers(&root.ck()), [2, 1]);
    fs::write(root.ck().join(gen_name(2)), b"").unwrap();
    assert_eq!(run(None).code(), Some(0));
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("failpoint 'mid-prune' reached").count(), 0, "not rolled back:\n{text}");
    assert!(text.contains("skipping checkpoint ck/gen-0000000000000002.ckpt"), "log:\n{text}");
    assert!(text.contains("resuming from ck/gen-0000000000000001.ckpt"), "log:\n{text}");
}

/// With `--log-file`, chiwawa's messages go to their own file and none is lost to a rollback.
#[test]
fn log_file_keeps_every_chiwawa_message() {
    let root = Root::with_header();
    let chiwawa_log = root.path().join("chiwawa.log");
    let log_opt = chiwawa_log.to_str().unwrap().to_string();
    let opts: Vec<&str> = OPTS.iter().copied().chain(["--log-file", log_opt.as_str()]).collect();
    let run = |failpoint: Option<&str>| {
        let mut c = command(&root, &counter(), &opts, &[]);
        if let Some(fp) = failpoint {
            c.env("CHIWAWA_FAILPOINT", fp);
        }
        c.stdout(fs::OpenOptions::new().append(true).open(root.stdout_path()).unwrap());
        c.stderr(Stdio::null());
        c.status().unwrap()
    };
    run(Some("mid-prune"));
    run(Some("mid-prune"));
    fs::write(root.ck().join(gen_name(2)), b"").unwrap();
    assert_eq!(run(None).code(), Some(0));
    let text = fs::read_to_string(&chiwawa_log).unwrap();
    assert_eq!(text.matches("failpoint 'mid-prune' reached").count(), 2, "log:\n{text}");
    assert!(text.contains("skipping checkpoint ck/gen-0000000000000002.ckpt"), "log:\n{text}");
    assert!(text.contains("resuming from ck/gen-0000000000000001.ckpt"), "log:\n{text}");
}

/// docs/FORMAT.md §4: a postmortem checkpoint (flags bit 0: the final state of a guest that
/// trapped or exited) is for inspection; "a reader that restores a guest SHOULD refuse a
/// postmortem checkpoint unless asked explicitly".
#[test]
fn postmortem_checkpoint_is_not_resumed() {
    let root = with_generations(1);
    let good = fs::read(root.ck().join(gen_name(1))).unwrap();
    let c = parse_ckpt(good.clone()).unwrap();
    let mut header = good[..HEADER_LEN].to_vec();
    header[12] = 1;
    let sections: Sections = c.sections.iter().map(|s| (s.kind, c.payload(s).to_vec())).collect();
    fs::write(root.path().join("pm.ckpt"), build_ckpt(&header, &sections)).unwrap();
    assert_restore_refused(&root, "pm.ckpt", "postmortem checkpoint", "postmortem");
}

/// A restart with a configuration the checkpoints cannot be restored into (here: the
/// `--dir` that the guest's open out.txt lives in is missing) must not throw the work away.
/// Today every generation is skipped like a damaged file, the guest starts over without
/// its directory, fails, and as it "finished" its generations are deleted.
#[test]
fn restart_without_its_preopen_keeps_the_generations() {
    let root = with_generations(3);
    let before = snapshot_dir(&root.ck());
    let stdout_before = root.stdout_bytes();
    // The same command without `--dir sb::/sb`.
    let mut g = counter();
    g.sandbox = false;
    let f = spawn(&root, &g, OPTS, &[], Out::File).wait();
    f.assert_no_panic("missing --dir");
    assert_eq!(snapshot_dir(&root.ck()), before, "generations lost:\n{}", f.stderr);
    assert_eq!(root.stdout_bytes(), stdout_before, "the guest started over:\n{}", f.stderr);
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert!(f.stderr.lines().any(|l| l.starts_with("error:") && l.contains("--dir")), "{}", f.stderr);
    // With the directory back, the run resumes and finishes as if nothing happened.
    let stderr = finish(&root, "--dir restored");
    assert_eq!(resumed_from(&stderr).first().map(|x| x.1), Some(3), "{stderr}");
}

/// Issue 18 (one writer per checkpoint directory): while one run holds the directory, a
/// second refuses at once naming the holder's PID and writes nothing; with `--wait-lock` it
/// waits, and once the holder is killed it takes over from the holder's newest generation
/// and finishes like an uninterrupted run.
#[test]
fn second_run_on_a_checkpoint_dir_refuses_or_waits() {
    let g = Guest::counter(6_000_000, 10_000);
    let r = reference(&g);
    let root = Root::with_header();
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "50021", "--keep", "3"];
    let first = spawn(&root, &g, &opts, &[], Out::File);
    // wait until it has committed a generation (it holds the lock from its start)
    let t0 = Instant::now();
    while list_gens(&root.ck()).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no generation: {}", first.stderr_now());
        std::thread::sleep(Duration::from_millis(2));
    }
    let stdout_before = root.stdout_bytes();
    let second = spawn(&root, &g, &opts, &[], Out::Pipe).wait();
    second.assert_no_panic("second run");
    assert_eq!(second.code(), Some(1), "{}", second.stderr);
    let err = second.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_string();
    assert!(
        err.contains("in use by another chiwawa run") && err.contains(&format!("pid {}", first.pid())),
        "{err}"
    );
    assert!(err.contains("--wait-lock"), "{err}");
    assert!(second.stdout.is_empty(), "the second run ran the guest");
    assert!(root.stdout_bytes().starts_with(&stdout_before));
    // --wait-lock: waits while the holder runs, takes over when it dies
    let wait_opts: Vec<&str> = opts.iter().copied().chain(["--wait-lock"]).collect();
    let mut waiter = spawn(&root, &g, &wait_opts, &[("RUST_LOG", "chiwawa=info")], Out::File);
    let t0 = Instant::now();
    while !waiter.stderr_now().contains("waiting for") {
        assert!(waiter.exited().is_none(), "the waiter did not wait: {}", waiter.stderr_now());
        assert!(t0.elapsed() < Duration::from_secs(60), "{}", waiter.stderr_now());
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(waiter.stderr_now().contains(&format!("pid {}", first.pid())), "{}", waiter.stderr_now());
    let killed = first.kill();
    assert!(killed.killed, "the holder finished before it was killed: make the guest longer");
    let w = waiter.wait();
    w.assert_no_panic("waiter");
    assert_eq!(w.code(), Some(0), "{}", w.stderr);
    assert!(!resumed_from(&w.stderr).is_empty(), "the waiter did not resume: {}", w.stderr);
    assert_equivalent(&root, &r, "after --wait-lock");
    assert_eq!(dir_names(&root.ck()), Vec::<String>::new(), "a finished run leaves nothing behind");
}
