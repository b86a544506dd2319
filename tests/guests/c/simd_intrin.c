/* Fixed-width SIMD (Wasm 2.0 simd128) through <wasm_simd128.h>, every instruction family.
 * usage: simd_intrin [DIR]
 * Deterministic input (xorshift, seeded with a constant plus argc so nothing folds at
 * compile time); each family folds its result vectors into a 64-bit FNV-1a checksum and
 * prints one line "FAMILY: CHECKSUM". No NaN is ever hashed (NaN payloads and signs are
 * nondeterministic in Wasm): float inputs are finite, divisors non-zero, sqrt takes |x|;
 * NaN and infinities appear only as inputs of the saturating conversions and of pmin/pmax
 * and compares, whose results do not depend on payloads. Finally DIR/simd_out.bin (DIR
 * defaults to ".") gets a 4096-byte buffer produced by a SIMD pipeline.
 * Built with -O3 -msimd128 by tests/guests/build.sh. */
#include "common.h"
#include <fcntl.h>
#include <math.h>
#include <unistd.h>
#include <wasm_simd128.h>

#define N 4096 /* bytes of input */

static uint8_t A[N + 64], B[N + 64], OUT[N];
static float FA[N / 4], FB[N / 4], FC[N / 4]; /* finite; FC: with inf/NaN for conversions */
static double DA[N / 8], DB[N / 8], DC[N / 8];
static uint64_t rng;

static uint64_t next(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

/* ------------------------------------------------------------------ checksums */
static uint64_t h;
static void hbytes(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001B3ull; }
}
/* Not inlined: every vector and scalar reaches the checksum whole, so the compiler keeps the
 * instruction each intrinsic names instead of folding it into a narrower one. */
static __attribute__((noinline)) void hv(v128_t v) {
    uint8_t b[16];
    wasm_v128_store(b, v);
    hbytes(b, 16);
}
static __attribute__((noinline)) void hi(int64_t x) { hbytes(&x, 8); }
static __attribute__((noinline)) void hw(int32_t x) { hbytes(&x, 4); }
static __attribute__((noinline)) void hf(float x) { hbytes(&x, 4); }
static __attribute__((noinline)) void hd(double x) { hbytes(&x, 8); }
static void begin(void) { h = 0xcbf29ce484222325ull; }
static void end(const char *family) { printf("%-12s %016llx\n", family, (unsigned long long)h); }

/* "noinline" keeps each family a separate function with real v128 parameters. */
#define FAMILY static __attribute__((noinline)) void

/* ------------------------------------------------------------------ loads / stores */
FAMILY loads_stores(void) {
    begin();
    uint8_t tmp[32];
    for (int i = 0; i < N; i += 16) {
        int o = i + (i / 16) % 7; /* unaligned */
        v128_t v = wasm_v128_load(A + o);
        hv(v);
        hv(wasm_v128_load8_splat(A + o + 1));
        hv(wasm_v128_load16_splat(A + o + 2));
        hv(wasm_v128_load32_splat(A + o + 3));
        hv(wasm_v128_load64_splat(A + o + 5));
        hv(wasm_v128_load32_zero(B + o));
        hv(wasm_v128_load64_zero(B + o + 1));
        hv(wasm_i16x8_load8x8(A + o));
        hv(wasm_u16x8_load8x8(A + o + 8));
        hv(wasm_i32x4_load16x4(B + o));
        hv(wasm_u32x4_load16x4(B + o + 2));
        hv(wasm_i64x2_load32x2(A + o + 4));
        hv(wasm_u64x2_load32x2(A + o + 12));
        v128_t w = wasm_v128_load(B + i);
        hv(wasm_v128_load8_lane(A + o + 9, w, 3));
        hv(wasm_v128_load16_lane(A + o + 10, w, 5));
        hv(wasm_v128_load32_lane(A + o + 11, w, 1));
        hv(wasm_v128_load64_lane(A + o + 13, w, 1));
        memset(tmp, 0xAA, sizeof tmp);
        wasm_v128_store(tmp + (i / 16) % 9, v);
        hbytes(tmp, sizeof tmp);
        memset(tmp, 0x55, sizeof tmp);
        wasm_v128_store8_lane(tmp + 25, w, 15);
        wasm_v128_store16_lane(tmp + 17, w, 6);
        wasm_v128_store32_lane(tmp + 9, w, 2);
        wasm_v128_store64_lane(tmp + 1, w, 0);
        hbytes(tmp, sizeof tmp);
    }
    end("load_store");
}

/* ------------------------------------------------------------------ splat, const, lanes */
FAMILY splat_lanes(void) {
    begin();
    for (int i = 0; i < N; i += 16) {
        uint64_t x;
        memcpy(&x, A + i, 8);
        hv(wasm_i8x16_splat((int8_t)x));
        hv(wasm_i16x8_splat((int16_t)(x >> 8)));
        hv(wasm_i32x4_splat((int32_t)(x >> 16)));
        hv(wasm_i64x2_splat((int64_t)x));
        hv(wasm_i64x2_splat((int64_t)(x * 0x9E3779B97F4A7C15ull)));
        hv(wasm_f32x4_splat(FA[i / 4]));
        hv(wasm_f32x4_splat(FA[i / 4] * 0.75f));
        hv(wasm_f64x2_splat(DA[i / 8]));
        hv(wasm_f64x2_splat(DA[i / 8] * -1.25));
        v128_t v = wasm_v128_load(B + i);
        hw(wasm_i8x16_extract_lane(v, 0)); hw(wasm_i8x16_extract_lane(v, 15));
        hw(wasm_u8x16_extract_lane(v, 7)); hw(wasm_u8x16_extract_lane(v, 9));
        hw(wasm_i16x8_extract_lane(v, 1)); hw(wasm_i16x8_extract_lane(v, 6));
        hw(wasm_u16x8_extract_lane(v, 2)); hw(wasm_u16x8_extract_lane(v, 7));
        hi(wasm_i32x4_extract_lane(v, 3) ^ wasm_i32x4_extract_lane(v, 0));
        hi(wasm_i64x2_extract_lane(v, 1) + wasm_i64x2_extract_lane(v, 0));
        v128_t f = wasm_v128_load(FA + i / 4);
        hf(wasm_f32x4_extract_lane(f, 2));
        v128_t d = wasm_v128_load(DA + i / 8);
        hd(wasm_f64x2_extract_lane(d, 1));
        v = wasm_i8x16_replace_lane(v, 4, (int8_t)x);
        v = wasm_i16x8_replace_lane(v, 3, (int16_t)(x >> 12));
        v = wasm_i32x4_replace_lane(v, 3, (int32_t)(x >> 24));
        hv(v);
        v = wasm_i64x2_replace_lane(v, 0, (int64_t)(x * 3));
        hv(v);
        hv(wasm_f32x4_replace_lane(f, 1, FB[i / 4]));
        hv(wasm_f64x2_replace_lane(d, 0, DB[i / 8]));
    }
    hv(wasm_i8x16_const(1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -16));
    hv(wasm_i16x8_const(-32768, 32767, 0, 1, -1, 1000, -1000, 7));
    hv(wasm_i32x4_const(INT32_MIN, INT32_MAX, 0x12345678, -3));
    hv(wasm_i64x2_const(INT64_MIN, 0x0123456789abcdefll));
    hv(wasm_f32x4_const(1.5f, -0.0f, 3.25e10f, -7.0f));
    hv(wasm_f64x2_const(-2.5, 1e-300));
    end("splat_lanes");
}

/* ------------------------------------------------------------------ shuffle, swizzle */
FAMILY shuffles(void) {
    begin();
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i), b = wasm_v128_load(B + i);
        hv(wasm_i8x16_shuffle(a, b, 0, 17, 2, 19, 4, 21, 6, 23, 8, 25, 10, 27, 12, 29, 14, 31));
        hv(wasm_i8x16_shuffle(a, b, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
        hv(wasm_i8x16_shuffle(a, b, 16, 16, 3, 3, 31, 0, 8, 24, 1, 2, 3, 4, 20, 21, 22, 23));
        hv(wasm_i16x8_shuffle(a, b, 7, 8, 6, 9, 5, 10, 4, 11));
        hv(wasm_i32x4_shuffle(a, b, 3, 6, 1, 4));
        hv(wasm_i64x2_shuffle(a, b, 1, 2));
        /* swizzle: indices 0..31, the ones >= 16 select 0 */
        v128_t idx = wasm_v128_and(b, wasm_i8x16_splat(31));
        hv(wasm_i8x16_swizzle(a, idx));
        hv(wasm_i8x16_swizzle(a, b)); /* raw bytes: most are out of range */
    }
    end("shuffle");
}

/* ------------------------------------------------------------------ integer arithmetic */
FAMILY int_arith(void) {
    begin();
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i), b = wasm_v128_load(B + i);
        hv(wasm_i8x16_add(a, b)); hv(wasm_i16x8_add(a, b)); hv(wasm_i32x4_add(a, b)); hv(wasm_i64x2_add(a, b));
        hv(wasm_i8x16_sub(a, b)); hv(wasm_i16x8_sub(a, b)); hv(wasm_i32x4_sub(a, b)); hv(wasm_i64x2_sub(a, b));
        hv(wasm_i16x8_mul(a, b)); hv(wasm_i32x4_mul(a, b)); hv(wasm_i64x2_mul(a, b));
        hv(wasm_i8x16_neg(a)); hv(wasm_i16x8_neg(a)); hv(wasm_i32x4_neg(a)); hv(wasm_i64x2_neg(a));
        hv(wasm_i8x16_abs(a)); hv(wasm_i16x8_abs(a)); hv(wasm_i32x4_abs(a)); hv(wasm_i64x2_abs(a));
        hv(wasm_i8x16_popcnt(a));
    }
    end("int_arith");
    begin();
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i), b = wasm_v128_load(B + i);
        hv(wasm_i8x16_add_sat(a, b)); hv(wasm_u8x16_add_sat(a, b));
        hv(wasm_i16x8_add_sat(a, b)); hv(wasm_u16x8_add_sat(a, b));
        hv(wasm_i8x16_sub_sat(a, b)); hv(wasm_u8x16_sub_sat(a, b));
        hv(wasm_i16x8_sub_sat(a, b)); hv(wasm_u16x8_sub_sat(a, b));
        hv(wasm_i8x16_min(a, b)); hv(wasm_u8x16_min(a, b)); hv(wasm_i8x16_max(a, b)); hv(wasm_u8x16_max(a, b));
        hv(wasm_i16x8_min(a, b)); hv(wasm_u16x8_min(a, b)); hv(wasm_i16x8_max(a, b)); hv(wasm_u16x8_max(a, b));
        hv(wasm_i32x4_min(a, b)); hv(wasm_u32x4_min(a, b)); hv(wasm_i32x4_max(a, b)); hv(wasm_u32x4_max(a, b));
        hv(wasm_u8x16_avgr(a, b)); hv(wasm_u16x8_avgr(a, b));
    }
    end("sat_minmax");
}

/* ------------------------------------------------------------------ shifts */
FAMILY shifts(void) {
    begin();
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i);
        uint32_t s = B[i] % 80; /* counts beyond the lane width wrap (mod width) */
        hv(wasm_i8x16_shl(a, s)); hv(wasm_i8x16_shr(a, s)); hv(wasm_u8x16_shr(a, s));
        hv(wasm_i16x8_shl(a, s)); hv(wasm_i16x8_shr(a, s)); hv(wasm_u16x8_shr(a, s));
        hv(wasm_i32x4_shl(a, s)); hv(wasm_i32x4_shr(a, s)); hv(wasm_u32x4_shr(a, s));
        hv(wasm_i64x2_shl(a, s)); hv(wasm_i64x2_shr(a, s)); hv(wasm_u64x2_shr(a, s));
        hv(wasm_i32x4_shl(a, 5)); hv(wasm_u16x8_shr(a, 3)); hv(wasm_i64x2_shr(a, 63));
    }
    end("shifts");
}

/* ------------------------------------------------------------------ compares */
FAMILY compares(void) {
    begin();
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i), b = wasm_v128_load(B + i);
        /* half the lanes equal */
        b = wasm_v128_bitselect(a, b, wasm_i16x8_splat((int16_t)0xFF00));
        hv(wasm_i8x16_eq(a, b)); hv(wasm_i8x16_ne(a, b));
        hv(wasm_i8x16_lt(a, b)); hv(wasm_u8x16_lt(a, b)); hv(wasm_i8x16_gt(a, b)); hv(wasm_u8x16_gt(a, b));
        hv(wasm_i8x16_le(a, b)); hv(wasm_u8x16_le(a, b)); hv(wasm_i8x16_ge(a, b)); hv(wasm_u8x16_ge(a, b));
        hv(wasm_i16x8_eq(a, b)); hv(wasm_i16x8_ne(a, b));
        hv(wasm_i16x8_lt(a, b)); hv(wasm_u16x8_lt(a, b)); hv(wasm_i16x8_gt(a, b)); hv(wasm_u16x8_gt(a, b));
        hv(wasm_i16x8_le(a, b)); hv(wasm_u16x8_le(a, b)); hv(wasm_i16x8_ge(a, b)); hv(wasm_u16x8_ge(a, b));
        hv(wasm_i32x4_eq(a, b)); hv(wasm_i32x4_ne(a, b));
        hv(wasm_i32x4_lt(a, b)); hv(wasm_u32x4_lt(a, b)); hv(wasm_i32x4_gt(a, b)); hv(wasm_u32x4_gt(a, b));
        hv(wasm_i32x4_le(a, b)); hv(wasm_u32x4_le(a, b)); hv(wasm_i32x4_ge(a, b)); hv(wasm_u32x4_ge(a, b));
        hv(wasm_i64x2_eq(a, b)); hv(wasm_i64x2_ne(a, b));
        hv(wasm_i64x2_lt(a, b)); hv(wasm_i64x2_gt(a, b)); hv(wasm_i64x2_le(a, b)); hv(wasm_i64x2_ge(a, b));
        v128_t fa = wasm_v128_load(FA + i / 4), fc = wasm_v128_load(FC + i / 4);
        hv(wasm_f32x4_eq(fa, fc)); hv(wasm_f32x4_ne(fa, fc)); hv(wasm_f32x4_lt(fa, fc));
        hv(wasm_f32x4_gt(fa, fc)); hv(wasm_f32x4_le(fa, fc)); hv(wasm_f32x4_ge(fa, fc));
        hv(wasm_f32x4_eq(fa, fa));
        v128_t da = wasm_v128_load(DA + i / 8), dc = wasm_v128_load(DC + i / 8);
        hv(wasm_f64x2_eq(da, dc)); hv(wasm_f64x2_ne(da, dc)); hv(wasm_f64x2_lt(da, dc));
        hv(wasm_f64x2_gt(da, dc)); hv(wasm_f64x2_le(da, dc)); hv(wasm_f64x2_ge(da, dc));
        hv(wasm_f64x2_ne(dc, dc)); /* true exactly on NaN lanes */
    }
    end("compares");
}

/* ------------------------------------------------------------------ bitwise, tests, bitmask */
FAMILY bitwise(void) {
    begin();
    int64_t counts = 0;
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i), b = wasm_v128_load(B + i), c = wasm_v128_load(A + i + 7);
        hv(wasm_v128_and(a, b)); hv(wasm_v128_or(a, b)); hv(wasm_v128_xor(a, b));
        hv(wasm_v128_not(a)); hv(wasm_v128_andnot(a, b)); hv(wasm_v128_bitselect(a, b, c));
        /* sparse masks so any_true/all_true take both values */
        v128_t m = wasm_v128_and(a, wasm_i8x16_splat((int8_t)(i % 3 == 0 ? 0 : 0x81)));
        v128_t t = wasm_v128_or(a, wasm_i8x16_splat((int8_t)((i / 16) % 4 == 0 ? 1 : 0)));
        counts = counts * 3 + wasm_v128_any_true(m);
        counts = counts * 3 + wasm_i8x16_all_true(t) + 2 * wasm_i16x8_all_true(t);
        counts = counts * 5 + wasm_i32x4_all_true(t) + 2 * wasm_i64x2_all_true(t);
        counts = counts * 7 + wasm_i8x16_all_true(a);
        hi(wasm_i8x16_bitmask(a)); hi(wasm_i16x8_bitmask(a));
        hi(wasm_i32x4_bitmask(b)); hi(wasm_i64x2_bitmask(b));
    }
    hi(counts);
    end("bitwise");
}

/* ------------------------------------------------------------------ widen / narrow / dot */
FAMILY widen_narrow(void) {
    begin();
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i), b = wasm_v128_load(B + i);
        hv(wasm_i8x16_narrow_i16x8(a, b)); hv(wasm_u8x16_narrow_i16x8(a, b));
        hv(wasm_i16x8_narrow_i32x4(a, b)); hv(wasm_u16x8_narrow_i32x4(a, b));
        hv(wasm_i16x8_extend_low_i8x16(a)); hv(wasm_i16x8_extend_high_i8x16(a));
        hv(wasm_u16x8_extend_low_u8x16(a)); hv(wasm_u16x8_extend_high_u8x16(a));
        hv(wasm_i32x4_extend_low_i16x8(a)); hv(wasm_i32x4_extend_high_i16x8(a));
        hv(wasm_u32x4_extend_low_u16x8(a)); hv(wasm_u32x4_extend_high_u16x8(a));
        hv(wasm_i64x2_extend_low_i32x4(a)); hv(wasm_i64x2_extend_high_i32x4(a));
        hv(wasm_u64x2_extend_low_u32x4(a)); hv(wasm_u64x2_extend_high_u32x4(a));
        hv(wasm_i16x8_extmul_low_i8x16(a, b)); hv(wasm_i16x8_extmul_high_i8x16(a, b));
        hv(wasm_u16x8_extmul_low_u8x16(a, b)); hv(wasm_u16x8_extmul_high_u8x16(a, b));
        hv(wasm_i32x4_extmul_low_i16x8(a, b)); hv(wasm_i32x4_extmul_high_i16x8(a, b));
        hv(wasm_u32x4_extmul_low_u16x8(a, b)); hv(wasm_u32x4_extmul_high_u16x8(a, b));
        hv(wasm_i64x2_extmul_low_i32x4(a, b)); hv(wasm_i64x2_extmul_high_i32x4(a, b));
        hv(wasm_u64x2_extmul_low_u32x4(a, b)); hv(wasm_u64x2_extmul_high_u32x4(a, b));
        hv(wasm_i16x8_extadd_pairwise_i8x16(a)); hv(wasm_u16x8_extadd_pairwise_u8x16(a));
        hv(wasm_i32x4_extadd_pairwise_i16x8(a)); hv(wasm_u32x4_extadd_pairwise_u16x8(a));
        hv(wasm_i32x4_dot_i16x8(a, b));
        hv(wasm_i16x8_q15mulr_sat(a, b));
    }
    /* edge cases: -32768 * -32768 saturates, dot of all -32768 wraps */
    v128_t m = wasm_i16x8_splat(-32768);
    hv(wasm_i16x8_q15mulr_sat(m, m));
    hv(wasm_i32x4_dot_i16x8(m, m));
    end("widen_narrow");
}

/* ------------------------------------------------------------------ floating point */
FAMILY floats(void) {
    begin();
    for (int i = 0; i < N / 4; i += 4) {
        v128_t a = wasm_v128_load(FA + i), b = wasm_v128_load(FB + i);
        v128_t nz = wasm_f32x4_add(wasm_f32x4_abs(b), wasm_f32x4_splat(1.0f)); /* divisor >= 1 */
        hv(wasm_f32x4_add(a, b)); hv(wasm_f32x4_sub(a, b)); hv(wasm_f32x4_mul(a, b));
        hv(wasm_f32x4_div(a, nz));
        hv(wasm_f32x4_min(a, b)); hv(wasm_f32x4_max(a, b));
        hv(wasm_f32x4_pmin(a, b)); hv(wasm_f32x4_pmax(a, b));
        hv(wasm_f32x4_abs(a)); hv(wasm_f32x4_neg(a));
        hv(wasm_f32x4_sqrt(wasm_f32x4_abs(a)));
        hv(wasm_f32x4_ceil(a)); hv(wasm_f32x4_floor(a)); hv(wasm_f32x4_trunc(a)); hv(wasm_f32x4_nearest(a));
        /* pmin/pmax are defined bitwise even with NaN/inf operands (FC holds some) */
        v128_t c = wasm_v128_load(FC + i);
        hv(wasm_f32x4_pmin(a, c)); hv(wasm_f32x4_pmax(a, c));
    }
    end("f32x4");
    begin();
    for (int i = 0; i < N / 8; i += 2) {
        v128_t a = wasm_v128_load(DA + i), b = wasm_v128_load(DB + i);
        v128_t nz = wasm_f64x2_add(wasm_f64x2_abs(b), wasm_f64x2_splat(1.0));
        hv(wasm_f64x2_add(a, b)); hv(wasm_f64x2_sub(a, b)); hv(wasm_f64x2_mul(a, b));
        hv(wasm_f64x2_div(a, nz));
        hv(wasm_f64x2_min(a, b)); hv(wasm_f64x2_max(a, b));
        hv(wasm_f64x2_pmin(a, b)); hv(wasm_f64x2_pmax(a, b));
        hv(wasm_f64x2_abs(a)); hv(wasm_f64x2_neg(a));
        hv(wasm_f64x2_sqrt(wasm_f64x2_abs(a)));
        hv(wasm_f64x2_ceil(a)); hv(wasm_f64x2_floor(a)); hv(wasm_f64x2_trunc(a)); hv(wasm_f64x2_nearest(a));
        v128_t c = wasm_v128_load(DC + i);
        hv(wasm_f64x2_pmin(a, c)); hv(wasm_f64x2_pmax(a, c));
    }
    /* min/max of zeros of both signs are defined: min(-0, +0) = -0 */
    v128_t z = wasm_f64x2_const(-0.0, 0.0), z2 = wasm_f64x2_const(0.0, -0.0);
    hv(wasm_f64x2_min(z, z2)); hv(wasm_f64x2_max(z, z2));
    end("f64x2");
}

/* ------------------------------------------------------------------ conversions */
FAMILY conversions(void) {
    begin();
    for (int i = 0; i < N / 4; i += 4) {
        v128_t c = wasm_v128_load(FC + i), a = wasm_v128_load(FA + i);
        hv(wasm_i32x4_trunc_sat_f32x4(c)); hv(wasm_u32x4_trunc_sat_f32x4(c)); /* NaN -> 0, inf saturates */
        hv(wasm_i32x4_trunc_sat_f32x4(a)); hv(wasm_u32x4_trunc_sat_f32x4(a));
        v128_t n = wasm_v128_load(A + i * 4);
        hv(wasm_f32x4_convert_i32x4(n)); hv(wasm_f32x4_convert_u32x4(n)); /* rounding of big ints */
        hv(wasm_f64x2_promote_low_f32x4(a));
    }
    for (int i = 0; i < N / 8; i += 2) {
        v128_t c = wasm_v128_load(DC + i), a = wasm_v128_load(DA + i);
        hv(wasm_i32x4_trunc_sat_f64x2_zero(c)); hv(wasm_u32x4_trunc_sat_f64x2_zero(c));
        hv(wasm_i32x4_trunc_sat_f64x2_zero(a)); hv(wasm_u32x4_trunc_sat_f64x2_zero(a));
        hv(wasm_f32x4_demote_f64x2_zero(a)); /* rounding, overflow to inf */
        v128_t n = wasm_v128_load(B + i * 8);
        hv(wasm_f64x2_convert_low_i32x4(n)); hv(wasm_f64x2_convert_low_u32x4(n));
    }
    end("conversions");
}

/* ------------------------------------------------------------------ a pipeline -> file */
/* Per 16-byte block: saturating blend of A and B, byte-reversed, XOR a running vector
 * updated with i32x4 multiply-add; the result goes to OUT and then to DIR/simd_out.bin. */
FAMILY pipeline(void) {
    begin();
    v128_t acc = wasm_i32x4_const(0x9E3779B9, 0x7F4A7C15, 0x85EBCA6B, 0xC2B2AE35);
    for (int i = 0; i < N; i += 16) {
        v128_t a = wasm_v128_load(A + i), b = wasm_v128_load(B + i);
        v128_t s = wasm_u8x16_add_sat(wasm_u8x16_avgr(a, b), wasm_u8x16_shr(b, 2));
        s = wasm_i8x16_shuffle(s, s, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        acc = wasm_i32x4_add(wasm_i32x4_mul(acc, wasm_i32x4_splat(0x01000193)), s);
        acc = wasm_v128_xor(acc, wasm_u32x4_shr(acc, 15));
        wasm_v128_store(OUT + i, wasm_v128_xor(s, acc));
    }
    hv(acc);
    hbytes(OUT, N);
    end("pipeline");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    rng = 0x2545F4914F6CDD1Dull;
    if (argc > 5) rng ^= 1; /* keeps the data a runtime value: nothing folds at compile time */
    for (int i = 0; i < N + 64; i++) { A[i] = (uint8_t)next(); B[i] = (uint8_t)(next() >> 8); }
    for (int i = 0; i < N / 4; i++) {
        uint64_t r = next();
        FA[i] = (float)((int32_t)(r % 2000001) - 1000000) / 1024.0f;
        FB[i] = (float)((int32_t)((r >> 24) % 2001) - 1000) / 8.0f;
        FC[i] = FA[i] * (float)((r >> 40) % 5000);
    }
    for (int i = 0; i < N / 8; i++) {
        uint64_t r = next();
        DA[i] = (double)((int64_t)(r % 200000001) - 100000000) / 4096.0;
        DB[i] = (double)((int64_t)((r >> 30) % 20001) - 10000) / 16.0;
        DC[i] = DA[i] * (double)((r >> 45) % 100000) * 3.0;
    }
    /* special values: ties for nearest, signed zeros, huge, tiny */
    static const float fs[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -0.0f, 0.0f, 1e30f, -1e30f, 1e-40f, 8388609.0f, -3.5f};
    static const double ds[] = {0.5, 1.5, 2.5, -0.5, -2.5, -0.0, 0.0, 1e300, -1e300, 4.9e-324, 4503599627370497.0, 3.4e38};
    for (unsigned k = 0; k < sizeof fs / sizeof fs[0]; k++) { FA[k * 7] = fs[k]; FB[k * 5 + 1] = fs[(k + 3) % 12]; }
    for (unsigned k = 0; k < sizeof ds / sizeof ds[0]; k++) { DA[k * 5] = ds[k]; DB[k * 3 + 1] = ds[(k + 5) % 12]; }
    /* conversion inputs: NaN, +-inf, out of i32/u32 range, exact boundaries */
    static const float fc[] = {NAN, INFINITY, -INFINITY, 3e9f, -3e9f, 2147483520.0f, 2147483648.0f, 4294967040.0f, 4294967296.0f, -1.0f, -0.99f, 0.99f};
    static const double dc[] = {NAN, INFINITY, -INFINITY, 3e9, -3e9, 2147483647.9, 2147483648.0, 4294967295.5, 4294967296.0, -1.0, -0.99, -2147483648.9};
    for (unsigned k = 0; k < sizeof fc / sizeof fc[0]; k++) FC[k * 9 + 2] = fc[k];
    for (unsigned k = 0; k < sizeof dc / sizeof dc[0]; k++) DC[k * 7 + 1] = dc[k];

    loads_stores();
    splat_lanes();
    shuffles();
    int_arith();
    shifts();
    compares();
    bitwise();
    widen_narrow();
    floats();
    conversions();
    pipeline();

    int fd = open(P(dir, "simd_out.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { printf("open simd_out.bin: ERR errno=%d (%s)\n", errno, strerror(errno)); return 1; }
    if (write(fd, OUT, N) != N) { printf("write simd_out.bin: ERR errno=%d\n", errno); return 1; }
    close(fd);
    printf("wrote simd_out.bin %d bytes fnv=%08x\n", N, fnv1a(FNV_INIT, OUT, N));
    return 0;
}
