//! Writes the minimal reproducers of the `checkpoint` target's findings into
//! `fuzz/regressions/checkpoint/`: each is a real checkpoint of an embedded guest with exactly
//! one field edited (named in the file name and below), so what restore should have refused
//! is plain. Fuzzer-found inputs that led to each one are described in docs/FUZZING.md.
//!
//!     cd fuzz && cargo run --release --example regressions
//!
//! Replay: `scripts/fuzz.sh smoke`, or one file:
//! `$CARGO_TARGET_DIR/fuzz/x86_64-unknown-linux-gnu/release/checkpoint FILE`.

use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::format::{parse_checkpoint, CheckpointWriter, Header, SectionKind};
use chiwawa::guest::{Entry, Guest, Step};
use chiwawa::snapshot::{self, MachineImage, StoreImage};
use chiwawa::wasi::WasiCtx;
use chiwawa_fuzz::guests::{self, limits, wasi_config, GuestInfo};

type Edit = fn(&GuestInfo, &mut MachineImage, &mut StoreImage);

/// A checkpoint of `g` after `at` instruction units, with `edit` applied to its state.
fn checkpoint(g: &GuestInfo, at: u64, edit: Edit) -> Vec<u8> {
    let wasi = WasiCtx::new(&wasi_config(g.name)).expect("wasi");
    let mut guest =
        Guest::instantiate(g.module.clone(), wasi, limits(), Entry::Command).expect("instantiate");
    assert!(matches!(guest.step(at).expect("step"), Step::Paused), "{} finished before {at}", g.name);
    let cap = snapshot::capture(&mut guest).expect("capture");
    let mut header = Header::new(&g.bytes, 1, cap.executed);
    header.created_unix_nanos = 0;
    let mut file = Vec::new();
    snapshot::write(&guest, &cap, &header, &mut file).expect("write");
    let c = parse_checkpoint(&file).expect("parse");
    let mut w = CheckpointWriter::new(Vec::new(), &header).expect("header");
    for s in &c.sections {
        let mut p = s.payload.to_vec();
        if s.kind == SectionKind::Machine || s.kind == SectionKind::Store {
            let mut mi: MachineImage =
                codec::decode(c.section(SectionKind::Machine).expect("machine").payload).expect("machine");
            let mut si: StoreImage =
                codec::decode(c.section(SectionKind::Store).expect("store").payload).expect("store");
            edit(g, &mut mi, &mut si);
            p = if s.kind == SectionKind::Machine { codec::encode(&mi) } else { codec::encode(&si) }
                .expect("encode");
        }
        w.section(s.kind, &p).expect("section");
    }
    w.finish().expect("finish")
}

fn top_code_len(g: &GuestInfo, mi: &MachineImage) -> u32 {
    let f = mi.frames.last().expect("a frame").func;
    g.code[f as usize].expect("a Wasm function").0
}

fn main() {
    let dir = std::path::Path::new("regressions/checkpoint");
    std::fs::create_dir_all(dir).expect("dir");
    let all = guests::all();
    let tables = all.iter().find(|g| g.name == "tables").expect("tables guest");
    let cases: Vec<(&str, &GuestInfo, u64, Edit)> = vec![
        // apply_machine accepts pc == code length (`f.pc > code.len()`); dispatch then reads the
        // instruction one past the end (handlers.rs get_unchecked; a segfault in release).
        ("pc-at-code-end", tables, 1500, |g, mi, _| {
            let len = top_code_len(g, mi);
            mi.frames.last_mut().expect("frame").pc = len;
        }),
        // apply_store checks funcrefs in tables but not in globals: the guest moves global $g
        // into its table and call_indirect indexes store.funcs with it (handlers.rs:984 panic).
        ("funcref-global-out-of-range", tables, 1500, |g, _, si| si.globals[0] = u64::from(g.nfuncs) + 1),
        // apply_machine accepts any pc within the code, not only safe points (a Poll, or just
        // after a call in the frames below). Two edits of a real checkpoint of the tables guest:
        // pc 10 -> 7 (in range, not a safe point) and slot 2 23 -> 1; resumed there, the code
        // takes slot 3 (an i32 temporary, 89 at the capture) as a funcref and call_indirect
        // indexes store.funcs with it (handlers.rs:984 panic). Any pc that lets a funcref-typed
        // read meet a slot holding something else does the same; slots are untyped, so only
        // restricting pcs to safe points (or checking the reference at use) can rule it out.
        ("pc-not-a-safe-point", tables, 1500, |_, mi, _| {
            mi.frames.last_mut().expect("frame").pc = 7;
            mi.stack[2] = 1;
        }),
    ];
    for (name, g, at, edit) in cases {
        let bytes = checkpoint(g, at, edit);
        std::fs::write(dir.join(format!("{name}.ckpt")), &bytes).expect("write");
        eprintln!("{name}.ckpt: {} bytes", bytes.len());
    }
}
