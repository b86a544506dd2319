/* Long-running SIMD guest for checkpoint tests: the protocol of counter.c with a v128 work loop.
 * usage: simd_counter N M [DIR]
 * Runs N iterations; each one mixes a 256-byte buffer in linear memory into four i32x4
 * accumulators (multiply-add, xor-shift, byte shuffle, saturating u8 ops), writes the mixed
 * bytes back and carries the accumulators in v128 locals to the next iteration, through a
 * non-inlined function taking and returning v128 values: a checkpoint inside the loop holds
 * v128 values in locals, operands and two frames, plus changed memory. Every M iterations it
 * prints "step K i=I sum=S" (flushed) and appends the same line to DIR/out.txt (DIR defaults
 * to "."; the file is opened once with O_APPEND and kept open). Ends with a "done" line. */
#include "common.h"
#include <fcntl.h>
#include <unistd.h>
#include <wasm_simd128.h>

#define BUF 256

static uint8_t buf[BUF];

typedef struct { v128_t a, b; } pair;

/* One pass over buf: returns the new accumulators; buf is rewritten. */
static __attribute__((noinline)) pair mix(v128_t a, v128_t b, uint32_t i) {
    const v128_t prime = wasm_i32x4_const(0x01000193, 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D);
    v128_t salt = wasm_i32x4_splat((int32_t)i);
    for (int j = 0; j < BUF; j += 16) {
        v128_t v = wasm_v128_load(buf + j);
        a = wasm_i32x4_add(wasm_i32x4_mul(a, prime), wasm_v128_xor(v, salt));
        a = wasm_v128_xor(a, wasm_u32x4_shr(a, 13));
        b = wasm_i64x2_add(b, wasm_u64x2_extend_low_u32x4(a));
        b = wasm_v128_xor(wasm_i64x2_shl(b, 7), wasm_u64x2_shr(b, 57));
        v128_t s = wasm_i8x16_shuffle(a, b, 3, 18, 9, 31, 12, 0, 25, 6, 15, 20, 1, 28, 10, 23, 5, 16);
        v128_t w = wasm_u8x16_add_sat(wasm_u8x16_avgr(v, s), wasm_u8x16_sub_sat(s, v));
        wasm_v128_store(buf + j, wasm_v128_xor(w, wasm_i8x16_swizzle(v, wasm_u8x16_shr(s, 4))));
    }
    return (pair){a, b};
}

static uint64_t fold(v128_t a, v128_t b) {
    v128_t x = wasm_v128_xor(b, wasm_u64x2_extend_high_u32x4(a));
    x = wasm_i64x2_add(x, wasm_u64x2_extend_low_u32x4(a));
    return (uint64_t)wasm_i64x2_extract_lane(x, 0) * 0x100000001B3ull ^ (uint64_t)wasm_i64x2_extract_lane(x, 1);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: simd_counter N M [DIR]\n"); return 2; }
    unsigned long long n = strtoull(argv[1], 0, 10), m = strtoull(argv[2], 0, 10);
    const char *d = argc > 3 ? argv[3] : ".";
    if (m == 0) m = 1;
    int fd = open(P(d, "out.txt"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) { printf("open out.txt: ERR errno=%d (%s)\n", errno, strerror(errno)); return 1; }
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < BUF; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = (uint8_t)(x >> 24); }
    v128_t a = wasm_i32x4_const(0x12345678, 0x0BADF00D, 0x7F4A7C15, 0x2545F491);
    v128_t b = wasm_i64x2_const(0x0123456789ABCDEFll, (long long)0xFEDCBA9876543210ull);
    unsigned long long step = 0;
    for (unsigned long long i = 1; i <= n; i++) {
        pair p = mix(a, b, (uint32_t)i);
        a = p.a;
        b = wasm_v128_xor(p.b, wasm_i64x2_splat((long long)i));
        if (i % m == 0) {
            step++;
            char line[128];
            int len = snprintf(line, sizeof line, "step %llu i=%llu sum=%016llx\n", step, i, (unsigned long long)fold(a, b));
            fputs(line, stdout);
            fflush(stdout);
            if (write(fd, line, len) != len) { printf("write out.txt: ERR errno=%d\n", errno); return 1; }
        }
    }
    close(fd);
    printf("done n=%llu sum=%016llx buf=%08x\n", n, (unsigned long long)fold(a, b), fnv1a(FNV_INIT, buf, BUF));
    return 0;
}
