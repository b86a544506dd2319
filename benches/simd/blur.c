/* 3x3 box blur of an 8-bit grey image, repeated in passes (own code, public domain).
 * usage: blur [SCALE]   prints one checksum line; the work grows linearly with SCALE.
 * With -msimd128 (__wasm_simd128__) each 16-pixel block is nine unaligned loads, widened
 * to u16x8 (extend_low/high), summed, divided by 9 with i16x8.q15mulr_sat (x * 3641 / 32768,
 * rounded) and narrowed back to u8x16; without it the scalar loop computes the identical
 * integer formula, so both builds print the same checksum. Border pixels are copied. */
#include "common.h"
#include <string.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define W 1026 /* 1 + 64 * 16 + 1: the interior is whole 16-pixel blocks */
#define H 514
#define PASSES 160

static uint8_t img[2][H][W];

__attribute__((unused)) static inline uint8_t div9(unsigned sum) { return (uint8_t)((sum * 3641 + 16384) >> 15); }

#ifdef __wasm_simd128__
static inline v128_t rowsum(const uint8_t *p, v128_t *hi) {
    v128_t a = wasm_v128_load(p - 1), b = wasm_v128_load(p), c = wasm_v128_load(p + 1);
    v128_t lo = wasm_i16x8_add(wasm_i16x8_add(wasm_u16x8_extend_low_u8x16(a), wasm_u16x8_extend_low_u8x16(b)),
                               wasm_u16x8_extend_low_u8x16(c));
    *hi = wasm_i16x8_add(wasm_i16x8_add(wasm_u16x8_extend_high_u8x16(a), wasm_u16x8_extend_high_u8x16(b)),
                         wasm_u16x8_extend_high_u8x16(c));
    return lo;
}
#endif

static void pass(uint8_t (*src)[W], uint8_t (*dst)[W]) {
    memcpy(dst[0], src[0], W);
    memcpy(dst[H - 1], src[H - 1], W);
    for (int y = 1; y < H - 1; y++) {
        dst[y][0] = src[y][0];
        dst[y][W - 1] = src[y][W - 1];
#ifdef __wasm_simd128__
        const v128_t k = wasm_i16x8_splat(3641);
        for (int x = 1; x < W - 1; x += 16) {
            v128_t h0, h1, h2;
            v128_t l0 = rowsum(&src[y - 1][x], &h0), l1 = rowsum(&src[y][x], &h1), l2 = rowsum(&src[y + 1][x], &h2);
            v128_t lo = wasm_i16x8_add(wasm_i16x8_add(l0, l1), l2);
            v128_t hi = wasm_i16x8_add(wasm_i16x8_add(h0, h1), h2);
            lo = wasm_i16x8_q15mulr_sat(lo, k);
            hi = wasm_i16x8_q15mulr_sat(hi, k);
            wasm_v128_store(&dst[y][x], wasm_u8x16_narrow_i16x8(lo, hi));
        }
#else
        for (int x = 1; x < W - 1; x++) {
            unsigned s = 0;
            for (int dy = -1; dy <= 1; dy++)
                s += src[y + dy][x - 1] + src[y + dy][x] + src[y + dy][x + 1];
            dst[y][x] = div9(s);
        }
#endif
    }
}

int main(int argc, char **argv) {
    int scale = bench_scale(argc, argv, 1);
    uint32_t total = 2166136261u;
    for (int round = 0; round < scale; round++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                /* smooth gradients plus noise: the blur has something to do every pass */
                uint64_t r = rng_next();
                img[0][y][x] = (uint8_t)((x * 3 + y * 5 + round * 17) / 4 + (r >> 59) * 8);
            }
        for (int p = 0; p < PASSES; p++) pass(img[p & 1], img[(p + 1) & 1]);
        const uint8_t *q = &img[PASSES & 1][0][0];
        for (int i = 0; i < H * W; i++) total = (total ^ q[i]) * 16777619u;
    }
    printf("blur %dx%d passes %d scale %d checksum %08x\n", W, H, PASSES, scale, total);
    return 0;
}
