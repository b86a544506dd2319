//! What the `checkpoint` target's mutator makes of the seed corpus, without libFuzzer: mutates
//! N times (default 20 000; a mutant restore accepts joins the pool with probability 1/3, a
//! small stand-in for libFuzzer's corpus) and counts what restore says about the mutants —
//! accepted, or the reason it refused (digits masked), by format version. Shows whether the
//! mutations reach restore's deep checks (stack maps, callee chain, operand values):
//!
//!     cd fuzz && cargo run --release --example mutator_stats -- [N]
//!
//! The byte-level fallback (libFuzzer's mutator in the target) is a single bit flip here.

use chiwawa::checkpoint::format::parse_checkpoint;
use chiwawa::snapshot;
use chiwawa_fuzz::ckpt::{self, lowering_of};
use chiwawa_fuzz::guests::{self, limits, wasi_config};
use std::collections::BTreeMap;

fn main() {
    let n: usize = std::env::args().nth(1).map_or(20_000, |s| s.parse().expect("a count"));
    let mut pool: Vec<Vec<u8>> = std::fs::read_dir("corpus/checkpoint")
        .expect("run from fuzz/")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read seed"))
        .collect();
    let mut stats: BTreeMap<String, u32> = BTreeMap::new();
    let mut rng = chiwawa_fuzz::Rng::new(1);
    for i in 0..n {
        let mut buf = pool[rng.index(pool.len())].clone();
        let size = buf.len();
        buf.resize(size * 2 + 4096, 0);
        let max = buf.len();
        let mut flip = |d: &mut [u8], s: usize, _: usize| {
            if s > 0 {
                d[(i * 7919) % s] ^= 1;
            }
            s
        };
        let new = ckpt::mutate(&mut buf, size, max, rng.next_u64() as u32, &mut flip);
        buf.truncate(new);
        let outcome = match parse_checkpoint(&buf) {
            Err(_) => "does not parse".to_string(),
            Ok(c) => {
                let v = c.header.format_version;
                match guests::by_hash(&c.header.module_hash) {
                    None => "unknown module".into(),
                    Some(g) => match snapshot::accept(&c, &g.hash, g.bytes.len() as u64) {
                        Err(_) => "not accepted (header)".into(),
                        Ok(()) => {
                            let module = g.module_for(lowering_of(&c.header)).clone();
                            match snapshot::restore(module, &c, &wasi_config(g.name), limits()) {
                                Ok(_) => {
                                    if rng.chance(3) {
                                        pool.push(buf.clone());
                                    }
                                    format!("v{v} restored")
                                }
                                Err(e) => {
                                    let e: String = e
                                        .to_string()
                                        .chars()
                                        .map(|c| if c.is_ascii_digit() { '#' } else { c })
                                        .collect();
                                    // Drop the "frame N (name at offset)" part: the reason counts.
                                    let e: Vec<&str> =
                                        e.split(": ").filter(|p| !p.starts_with("frame #")).collect();
                                    let e = e.join(": ");
                                    format!("v{v} {}", &e[..e.len().min(120)])
                                }
                            }
                        }
                    },
                }
            }
        };
        *stats.entry(outcome).or_default() += 1;
    }
    let mut v: Vec<_> = stats.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    for (k, c) in v {
        println!("{c:7} {k}");
    }
}
