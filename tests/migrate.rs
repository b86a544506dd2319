//! Live migration (issue 19), through real processes: `chiwawa run` on a source checkpoint
//! directory, `chiwawa migrate` asking it to move, the transport command a local
//! `chiwawa receive` into a second checkpoint directory (same sandbox: "shared storage"), then
//! `chiwawa run` on the destination directory. Every case ends byte-identical to an
//! uninterrupted run, and never with two sides able to resume: the sender, the receiver and
//! the transport are killed at every protocol step (the failpoints of src/migrate, inherited
//! by the receiver through the environment).
#![cfg(target_os = "linux")]

#[path = "wat/harness.rs"]
mod harness;

use harness::*;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CK2: &str = "ck2";
const EXIT_MIGRATED: i32 = 90;
const EXIT_UNKNOWN: i32 = 91;
const SOURCE_OPTS: [&str; 4] = ["--checkpoint-dir", CK, "--every", "1h"];
const DEST_OPTS: [&str; 4] = ["--checkpoint-dir", CK2, "--every", "1h"];

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The guest that dirties memory: 32 MiB, steps of 2 rewritten pages, progress to /sb.
fn dirty() -> Guest {
    let mut g = Guest::wasm("dirty", &["32", "6000", "2", "0", "/sb"]);
    g.sandbox = true;
    g
}

fn counter() -> Guest {
    Guest::counter(60_000_000, 200_000)
}

/// `chiwawa receive --checkpoint-dir ck2 [--dir sb::/sb] EXTRA MODULE`.
fn receiver(g: &Guest, module: Option<&PathBuf>, extra: &[&str]) -> Vec<String> {
    let mut v = vec![chiwawa().to_string(), "receive".into(), "--checkpoint-dir".into(), CK2.into()];
    if g.sandbox {
        v.extend(["--dir".to_string(), "sb::/sb".to_string()]);
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v.push(module.unwrap_or(&g.module).display().to_string());
    v
}

fn migrate(root: &Root, opts: &[&str], transport: &[String]) -> Output {
    Command::new(chiwawa())
        .current_dir(root.path())
        .arg("migrate")
        .args(["--checkpoint-dir", CK])
        .args(opts)
        .arg("--")
        .args(transport)
        .env_remove("CHIWAWA_FAILPOINT")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The source, once its guest has printed something.
fn start_source(root: &Root, g: &Guest, env: &[(&str, &str)]) -> Running {
    start_source_with(root, g, &SOURCE_OPTS, env)
}

fn start_source_with(root: &Root, g: &Guest, opts: &[&str], env: &[(&str, &str)]) -> Running {
    let run = spawn(root, g, opts, env, Out::File);
    wait_until("the guest's first output", Duration::from_secs(60), || {
        root.stdout_bytes().len() > HEADER.len() + 40
    });
    run
}

fn dest_gens(root: &Root) -> Vec<(u64, PathBuf)> {
    let d = root.path().join(CK2);
    if d.is_dir() {
        list_gens(&d)
    } else {
        Vec::new()
    }
}

/// `chiwawa run` on the source directory again (as a supervisor would).
fn rerun_source(root: &Root, g: &Guest) -> Finished {
    spawn(root, g, &SOURCE_OPTS, &[], Out::File).wait()
}

fn run_dest(root: &Root, g: &Guest) -> Finished {
    spawn(root, g, &DEST_OPTS, &[], Out::File).wait()
}

#[test]
fn a_migrated_guest_finishes_on_the_destination_like_an_uninterrupted_run() {
    let mut simd = Guest::wasm("simd_counter", &["3000000", "20000", "/sb"]);
    simd.sandbox = true;
    for g in [counter(), dirty(), simd] {
        let r = reference(&g);
        let root = Root::with_header();
        // The dirty guest also takes generations every 100 ms while it migrates.
        let every = if g.name == "dirty" { "100ms" } else { "1h" };
        let src = start_source_with(&root, &g, &["--checkpoint-dir", CK, "--every", every], &[]);
        let m = migrate(&root, &["--remainder-mib", "1"], &receiver(&g, None, &[]));
        let src = src.wait();
        src.assert_no_panic("source");
        assert_eq!(
            m.status.code(),
            Some(0),
            "{}: migrate: {}\nsource: {}",
            g.name,
            text(&m.stderr),
            src.stderr
        );
        assert!(
            text(&m.stderr).contains("migrated: the receiver committed generation"),
            "{}",
            text(&m.stderr)
        );
        assert_eq!(src.code(), Some(EXIT_MIGRATED), "{}: {}", g.name, src.stderr);
        assert_eq!(dest_gens(&root).len(), 1, "{}", g.name);
        // The source directory refuses a second copy, and changes nothing.
        let files = root.sandbox_files();
        let again = rerun_source(&root, &g);
        again.assert_no_panic("rerun");
        assert_eq!(again.code(), Some(1), "{}", again.stderr);
        assert!(again.stderr.contains("migrated away"), "{}", again.stderr);
        assert_eq!(root.sandbox_files(), files);
        let dest = run_dest(&root, &g);
        dest.assert_no_panic("destination");
        assert_eq!(dest.code(), Some(r.code), "{}: {}", g.name, dest.stderr);
        assert_eq!(resumed_from(&dest.stderr).len(), 1, "{}", dest.stderr);
        assert_equivalent_in(&root, &root.path().join(CK2), &r, &g.name);
    }
}

#[test]
fn receive_with_run_goes_on_running_the_guest() {
    for g in [counter(), dirty()] {
        let r = reference(&g);
        let root = Root::with_header();
        let src = start_source(&root, &g, &[]);
        let stdout = root.stdout_path().display().to_string();
        let extra = ["--run", "--stdout", stdout.as_str(), "--stderr", "receiver.err", "--every", "1h"];
        // The receiver logs at debug level: it says when it resumes from the memory it kept.
        let mut transport = vec!["env".to_string(), "RUST_LOG=chiwawa=debug".to_string()];
        transport.extend(receiver(&g, None, &extra));
        let m = migrate(&root, &["--remainder-mib", "1"], &transport);
        let src = src.wait();
        assert_eq!(m.status.code(), Some(0), "{}\n{}", text(&m.stderr), src.stderr);
        assert_eq!(src.code(), Some(EXIT_MIGRATED), "{}", src.stderr);
        // The receiver runs the guest on; when it finishes, its checkpoint directory is cleared.
        wait_until("the receiver to finish the guest", Duration::from_secs(90), || {
            root.stdout_bytes().len() >= HEADER.len() + r.stdout.len()
                && dest_gens(&root).is_empty()
                && !root.path().join(CK2).join("lock").exists()
        });
        let log = std::fs::read_to_string(root.path().join("receiver.err")).unwrap();
        assert!(log.contains("memories as the migration receiver kept them in RAM"), "{}: {log}", g.name);
        assert_equivalent_in(&root, &root.path().join(CK2), &r, &format!("{}: receive --run", g.name));
    }
}

#[test]
fn migrate_refuses_when_no_run_holds_the_directory() {
    let root = Root::new();
    let o = migrate(&root, &[], &["true".to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("is not a checkpoint directory"), "{}", text(&o.stderr));
    std::fs::create_dir(root.path().join(CK)).unwrap();
    let o = migrate(&root, &[], &["true".to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("no chiwawa run holds"), "{}", text(&o.stderr));
    assert!(!root.path().join(CK).join("migrate.request").exists());
}

#[test]
fn a_refusing_receiver_or_a_broken_transport_leaves_the_guest_running_here() {
    let g = counter();
    let r = reference(&g);
    let other = manifest_dir().join("tests/guests/wasm/exit3.wasm");
    let mut no_dir = receiver(&g, None, &[]);
    no_dir.retain(|a| a != "--dir" && a != "sb::/sb");
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        ("another module", receiver(&g, Some(&other), &[]), "another module"),
        ("a missing preopen", no_dir, "lacks"),
        ("not chiwawa", vec!["echo".into(), "hello".into()], "does not speak the chiwawa migration protocol"),
        ("a transport that exits", vec!["true".into()], "closed"),
        // The preopen is there but not the guest's open file (another directory): refused when
        // the final state is checked, before anything is committed.
        ("a memory beyond the receiver's limit", receiver(&g, None, &["--max-memory-pages", "1"]), "limit"),
        (
            "files not here",
            receiver(&g, None, &[])
                .into_iter()
                .map(|a| if a == "sb::/sb" { "sb2::/sb".into() } else { a })
                .collect(),
            "not all here",
        ),
    ];
    for (what, transport, says) in cases {
        let root = Root::with_header();
        std::fs::create_dir(root.path().join("sb2")).unwrap();
        let src = start_source(&root, &g, &[]);
        let m = migrate(&root, &[], &transport);
        assert_eq!(m.status.code(), Some(1), "{what}: {}", text(&m.stderr));
        assert!(text(&m.stderr).contains(says), "{what}: {}", text(&m.stderr));
        let src = src.wait();
        src.assert_no_panic(what);
        assert_eq!(src.code(), Some(r.code), "{what}: {}", src.stderr);
        assert!(src.stderr.contains("the guest keeps running here"), "{what}: {}", src.stderr);
        assert!(dest_gens(&root).is_empty(), "{what}");
        assert_equivalent(&root, &r, what);
    }
}

/// Which side may resume after a failure: the source (it runs on, or its next run resumes),
/// or the destination.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Source,
    Destination,
    /// Neither on its own: the source says the outcome is unknown and the destination has
    /// nothing; removing the source's marker (as its message says) resumes it there.
    SourceAfterCheck,
}

#[test]
fn killed_at_every_protocol_step_exactly_one_side_resumes() {
    let g = counter();
    let r = reference(&g);
    // (what, failpoint for the source (and, inherited, the receiver), transport wrapper, expected)
    let cases: [(&str, &str, bool, Side); 8] = [
        ("sender after hello", "migrate-after-hello", false, Side::Source),
        ("sender mid pre-copy", "migrate-mid-precopy", false, Side::Source),
        ("sender before the final part", "migrate-before-final", false, Side::Source),
        ("sender after the final part", "migrate-after-final", false, Side::Destination),
        ("receiver mid round", "receive-mid-round", false, Side::Source),
        ("receiver before commit", "receive-before-commit", false, Side::SourceAfterCheck),
        ("receiver after commit", "receive-after-commit", false, Side::Destination),
        ("transport dies mid stream", "", true, Side::Source),
    ];
    for (what, fp, cut, side) in cases {
        let root = Root::with_header();
        let env: Vec<(&str, &str)> = if fp.is_empty() { vec![] } else { vec![("CHIWAWA_FAILPOINT", fp)] };
        let src = start_source(&root, &g, &env);
        let mut transport = receiver(&g, None, &[]);
        if cut {
            // The transport breaks after three reads of at most 64 KiB (`dd` passes on each read
            // at once, unlike `head`): inside round 1 (two 64 KiB pages).
            let cmd = transport.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ");
            transport = vec!["sh".into(), "-c".into(), format!("dd bs=65536 count=3 2>/dev/null | {cmd}")];
        }
        let m = migrate(&root, &["--timeout", "20s"], &transport);
        let src = src.wait();
        src.assert_no_panic(what);
        let m_code = m.status.code();
        let gens = dest_gens(&root);
        match side {
            Side::Source => {
                assert!(gens.is_empty(), "{what}: the destination committed {gens:?}");
                assert_eq!(m_code, Some(1), "{what}: {}", text(&m.stderr));
                if src.code() != Some(r.code) {
                    // The source died: its next run resumes it (from its last generation).
                    assert_eq!(
                        src.signal().or(src.code()),
                        Some(SIGABRT).or(Some(134)),
                        "{what}: {}",
                        src.stderr
                    );
                    let again = rerun_source(&root, &g);
                    assert_eq!(again.code(), Some(r.code), "{what}: {}", again.stderr);
                } else {
                    assert!(src.stderr.contains("the guest keeps running here"), "{what}: {}", src.stderr);
                }
                assert_equivalent(&root, &r, what);
            }
            Side::Destination => {
                assert_eq!(gens.len(), 1, "{what}: no generation on the destination");
                let again = rerun_source(&root, &g);
                assert_eq!(again.code(), Some(1), "{what}: the source resumed too: {}", again.stderr);
                assert!(
                    again.stderr.contains("outcome is unknown") || again.stderr.contains("migrated away"),
                    "{what}: {}",
                    again.stderr
                );
                let dest = run_dest(&root, &g);
                assert_eq!(dest.code(), Some(r.code), "{what}: {}", dest.stderr);
                assert_equivalent_in(&root, &root.path().join(CK2), &r, what);
            }
            Side::SourceAfterCheck => {
                assert!(gens.is_empty(), "{what}: the destination committed {gens:?}");
                assert_eq!(m_code, Some(EXIT_UNKNOWN), "{what}: {}", text(&m.stderr));
                assert_eq!(src.code(), Some(EXIT_UNKNOWN), "{what}: {}", src.stderr);
                let again = rerun_source(&root, &g);
                assert_eq!(again.code(), Some(1), "{what}: {}", again.stderr);
                assert!(again.stderr.contains("outcome is unknown"), "{what}: {}", again.stderr);
                // As the message says: the destination has no such generation, so the marker
                // goes and the source resumes.
                std::fs::remove_file(root.ck().join("migrated")).unwrap();
                let again = rerun_source(&root, &g);
                assert_eq!(again.code(), Some(r.code), "{what}: {}", again.stderr);
                assert_equivalent(&root, &r, what);
            }
        }
    }
}

#[test]
fn a_sleeping_guest_migrates_at_once_and_sleeps_on_at_the_destination() {
    let root = Root::new();
    let m = root.path().join("sleeper.wat");
    std::fs::write(&m, sleeper_wat(4_000_000_000)).unwrap();
    let g = Guest { name: "sleeper".into(), module: m.clone(), args: vec![], sandbox: false };
    let src = spawn(&root, &g, &SOURCE_OPTS, &[], Out::Pipe);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let o = migrate(&root, &[], &receiver(&g, None, &[]));
    let took = t0.elapsed();
    let src = src.wait();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", text(&o.stderr), src.stderr);
    assert_eq!(src.code(), Some(EXIT_MIGRATED), "{}", src.stderr);
    assert!(took < Duration::from_secs(2), "the migration waited for the sleep: {took:?}");
    assert_eq!(text(&src.stdout), "before\n");
    let t1 = Instant::now();
    let dest = spawn(&root, &g, &DEST_OPTS, &[], Out::Pipe).wait();
    assert_eq!(dest.code(), Some(0), "{}", dest.stderr);
    assert_eq!(text(&dest.stdout), "after\n");
    // The rest of the sleep, not all of it again, nor none of it.
    let slept = t0.elapsed();
    assert!(slept >= Duration::from_millis(3500), "slept {slept:?} in all");
    assert!(t1.elapsed() < Duration::from_millis(3900), "the destination slept {:?}", t1.elapsed());
}

#[test]
fn no_migration_from_a_checkpoint_directory_the_guest_can_write() {
    let g = counter();
    let r = reference(&g);
    let root = Root::with_header();
    // The checkpoint directory inside the guest's preopen: the guest could forge requests.
    let opts = ["--checkpoint-dir", "sb/ck", "--every", "1h"];
    let src = spawn(&root, &g, &opts, &[], Out::File);
    wait_until("the guest's first output", Duration::from_secs(60), || {
        root.stdout_bytes().len() > HEADER.len() + 40
    });
    let o = Command::new(chiwawa())
        .current_dir(root.path())
        .args(["migrate", "--checkpoint-dir", "sb/ck", "--"])
        .args(receiver(&g, None, &[]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("inside a preopened directory"), "{}", text(&o.stderr));
    let src = src.wait();
    assert_eq!(src.code(), Some(r.code), "{}", src.stderr);
    assert!(dest_gens(&root).is_empty());
}

#[test]
fn a_guest_migrates_there_and_back_even_if_the_receiver_dies_after_its_commit() {
    let g = counter();
    let r = reference(&g);
    let root = Root::with_header();
    // ck -> ck2
    let src = start_source(&root, &g, &[]);
    let m = migrate(&root, &[], &receiver(&g, None, &[]));
    assert_eq!(m.status.code(), Some(0), "{}", text(&m.stderr));
    assert_eq!(src.wait().code(), Some(EXIT_MIGRATED));
    // ck2 -> ck (where a marker says the guest left), the receiver dying right after its
    // commit: the next run there resumes (the generation is newer than the one it left from).
    let before = root.stdout_bytes().len();
    let dest = spawn(&root, &g, &DEST_OPTS, &[("CHIWAWA_FAILPOINT", "receive-after-commit")], Out::File);
    wait_until("the destination's output", Duration::from_secs(60), || {
        root.stdout_bytes().len() > before + 40
    });
    let mut back = vec![chiwawa().to_string(), "receive".into(), "--checkpoint-dir".into(), CK.into()];
    back.extend(["--dir".to_string(), "sb::/sb".to_string(), g.module.display().to_string()]);
    let m = Command::new(chiwawa())
        .current_dir(root.path())
        .args(["migrate", "--checkpoint-dir", CK2, "--timeout", "10s", "--"])
        .args(&back)
        .output()
        .unwrap();
    let dest = dest.wait();
    assert_eq!(m.status.code(), Some(EXIT_UNKNOWN), "{}\n{}", text(&m.stderr), dest.stderr);
    assert!(root.ck().join("migrated").exists(), "the old marker should still be there");
    let again = rerun_source(&root, &g);
    assert_eq!(again.code(), Some(r.code), "{}", again.stderr);
    assert!(again.stderr.contains("migrated back"), "{}", again.stderr);
    assert_equivalent(&root, &r, "there and back");
}

#[test]
fn a_failed_migration_leaves_a_sleeping_guest_asleep() {
    let root = Root::new();
    let m = root.path().join("sleeper.wat");
    std::fs::write(&m, sleeper_wat(3_000_000_000)).unwrap();
    let g = Guest { name: "sleeper".into(), module: m.clone(), args: vec![], sandbox: false };
    let t0 = Instant::now();
    let src = spawn(&root, &g, &SOURCE_OPTS, &[], Out::Pipe);
    std::thread::sleep(Duration::from_millis(300));
    // A transport that reads on but answers only the protocol's magic and then closes its
    // output: the migration fails, and its writer still sends the Abort frame afterwards (a
    // wake-up after the migration ended).
    let script =
        r"cat >/dev/null & sleep 0.2; printf '\211CHM\r\n\032\n\001\000\000\000'; exec 1>&-; sleep 0.2";
    let o = migrate(&root, &[], &["sh".into(), "-c".into(), script.into()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let src = src.wait();
    assert_eq!(src.code(), Some(0), "{}", src.stderr);
    assert_eq!(text(&src.stdout), "before\nafter\n");
    // It slept the rest of its 3 s, not spinning through suspended sleeps.
    assert!(t0.elapsed() < Duration::from_millis(4500), "took {:?}", t0.elapsed());
}
