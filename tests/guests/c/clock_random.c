/* Clocks and randomness: prints only booleans so the output is deterministic. */
#include "common.h"
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

static long long ns(clockid_t c) {
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0) return -1;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
    long long prev = ns(CLOCK_MONOTONIC);
    int nondecreasing = prev >= 0;
    for (int i = 0; i < 10000; i++) {
        long long now = ns(CLOCK_MONOTONIC);
        if (now < prev) nondecreasing = 0;
        prev = now;
    }
    printf("monotonic non-decreasing: %s\n", nondecreasing ? "true" : "false");

    long long t0 = ns(CLOCK_MONOTONIC);
    volatile unsigned x = 0;
    (void)x;
    for (unsigned i = 0; i < 2000000; i++) x += i;
    long long t1 = ns(CLOCK_MONOTONIC);
    printf("monotonic advances over work: %s\n", t1 > t0 ? "true" : "false");

    long long rt = ns(CLOCK_REALTIME);
    /* 2020-01-01 .. 2100-01-01 */
    printf("realtime plausible: %s\n", rt > 1577836800LL * 1000000000LL && rt < 4102444800LL * 1000000000LL ? "true" : "false");
    time_t t = time(NULL);
    printf("time() matches realtime: %s\n", (long long)t >= rt / 1000000000LL - 5 && (long long)t <= rt / 1000000000LL + 5 ? "true" : "false");

    struct timespec res;
    printf("monotonic resolution ok: %s\n",
           clock_getres(CLOCK_MONOTONIC, &res) == 0 && (res.tv_sec > 0 || res.tv_nsec > 0) && res.tv_sec < 1 ? "true" : "false");

    unsigned char a[64], b[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    int ok = getentropy(a, sizeof a) == 0 && getentropy(b, sizeof b) == 0;
    int nz = 0;
    for (size_t i = 0; i < sizeof a; i++) nz |= a[i];
    printf("random_get nonzero: %s\n", ok && nz ? "true" : "false");
    printf("random_get two calls differ: %s\n", ok && memcmp(a, b, sizeof a) != 0 ? "true" : "false");
    unsigned char big[4096];
    memset(big, 0, sizeof big);
    ok = getentropy(big, 256) == 0;
    int zeros = 0;
    for (int i = 0; i < 256; i++) zeros += big[i] == 0;
    printf("random_get 256 bytes plausible: %s\n", ok && zeros < 16 ? "true" : "false");
    return 0;
}
