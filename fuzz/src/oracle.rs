//! The `checkpoint_oracle` target: one module run twice on chiwawa, once uninterrupted and
//! once cut at random instruction counts where the guest is captured, written to bytes,
//! parsed, restored into a brand-new guest and continued (possibly many times). Both runs
//! must end the same: every call's results or trap, the executed instruction count, and the
//! whole store (globals, memories, tables).

use crate::guests::{self, limits, wasi_config};
use crate::run::{self, Call, StoreState};
use crate::{smith, Rng};
use chiwawa::checkpoint::format::{parse_checkpoint, Header};
use chiwawa::guest::{Entry, Guest, Phase};
use chiwawa::snapshot;
use chiwawa::Module;
use std::sync::Arc;

/// Instruction units per call.
pub const BUDGET: u64 = 300_000;

/// Round trips per run at most (each costs a capture, a write, a parse and a restore).
pub const MAX_TRIPS: u32 = 64;

/// What to call, in order: `None` is the start function / a command's `_start`.
type Plan = Vec<Option<String>>;

/// How a whole run ended.
#[derive(Debug, PartialEq)]
pub struct Ending {
    pub calls: Vec<Call>,
    pub state: StoreState,
    /// A call ran out of budget (the runs stop there, at the same count).
    pub exhausted: bool,
    /// Checkpoints taken and restored.
    pub restores: u32,
}

fn plan_for(g: &Guest, command: bool) -> Plan {
    if command {
        return vec![None];
    }
    let mut p = Vec::new();
    if g.phase == Phase::Start {
        p.push(None);
    }
    p.extend(run::func_exports(&g.module).into_iter().take(12).map(Some));
    p
}

/// Capture → write → parse → accept → restore into a new guest.
fn round_trip(mut g: Guest, bytes: &[u8], generation: u64, fresh_module: bool) -> Guest {
    let cap = snapshot::capture(&mut g).expect("capture");
    let header = Header::new(bytes, generation, cap.executed);
    let mut file = Vec::new();
    snapshot::write(&g, &cap, &header, None, &mut file).expect("write");
    let module = if fresh_module {
        Arc::new(Module::new(bytes).expect("module compiles again"))
    } else {
        g.module.clone()
    };
    drop(g);
    let c = parse_checkpoint(&file).expect("parse of a fresh checkpoint");
    snapshot::accept(&c, &header.module_hash, bytes.len() as u64).expect("accept of a fresh checkpoint");
    match snapshot::restore(module, &c, &wasi_config("fuzz"), limits()) {
        Ok(g) => g,
        Err(e) => panic!("restore of a fresh checkpoint failed: {e}"),
    }
}

/// Runs `plan`; with `cuts`, pauses at random instruction counts and round-trips the guest.
pub fn run_plan(bytes: &[u8], command: bool, cuts: Option<&mut Rng>) -> Option<Ending> {
    run_plan_with(bytes, command, cuts, &|_| {})
}

/// [`run_plan`] with `tamper` applied to every restored guest (the oracle's self-test,
/// `examples/oracle_selftest.rs`, breaks restores on purpose to see the oracle notice).
pub fn run_plan_with(
    bytes: &[u8],
    command: bool,
    mut cuts: Option<&mut Rng>,
    tamper: &dyn Fn(&mut Guest),
) -> Option<Ending> {
    let mut g = run::instantiate(bytes).ok()?;
    let plan = plan_for(&g, command);
    let mut calls = Vec::new();
    let mut exhausted = false;
    let mut restores = 0;
    for entry in &plan {
        match entry {
            Some(name) => run::set_entry(&mut g, name),
            None => g.entry = Entry::Command,
        }
        let call = match cuts.as_deref_mut() {
            None => run::call(&mut g, BUDGET),
            Some(rng) => {
                let start = g.machine.executed();
                loop {
                    let spent = g.machine.executed().wrapping_sub(start);
                    if spent >= BUDGET {
                        break Call::Exhausted;
                    }
                    // Small slices half the time (most wasm-smith calls run only tens of
                    // units); at most MAX_TRIPS round trips per run, then straight on.
                    let slice = match (restores >= MAX_TRIPS, rng.below(4)) {
                        (true, _) => BUDGET,
                        (_, 0 | 1) => 1 + rng.below(16),
                        (_, 2) => 1 + rng.below(1000),
                        _ => 1 + rng.below(BUDGET / 4),
                    };
                    if let Some(c) = run::outcome(g.step(slice.min(BUDGET - spent))) {
                        break c;
                    }
                    if restores < MAX_TRIPS && !rng.chance(4) {
                        restores += 1;
                        g = round_trip(g, bytes, u64::from(restores), rng.chance(4));
                        tamper(&mut g);
                    }
                }
            }
        };
        // Go on after a return, or after a trap in an export (not in the start function).
        let go_on = matches!(call, Call::Returned(_) | Call::Exit(0))
            || (matches!(call, Call::Trap(_)) && g.phase == Phase::Entry);
        exhausted |= matches!(call, Call::Exhausted);
        calls.push(call);
        if !go_on {
            break;
        }
    }
    Some(Ending { calls, state: run::store_state(&g), exhausted, restores })
}

/// The target body. Byte 0 picks the module: odd → an embedded guest, even → wasm-smith.
pub fn target(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let (bytes, command) = if first & 1 == 1 {
        let all = guests::all();
        let g = &all[(first as usize >> 1) % all.len()];
        // Their stdout state would truncate a regular-file stdout on restore (see ckpt.rs).
        if crate::ckpt::stdio_is_file(&[1]) && g.module.imports().iter().any(|i| i.name == "fd_write") {
            return;
        }
        (g.bytes.clone(), true)
    } else {
        let mut u = arbitrary::Unstructured::new(rest);
        match smith::module(&mut u, true) {
            Some(b) => (b, false),
            None => return,
        }
    };
    // Cut points come from the whole input, so libFuzzer can steer them.
    let mut seed = 0xcbf2_9ce4_8422_2325u64;
    for &b in data {
        seed = (seed ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let mut rng = Rng::new(seed);
    let Some(a) = run_plan(&bytes, command, None) else { return };
    let b = run_plan(&bytes, command, Some(&mut rng)).expect("second instantiation");
    // Pauses land on the same safe points however the budget is sliced, so a run that
    // exhausts its budget must exhaust it at the same instruction count in the same state.
    assert_eq!(a.exhausted, b.exhausted, "budget exhausted in one run only ({} round trips)", b.restores);
    assert_eq!(a.calls, b.calls, "calls differ after {} checkpoint round trips", b.restores);
    assert!(a.state == b.state, "final store or instruction count differs after {} round trips", b.restores);
}
