//! Writes the minimal version-2 reproducers of the `checkpoint` target into
//! `fuzz/regressions/checkpoint/v2-*.ckpt`: each is a real checkpoint of an embedded guest
//! with exactly one field edited (named in the file name and below) in a way restore must
//! refuse. The other files there are version 1 (the findings of docs/FUZZING.md, written by
//! the last release that wrote version 1): nothing writes version 1 any more, so they are
//! kept as they are and exercise the conversion of `snapshot::v1`.
//!
//!     cd fuzz && cargo run --release --example regressions
//!
//! Replay: `scripts/fuzz.sh smoke`, or one file:
//! `$CARGO_TARGET_DIR/fuzz/x86_64-unknown-linux-gnu/release/checkpoint FILE`.

use chiwawa::checkpoint::codec;
use chiwawa::checkpoint::format::{parse_checkpoint, CheckpointWriter, Header, SectionKind};
use chiwawa::compile::stackmap::PointKind;
use chiwawa::guest::{Entry, Guest, Step};
use chiwawa::runtime::ValType;
use chiwawa::snapshot::{self, MachineImage, Resume, StoreImage, Value};
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
    snapshot::write(&guest, &cap, &header, None, &mut file).expect("write");
    let c = parse_checkpoint(&file).expect("parse");
    let mut mi: MachineImage =
        codec::decode(c.section(SectionKind::Machine).expect("machine").payload).expect("machine");
    let mut si: StoreImage =
        codec::decode(c.section(SectionKind::Store).expect("store").payload).expect("store");
    edit(g, &mut mi, &mut si);
    let mut w = CheckpointWriter::new(Vec::new(), &header).expect("header");
    for s in &c.sections {
        let p = match s.kind {
            SectionKind::Machine => codec::encode(&mi).expect("encode"),
            SectionKind::Store => codec::encode(&si).expect("encode"),
            _ => s.payload.to_vec(),
        };
        w.section(s.kind, &p).expect("section");
    }
    w.finish().expect("finish")
}

fn main() {
    let dir = std::path::Path::new("regressions/checkpoint");
    std::fs::create_dir_all(dir).expect("dir");
    let all = guests::all();
    let by = |name: &str| all.iter().find(|g| g.name == name).expect("guest");
    let (tables, rec) = (by("tables"), by("rec"));
    let cases: Vec<(&str, &GuestInfo, u64, Edit)> = vec![
        // A funcref global naming the function one past the module's last (finding 2 in
        // version-2 terms): "global 0 holds a reference to function N, which does not exist".
        ("v2-funcref-global-out-of-range", tables, 1500, |g, _, si| {
            si.globals[0] = Value::FuncRef(Some(g.nfuncs));
        }),
        // An externref table element at u64::MAX: its slot encoding (value + 1) overflows.
        ("v2-externref-max", tables, 1500, |g, _, si| {
            let t = g.table_types.iter().position(|&t| t == ValType::ExternRef).expect("an externref table");
            si.tables[t].elems[0] = Value::ExternRef(Some(u64::MAX));
        }),
        // The top frame one byte past its safe point (findings 1 and 3 in version-2 terms: a
        // position no stack map names).
        ("v2-offset-not-a-point", tables, 1500, |_, mi, _| {
            mi.frames.last_mut().expect("frame").offset += 1;
        }),
        // The top frame at a call point while it says it paused at a safe point.
        ("v2-safepoint-at-a-call", tables, 1500, |g, mi, _| {
            let f = mi.frames.last_mut().expect("frame");
            let ff = g.funcs[f.func as usize].as_ref().expect("defined");
            f.offset = ff.points.iter().find(|p| p.kind == PointKind::Call).expect("a call").offset;
        }),
        // A local of type i32 saved as a funcref (finding 3's type confusion, refused by type).
        ("v2-local-type", tables, 1500, |_, mi, _| {
            let f = mi.frames.last_mut().expect("frame");
            let l = f.locals.iter().position(|v| v.ty() == ValType::I32).expect("an i32 local");
            f.locals[l] = Value::FuncRef(Some(0));
        }),
        // The top frame replaced by one of a function of another type at its entry (well
        // formed in itself: typed locals, empty operand stack), which is not what its
        // caller's call calls (rec.wat: `$ack1` waiting for a `call_indirect` of type `$t`,
        // replaced by `$deep`).
        ("v2-callee-mismatch", rec, 1500, |g, mi, _| {
            let f = mi.frames.last_mut().expect("frame");
            let ty = |h: u32| g.module.func_type(h).clone();
            let other = g.defined().find(|&h| ty(h) != ty(f.func)).expect("a function of another type");
            let ff = g.funcs[other as usize].as_ref().expect("defined");
            let entry = ff.points.iter().find(|p| p.kind == PointKind::SafePoint).expect("entry");
            assert!(entry.entries.is_empty());
            f.func = other;
            f.offset = entry.offset;
            f.at = Resume::SafePoint;
            f.locals = ff.locals.iter().map(|&t| g.value_of_bits(t, 0)).collect();
            f.stack.clear();
        }),
    ];
    for (name, g, at, edit) in cases {
        let bytes = checkpoint(g, at, edit);
        std::fs::write(dir.join(format!("{name}.ckpt")), &bytes).expect("write");
        // Each must be refused by restore (without a crash: the fuzz target replays them).
        let c = parse_checkpoint(&bytes).expect("parse");
        match snapshot::restore(g.module.clone(), &c, &wasi_config(g.name), limits()) {
            Ok(_) => panic!("{name}: restore accepted it"),
            Err(e) => eprintln!("{name}.ckpt: {} bytes, refused: {e}", bytes.len()),
        }
    }
}
