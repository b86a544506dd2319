/* A 16-lane xxHash32-style hash of a 1 MiB buffer, repeated (own code, public domain).
 * usage: hash [SCALE]   prints one checksum line; the work grows linearly with SCALE.
 * Four independent accumulators of four 32-bit lanes each (xxh32's round: v = rotl(v + x *
 * P2, 13) * P1) consume 64 bytes per step; the lanes are merged and avalanched as in xxh32.
 * With -msimd128 (__wasm_simd128__) each accumulator is one i32x4 (mul, add, shl|shr_u);
 * the scalar fallback runs the 16 lanes one by one and prints the same checksum. */
#include "common.h"
#include <string.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define LEN (1 << 20)
#define REPS 640
#define P1 0x9E3779B1u
#define P2 0x85EBCA77u
#define P3 0xC2B2AE3Du
#define P4 0x27D4EB2Fu
#define P5 0x165667B1u

static uint8_t buf[LEN];

static inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t hash(const uint8_t *p, size_t n, uint32_t seed) {
    uint32_t lane[16];
#ifdef __wasm_simd128__
    v128_t v[4];
    for (int a = 0; a < 4; a++)
        v[a] = wasm_i32x4_add(wasm_i32x4_splat((int32_t)(seed + a * P3)), wasm_i32x4_const(P1 + P2, P2, 0, -P1));
    const v128_t p1 = wasm_i32x4_splat((int32_t)P1), p2 = wasm_i32x4_splat((int32_t)P2);
    for (size_t i = 0; i + 64 <= n; i += 64)
        for (int a = 0; a < 4; a++) {
            v128_t x = wasm_v128_load(p + i + 16 * a);
            v128_t t = wasm_i32x4_add(v[a], wasm_i32x4_mul(x, p2));
            t = wasm_v128_or(wasm_i32x4_shl(t, 13), wasm_u32x4_shr(t, 19));
            v[a] = wasm_i32x4_mul(t, p1);
        }
    for (int a = 0; a < 4; a++) wasm_v128_store(lane + 4 * a, v[a]);
#else
    static const uint32_t init[4] = {P1 + P2, P2, 0, 0u - P1};
    for (int l = 0; l < 16; l++) lane[l] = seed + (l / 4) * P3 + init[l % 4];
    for (size_t i = 0; i + 64 <= n; i += 64)
        for (int l = 0; l < 16; l++) {
            uint32_t x;
            memcpy(&x, p + i + 4 * l, 4);
            lane[l] = rotl(lane[l] + x * P2, 13) * P1;
        }
#endif
    uint32_t h = (uint32_t)n;
    for (int l = 0; l < 16; l++) h += rotl(lane[l], 1 + (l * 7) % 18);
    for (size_t i = n & ~(size_t)63; i < n; i++) h = rotl(h + p[i] * P5, 11) * P1;
    h ^= h >> 15; h *= P2; h ^= h >> 13; h *= P3; h ^= h >> 16;
    return h;
}

int main(int argc, char **argv) {
    int scale = bench_scale(argc, argv, 1);
    for (size_t i = 0; i < LEN; i += 8) {
        uint64_t r = rng_next();
        memcpy(buf + i, &r, 8);
    }
    uint32_t h = 0, acc = 0;
    for (int r = 0; r < REPS * scale; r++) {
        h = hash(buf, LEN - (r % 61), h); /* varying length: the tail loop runs too */
        acc = rotl(acc, 5) ^ h;
        buf[(h >> 12) % LEN] ^= (uint8_t)h; /* and the input changes */
    }
    printf("hash %d MiB x %d scale %d checksum %08x %08x\n", LEN >> 20, REPS, scale, h, acc);
    return 0;
}
