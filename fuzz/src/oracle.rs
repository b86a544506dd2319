//! The `checkpoint_oracle` target: one module run twice on chiwawa, once uninterrupted and
//! once cut at random instruction counts where the guest is captured, written to bytes,
//! parsed, restored into a brand-new guest and continued (possibly many times). Both runs
//! must end the same: every call's results or trap, the executed instruction count, and the
//! whole store (globals, memories, tables).
//!
//! Across lowerings: each side may run under either `Lowering`, and a restore may compile the
//! module for the other one than the guest was captured under (the input's second byte
//! decides, see [`Lowerings`]). A checkpoint holds the state in Wasm terms, and both lowerings
//! charge the same instruction units at the same safe points, so the comparison stays exact.

use crate::guests::{self, limits, wasi_config};
use crate::run::{self, Call, StoreState};
use crate::{smith, Rng};
use chiwawa::checkpoint::format::{parse_checkpoint, Header};
use chiwawa::compile::Lowering;
use chiwawa::guest::{Entry, Guest, Phase};
use chiwawa::snapshot;
use chiwawa::Module;
use std::sync::Arc;

/// Instruction units per call.
pub const BUDGET: u64 = 300_000;

/// Round trips per run at most (each costs a capture, a write, a parse and a restore).
pub const MAX_TRIPS: u32 = 64;

/// Which module a restore compiles for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreLowering {
    /// The lowering the guest was captured under.
    Same,
    /// The other one, at every restore (Optimized → Plain → Optimized → ...).
    Other,
    /// Either, chosen per restore from the cut sequence.
    Random,
}

/// The lowerings of an oracle run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lowerings {
    /// The uninterrupted run's.
    pub reference: Lowering,
    /// The interrupted run's, until its first restore.
    pub first: Lowering,
    pub restore: RestoreLowering,
}

impl Lowerings {
    /// Everything under the optimized lowering (the default).
    pub const OPTIMIZED: Lowerings = Lowerings {
        reference: Lowering::Optimized,
        first: Lowering::Optimized,
        restore: RestoreLowering::Same,
    };

    /// From a flags byte: bit 0 the reference run's lowering, bit 1 the interrupted run's
    /// initial one (0 optimized, 1 plain), bits 2-3 the restores' (0 the same, 1 and 3 the
    /// other one, 2 either at random).
    pub fn from_byte(b: u8) -> Lowerings {
        let l = |bit: u8| if b & bit == 0 { Lowering::Optimized } else { Lowering::Plain };
        Lowerings {
            reference: l(1),
            first: l(2),
            restore: match (b >> 2) & 3 {
                0 => RestoreLowering::Same,
                2 => RestoreLowering::Random,
                _ => RestoreLowering::Other,
            },
        }
    }
}

fn other(l: Lowering) -> Lowering {
    match l {
        Lowering::Optimized => Lowering::Plain,
        Lowering::Plain => Lowering::Optimized,
    }
}

/// The module compiled for each lowering, compiled once per run (on first use).
struct Modules<'a> {
    bytes: &'a [u8],
    compiled: [Option<Arc<Module>>; 2],
}

impl Modules<'_> {
    fn get(&mut self, l: Lowering) -> Arc<Module> {
        let bytes = self.bytes;
        self.compiled[l as usize]
            .get_or_insert_with(|| Arc::new(Module::with_lowering(bytes, l).expect("module compiles again")))
            .clone()
    }
}

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
    /// Restores that changed the lowering.
    pub crossings: u32,
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

/// Capture → write → parse → accept → restore into a new guest of `module`.
fn round_trip(mut g: Guest, bytes: &[u8], generation: u64, module: Arc<Module>) -> Guest {
    let cap = snapshot::capture(&mut g).expect("capture");
    let header = Header::new(bytes, generation, cap.executed);
    let mut file = Vec::new();
    snapshot::write(&g, &cap, &header, None, &mut file).expect("write");
    let from = g.module.lowering();
    drop(g);
    let c = parse_checkpoint(&file).expect("parse of a fresh checkpoint");
    snapshot::accept(&c, &header.module_hash, bytes.len() as u64).expect("accept of a fresh checkpoint");
    match snapshot::restore(module.clone(), &c, &wasi_config("fuzz"), limits()) {
        Ok(g) => g,
        Err(e) => {
            panic!("restore of a fresh checkpoint failed ({from:?} lowering → {:?}): {e}", module.lowering())
        }
    }
}

/// Runs `plan` under `lowering`; with `cuts`, pauses at random instruction counts and
/// round-trips the guest, restoring under the lowerings `lowerings` says.
pub fn run_plan(bytes: &[u8], command: bool, cuts: Option<&mut Rng>, lowerings: Lowerings) -> Option<Ending> {
    run_plan_with(bytes, command, cuts, lowerings, &|_| {})
}

/// [`run_plan`] with `tamper` applied to every restored guest (the oracle's self-test,
/// `examples/oracle_selftest.rs`, breaks restores on purpose to see the oracle notice).
pub fn run_plan_with(
    bytes: &[u8],
    command: bool,
    mut cuts: Option<&mut Rng>,
    lowerings: Lowerings,
    tamper: &dyn Fn(&mut Guest),
) -> Option<Ending> {
    let mut modules = Modules { bytes, compiled: [None, None] };
    let start = if cuts.is_some() { lowerings.first } else { lowerings.reference };
    let module = match Module::with_lowering(bytes, start) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            run::check_compile_error(&e.to_string());
            return None;
        }
    };
    modules.compiled[start as usize] = Some(module.clone());
    let mut g = run::instantiate_module(module).ok()?;
    let plan = plan_for(&g, command);
    let mut calls = Vec::new();
    let mut exhausted = false;
    let mut restores = 0;
    let mut crossings = 0;
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
                        let now = g.module.lowering();
                        let to = match lowerings.restore {
                            RestoreLowering::Same => now,
                            RestoreLowering::Other => other(now),
                            RestoreLowering::Random => {
                                if rng.chance(2) {
                                    now
                                } else {
                                    other(now)
                                }
                            }
                        };
                        crossings += u32::from(to != now);
                        // Sometimes against a freshly compiled module.
                        let module = if rng.chance(8) {
                            Arc::new(Module::with_lowering(bytes, to).expect("module compiles again"))
                        } else {
                            modules.get(to)
                        };
                        g = round_trip(g, bytes, u64::from(restores), module);
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
    Some(Ending { calls, state: run::store_state(&g), exhausted, restores, crossings })
}

/// What an input stands for: the module bytes, whether it is a command (an embedded guest),
/// the lowerings, and the seed of the cut points. Byte 0 picks the module: odd → an embedded
/// guest, even → wasm-smith (from the bytes after byte 1); byte 1 the lowerings
/// ([`Lowerings::from_byte`]). `None` when wasm-smith makes nothing of it or the guest would
/// print into a regular-file stdout.
pub fn decode_input(data: &[u8]) -> Option<(Vec<u8>, bool, Lowerings, u64)> {
    let (&first, rest) = data.split_first()?;
    let (lowerings, rest) = match rest.split_first() {
        Some((&b, rest)) => (Lowerings::from_byte(b), rest),
        None => (Lowerings::OPTIMIZED, rest),
    };
    let (bytes, command) = if first & 1 == 1 {
        let all = guests::all();
        let g = &all[(first as usize >> 1) % all.len()];
        // Their stdout state would truncate a regular-file stdout on restore (see ckpt.rs).
        if crate::ckpt::stdio_is_file(&[1]) && g.module.imports().iter().any(|i| i.name == "fd_write") {
            return None;
        }
        (g.bytes.clone(), true)
    } else {
        let mut u = arbitrary::Unstructured::new(rest);
        (smith::module(&mut u, true)?, false)
    };
    // Cut points come from the whole input, so libFuzzer can steer them.
    let mut seed = 0xcbf2_9ce4_8422_2325u64;
    for &b in data {
        seed = (seed ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    Some((bytes, command, lowerings, seed))
}

/// The target body (input layout: [`decode_input`]).
pub fn target(data: &[u8]) {
    let Some((bytes, command, lowerings, seed)) = decode_input(data) else { return };
    let mut rng = Rng::new(seed);
    let Some(a) = run_plan(&bytes, command, None, lowerings) else { return };
    let b = run_plan(&bytes, command, Some(&mut rng), lowerings).expect("second instantiation");
    // Pauses land on the same safe points however the budget is sliced (and whichever
    // lowering runs), so a run that exhausts its budget must exhaust it at the same
    // instruction count in the same state.
    let what = format!("{} round trips, {} across lowerings, {lowerings:?}", b.restores, b.crossings);
    assert_eq!(a.exhausted, b.exhausted, "budget exhausted in one run only ({what})");
    assert_eq!(a.calls, b.calls, "calls differ ({what})");
    assert!(a.state == b.state, "final store or instruction count differs ({what})");
}
