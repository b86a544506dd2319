//! Writes the committed seed corpora (`fuzz/corpus/<target>/`):
//!
//!     cd fuzz && cargo run --release --example gen_seeds
//!
//! * checkpoint: real checkpoints (format version 2) of every embedded guest at a few
//!   instruction counts (creation time zeroed; the Clock section still records the monotonic
//!   clock, so the bytes differ a little from one generation to the next), one per guest
//!   restored under the plain lowering (generation 2, see `ckpt::lowering_of`), and an
//!   incremental generation of grow.wat (a `Pages` section, whose packs are absent). The
//!   `v1-*.ckpt` seeds are version-1 files of the last release that wrote them; they are
//!   kept as they are (nothing writes version 1 any more) for the conversion path;
//! * module: the guests' binaries and a few byte strings that wasm-smith turns into modules;
//! * differential: byte strings for wasm-smith;
//! * checkpoint_oracle: inputs per embedded guest (odd first byte; the second byte picks the
//!   lowerings) and a few for wasm-smith.
//!
//! Self-checks first: every guest is run under both lowerings side by side, paused every 97
//! units, and at each pause the two captures must be byte-identical in their Machine, Store
//! and Wasi sections (the state in Wasm terms does not depend on the lowering), and every
//! frame must stand at a point the mutator's stack-map facts (`GuestInfo::funcs`) know.
//! After writing the checkpoint seeds, every version-1 seed must convert to exactly the state
//! of the version-2 seed of the same guest and instruction count.

use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::format::Header;
use chiwawa::checkpoint::pages::PageTracker;
use chiwawa::checkpoint::CheckpointDir;
use chiwawa::compile::stackmap::PointKind;
use chiwawa::compile::Lowering;
use chiwawa::guest::{Entry, Guest, Step};
use chiwawa::snapshot::{self, MachineImage, Resume};
use chiwawa::wasi::WasiCtx;
use chiwawa_fuzz::guests::{self, limits, wasi_config, GuestInfo};
use chiwawa_fuzz::Rng;
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn random(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

fn guest(g: &GuestInfo, lowering: Lowering) -> Guest {
    let wasi = WasiCtx::new(&wasi_config(g.name)).expect("wasi");
    Guest::instantiate(g.module_for(lowering).clone(), wasi, limits(), Entry::Command).expect("instantiate")
}

/// A self-contained checkpoint file of `guest` (creation time zeroed).
fn file(g: &GuestInfo, guest: &mut Guest, generation: u64) -> Vec<u8> {
    let cap = snapshot::capture(guest).expect("capture");
    let mut header = Header::new(&g.bytes, generation, cap.executed);
    header.created_unix_nanos = 0;
    let mut file = Vec::new();
    snapshot::write(guest, &cap, &header, None, &mut file).expect("write");
    file
}

/// Every frame of `mi` at a point the guest's facts know, chained as calls make them.
fn check_frames(g: &GuestInfo, mi: &MachineImage) {
    let n = mi.frames.len();
    for (i, f) in mi.frames.iter().enumerate() {
        let ff = g.funcs.get(f.func as usize).and_then(|x| x.as_ref());
        let ff =
            ff.unwrap_or_else(|| panic!("{}: frame {i} in function {}, not a defined one", g.name, f.func));
        let kind = if f.at == Resume::SafePoint { PointKind::SafePoint } else { PointKind::Call };
        let p = ff.points.iter().find(|p| p.offset == f.offset && p.kind == kind);
        let p = p.unwrap_or_else(|| panic!("{}: frame {i} {f:?}: no {kind:?} point at that offset", g.name));
        assert_eq!(f.at == Resume::AfterCall, i + 1 < n, "{}: frame {i} {f:?}", g.name);
        assert_eq!(f.locals.len(), ff.locals.len(), "{}: frame {i} locals", g.name);
        if let (Some(callee), Some(next)) = (p.callee, mi.frames.get(i + 1)) {
            assert_eq!(callee, next.func, "{}: frame {} is not what frame {i} calls", g.name, i + 1);
        }
    }
}

fn self_check() {
    for g in guests::all() {
        let mut a = guest(g, Lowering::Optimized);
        let mut b = guest(g, Lowering::Plain);
        let mut pauses = 0;
        loop {
            let (sa, sb) = (a.step(97).expect("step"), b.step(97).expect("step"));
            assert_eq!(a.machine.executed(), b.machine.executed(), "{}: executed differs", g.name);
            match (sa, sb) {
                (Step::Paused, Step::Paused) => {}
                (Step::Finished(x), Step::Finished(y)) => {
                    assert_eq!(format!("{x:?}"), format!("{y:?}"), "{}: outcomes differ", g.name);
                    break;
                }
                (x, y) => panic!("{}: one lowering paused, the other finished: {x:?} / {y:?}", g.name),
            }
            let ca = snapshot::capture(&mut a).expect("capture");
            let cb = snapshot::capture(&mut b).expect("capture");
            assert!(ca.machine == cb.machine, "{}: Machine sections differ at {}", g.name, ca.executed);
            assert!(ca.store == cb.store, "{}: Store sections differ at {}", g.name, ca.executed);
            assert!(ca.wasi == cb.wasi, "{}: Wasi sections differ at {}", g.name, ca.executed);
            let mi: MachineImage = codec::decode(&ca.machine).expect("machine");
            check_frames(g, &mi);
            pauses += 1;
        }
        eprintln!(
            "{}: {pauses} pauses, identical under both lowerings, every frame at a known point",
            g.name
        );
    }
}

/// Every `v1-NAME.ckpt` seed in `dir` (version 1, written by the last release that wrote
/// version 1) converts to exactly the state of the version-2 `NAME.ckpt` just written at the
/// same instruction count: the same Machine and Store sections once re-captured.
fn check_v1_seeds(dir: &Path) {
    use chiwawa::checkpoint::format::{parse_checkpoint, SectionKind};
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("corpus dir") {
        let path = e.expect("entry").path();
        let name = path.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let Some(v2name) = name.strip_prefix("v1-") else { continue };
        let (Ok(d1), Ok(d2)) = (std::fs::read(&path), std::fs::read(dir.join(v2name))) else { continue };
        let c1 = parse_checkpoint(&d1).expect("v1 seed parses");
        assert_eq!(c1.header.format_version, 1, "{name}");
        let c2 = parse_checkpoint(&d2).expect("v2 seed parses");
        if c1.section(SectionKind::Pages).is_some() || c1.header.instructions != c2.header.instructions {
            continue;
        }
        let g = guests::by_hash(&c1.header.module_hash).expect("a guest");
        let mut r = snapshot::restore(g.module.clone(), &c1, &wasi_config(g.name), limits())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let cap = snapshot::capture(&mut r).expect("capture");
        let same = |k| c2.section(k).expect("section").payload;
        assert!(
            cap.machine == same(SectionKind::Machine),
            "{name}: converted Machine differs from {v2name}'s"
        );
        assert!(cap.store == same(SectionKind::Store), "{name}: converted Store differs from {v2name}'s");
        n += 1;
    }
    eprintln!("{n} version-1 seeds convert to the state of their version-2 twins");
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let out = Path::new(&out);
    self_check();
    for g in guests::all() {
        for &at in &[0u64, 1_500, 40_000] {
            let mut guest = guest(g, Lowering::Optimized);
            if at > 0 {
                match guest.step(at).expect("step") {
                    Step::Paused => {}
                    Step::Finished(o) => {
                        eprintln!("{}: finished before {at}: {o:?}", g.name);
                        continue;
                    }
                }
            }
            // Generation 1: restored under the optimized lowering; the 1500 one also as
            // generation 2 (restored under the plain one), captured under the plain one.
            let f = file(g, &mut guest, 1);
            eprintln!("{}: checkpoint at {} units, {} bytes", g.name, guest.machine.executed(), f.len());
            write(&out.join("checkpoint"), &format!("{}-{at}.ckpt", g.name), &f);
            if at == 1_500 {
                let mut p = self::guest(g, Lowering::Plain);
                assert!(matches!(p.step(at).expect("step"), Step::Paused));
                write(&out.join("checkpoint"), &format!("{}-{at}-plain.ckpt", g.name), &file(g, &mut p, 2));
            }
        }
        write(&out.join("module"), &format!("{}.wasm", g.name), &g.bytes);
    }
    // An incremental generation (generation 2 of grow.wat: Pages sections naming packs the
    // target does not have).
    {
        let g = guests::all().iter().find(|g| g.name == "grow").expect("grow guest");
        let tmp = std::env::temp_dir().join(format!("chiwawa-gen-seeds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let dir = CheckpointDir::open(&tmp, 3).expect("checkpoint dir");
        let mut guest = guest(g, Lowering::Optimized);
        let mut tracker = PageTracker::new();
        let mut last = None;
        for _ in 0..2 {
            assert!(matches!(guest.step(1_500).expect("step"), Step::Paused));
            last =
                Some(snapshot::checkpoint(&mut guest, &dir, g.hash, Some(&mut tracker)).expect("checkpoint"));
        }
        let c = last.expect("a generation");
        let bytes = std::fs::read(&c.path).expect("read generation");
        eprintln!("pages-grow-{}: {} bytes", c.generation, bytes.len());
        write(&out.join("checkpoint"), &format!("pages-grow-{}.ckpt", c.generation), &bytes);
        let _ = std::fs::remove_dir_all(&tmp);
    }
    check_v1_seeds(&out.join("checkpoint"));
    let mut rng = Rng::new(2026);
    for i in 0..6 {
        let n = 64 << (i % 4);
        write(&out.join("module"), &format!("smith-{i}"), &random(&mut rng, n));
        write(&out.join("differential"), &format!("smith-{i}"), &random(&mut rng, n * 2));
        let mut o = random(&mut rng, n * 2);
        o[0] &= !1;
        // Byte 1: the lowerings (`oracle::Lowerings::from_byte`), every policy once or twice.
        o[1] = [0b0000, 0b0100, 0b0111, 0b1000, 0b1101, 0b0010][i];
        write(&out.join("checkpoint_oracle"), &format!("smith-{i}"), &o);
    }
    for (i, _) in guests::all().iter().enumerate() {
        // Everything optimized, and across lowerings at every restore.
        for (suffix, flags) in [("", 0u8), ("-cross", 0b0100 | (i as u8 & 3))] {
            let mut o = vec![(i as u8) << 1 | 1, flags];
            o.extend(random(&mut rng, 16));
            write(&out.join("checkpoint_oracle"), &format!("guest-{i}{suffix}"), &o);
        }
    }
}
