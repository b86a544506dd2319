/* Reads stdin to EOF; prints byte count, line count, FNV-1a checksum and the
 * first line. */
#include "common.h"
#include <unistd.h>
int main(void) {
    unsigned char buf[1000];
    char first[81] = {0};
    size_t firstlen = 0;
    int in_first = 1;
    long total = 0, lines = 0, reads = 0;
    uint32_t h = FNV_INIT;
    long n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        reads++;
        h = fnv1a(h, buf, n);
        for (long i = 0; i < n; i++) {
            if (buf[i] == '\n') { lines++; in_first = 0; }
            else if (in_first && firstlen < 80) first[firstlen++] = buf[i];
        }
        total += n;
    }
    printf("read result: %s\n", n == 0 ? "EOF" : "ERR");
    printf("bytes=%ld lines=%ld fnv=%08x\n", total, lines, h);
    printf("first line=[%s]\n", first);
    return 0;
}
