//! Incremental generations through the real `chiwawa run` binary (docs/FORMAT.md, "Incremental
//! generations"): only changed pages are written; every generation stays restorable on its own;
//! a crash loop over them ends exactly like an uninterrupted run; a damaged or missing page is
//! detected and the run falls back to the newest generation that does not need it; pruning
//! reclaims every pack no kept generation references; `chiwawa export` and `--restore` of a
//! generation file; `--self-contained` keeps the one-file layout.
#![cfg(target_os = "linux")]

#[path = "wat/harness.rs"]
mod harness;

use harness::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// 16 MiB, every page non-zero; 240 rounds each rewriting a word in 3 random pages.
fn guest() -> Guest {
    Guest::wat("dirty", &["16", "240", "3"])
}

/// A round is ~45k instruction units: a generation every ~3 rounds.
const OPTS: &[&str] = &["--checkpoint-dir", CK, "--every-instructions", "150001", "--keep", "4"];

/// One manifest entry of a `Pages` section: (page, pack, slot, fingerprint).
type Entry = (u64, u64, u64, u128);

/// The entries of every `Pages` section of a generation file (docs/FORMAT.md byte layout).
fn manifest(path: &Path) -> Vec<Entry> {
    let c = read_ckpt(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for s in c.sections.iter().filter(|s| s.kind == KIND_PAGES) {
        let p = c.payload(s);
        let n = u64::from_le_bytes(p[20..28].try_into().unwrap()) as usize;
        assert_eq!(p.len(), 28 + 40 * n, "{}: manifest length", path.display());
        for e in p[28..].chunks_exact(40) {
            let u = |i: usize| u64::from_le_bytes(e[i..i + 8].try_into().unwrap());
            out.push((u(0), u(8), u(16), u128::from_le_bytes(e[24..40].try_into().unwrap())));
        }
    }
    out
}

fn pack_name(g: u64) -> String {
    format!("pack-{g:016x}.pages")
}

/// Byte offset of a slot in a pack (80-byte header, then 64 KiB pages).
fn slot_offset(slot: u64) -> usize {
    80 + slot as usize * 65536
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = fs::read(path).unwrap();
    f(&mut b);
    fs::write(path, b).unwrap();
}

fn run_to_end(root: &Root, opts: &[&str]) -> Finished {
    let f = spawn(root, &guest(), opts, &[], Out::File).wait();
    f.assert_no_panic("run");
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    f
}

#[test]
fn only_changed_pages_are_written() {
    let g = guest();
    let r = reference(&g);
    let root = Root::with_header();
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "150001", "--keep", "1000", "--keep-on-exit"];
    run_to_end(&root, &opts);
    assert_bytes_eq(&root.stdout_bytes(), &[HEADER, &r.stdout].concat(), "uninterrupted incremental run");
    let archive = root.ck().join(&dir_names(&root.ck())[0]);
    let listed = inspect_json(root.path(), archive.to_str().unwrap());
    let mut rows: Vec<(u64, u64, u64, bool)> = listed
        .iter()
        .map(|m| {
            let n = |k: &str| m[k].parse::<u64>().unwrap();
            (n("generation"), n("pages_written"), n("pages_referenced"), m["valid"] == "true")
        })
        .collect();
    rows.sort();
    assert!(rows.len() >= 50, "{} generations", rows.len());
    assert!(rows.iter().all(|r| r.3), "every generation verifies: {rows:?}");
    // The first generation writes every page (16 MiB = 256 pages, all non-zero).
    assert_eq!((rows[0].1, rows[0].2), (256, 256), "{rows:?}");
    // Later ones ~3 rounds of 3 pages each, and the guest's stack/data page: never more than
    // 10% of the memory, except the generations that compact a pack that became mostly
    // garbage (at most a handful).
    let big = rows[1..].iter().filter(|r| r.1 > 26).count();
    assert!(big <= 6, "{big} large incremental generations: {rows:?}");
    let written: u64 = rows.iter().map(|r| r.1).sum();
    let full: u64 = rows.iter().map(|r| r.2).sum();
    assert!(written * 4 < full, "written {written} of {full} page references");
    // Exactly one pack per generation that wrote pages; the packs hold exactly what was written.
    let pack_files = packs(&archive);
    let writers: Vec<String> = rows.iter().filter(|r| r.1 > 0).map(|r| pack_name(r.0)).collect();
    assert_eq!(pack_files, writers);
    let pack_bytes: u64 = pack_files.iter().map(|p| fs::metadata(archive.join(p)).unwrap().len()).sum();
    assert_eq!(pack_bytes, written * 65536 + 80 * pack_files.len() as u64);
}

/// Drives `g` with `opts` and `env` through a crash loop (kills after up to `max_delay`):
/// whatever the moment of each kill (hashing, writing a pack, committing, pruning), every
/// generation on disk verifies with all of its pages, and the run ends like an uninterrupted
/// one. Returns the runs' stderr.
fn crash_loop(
    test: &str,
    g: &Guest,
    opts: &[&str],
    env: &[(&str, &str)],
    kills: usize,
    max_delay: Duration,
) -> String {
    let r = reference(g);
    let root = Root::with_header();
    let root_path = root.path().to_path_buf();
    let mut rng = Rng::for_test(test);
    let plan = Plan { max_kills: kills, kill_chance: (1, 1), max_delay };
    let mut checks = 0;
    let mut observe = |gens: &Gens| {
        assert!(!gens.is_empty());
        for m in inspect_json(&root_path, CK) {
            assert_eq!(m["valid"], "true", "{m:?}");
        }
        checks += 1;
    };
    let d = drive_with_env(&root, g, opts, env, &mut rng, &plan, &mut observe);
    assert_eq!(d.code, 0);
    assert!(d.kills >= kills / 2, "only {} kills", d.kills);
    assert!(checks >= kills / 2, "only {checks} directory checks");
    assert!(!d.stderr.contains("skipping checkpoint"), "a generation was damaged:\n{}", d.stderr);
    assert_equivalent(&root, &r, test);
    d.stderr
}

#[test]
fn crash_loop_with_incremental_generations() {
    let test = "crash_loop_with_incremental_generations";
    crash_loop(test, &guest(), OPTS, &[], 16, Duration::from_millis(40));
}

/// Wall-clock generations of an incremental run are written by a thread while the guest runs
/// on (page-protection write tracking decides what to fingerprint): killed at random moments —
/// while a generation is copied out, written, fsynced, renamed, pruned — every generation on
/// disk verifies, the resumed runs end exactly like an uninterrupted one, and the write tracker
/// (checked against a full fingerprint pass at every generation) never missed a write.
#[test]
fn crash_loop_with_background_generations() {
    background_crash_loop(
        "crash_loop_with_background_generations",
        &Guest::wat("dirty", &["16", "30000", "3"]),
    );
}

/// The same with three memories (multi-memory, Wasm 3.0), two of them growing: the write
/// tracker follows every memory.
#[test]
fn crash_loop_with_background_generations_of_three_memories() {
    let test = "crash_loop_with_background_generations_of_three_memories";
    background_crash_loop(test, &Guest::wat("multimem", &["10", "1200000"]));
}

fn background_crash_loop(test: &str, g: &Guest) {
    let opts = ["--checkpoint-dir", CK, "--every", "25ms", "--keep", "3"];
    let env = [("CHIWAWA_DIRTY_VERIFY", "1"), ("RUST_LOG", "chiwawa=debug")];
    let stderr = crash_loop(test, g, &opts, &env, 12, Duration::from_millis(300));
    assert!(!stderr.contains("missed a write"), "the write tracker missed a write:\n{stderr}");
    assert!(!stderr.contains("checkpoint failed"), "{stderr}");
    let background = stderr.matches("written in the background").count();
    assert!(background >= 10, "only {background} generations were written in the background");
    assert!(
        stderr.contains("incremental generations: page-protection write tracking")
            || stderr.contains("incremental generations: soft-dirty"),
        "no write tracking:\n{stderr}"
    );
}

/// Four generations at exact positions (each run commits one and aborts after pruning).
fn four_generations() -> Root {
    let root = Root::with_header();
    make_generations(&root, &root.ck(), &guest(), OPTS, 4);
    root
}

#[test]
fn damaged_pages_fall_back_to_a_generation_that_does_not_need_them() {
    let base = four_generations();
    let ck = base.ck();
    let m: BTreeMap<u64, Vec<Entry>> = (1..=4).map(|g| (g, manifest(&ck.join(gen_name(g))))).collect();
    let uses = |g: u64, pack: u64, slot: u64| m[&g].iter().any(|e| e.1 == pack && e.2 == slot);
    // A page generation 2 wrote that 3 and 4 still reference: shared by 2, 3 and 4, not 1.
    let shared = m[&2]
        .iter()
        .find(|e| e.1 == 2 && uses(3, 2, e.2) && uses(4, 2, e.2))
        .copied()
        .expect("a page written by generation 2 and unchanged since");
    assert!(!uses(1, 2, shared.2));
    let reference = reference(&guest());

    // 1. A flipped bit in that page: generations 4, 3 and 2 fail; resume from 1.
    let root = Root::new();
    fs::remove_dir(root.path().join("sb")).unwrap();
    root.copy_from(&base);
    edit(&root.ck().join(pack_name(2)), |b| b[slot_offset(shared.2) + 777] ^= 0x20);
    let listed = inspect_json(root.path(), CK);
    let valid: BTreeMap<u64, bool> =
        listed.iter().map(|m| (m["generation"].parse().unwrap(), m["valid"] == "true")).collect();
    assert_eq!(valid, BTreeMap::from([(1, true), (2, false), (3, false), (4, false)]));
    let f = run_to_end(&root, OPTS);
    for g in 2..=4 {
        let line = f.stderr.lines().find(|l| l.contains("skipping checkpoint") && l.contains(&gen_name(g)));
        let line = line.unwrap_or_else(|| panic!("no warning about generation {g}:\n{}", f.stderr));
        assert!(line.contains("damaged") && line.contains(&pack_name(2)), "{line}");
    }
    assert_eq!(resumed_from(&f.stderr).first().map(|x| x.1), Some(1), "{}", f.stderr);
    assert_equivalent(&root, &reference, "shared page damaged");

    // 2. The pack of generation 2 deleted: the same fallback, with its own message.
    let root = Root::new();
    fs::remove_dir(root.path().join("sb")).unwrap();
    root.copy_from(&base);
    fs::remove_file(root.ck().join(pack_name(2))).unwrap();
    let f = run_to_end(&root, OPTS);
    assert!(f.stderr.contains("cannot open its page pack"), "{}", f.stderr);
    assert_eq!(resumed_from(&f.stderr).first().map(|x| x.1), Some(1), "{}", f.stderr);
    assert_equivalent(&root, &reference, "pack deleted");

    // 3. The pack of generation 2 truncated.
    let root = Root::new();
    fs::remove_dir(root.path().join("sb")).unwrap();
    root.copy_from(&base);
    edit(&root.ck().join(pack_name(2)), |b| b.truncate(b.len() - 1));
    let f = run_to_end(&root, OPTS);
    assert!(f.stderr.contains("truncated"), "{}", f.stderr);
    assert_eq!(resumed_from(&f.stderr).first().map(|x| x.1), Some(1), "{}", f.stderr);
    assert_equivalent(&root, &reference, "pack truncated");

    // 4. A page every generation needs (generation 1's pack, unchanged by all later ones):
    // nothing is usable; the run refuses and changes nothing.
    let everywhere = m[&1]
        .iter()
        .find(|e| e.1 == 1 && (2..=4).all(|g| uses(g, 1, e.2)))
        .copied()
        .expect("a page of generation 1 referenced by all");
    let root = Root::new();
    fs::remove_dir(root.path().join("sb")).unwrap();
    root.copy_from(&base);
    edit(&root.ck().join(pack_name(1)), |b| b[slot_offset(everywhere.2) + 5] ^= 1);
    let before: BTreeMap<String, Vec<u8>> = dir_names(&root.ck())
        .into_iter()
        .filter(|n| n != "lock")
        .map(|n| (n.clone(), fs::read(root.ck().join(n)).unwrap()))
        .collect();
    let stdout = root.stdout_bytes();
    let f = spawn(&root, &guest(), OPTS, &[], Out::File).wait();
    f.assert_no_panic("all damaged");
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert!(f.stderr.contains("no usable checkpoint") && f.stderr.contains("damaged"), "{}", f.stderr);
    let after: BTreeMap<String, Vec<u8>> = dir_names(&root.ck())
        .into_iter()
        .filter(|n| n != "lock")
        .map(|n| (n.clone(), fs::read(root.ck().join(n)).unwrap()))
        .collect();
    assert!(before == after, "the checkpoint directory changed");
    assert_eq!(root.stdout_bytes(), stdout, "the guest ran");
}

#[test]
fn pruning_keeps_exactly_the_referenced_packs() {
    let root = Root::with_header();
    // keep 2, many generations: packs of pruned generations must go, unless a kept generation
    // still references one of their pages; packs that became mostly garbage get compacted.
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "150001", "--keep", "2", "--keep-on-exit"];
    run_to_end(&root, &opts);
    let archive = root.ck().join(&dir_names(&root.ck())[0]);
    let gens = list_gens(&archive);
    assert_eq!(gens.len(), 2);
    let referenced: BTreeSet<String> =
        gens.iter().flat_map(|(_, p)| manifest(p)).map(|e| pack_name(e.1)).collect();
    let on_disk: BTreeSet<String> = packs(&archive).into_iter().collect();
    assert_eq!(on_disk, referenced, "packs on disk vs referenced by the kept generations");
    // Space: live data is 256 pages; compaction keeps the packs at most about twice that.
    let bytes: u64 = on_disk.iter().map(|p| fs::metadata(archive.join(p)).unwrap().len()).sum();
    assert!(bytes <= 2 * 256 * 65536 + 64 * 65536, "{bytes} bytes of packs for 16 MiB of memory");
    assert!(on_disk.len() < 40, "{} packs", on_disk.len());
}

#[test]
fn generation_files_restore_in_place_and_export_to_one_file() {
    let base = four_generations();
    let reference = reference(&guest());
    // --restore of a generation file: its packs are read from beside it.
    let root = Root::new();
    fs::remove_dir(root.path().join("sb")).unwrap();
    root.copy_from(&base);
    let g3 = format!("{CK}/{}", gen_name(3));
    let f = spawn(&root, &guest(), &["--restore", &g3, "--checkpoint-dir", "ck2"], &[], Out::File).wait();
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    assert_eq!(resumed_from(&f.stderr).first().map(|x| x.1), Some(3), "{}", f.stderr);
    assert_equivalent_in(&root, &root.path().join("ck2"), &reference, "--restore a generation file");

    // export: a directory gives its newest generation that verifies in full (4 is damaged).
    let root = Root::new();
    fs::remove_dir(root.path().join("sb")).unwrap();
    root.copy_from(&base);
    let m4 = manifest(&root.ck().join(gen_name(4)));
    let own = m4.iter().find(|e| e.1 == 4).copied().expect("generation 4 wrote pages");
    edit(&root.ck().join(pack_name(4)), |b| b[slot_offset(own.2) + 9] ^= 2);
    fs::create_dir(root.path().join("elsewhere")).unwrap();
    let out = Command::new(chiwawa())
        .current_dir(root.path())
        .args(["export", CK, "elsewhere/job.ckpt"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&gen_name(4)) && stderr.contains("damaged"), "{stderr}");
    let exported = read_ckpt(&root.path().join("elsewhere/job.ckpt")).unwrap();
    assert_eq!(exported.generation, 3);
    assert!(exported.section(KIND_MEMORY).is_some() && exported.section(KIND_PAGES).is_none());
    // The exported file equals a self-contained capture: every section but memory is the
    // generation's own, byte for byte.
    let g3 = read_ckpt(&root.ck().join(gen_name(3))).unwrap();
    let others = |c: &Ckpt| {
        c.sections
            .iter()
            .filter(|s| s.kind != KIND_MEMORY && s.kind != KIND_PAGES)
            .map(|s| c.payload(s).to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(others(&exported), others(&g3));
    // Exporting one damaged generation file fails and writes nothing.
    let out = Command::new(chiwawa())
        .current_dir(root.path())
        .args(["export", &format!("{CK}/{}", gen_name(4)), "elsewhere/bad.ckpt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
    assert!(!root.path().join("elsewhere/bad.ckpt").exists());
    assert!(dir_names(&root.path().join("elsewhere")) == ["job.ckpt"], "no temp file left");
    // The exported file alone resumes the job in a fresh directory.
    fs::remove_dir_all(root.ck()).unwrap();
    let f = spawn(
        &root,
        &guest(),
        &["--restore", "elsewhere/job.ckpt", "--checkpoint-dir", "ck3"],
        &[],
        Out::File,
    )
    .wait();
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    assert_eq!(resumed_from(&f.stderr).first().map(|x| x.1), Some(3), "{}", f.stderr);
    assert_equivalent_in(&root, &root.path().join("ck3"), &reference, "--restore an exported file");
}

#[test]
fn self_contained_generations_have_no_packs() {
    let root = Root::with_header();
    let opts: Vec<&str> = OPTS.iter().copied().chain(["--self-contained"]).collect();
    make_generations(&root, &root.ck(), &guest(), &opts, 2);
    assert!(packs(&root.ck()).is_empty(), "{:?}", dir_names(&root.ck()));
    for (_, p) in list_gens(&root.ck()) {
        let c = read_ckpt(&p).unwrap();
        assert!(c.section(KIND_MEMORY).is_some() && c.section(KIND_PAGES).is_none());
    }
    // Switching layouts on an existing directory works both ways: an incremental generation
    // after self-contained ones (its first pack holds every page), and back.
    make_generations(&root, &root.ck(), &guest(), OPTS, 1);
    let m = manifest(&root.ck().join(gen_name(3)));
    assert_eq!(m.len(), 256);
    assert!(m.iter().all(|e| e.1 == 3));
    run_to_end(&root, &opts);
    assert_equivalent(&root, &reference(&guest()), "self-contained, then incremental, then self-contained");
}
