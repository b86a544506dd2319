//! Does the checkpoint oracle notice a broken restore? Runs each embedded guest uninterrupted
//! and with round trips, once honestly and once per kind of damage done to the first restored
//! guest, and prints whether the two runs differed (honest: must not). A damaged run may
//! still agree when the guest overwrites the damaged state before it ends (a dead slot, a
//! memory byte it rewrites): those lines say "masked", and are no oracle failure.
//!
//!     cd fuzz && cargo run --release --example oracle_selftest

use chiwawa::guest::Guest;
use chiwawa_fuzz::oracle::Lowerings;
use chiwawa_fuzz::{guests, oracle, Rng};

fn main() {
    type Damage = (&'static str, fn(&mut Guest));
    let damages: [Damage; 5] = [
        ("none", |_| {}),
        ("one memory byte", |g| {
            if let Some(m) = g.store.memories_mut().first_mut() {
                if let Some(b) = m.data_mut().get_mut(200) {
                    *b = b.wrapping_add(1);
                }
            }
        }),
        ("one global", |g| {
            if let Some(x) = g.store.globals_mut().first_mut() {
                x.set_value(x.value().wrapping_add(1));
            }
        }),
        ("instruction count", |g| {
            let e = g.machine.executed();
            g.machine.set_executed(e + 1);
        }),
        ("top frame's first slot", |g| {
            if let Some(f) = g.machine.frames().last() {
                let fp = f.fp() as usize;
                if let Some(s) = g.machine.stack_mut().get_mut(fp) {
                    *s = s.wrapping_add(1);
                }
            }
        }),
    ];
    let mut failures = 0;
    // All optimized, and every restore across lowerings (plain reference run).
    for lowerings in [Lowerings::OPTIMIZED, Lowerings::from_byte(0b0101)] {
        println!("lowerings {lowerings:?}");
        for g in guests::all() {
            for (name, damage) in &damages {
                let a = oracle::run_plan(&g.bytes, true, None, lowerings).expect("runs");
                let mut rng = Rng::new(7);
                // Damage the first restored guest only (the same damage on every restore could
                // cancel out).
                let first = std::cell::Cell::new(true);
                let once = |g: &mut Guest| {
                    if first.replace(false) {
                        damage(g)
                    }
                };
                let b =
                    oracle::run_plan_with(&g.bytes, true, Some(&mut rng), lowerings, &once).expect("runs");
                let differ = a.calls != b.calls || a.state != b.state || a.exhausted != b.exhausted;
                let ok = !(differ && *name == "none");
                failures += usize::from(!ok);
                println!(
                    "{:7} damage {:24} {} round trips: {} {}",
                    g.name,
                    name,
                    b.restores,
                    if differ { "runs differ" } else { "runs agree" },
                    match (ok, differ, *name == "none") {
                        (false, _, _) => "(WRONG: an honest round trip changed the run)",
                        (_, true, _) | (_, false, true) => "(as it should)",
                        (_, false, false) => "(masked: the guest overwrote the damage)",
                    }
                );
            }
        }
    }
    std::process::exit(i32::from(failures > 0));
}
