//! Writes the committed seed corpora (`fuzz/corpus/<target>/`):
//!
//!     cd fuzz && cargo run --release --example gen_seeds
//!
//! * checkpoint: real checkpoints of every embedded guest at a few instruction counts
//!   (creation time zeroed; the Clock section still records the monotonic clock, so the
//!   bytes differ a little from one generation to the next);
//! * module: the guests' binaries and a few byte strings that wasm-smith turns into modules;
//! * differential: byte strings for wasm-smith;
//! * checkpoint_oracle: one input per embedded guest (odd first byte) and a few for wasm-smith.

use chiwawa::checkpoint::format::Header;
use chiwawa::guest::{Entry, Guest, Step};
use chiwawa::snapshot::{self, FrameImage};
use chiwawa::wasi::WasiCtx;
use chiwawa_fuzz::guests::{self, limits, wasi_config};
use chiwawa_fuzz::Rng;
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn random(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let out = Path::new(&out);
    for g in guests::all() {
        for &at in &[0u64, 1_500, 40_000] {
            let wasi = WasiCtx::new(&wasi_config(g.name)).expect("wasi");
            let mut guest =
                Guest::instantiate(g.module.clone(), wasi, limits(), Entry::Command).expect("instantiate");
            if at > 0 {
                match guest.step(at).expect("step") {
                    Step::Paused => {}
                    Step::Finished(o) => {
                        eprintln!("{}: finished before {at}: {o:?}", g.name);
                        continue;
                    }
                }
            }
            let cap = snapshot::capture(&mut guest).expect("capture");
            let mut header = Header::new(&g.bytes, 1, cap.executed);
            header.created_unix_nanos = 0;
            let mut file = Vec::new();
            snapshot::write(&guest, &cap, &header, &mut file).expect("write");
            eprintln!("{}: checkpoint at {} units, {} bytes", g.name, cap.executed, file.len());
            write(&out.join("checkpoint"), &format!("{}-{at}.ckpt", g.name), &file);
        }
        write(&out.join("module"), &format!("{}.wasm", g.name), &g.bytes);
    }
    // Self-check of the checkpoint target's known-bug filter: every honest capture, at many
    // instruction counts, must count as a plausible call stack.
    for g in guests::all() {
        let wasi = WasiCtx::new(&wasi_config(g.name)).expect("wasi");
        let mut guest =
            Guest::instantiate(g.module.clone(), wasi, limits(), Entry::Command).expect("instantiate");
        let mut pauses = 0;
        while let Step::Paused = guest.step(97).expect("step") {
            let frames: Vec<FrameImage> = guest.machine.frames().iter().map(FrameImage::from).collect();
            assert!(
                chiwawa_fuzz::ckpt::plausible_frames(&frames, g),
                "{}: frames {:?} at {} judged implausible",
                g.name,
                frames,
                guest.machine.executed()
            );
            pauses += 1;
        }
        eprintln!("{}: {pauses} pauses, all plausible", g.name);
    }
    let mut rng = Rng::new(2026);
    for i in 0..6 {
        let n = 64 << (i % 4);
        write(&out.join("module"), &format!("smith-{i}"), &random(&mut rng, n));
        write(&out.join("differential"), &format!("smith-{i}"), &random(&mut rng, n * 2));
        let mut o = random(&mut rng, n * 2);
        o[0] &= !1;
        write(&out.join("checkpoint_oracle"), &format!("smith-{i}"), &o);
    }
    for (i, _) in guests::all().iter().enumerate() {
        let mut o = vec![(i as u8) << 1 | 1];
        o.extend(random(&mut rng, 16));
        write(&out.join("checkpoint_oracle"), &format!("guest-{i}"), &o);
    }
}
