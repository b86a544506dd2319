/* Long-running CPU guest for checkpoint tests.
 * usage: counter N M [DIR]
 * Runs N iterations of a checksum loop; every M iterations prints a progress
 * line to stdout and appends one to DIR/out.txt (DIR defaults to "."; the file
 * is opened once with O_APPEND and kept open). Ends with a "done" line. */
#include "common.h"
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: counter N M [DIR]\n"); return 2; }
    unsigned long long n = strtoull(argv[1], 0, 10), m = strtoull(argv[2], 0, 10);
    const char *d = argc > 3 ? argv[3] : ".";
    if (m == 0) m = 1;
    int fd = open(P(d, "out.txt"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) { printf("open out.txt: ERR errno=%d (%s)\n", errno, strerror(errno)); return 1; }
    uint64_t sum = 0x12345678u, x = 88172645463325252ull;
    unsigned long long step = 0;
    for (unsigned long long i = 1; i <= n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        sum = (sum ^ (x >> 11)) * 0x100000001B3ull + i;
        if (i % m == 0) {
            step++;
            char line[128];
            int len = snprintf(line, sizeof line, "step %llu i=%llu sum=%016llx\n", step, i, (unsigned long long)sum);
            fputs(line, stdout);
            fflush(stdout);
            if (write(fd, line, len) != len) { printf("write out.txt: ERR errno=%d\n", errno); return 1; }
        }
    }
    close(fd);
    printf("done n=%llu sum=%016llx\n", n, (unsigned long long)sum);
    return 0;
}
