/* Plain C loops that clang -O3 -msimd128 auto-vectorises (no intrinsics): the SIMD code a
 * typical compiled program contains. usage: simd_auto [ROUNDS]   (default 3)
 * Each kernel is a separate non-inlined function over deterministic data; every result is
 * printed as an integer or an FNV-1a checksum. Float kernels sum in a fixed order that the
 * vectoriser may reassociate only where C allows it (it does not for float without
 * -ffast-math: saxpy is element-wise, the float reductions stay scalar-ordered). */
#include "common.h"

#define NB 65536 /* bytes */
#define NF 8192  /* floats / shorts / ints */
#define K __attribute__((noinline)) static

static uint8_t img[3 * NB / 4], gray[NB / 4], bytes[NB], bytes2[NB];
static float fx[NF], fy[NF];
static int16_t sa[NF], sb[NF];
static int32_t ia[NF], ib[NF];
static uint32_t seed = 0x9E3779B9u;

static uint32_t next(void) {
    seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
    return seed;
}

/* y = a*x + y over floats (element-wise: vectorises without fast-math) */
K void saxpy(int n, float a, const float *restrict x, float *restrict y) {
    for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

/* i16 dot product with an i32 accumulator (extend + mul + add reduction) */
K int32_t dot_i16(int n, const int16_t *restrict a, const int16_t *restrict b) {
    uint32_t s = 0; /* unsigned: wraps without undefined behaviour */
    for (int i = 0; i < n; i++) s += (uint32_t)((int32_t)a[i] * b[i]);
    return (int32_t)s;
}

/* byte min, max and sum (u8 min/max reductions, widening sum) */
K void byte_stats(int n, const uint8_t *restrict p, uint8_t *mn, uint8_t *mx, uint32_t *sum) {
    uint8_t lo = 255, hi = 0;
    uint32_t s = 0;
    for (int i = 0; i < n; i++) {
        lo = p[i] < lo ? p[i] : lo;
        hi = p[i] > hi ? p[i] : hi;
        s += p[i];
    }
    *mn = lo; *mx = hi; *sum = s;
}

/* byte histogram (scatter: stays scalar; here for its checksum and as a contrast) */
K void histogram(int n, const uint8_t *restrict p, uint32_t *restrict h) {
    for (int i = 0; i < 256; i++) h[i] = 0;
    for (int i = 0; i < n; i++) h[p[i]]++;
}

/* memchr-like: count the bytes equal to c and the position of the last one (a compare +
 * select reduction; an early-exit search does not vectorise with this clang) */
K uint32_t count_byte(int n, const uint8_t *restrict p, uint8_t c) {
    uint32_t k = 0;
    for (int i = 0; i < n; i++) k += p[i] == c;
    return k;
}

/* first index of c in p, searched 16 bytes at a time via a vectorisable "any" block test */
K int find_byte(int n, const uint8_t *restrict p, uint8_t c) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        uint8_t any = 0;
        for (int j = 0; j < 16; j++) any |= p[i + j] == c;
        if (any) break;
    }
    for (; i < n; i++)
        if (p[i] == c) return i;
    return -1;
}

/* RGB -> gray, u8 in, u8 out, fixed-point weights (77, 150, 29) / 256 */
K void rgb_to_gray(int n, const uint8_t *restrict rgb, uint8_t *restrict g) {
    for (int i = 0; i < n; i++)
        g[i] = (uint8_t)((77 * rgb[3 * i] + 150 * rgb[3 * i + 1] + 29 * rgb[3 * i + 2] + 128) >> 8);
}

/* saturating u8 add and absolute difference (add_sat, max/min or sub_sat patterns) */
K void sat_add(int n, const uint8_t *restrict a, const uint8_t *restrict b, uint8_t *restrict out) {
    for (int i = 0; i < n; i++) {
        unsigned s = a[i] + b[i];
        out[i] = s > 255 ? 255 : (uint8_t)s;
    }
}
K uint32_t sad(int n, const uint8_t *restrict a, const uint8_t *restrict b) {
    uint32_t s = 0;
    for (int i = 0; i < n; i++) s += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return s;
}

/* i32 reductions: sum, xor, max */
K int64_t i32_reduce(int n, const int32_t *restrict a, int32_t *mx, uint32_t *x) {
    int32_t m = INT32_MIN;
    uint32_t xr = 0;
    uint32_t s = 0;
    for (int i = 0; i < n; i++) {
        s += (uint32_t)a[i];
        xr ^= (uint32_t)a[i];
        m = a[i] > m ? a[i] : m;
    }
    *mx = m; *x = xr;
    return (int32_t)s;
}

/* i32 prefix sum (loop-carried: scalar) followed by an element-wise fix-up (vectorises) */
K void prefix_sum(int n, int32_t *restrict a, const int32_t *restrict b) {
    for (int i = 1; i < n; i++) a[i] = (int32_t)((uint32_t)a[i] + (uint32_t)a[i - 1]);
    for (int i = 0; i < n; i++) a[i] = (a[i] >> 3) ^ (int32_t)((uint32_t)b[i] * 7u);
}

/* int <-> float conversions, element-wise */
K void convert(int n, const int32_t *restrict a, float *restrict f, int32_t *restrict back) {
    for (int i = 0; i < n; i++) f[i] = (float)a[i] * 0.5f;
    for (int i = 0; i < n; i++) back[i] = (int32_t)(f[i] * 0.25f);
}

static uint32_t fnv_floats(const float *f, int n) { return fnv1a(FNV_INIT, (const unsigned char *)f, 4 * (size_t)n); }

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    if (rounds < 1) rounds = 1;
    for (int i = 0; i < NB; i++) bytes[i] = (uint8_t)(next() % 251);
    for (int i = 0; i < NB; i++) bytes2[i] = (uint8_t)(next() >> 9);
    for (int i = 0; i < 3 * NB / 4; i++) img[i] = (uint8_t)(next() >> 3);
    for (int i = 0; i < NF; i++) {
        fx[i] = (float)((int32_t)(next() % 20001) - 10000) / 64.0f;
        fy[i] = (float)((int32_t)(next() % 2001) - 1000) / 16.0f;
        sa[i] = (int16_t)next();
        sb[i] = (int16_t)(next() >> 7);
        ia[i] = (int32_t)next() >> 4;
        ib[i] = (int32_t)(next() % 100000);
    }
    uint32_t total = FNV_INIT;
    for (int r = 0; r < rounds; r++) {
        saxpy(NF, 1.0f + r * 0.5f, fx, fy);
        int32_t d = dot_i16(NF, sa, sb);
        uint8_t mn, mx;
        uint32_t bs;
        byte_stats(NB, bytes, &mn, &mx, &bs);
        static uint32_t hist[256];
        histogram(NB, bytes2, hist);
        uint32_t cnt = count_byte(NB, bytes, (uint8_t)(17 + r));
        int at = find_byte(NB, bytes2, (uint8_t)(200 + r));
        int none = find_byte(NB, bytes, 252); /* bytes < 251: never found */
        rgb_to_gray(NB / 4, img, gray);
        static uint8_t sum8[NB];
        sat_add(NB, bytes, bytes2, sum8);
        uint32_t s = sad(NB, bytes, bytes2);
        int32_t imx;
        uint32_t ixr;
        int64_t isum = i32_reduce(NF, ia, &imx, &ixr);
        static int32_t pre[NF], back[NF];
        static float conv[NF];
        memcpy(pre, ib, sizeof pre);
        prefix_sum(NF, pre, ia);
        convert(NF, ib, conv, back);
        printf("round %d\n", r);
        printf("  saxpy      fnv=%08x\n", fnv_floats(fy, NF));
        printf("  dot_i16    %d\n", d);
        printf("  byte_stats min=%u max=%u sum=%u\n", mn, mx, bs);
        printf("  histogram  fnv=%08x h[0]=%u h[255]=%u\n", fnv1a(FNV_INIT, (unsigned char *)hist, sizeof hist), hist[0], hist[255]);
        printf("  count_byte %u\n", cnt);
        printf("  find_byte  %d %d\n", at, none);
        printf("  gray       fnv=%08x\n", fnv1a(FNV_INIT, gray, sizeof gray));
        printf("  sat_add    fnv=%08x\n", fnv1a(FNV_INIT, sum8, sizeof sum8));
        printf("  sad        %u\n", s);
        printf("  i32_reduce sum=%lld max=%d xor=%08x\n", (long long)isum, imx, ixr);
        printf("  prefix     fnv=%08x last=%d\n", fnv1a(FNV_INIT, (unsigned char *)pre, sizeof pre), pre[NF - 1]);
        printf("  convert    fnv=%08x back=%08x\n", fnv_floats(conv, NF), fnv1a(FNV_INIT, (unsigned char *)back, sizeof back));
        total = fnv1a(total, (unsigned char *)fy, sizeof fy);
        total = fnv1a(total, gray, sizeof gray);
        total ^= (uint32_t)d + cnt + s + (uint32_t)isum;
        /* feed the outputs back so later rounds see new data */
        for (int i = 0; i < NB; i++) bytes2[i] = (uint8_t)(sum8[i] ^ bytes[(i * 7) % NB]);
        for (int i = 0; i < NF; i++) ia[i] = back[i] ^ pre[i];
    }
    printf("total %08x\n", total);
    return 0;
}
