/* Memory-dirtying guest for live-migration tests and benchmarks.
 * usage: dirty MIB STEPS PAGES [MB_PER_S] [DIR]
 * Touches MIB MiB of heap (every 64 KiB page gets distinct contents), then runs STEPS steps;
 * each step rewrites PAGES pseudo-randomly chosen 64 KiB pages and, every 64 steps, prints a
 * progress line with a checksum of the rewritten bytes. With MB_PER_S > 0, steps are paced so
 * that about that many MB are dirtied per second of wall time (the output does not depend on
 * the pacing); with PAGES 0 and MB_PER_S > 0 each step sleeps 1 ms instead (an idle guest
 * that keeps its memory). With DIR, each progress line is appended to DIR/dirty.txt too. Ends with a
 * checksum over all of the memory. */
#include "common.h"
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define PAGE 65536u

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: dirty MIB STEPS PAGES [MB_PER_S] [DIR]\n"); return 2; }
    size_t mib = strtoull(argv[1], 0, 10);
    unsigned long long steps = strtoull(argv[2], 0, 10), per = strtoull(argv[3], 0, 10);
    double rate = argc > 4 ? strtod(argv[4], 0) : 0;
    int fd = -1;
    if (argc > 5) {
        char path[512];
        snprintf(path, sizeof path, "%s/dirty.txt", argv[5]);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0) { printf("open dirty.txt: ERR errno=%d\n", errno); return 1; }
    }
    size_t pages = mib * 1024 * 1024 / PAGE;
    if (pages == 0) pages = 1;
    uint64_t *mem = malloc(pages * PAGE);
    if (!mem) { printf("malloc failed\n"); return 1; }
    size_t words = PAGE / 8;
    for (size_t p = 0; p < pages; p++)
        for (size_t w = 0; w < words; w++) mem[p * words + w] = (p * 0x9E3779B97F4A7C15ull) ^ w;
    printf("touched %zu pages\n", pages);
    fflush(stdout);
    uint64_t x = 88172645463325252ull, sum = 0;
    uint64_t t0 = now_ns();
    double bytes = 0;
    for (unsigned long long s = 1; s <= steps; s++) {
        for (unsigned long long k = 0; k < per; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t p = x % pages;
            uint64_t *pg = mem + p * words;
            for (size_t w = 0; w < words; w += 1) pg[w] = pg[w] * 0x100000001B3ull + s + w;
            sum = (sum ^ pg[(x >> 20) % words]) * 0x100000001B3ull;
        }
        bytes += (double)per * PAGE;
        if (rate > 0) {
            /* Pace: sleep until `bytes` is due at `rate` MB/s (idle: one step per ms). */
            uint64_t due = per ? t0 + (uint64_t)(bytes / (rate * 1e6) * 1e9) : t0 + s * 1000000ull;
            uint64_t t = now_ns();
            if (due > t) {
                struct timespec ts = {(time_t)((due - t) / 1000000000ull), (long)((due - t) % 1000000000ull)};
                nanosleep(&ts, 0);
            }
        }
        if (s % 64 == 0) {
            char line[128];
            int len = snprintf(line, sizeof line, "step %llu sum=%016llx\n", s, (unsigned long long)sum);
            fputs(line, stdout);
            fflush(stdout);
            if (fd >= 0 && write(fd, line, len) != len) { printf("write: ERR errno=%d\n", errno); return 1; }
        }
    }
    uint64_t all = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < pages * words; i++) all = (all ^ mem[i]) * 0x100000001B3ull;
    printf("done pages=%zu sum=%016llx all=%016llx\n", pages, (unsigned long long)sum, (unsigned long long)all);
    return 0;
}
