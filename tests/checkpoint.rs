//! Checkpoint/restore end to end, through the real `chiwawa run` binary.
//!
//! * Equivalence: every guest (tests/wat/*.wat and counter.wasm with its out.txt), for seven
//!   `--every-instructions` values from 1 to 1000003, killed with SIGKILL at seeded random
//!   moments and started again with the same command until it exits, ends exactly like an
//!   uninterrupted run: the same exit code, the stdout file (a regular file opened for
//!   append that already held a header line) equal to header + reference stdout, the same
//!   files, an empty checkpoint directory. With stdout on a pipe: at-least-once delivery.
//! * Deterministic positions: instruction-driven checkpoints land on the same instruction
//!   counts with the same section bytes in two runs and in a run that was killed and
//!   restarted.
//! * `--restore FILE` on a copy in another directory, `--fresh`, the default checkpoint
//!   directory, the trigger file, `--every DURATION`.
//!
//! The ignored test `kill_before_first_checkpoint_keeps_output_exact` documents a known gap:
//! output written before the first checkpoint is written again after a kill.
//!
//! The harness (process control, an independent checkpoint parser) is tests/wat/harness.rs.
//! Seeds derive from test names; CHIWAWA_TEST_SEED=N replays with another seed.
#![cfg(target_os = "linux")]

#[path = "wat/harness.rs"]
mod harness;

use harness::*;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The three sizes of a guest in the equivalence tests.
struct Sizes {
    /// Every safe point may be a checkpoint (N = 1): thousands of generations.
    small: Guest,
    /// A few million instruction units.
    medium: Guest,
    /// Tens of millions of units: between two checkpoints at N = 100003 or 1000003 the guest
    /// computes for long enough that most kills land after it printed something since the
    /// last checkpoint (the output that restore must cut off again).
    large: Guest,
}

#[derive(Clone, Copy)]
enum Size {
    Small,
    Medium,
    Large,
}

impl Sizes {
    fn get(&self, s: Size) -> &Guest {
        match s {
            Size::Small => &self.small,
            Size::Medium => &self.medium,
            Size::Large => &self.large,
        }
    }
}

/// `--every-instructions` values of the equivalence tests and the guest size for each.
const EVERY: &[(u64, Size)] = &[
    (1, Size::Small),
    (7, Size::Small),
    (97, Size::Small),
    (1009, Size::Medium),
    (4099, Size::Medium),
    (100_003, Size::Large),
    (1_000_003, Size::Large),
];

fn equivalence(test: &str, sizes: Sizes) {
    let t0 = Instant::now();
    let mut rng = Rng::for_test(test);
    let plan = Plan { max_kills: 3, kill_chance: (4, 5), max_delay: Duration::from_millis(25) };
    let (mut kills, mut resumes, mut rollbacks) = (0, 0, 0);
    for &(n, size) in EVERY {
        let g = sizes.get(size);
        let r = reference(g);
        let root = Root::with_header();
        let every = n.to_string();
        let opts = ["--checkpoint-dir", CK, "--every-instructions", &every];
        let d = drive(&root, g, &opts, &mut rng, &plan, &mut |_| {});
        let ctx = format!("{} --every-instructions {n} ({} runs, {} kills)", g.key(), d.runs, d.kills);
        assert_eq!(d.code, r.code, "{ctx}: exit code\n{}", d.stderr);
        assert_equivalent(&root, &r, &ctx);
        kills += d.kills;
        resumes += d.resumes;
        rollbacks += d.rollbacks;
    }
    // Each kill happens while a generation exists, so the next run resumes (a killed run may
    // die before it logs that; runs that finish are checked by `drive`).
    assert!(
        kills >= 4 && resumes >= 3,
        "{test}: only {kills} kills / {resumes} resumes: the test proved little"
    );

    // stdout on a pipe: what was written after the last checkpoint is written again.
    for &(n, size) in &[(7u64, Size::Small), (100_003, Size::Large)] {
        let g = sizes.get(size);
        let r = reference(g);
        let root = Root::new();
        let every = n.to_string();
        let opts = ["--checkpoint-dir", CK, "--every-instructions", &every];
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut kills = 0;
        loop {
            let run = spawn(&root, g, &opts, &[], Out::Pipe);
            let f = if kills < 3 && rng.chance((3, 4)) {
                std::thread::sleep(Duration::from_micros(rng.below(30_000)));
                run.kill()
            } else {
                run.wait()
            };
            f.assert_no_panic(test);
            out.push(f.stdout.clone());
            if f.killed {
                kills += 1;
                continue;
            }
            assert_eq!(f.code(), Some(r.code), "{test}: pipe run exit code\n{}", f.stderr);
            break;
        }
        let ctx = format!("{} --every-instructions {n}, stdout on a pipe, {kills} kills", g.key());
        assert_at_least_once(&out, &r, &ctx);
        assert_eq!(dir_names(&root.ck()), Vec::<String>::new(), "{ctx}: checkpoint directory not empty");
    }
    eprintln!(
        "{test}: {kills} kills, {resumes} resumes, {rollbacks} rollbacks of output, {:.1?}",
        t0.elapsed()
    );
}

fn wat3(name: &str, small: &[&str], medium: &[&str], large: &[&str]) -> Sizes {
    Sizes { small: Guest::wat(name, small), medium: Guest::wat(name, medium), large: Guest::wat(name, large) }
}

#[test]
fn equivalence_deep_recursion() {
    let r = reference(&Guest::wat("rec", &[]));
    assert!(r.stdout.ends_with(b"done rounds=10\n") && r.code == 0);
    equivalence("equivalence_deep_recursion", wat3("rec", &["1", "60"], &[], &["80"]));
}

/// Tail calls (Wasm 3.0): mutual `return_call` recursion of 10^5-10^6 steps, a
/// `return_call_indirect` loop, an entry that tail-calls (the bottom frame is replaced) and a
/// tail call of the host's `fd_write`; checkpoints at every position the interval hits.
#[test]
fn equivalence_tail_calls() {
    let r = reference(&Guest::wat("tailcall", &["3", "1000"]));
    // Values from a model of the guest (and Wasmtime agrees on the default arguments).
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "round 1 parity=1 acc=42e47a9f762ce880 ind=372257075\n\
         round 2 parity=0 acc=597ffcbf1309f6c1 ind=413521325\n\
         round 3 parity=1 acc=16229e664bcae313 ind=457727556\n\
         done\n"
    );
    equivalence("equivalence_tail_calls", wat3("tailcall", &["2", "3000"], &[], &["6", "1000000"]));
}

/// Typed function references (Wasm 3.0): `call_ref` loops and recursion thousands of frames
/// deep (every frame waiting at a `call_ref`), `return_call_ref` chains in constant frame space,
/// `br_on_null`/`br_on_non_null`, `ref.as_non_null`, non-null locals, globals and a table with
/// an initialiser; checkpoints at every position the interval hits.
#[test]
fn equivalence_function_references() {
    let r = reference(&Guest::wat("funcref", &["3", "2000"]));
    // Wasmtime prints the same.
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "round 1 apply=0007ffffffffffff chain=000800000001ed2b tail=8620f5260569a743 nulls=1500\n\
         round 2 apply=0000000000000002 chain=000000000001ef25 tail=189cabd2b398d2c8 nulls=3001\n\
         round 3 apply=817537092cf6c98c chain=817537092cf8baa7 tail=18eb62c62cec03d4 nulls=4501\n\
         done\n"
    );
    equivalence(
        "equivalence_function_references",
        wat3("funcref", &["2", "40"], &["2", "400"], &["6", "20000"]),
    );
}

/// Multi-memory (Wasm 3.0): three memories, two of them grown (one up to its maximum and
/// past), every load and store width, `memory.fill`, `memory.init` and `memory.copy` between
/// every pair of them; checkpoints (incremental: each memory's changed pages) at every position
/// the interval hits.
#[test]
fn equivalence_multi_memory() {
    let r = reference(&Guest::wat("multimem", &["2", "500"]));
    // Wasmtime prints the same.
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "round 1 sum=21536 pages=1 grow=1 mix=9a61defbd4ce58f0\n\
         round 2 sum=76127 pages=1 grow=2 mix=31fa88216181c79a\n\
         done\n"
    );
    equivalence("equivalence_multi_memory", wat3("multimem", &["2", "60"], &["3", "3000"], &["6", "20000"]));
}

/// memory64 (Wasm 3.0): a 64-bit memory grown past 4 GiB and written sparsely (every width,
/// bulk operators across the 4 GiB line and between memories of both index types), a 64-bit
/// table; checkpoints at every position the interval hits. Generations stay sparse: what the
/// guest wrote, not the memory's size.
#[test]
fn equivalence_memory64() {
    let r = reference(&Guest::wat("mem64", &["2", "45", "100"]));
    // Wasmtime prints the same.
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "round 1 hash=07f89d2f69543547 pages=147457 tab=5 grow=4 grow=1 high=0\n\
         round 2 hash=f07c5e88f0be2e1b pages=147457 tab=5 grow=4 grow=2 high=0\n\
         done\n"
    );
    equivalence(
        "equivalence_memory64",
        wat3("mem64", &["1", "1", "5"], &["3", "20", "2000"], &["4", "45", "20000"]),
    );
    // A 14 GiB memory with 100 cells: every generation (a self-contained one holds every
    // non-zero page) is a few MiB.
    for opts in [&["--self-contained"][..], &[]] {
        let g = Guest::wat("mem64", &["2", "100", "3000"]);
        let root = Root::new();
        let mut args = vec!["--checkpoint-dir", CK, "--every-instructions", "20000", "--keep-on-exit"];
        args.extend_from_slice(opts);
        let f = spawn(&root, &g, &args, &[], Out::Pipe).wait();
        assert_eq!(f.code(), Some(0), "{opts:?}: {}", f.stderr);
        fn sizes(dir: &std::path::Path, out: &mut Vec<u64>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let m = e.metadata().unwrap();
                if m.is_dir() {
                    sizes(&e.path(), out);
                } else {
                    out.push(m.len());
                }
            }
        }
        let mut all = Vec::new();
        sizes(&root.ck(), &mut all);
        let (files, total) = (all.len(), all.iter().sum::<u64>());
        assert!(files >= 3, "{opts:?}: only {files} files");
        assert!(total < 200 << 20, "{opts:?}: {files} files of {total} bytes for a sparse memory");
    }
}

/// SIMD: v128 values in every place a checkpoint reads (parameters, locals and operands of
/// frames thousands of instructions into a vector loop and below calls, a v128 global, an
/// exception's payload), every lane width; checkpoints at every position the interval hits.
#[test]
fn equivalence_simd() {
    let r = reference(&Guest::wat("simd", &["3", "30"]));
    // Wasmtime prints the same.
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "round 1 mix=c0e2281fb79751f8 acc=36ddbc4eb20481ee buf=ebaa0401d82afc2b\n\
         round 2 mix=444a919ce90431c1 acc=127c6c0f7bdcd62b buf=ee90129bba34f5b9\n\
         round 3 mix=24656d514525f31c acc=f42e417f280c2307 buf=281c82fb219ea0ad\n"
    );
    equivalence("equivalence_simd", wat3("simd", &["1", "3"], &["3", "30"], &["6", "200"]));
}

/// Exception handling (Wasm 3.0): exceptions thrown thousands of frames deep, caught with
/// `catch_ref`, held (local, global, table, another exception's payload) while loops run,
/// rethrown with `throw_ref`, caught by `catch` and `catch_all`; checkpoints (with their
/// `Exceptions` section) at every position the interval hits. And an uncaught exception ends
/// the guest like a trap (exit 134), also after a resume.
#[test]
fn equivalence_exceptions() {
    let r = reference(&Guest::wat("exn", &["2", "30"]));
    // Wasmtime prints the same.
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "round 1 deep=31 sum=bccc46b6ed974f2c caught=3 kept=1\n\
         round 2 deep=32 sum=55a74a3d7d478eda caught=6 kept=2\n\
         done\n"
    );
    assert_eq!(reference(&Guest::wat("exn", &["2", "30", "1"])).code, 134);
    equivalence("equivalence_exceptions", wat3("exn", &["2", "20"], &["4", "300"], &["6", "3000"]));
    equivalence(
        "equivalence_exceptions_uncaught",
        wat3("exn", &["2", "20", "1"], &["3", "200", "1"], &["6", "2000", "1"]),
    );
}

/// A real C++ program with C++ exceptions (`tests/guests/wasm/cxx_eh.wasm`, clang 22,
/// exnref encoding): checkpoints at every position the interval hits — inside libc++,
/// during the throwing loop, while C++ handlers run — and kills; then it ends with an
/// uncaught exception (exit 134), also after resumes.
#[test]
fn equivalence_cxx_exceptions() {
    cxx_equivalence("cxx_eh", "equivalence_cxx_exceptions");
}

/// The same C++ program built with the legacy encoding (`cxx_eh_legacy.wasm`: 114 `try`, 114
/// `rethrow`, 39 `delegate`): checkpoints inside catch clauses hold their caught exceptions.
/// It prints what the standard build prints (which Wasmtime prints).
#[test]
fn equivalence_cxx_legacy_exceptions() {
    let (legacy, standard) =
        (reference(&Guest::wasm("cxx_eh_legacy", &[])), reference(&Guest::wasm("cxx_eh", &[])));
    assert_eq!((legacy.code, &legacy.stdout), (standard.code, &standard.stdout));
    cxx_equivalence("cxx_eh_legacy", "equivalence_cxx_legacy_exceptions");
}

/// The C++ guest `name` checkpointed and killed at every interval position, running to its end,
/// then ending with an uncaught exception (exit 134).
fn cxx_equivalence(name: &str, test: &str) {
    let sizes = |boom: &[&str]| {
        let g = |n: &str| Guest::wasm(name, &[&[n][..], boom].concat());
        Sizes { small: g("3"), medium: g("300"), large: g("20000") }
    };
    equivalence(test, sizes(&[]));
    let r = reference(&Guest::wasm(name, &["30", "boom"]));
    assert_eq!(r.code, 134);
    equivalence(&format!("{test}_uncaught"), sizes(&["boom"]));
}

#[test]
fn equivalence_tables_data_drop() {
    // Ends with a trap that only happens if data.drop survived: exit 134.
    let r = reference(&Guest::wat("tables", &[]));
    assert_eq!(r.code, 134);
    assert!(r.stdout.ends_with(b"probe dropped data segment (expect a trap)\n"));
    equivalence("equivalence_tables_data_drop", wat3("tables", &["120"], &[], &["150000"]));
}

#[test]
fn equivalence_tables_elem_drop() {
    let r = reference(&Guest::wat("tables", &["120", "1"]));
    assert_eq!(r.code, 134);
    assert!(r.stdout.ends_with(b"probe dropped elem segment (expect a trap)\n"));
    equivalence(
        "equivalence_tables_elem_drop",
        wat3("tables", &["120", "1"], &["4000", "1"], &["150000", "1"]),
    );
}

#[test]
fn equivalence_memory_grow() {
    let r = reference(&Guest::wat("memgrow", &["110"]));
    assert!(
        r.stdout.ends_with(b"over max old=4294967295 pages=223\ndone steps=110 words=924\n") && r.code == 0
    );
    equivalence("equivalence_memory_grow", wat3("memgrow", &["4"], &[], &["110"]));
}

#[test]
fn equivalence_globals() {
    equivalence("equivalence_globals", wat3("globals", &["300"], &[], &["60000"]));
}

#[test]
fn equivalence_multi_value() {
    equivalence("equivalence_multi_value", wat3("multi", &["10"], &[], &["5000"]));
}

#[test]
fn equivalence_counter_with_file() {
    let r = reference(&Guest::counter(20_000, 500));
    assert_eq!(r.files.keys().collect::<Vec<_>>(), ["out.txt"]);
    assert_eq!(r.files["out.txt"].iter().filter(|&&c| c == b'\n').count(), 40);
    let sizes = Sizes {
        small: Guest::counter(300, 50),
        medium: Guest::counter(20_000, 500),
        large: Guest::counter(200_000, 100),
    };
    equivalence("equivalence_counter_with_file", sizes);
}

/// `tests/guests/wasm/simd_counter.wasm N M /sb`: counter.wasm's protocol (a line every M
/// iterations to stdout and to /sb/out.txt) with a v128 work loop: four i32x4 / i64x2
/// accumulators in locals, passed to and returned from a non-inlined function `mix` whose loop
/// rewrites a 256-byte buffer, so a checkpoint inside the loop holds v128 values in two frames.
fn simd_counter(n: u64, m: u64) -> Guest {
    Guest { sandbox: true, ..Guest::wasm("simd_counter", &[&n.to_string(), &m.to_string(), "/sb"]) }
}

/// `equivalence_counter_with_file` for the SIMD guest: killed (SIGKILL) at random moments,
/// mostly in the middle of its SIMD loop, and resumed until it finishes exactly like an
/// uninterrupted run. One iteration is ~16 times counter.wasm's work: sizes scaled down.
#[test]
fn equivalence_simd_counter_with_file() {
    let r = reference(&simd_counter(1_500, 50));
    assert_eq!(r.files.keys().collect::<Vec<_>>(), ["out.txt"]);
    assert_eq!(r.files["out.txt"].iter().filter(|&&c| c == b'\n').count(), 30);
    assert!(r.stdout.ends_with(b"buf=1cf9d29a\n"), "{}", String::from_utf8_lossy(&r.stdout));
    let sizes = Sizes {
        small: simd_counter(20, 5),
        medium: simd_counter(1_500, 50),
        large: simd_counter(15_000, 10),
    };
    equivalence("equivalence_simd_counter_with_file", sizes);
}

/// A crash loop on the SIMD guest as `crash_loop_counter` (tests/crash.rs) runs it on counter:
/// kills land inside `mix` (a generation's backtrace starts in it at least once), and the final
/// output equals an uninterrupted run's.
#[test]
fn kill_resume_inside_simd_loop() {
    let g = simd_counter(200_000, 10_000);
    let r = reference(&g);
    let root = Root::with_header();
    let root_path = root.path().to_path_buf();
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "50021", "--keep", "3"];
    let mut rng = Rng::for_test("kill_resume_inside_simd_loop");
    let plan = Plan { max_kills: 8, kill_chance: (1, 1), max_delay: Duration::from_millis(15) };
    let mut backtraces: Vec<String> = Vec::new();
    let mut observe = |gens: &Gens| {
        assert!(!gens.is_empty());
        for (n, p) in gens {
            let c = read_ckpt(p).unwrap_or_else(|e| panic!("invalid generation {}: {e}", p.display()));
            assert_eq!(c.generation, *n);
        }
        for m in inspect_json(&root_path, CK) {
            assert_eq!(m["valid"], "true", "{m:?}");
            backtraces.push(m.get("backtrace").cloned().unwrap_or_default());
        }
    };
    let d = drive(&root, &g, &opts, &mut rng, &plan, &mut observe);
    assert_eq!(d.kills, 8, "the guest finished before 8 kills ({} runs):\n{}", d.runs, d.stderr);
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert_equivalent(&root, &r, "kill/resume inside the SIMD loop");
    assert!(
        backtraces.iter().any(|b| b.starts_with("mix@")),
        "no kill found the guest inside its SIMD function `mix`: {backtraces:?}"
    );
    assert!(d.resumes >= 7, "only {} resumes:\n{}", d.resumes, d.stderr);
}

// ------------------------------------------------------------------------------------------

/// The generations archived by --keep-on-exit in `root` (there must be exactly one archive
/// and nothing else in the checkpoint directory), ascending.
fn archived(root: &Root) -> (PathBuf, Vec<Ckpt>) {
    let names = dir_names(&root.ck());
    assert!(names.len() == 1 && names[0].starts_with("archive-"), "expected one archive in ck/: {names:?}");
    let dir = root.ck().join(&names[0]);
    let mut gens = list_gens(&dir);
    gens.reverse();
    assert_eq!(
        gens.len() + packs(&dir).len(),
        dir_names(&dir).len(),
        "only generations and their page packs in {}",
        dir.display()
    );
    let ckpts = gens
        .iter()
        .map(|(g, p)| {
            let c = read_ckpt(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert_eq!(c.generation, *g, "{}", p.display());
            c
        })
        .collect();
    (dir, ckpts)
}

/// Section bytes that must not depend on when or where a checkpoint was written: all but
/// the Clock section (docs/FORMAT.md §10).
fn stable_sections(c: &Ckpt) -> Vec<(u32, Vec<u8>)> {
    c.sections.iter().filter(|s| s.kind != KIND_CLOCK).map(|s| (s.kind, c.payload(s).to_vec())).collect()
}

fn header_without_time(c: &Ckpt) -> Vec<u8> {
    let mut h = c.bytes[..HEADER_LEN].to_vec();
    h[64..72].fill(0); // created_unix_nanos
    h[148..152].fill(0); // header CRC (covers the time)
    h
}

#[test]
fn deterministic_positions_and_bytes() {
    const N: u64 = 100_003;
    let g = Guest::counter(40_000, 1_000);
    let r = reference(&g);
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "100003", "--keep", "1000", "--keep-on-exit"];
    // The second run lowers plainly (CHIWAWA_LOWERING=plain): its files must be the same bytes.
    let runs: Vec<Root> = (0..2)
        .map(|i| {
            let root = Root::with_header();
            let env: &[(&str, &str)] = if i == 1 { &[("CHIWAWA_LOWERING", "plain")] } else { &[] };
            let f = spawn(&root, &g, &opts, env, Out::File).wait();
            assert_eq!(f.code(), Some(0), "{}", f.stderr);
            assert!(f.stderr.contains("generations archived in"), "{}", f.stderr);
            root
        })
        .collect();
    // A third run killed a few times on the way.
    let killed = Root::with_header();
    let mut rng = Rng::for_test("deterministic_positions_and_bytes");
    let plan = Plan { max_kills: 3, kill_chance: (1, 1), max_delay: Duration::from_millis(12) };
    let d = drive(&killed, &g, &opts, &mut rng, &plan, &mut |_| {});
    assert_eq!(d.code, 0);

    let (archive, a) = archived(&runs[0]);
    assert!(a.len() >= 20, "only {} generations", a.len());
    // `chiwawa inspect` reads the same numbers as the harness's own parser.
    let listed = inspect_json(runs[0].path(), archive.to_str().unwrap());
    // Incremental generations: the first one writes every page, later ones only what changed,
    // referencing the rest from earlier packs (`inspect` shows both numbers).
    let written_referenced: Vec<(u64, u64)> = listed
        .iter()
        .rev()
        .map(|m| (m["pages_written"].parse().unwrap(), m["pages_referenced"].parse().unwrap()))
        .collect();
    assert_eq!(written_referenced[0].0, written_referenced[0].1, "{written_referenced:?}");
    assert!(written_referenced[0].0 >= 2, "{written_referenced:?}");
    assert!(written_referenced[1..].iter().all(|(w, r)| w <= r), "{written_referenced:?}");
    assert!(written_referenced[1..].iter().any(|(w, r)| w < r), "{written_referenced:?}");
    let listed: Vec<(u64, u64, bool)> = listed
        .iter()
        .rev()
        .map(|m| (m["generation"].parse().unwrap(), m["instructions"].parse().unwrap(), m["valid"] == "true"))
        .collect();
    assert_eq!(listed, a.iter().map(|c| (c.generation, c.instructions, true)).collect::<Vec<_>>());
    let mut prev = 0;
    for (i, c) in a.iter().enumerate() {
        assert_eq!(c.generation, i as u64 + 1, "generations are numbered 1, 2, ...");
        let delta = c.instructions - prev;
        assert!(
            (N..N + 20_000).contains(&delta),
            "generation {}: {} instructions after the previous checkpoint, --every-instructions {N}",
            c.generation,
            delta
        );
        prev = c.instructions;
    }
    let a_packs = packs(&archive);
    assert!(a_packs.len() >= 2, "packs {a_packs:?} for {} generations", a.len());
    for (what, root) in [("second run (plain lowering)", &runs[1]), ("killed and restarted run", &killed)] {
        let (b_archive, b) = archived(root);
        // The page packs are a function of the execution positions too.
        assert_eq!(packs(&b_archive), a_packs, "{what}: pack files");
        for name in &a_packs {
            assert!(
                fs::read(archive.join(name)).unwrap() == fs::read(b_archive.join(name)).unwrap(),
                "{what}: {name}"
            );
        }
        let pos = |v: &[Ckpt]| v.iter().map(|c| (c.generation, c.instructions)).collect::<Vec<_>>();
        assert_eq!(pos(&b), pos(&a), "{what}: checkpoint positions differ");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                header_without_time(x),
                header_without_time(y),
                "{what}: header of generation {}",
                x.generation
            );
            let (sx, sy) = (stable_sections(x), stable_sections(y));
            assert_eq!(
                sx.iter().map(|s| s.0).collect::<Vec<_>>(),
                sy.iter().map(|s| s.0).collect::<Vec<_>>()
            );
            for (p, q) in sx.iter().zip(&sy) {
                assert!(p == q, "{what}: generation {}: section kind {} differs", x.generation, p.0);
            }
        }
    }
    // All three also produced the reference output.
    for root in runs.iter().chain([&killed]) {
        let mut want = HEADER.to_vec();
        want.extend_from_slice(&r.stdout);
        assert_bytes_eq(&root.stdout_bytes(), &want, "stdout");
        assert_eq!(root.sandbox_files(), r.files);
    }
    assert!(d.kills >= 1, "the killed run was never killed");
}

/// Issue 16: a checkpoint does not depend on the lowering. Every wat guest checkpointed at the
/// same `--every-instructions` positions under the optimized and the plain lowering writes
/// byte-identical sections (but the time-dependent Clock), and generations of one resume under
/// the other, both ways, and finish as the uninterrupted run.
#[test]
fn lowerings_write_identical_checkpoints_that_resume_each_other() {
    const PLAIN: &[(&str, &str)] = &[("CHIWAWA_LOWERING", "plain")];
    let guests = [
        Guest::wat("values", &[]),
        Guest::wat("rec", &["3", "1500"]),
        Guest::wat("refs", &["8"]),
        Guest::wat("tailcall", &["8", "2000"]),
        Guest::wat("funcref", &["3", "3000"]),
        Guest::wat("multimem", &["3", "3000"]),
        Guest::wat("mem64", &["2", "8", "300"]),
        Guest::wat("exn", &["4", "500"]),
        Guest::wat("simd", &["3", "40"]),
        Guest::wasm("cxx_eh_legacy", &["200"]),
        Guest::wat("tables", &[]),
        Guest::wat("memgrow", &["12"]),
        Guest::wat("multi", &[]),
        Guest::wat("globals", &[]),
    ];
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "7001", "--keep", "100000", "--keep-on-exit"];
    let mut restored = 0;
    for g in &guests {
        let r = reference(g);
        let roots: Vec<Root> = [&[][..], PLAIN]
            .iter()
            .map(|env| {
                let root = Root::with_header();
                let f = spawn(&root, g, &opts, env, Out::File).wait();
                assert_eq!(f.code(), Some(r.code), "{} {env:?}: {}", g.key(), f.stderr);
                root
            })
            .collect();
        let ((oa, o), (pa, p)) = (archived(&roots[0]), archived(&roots[1]));
        assert!(o.len() >= 5, "{}: only {} generations", g.key(), o.len());
        assert_eq!(o.len(), p.len(), "{}: generation count", g.key());
        for (x, y) in o.iter().zip(&p) {
            assert_eq!(
                header_without_time(x),
                header_without_time(y),
                "{}: gen {} header",
                g.key(),
                x.generation
            );
            assert!(
                stable_sections(x) == stable_sections(y),
                "{}: generation {} differs between the lowerings",
                g.key(),
                x.generation
            );
        }
        assert_eq!(packs(&oa), packs(&pa), "{}: packs", g.key());
        // Resume a spread of generations under the other lowering: exported to one file each.
        let step = (o.len() / 4).max(1);
        for (i, c) in o.iter().enumerate().step_by(step) {
            for (from, env) in [(&oa, PLAIN), (&pa, &[][..])] {
                let b = Root::new();
                if g.sandbox {
                    copy_tree(&roots[0].path().join("sb"), &b.path().join("sb"));
                }
                let file = b.path().join("x.ckpt");
                let out = std::process::Command::new(chiwawa())
                    .arg("export")
                    .arg(from.join(gen_name(c.generation)))
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let f = spawn(&b, g, &["--restore", "x.ckpt", "--checkpoint-dir", CK], env, Out::Pipe).wait();
                f.assert_no_panic(&g.key());
                let what = format!("{} generation {i} resumed with {env:?}", g.key());
                assert_eq!(f.code(), Some(r.code), "{what}: {}", f.stderr);
                assert!(f.stderr.contains("resuming from"), "{what}: {}", f.stderr);
                assert!(r.stdout.ends_with(&f.stdout), "{what}: stdout is not the reference's tail");
                restored += 1;
            }
        }
    }
    assert!(restored >= 40, "only {restored} cross-lowering restores");
}

#[test]
fn restore_copied_generation_in_another_directory() {
    let g = Guest::counter(20_000, 500);
    let r = reference(&g);
    // An uninterrupted run that archives all of its generations.
    let a = Root::with_header();
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "200003", "--keep", "1000", "--keep-on-exit"];
    let f = spawn(&a, &g, &opts, &[], Out::File).wait();
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    let (archive, gens) = archived(&a);
    assert!(gens.len() >= 5);
    let pick = &gens[gens.len() / 2];

    // Another directory with the files as the first run left them (complete output), and
    // the generation copied in under another name.
    let b = Root::new();
    copy_tree(&a.path().join("sb"), &b.path().join("sb"));
    fs::copy(a.stdout_path(), b.stdout_path()).unwrap();
    fs::create_dir(b.path().join("saved")).unwrap();
    let saved = b.path().join("saved/moved.ckpt");
    // The generation file alone is not enough: its pages are in the packs beside it.
    fs::copy(archive.join(gen_name(pick.generation)), &saved).unwrap();
    let restore = || {
        spawn(
            &b,
            &g,
            &["--restore", "saved/moved.ckpt", "--checkpoint-dir", CK, "--every-instructions", "200003"],
            &[],
            Out::File,
        )
        .wait()
    };
    let f = restore();
    f.assert_no_panic("restore without packs");
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert!(f.stderr.contains("page pack") && f.stderr.contains("cannot open"), "{}", f.stderr);
    // `chiwawa export` makes it one self-contained file (and refuses to overwrite one).
    let export = || {
        std::process::Command::new(chiwawa())
            .args([
                "export",
                archive.join(gen_name(pick.generation)).to_str().unwrap(),
                saved.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let out = export();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    fs::remove_file(&saved).unwrap();
    let out = export();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = read_ckpt(&saved).unwrap();
    assert_eq!(exported.generation, pick.generation);
    assert!(exported.sections.iter().any(|s| s.kind == KIND_MEMORY), "export has inline memory");
    assert!(!exported.sections.iter().any(|s| s.kind == KIND_PAGES), "export references no packs");
    let pick_bytes = fs::read(&saved).unwrap();
    let f = restore();
    f.assert_no_panic("restore");
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    assert_eq!(
        resumed_from(&f.stderr),
        [("saved/moved.ckpt".to_string(), pick.generation, pick.instructions)],
        "{}",
        f.stderr
    );
    // Output written after the checkpoint was cut off and written again.
    assert!(f.stderr.contains("truncating stdout"), "{}", f.stderr);
    assert!(f.stderr.contains("out.txt"), "out.txt should be truncated back: {}", f.stderr);
    assert_equivalent(&b, &r, "--restore");
    assert_eq!(fs::read(&saved).unwrap(), pick_bytes, "the restored file must be left alone");
}

#[test]
fn fresh_ignores_existing_generations() {
    let g = Guest::wat("rec", &[]);
    let r = reference(&g);
    let root = Root::with_header();
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "50021"];
    make_generations(&root, &root.ck(), &g, &opts, 2);
    // Start over into a clean stdout file: all of the output must come from this run.
    fs::write(root.stdout_path(), HEADER).unwrap();
    let f = spawn(
        &root,
        &g,
        &["--fresh", "--checkpoint-dir", CK, "--every-instructions", "50021"],
        &[],
        Out::File,
    )
    .wait();
    f.assert_no_panic("--fresh");
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    assert!(resumed_from(&f.stderr).is_empty(), "--fresh resumed: {}", f.stderr);
    assert_equivalent(&root, &r, "--fresh");

    // Without --fresh the same command would have resumed (and printed only the tail).
    let root = Root::with_header();
    make_generations(&root, &root.ck(), &g, &opts, 2);
    fs::write(root.stdout_path(), HEADER).unwrap();
    let f = spawn(&root, &g, &opts, &[], Out::File).wait();
    assert_eq!(f.code(), Some(0));
    assert_eq!(resumed_from(&f.stderr).first().map(|x| x.1), Some(2), "{}", f.stderr);
    assert!(root.stdout_bytes().len() < HEADER.len() + r.stdout.len());
}

#[test]
fn default_checkpoint_directory() {
    let g = Guest::counter(20_000, 500);
    let r = reference(&g);
    let root = Root::with_header();
    let ck = root.path().join(".chiwawa/counter");
    let opts = ["--every-instructions", "100003"];
    make_generations(&root, &ck, &g, &opts, 1);
    assert_eq!(dir_names(&root.path().join(".chiwawa")), ["counter"]);
    let f = spawn(&root, &g, &opts, &[], Out::File).wait();
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    assert_eq!(
        resumed_from(&f.stderr).first().map(|x| (x.0.as_str(), x.1)),
        Some((".chiwawa/counter/gen-0000000000000001.ckpt", 1))
    );
    assert_equivalent_in(&root, &ck, &r, "default checkpoint directory");
}

/// A guest that runs far longer than any test waits; the tests kill it.
fn endless() -> Guest {
    Guest::counter(2_000_000_000, 1_000_000)
}

#[test]
fn trigger_file_requests_a_checkpoint() {
    let root = Root::with_header();
    let ck = root.ck();
    let trigger = ck.join("checkpoint.trigger");
    let opts = ["--checkpoint-dir", CK];
    let mut run = spawn(&root, &endless(), &opts, &[], Out::File);
    // Only the (absent) default trigger file is configured: no checkpoint on its own.
    assert!(run.wait_until(Duration::from_secs(20), |_| ck.is_dir()), "checkpoint directory not created");
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.exited().is_none());
    assert!(list_gens(&ck).is_empty(), "checkpoint without a trigger: {:?}", dir_names(&ck));

    fs::write(&trigger, b"").unwrap();
    let taken = run.wait_until(Duration::from_secs(20), |_| !list_gens(&ck).is_empty() && !trigger.exists());
    assert!(run.exited().is_none(), "guest exited early");
    let f = run.kill();
    assert!(taken, "no generation / trigger not consumed: {:?}\n{}", dir_names(&ck), f.stderr);
    let gens = list_gens(&ck);
    assert_eq!(gens.iter().map(|g| g.0).collect::<Vec<_>>(), [1]);
    let c = read_ckpt(&gens[0].1).unwrap();
    assert!(c.instructions > 0);

    // The next run resumes from it; a second trigger gives generation 2.
    let mut run = spawn(&root, &endless(), &opts, &[], Out::File);
    let resumed = run.wait_until(Duration::from_secs(20), |r| {
        r.stderr_now().contains("resuming from ck/gen-0000000000000001.ckpt")
    });
    fs::write(&trigger, b"").unwrap();
    let taken = run.wait_until(Duration::from_secs(20), |_| list_gens(&ck).len() == 2 && !trigger.exists());
    let f = run.kill();
    assert!(
        resumed && taken,
        "resumed {resumed}, second checkpoint {taken}: {:?}\n{}",
        dir_names(&ck),
        f.stderr
    );
    assert!(read_ckpt(&list_gens(&ck)[0].1).unwrap().instructions > c.instructions);
}

#[test]
fn every_duration_checkpoints_while_running() {
    let root = Root::with_header();
    let ck = root.ck();
    let mut run = spawn(
        &root,
        &endless(),
        &["--checkpoint-dir", CK, "--every", "200ms"],
        &[("RUST_LOG", "chiwawa=debug")],
        Out::File,
    );
    let t0 = run.started;
    let first = run.wait_until(Duration::from_secs(20), |_| !list_gens(&ck).is_empty());
    let first_at = t0.elapsed();
    let second =
        run.wait_until(Duration::from_secs(20), |_| list_gens(&ck).first().is_some_and(|g| g.0 >= 2));
    assert!(run.exited().is_none(), "guest exited early");
    let f = run.kill();
    assert!(first && second, "no interval checkpoints: {:?}\n{}", dir_names(&ck), f.stderr);
    assert!(first_at >= Duration::from_millis(200), "first interval checkpoint after only {first_at:?}");
    assert!(f.stderr.contains("reason interval"), "{}", f.stderr);
    let gens = list_gens(&ck);
    let ckpts: Vec<Ckpt> = gens.iter().map(|(_, p)| read_ckpt(p).unwrap()).collect();
    assert!(ckpts.windows(2).all(|w| w[0].instructions > w[1].instructions));
}

/// A run killed after it wrote output but before its first checkpoint: the restart starts
/// from the beginning, and the undo journal (started at "generation 0" with the size of the
/// regular-file stdout) cuts the stdout file back and removes out.txt, which the killed run
/// created, so the output is not written twice.
#[test]
fn kill_before_first_checkpoint_keeps_output_exact() {
    let g = Guest::counter(100_000, 1_000);
    let r = reference(&g);
    let root = Root::with_header();
    // The first checkpoint would come after the whole run.
    let opts = ["--checkpoint-dir", CK, "--every-instructions", "1000000000"];
    let mut run = spawn(&root, &g, &opts, &[], Out::File);
    let path = root.stdout_path();
    assert!(run.wait_until(Duration::from_secs(20), |_| split_lines(&fs::read(&path).unwrap()).len() > 5));
    let f = run.kill();
    assert!(f.killed && list_gens(&root.ck()).is_empty());
    let f = spawn(&root, &g, &opts, &[], Out::File).wait();
    assert_eq!(f.code(), Some(0));
    assert_equivalent(&root, &r, "kill before the first checkpoint");
}
