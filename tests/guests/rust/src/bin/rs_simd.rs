//! Fixed-width SIMD from Rust: `core::arch::wasm32` intrinsics plus iterator loops that LLVM
//! auto-vectorises. Built with `-C target-feature=+simd128` for this binary only (the
//! `simd` feature, see Cargo.toml and ../build.sh). usage: rs_simd [ROUNDS]   (default 2)
//! Prints checksums only; float inputs are finite and no NaN is ever hashed.
use core::arch::wasm32::*;

const N: usize = 16 * 1024;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Clone, Copy)]
struct Fnv(u64);
impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf29ce484222325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ x as u64).wrapping_mul(0x100000001b3);
        }
    }
    fn v(&mut self, v: v128) {
        let mut b = [0u8; 16];
        // SAFETY: b is 16 writable bytes.
        unsafe { v128_store(b.as_mut_ptr() as *mut v128, v) };
        self.bytes(&b);
    }
}

fn load(b: &[u8], at: usize) -> v128 {
    assert!(at + 16 <= b.len());
    // SAFETY: in bounds (checked above); v128_load has no alignment requirement.
    unsafe { v128_load(b.as_ptr().add(at) as *const v128) }
}

/// Explicit intrinsics: integer lanes, saturation, shuffles, compares, bitmasks.
#[inline(never)]
fn intrinsics(a: &[u8], b: &[u8]) -> (u64, u32) {
    let mut h = Fnv::new();
    let mut acc = u32x4(0x9E3779B9, 0x7F4A7C15, 0x85EBCA6B, 0xC2B2AE35);
    let mut masks = 0u32;
    for at in (0..a.len() - 16).step_by(16) {
        let x = load(a, at);
        let y = load(b, at + 1);
        h.v(u8x16_add_sat(x, y));
        h.v(i16x8_sub_sat(x, y));
        h.v(u8x16_avgr(x, y));
        h.v(i8x16_min(x, y));
        h.v(u16x8_max(x, y));
        h.v(i32x4_dot_i16x8(x, y));
        h.v(i16x8_q15mulr_sat(x, y));
        h.v(u16x8_extmul_low_u8x16(x, y));
        h.v(i32x4_extadd_pairwise_i16x8(x));
        h.v(u8x16_narrow_i16x8(x, y));
        h.v(i8x16_popcnt(x));
        h.v(i8x16_shuffle::<0, 31, 1, 30, 2, 29, 3, 28, 4, 27, 5, 26, 6, 25, 7, 24>(x, y));
        h.v(i8x16_swizzle(x, v128_and(y, u8x16_splat(0x1f))));
        h.v(i64x2_shr(x, (at % 70) as u32));
        h.v(v128_bitselect(x, y, i8x16_gt(x, y)));
        masks = masks.rotate_left(5) ^ i8x16_bitmask(i8x16_eq(v128_and(x, u8x16_splat(7)), u8x16_splat(3))) as u32;
        masks ^= u32::from(v128_any_true(i16x8_eq(x, y))) << 16 | u32::from(i32x4_all_true(x)) << 17;
        acc = i32x4_add(i32x4_mul(acc, u32x4_splat(0x01000193)), x);
        acc = v128_xor(acc, u32x4_shr(acc, 15));
        h.bytes(&u32x4_extract_lane::<2>(acc).to_le_bytes());
        h.bytes(&(i16x8_extract_lane::<7>(y) as i32).to_le_bytes());
    }
    h.v(acc);
    (h.0, masks)
}

/// Float lanes: arithmetic, rounding, min/max, conversions.
#[inline(never)]
fn floats(f: &[f32], g: &[f32]) -> u64 {
    let mut h = Fnv::new();
    for (x, y) in f.chunks_exact(4).zip(g.chunks_exact(4)) {
        let x = f32x4(x[0], x[1], x[2], x[3]);
        let y = f32x4(y[0], y[1], y[2], y[3]);
        let nz = f32x4_add(f32x4_abs(y), f32x4_splat(1.0));
        h.v(f32x4_add(f32x4_mul(x, y), x));
        h.v(f32x4_div(x, nz));
        h.v(f32x4_sqrt(f32x4_abs(x)));
        h.v(f32x4_nearest(x));
        h.v(f32x4_floor(y));
        h.v(f32x4_min(x, y));
        h.v(f32x4_pmax(x, y));
        h.v(i32x4_trunc_sat_f32x4(f32x4_mul(x, f32x4_splat(1e6))));
        h.v(f32x4_convert_u32x4(u32x4_shr(x, 1)));
        let d = f64x2_promote_low_f32x4(x);
        h.v(f64x2_mul(d, f64x2_promote_low_f32x4(y)));
        h.v(f32x4_demote_f64x2_zero(f64x2_sqrt(f64x2_abs(d))));
        h.bytes(&f32x4_extract_lane::<3>(x).to_bits().to_le_bytes());
    }
    h.0
}

/// Plain iterator code; with simd128 LLVM vectorises these loops.
#[inline(never)]
fn iterators(a: &[u8], b: &[u8], s: &[i16], t: &[i16], f: &mut [f32], g: &[f32]) -> [u64; 6] {
    let sum: u32 = a.iter().map(|&x| x as u32).sum();
    let dot: i32 = s.iter().zip(t).map(|(&x, &y)| (x as i32).wrapping_mul(y as i32)).fold(0, i32::wrapping_add);
    let max = a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y)).max().unwrap();
    let count = a.iter().filter(|&&x| x == 42).count() as u64;
    f.iter_mut().zip(g).for_each(|(x, &y)| *x = *x * 0.5 + y); // saxpy
    let blended: Vec<u8> = a.iter().zip(b).map(|(&x, &y)| x.saturating_add(y >> 1)).collect();
    let mut h = Fnv::new();
    h.bytes(&blended);
    let mut hf = Fnv::new();
    for x in f.iter() {
        hf.bytes(&x.to_bits().to_le_bytes());
    }
    [sum as u64, dot as u32 as u64, max as u64, count, h.0, hf.0]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let mut r = Rng(0x2545F4914F6CDD1D);
    let mut a: Vec<u8> = (0..N).map(|_| r.next() as u8).collect();
    let b: Vec<u8> = (0..N).map(|_| (r.next() >> 11) as u8).collect();
    let s: Vec<i16> = (0..N / 2).map(|_| r.next() as i16).collect();
    let t: Vec<i16> = (0..N / 2).map(|_| (r.next() >> 5) as i16).collect();
    let mut f: Vec<f32> = (0..N / 4).map(|_| ((r.next() % 200_001) as f32 - 100_000.0) / 256.0).collect();
    let g: Vec<f32> = (0..N / 4).map(|_| ((r.next() % 2_001) as f32 - 1_000.0) / 8.0).collect();
    for (i, v) in [0.5f32, 1.5, 2.5, -0.5, -2.5, -0.0, 0.0, 1e30, -1e30].into_iter().enumerate() {
        f[i * 11] = v;
    }
    let mut total = Fnv::new();
    for round in 0..rounds {
        let (hi, masks) = intrinsics(&a, &b);
        let hf = floats(&f, &g);
        let it = iterators(&a, &b, &s, &t, &mut f, &g);
        println!("round {round}: intrinsics {hi:016x} masks {masks:08x} floats {hf:016x}");
        println!(
            "round {round}: sum {} dot {} maxdiff {} count42 {} blend {:016x} saxpy {:016x}",
            it[0], it[1] as u32 as i32, it[2], it[3], it[4], it[5]
        );
        total.bytes(&hi.to_le_bytes());
        total.bytes(&hf.to_le_bytes());
        // feed back so the next round sees new bytes
        for (i, x) in a.iter_mut().enumerate() {
            *x = x.wrapping_mul(31).wrapping_add((hi >> (i % 57)) as u8);
        }
    }
    println!("total {:016x}", total.0);
}
