//! Clocks and randomness via std + the raw `random_get` import; booleans only.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn random_get(buf: *mut u8, len: usize) -> u16;
}

fn main() {
    let mut prev = Instant::now();
    let mut ok = true;
    for _ in 0..10_000 {
        let now = Instant::now();
        if now < prev {
            ok = false;
        }
        prev = now;
    }
    println!("Instant non-decreasing: {ok}");
    let t0 = Instant::now();
    let mut x = 0u64;
    for i in 0..2_000_000u64 {
        x = x.wrapping_add(i * i);
    }
    std::hint::black_box(x);
    println!("Instant advances: {}", t0.elapsed() > Duration::ZERO);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    println!(
        "SystemTime plausible: {}",
        (1_577_836_800..4_102_444_800).contains(&secs)
    );

    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    let ra = unsafe { random_get(a.as_mut_ptr(), a.len()) };
    let rb = unsafe { random_get(b.as_mut_ptr(), b.len()) };
    println!("random_get ok: {}", ra == 0 && rb == 0);
    println!("random_get nonzero: {}", a.iter().any(|&v| v != 0));
    println!("random_get differs: {}", a != b);
    // HashMap's RandomState is seeded from random_get too.
    let s1 = std::collections::hash_map::RandomState::new();
    let _ = s1;
    println!("RandomState ok: true");
}
