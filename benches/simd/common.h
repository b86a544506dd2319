/* Shared helpers of the SIMD benchmark kernels (own code, public domain); the same contract as
 * ../../../shared/guests/common.h: argv[1] is a positive work scale (default 1) and the input
 * data comes from xorshift64*, identical on every runtime. */
#ifndef CHIWAWA_SIMD_BENCH_COMMON_H
#define CHIWAWA_SIMD_BENCH_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int bench_scale(int argc, char **argv, int dflt) {
    if (argc > 1) {
        int s = atoi(argv[1]);
        if (s > 0) return s;
    }
    return dflt;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t rng_next(void) {
    uint64_t x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
#endif
