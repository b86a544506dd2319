/* File I/O: create, write, append, read back, seek/tell, pread/pwrite,
 * truncate, stat sizes. usage: files DIR */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void dump(const char *label, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { printf("%s: fopen ERR errno=%d (%s)\n", label, errno, strerror(errno)); return; }
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    printf("%s: %zu bytes [", label, n);
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') printf("\\n");
        else if (buf[i] < 32 || buf[i] > 126) printf("\\x%02x", (unsigned char)buf[i]);
        else putchar(buf[i]);
    }
    printf("]\n");
    fclose(f);
}

static void size_of(const char *label, const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) { printf("%s: stat ERR errno=%d (%s)\n", label, errno, strerror(errno)); return; }
    printf("%s: size=%lld reg=%d dir=%d\n", label, (long long)st.st_size, S_ISREG(st.st_mode) ? 1 : 0,
           S_ISDIR(st.st_mode) ? 1 : 0);
}

int main(int argc, char **argv) {
    const char *d = argc > 1 ? argv[1] : ".";
    const char *a = P(d, "a.txt");

    /* create + write */
    int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    report_fd("open a.txt create", fd);
    report("write hello", write(fd, "hello world\n", 12));
    report("close", close(fd));
    dump("after write", a);
    size_of("stat a.txt", a);

    /* O_EXCL on an existing file */
    report_fd("open O_EXCL existing", open(a, O_WRONLY | O_CREAT | O_EXCL, 0644));

    /* append (stdio and O_APPEND) */
    FILE *f = fopen(a, "a");
    printf("fopen append: %s\n", f ? "ok" : "ERR");
    fprintf(f, "line %d\n", 2);
    fclose(f);
    fd = open(a, O_WRONLY | O_APPEND);
    report_fd("open O_APPEND", fd);
    report("lseek 0 before append", lseek(fd, 0, SEEK_SET));
    report("append write", write(fd, "line 3\n", 7));
    report("tell after append", lseek(fd, 0, SEEK_CUR));
    close(fd);
    dump("after append", a);

    /* read back, seek/tell */
    fd = open(a, O_RDWR);
    report_fd("open O_RDWR", fd);
    char buf[64];
    long n = report("read 5", read(fd, buf, 5));
    if (n > 0) printf("  data=[%.*s]\n", (int)n, buf);
    report("tell", lseek(fd, 0, SEEK_CUR));
    report("seek SET 6", lseek(fd, 6, SEEK_SET));
    n = report("read 5", read(fd, buf, 5));
    if (n > 0) printf("  data=[%.*s]\n", (int)n, buf);
    report("seek CUR -3", lseek(fd, -3, SEEK_CUR));
    report("seek END 0", lseek(fd, 0, SEEK_END));
    report("seek END -7", lseek(fd, -7, SEEK_END));
    n = report("read to end", read(fd, buf, sizeof buf));
    if (n > 0) printf("  data=[%.*s]\n", (int)n - 1, buf);
    report("read at EOF", read(fd, buf, sizeof buf));
    report("seek negative", lseek(fd, -100, SEEK_SET));

    /* pread/pwrite do not move the file offset */
    report("seek SET 2", lseek(fd, 2, SEEK_SET));
    n = report("pread 5 @6", pread(fd, buf, 5, 6));
    if (n > 0) printf("  data=[%.*s]\n", (int)n, buf);
    report("pwrite 5 @0", pwrite(fd, "HELLO", 5, 0));
    report("tell after pread/pwrite", lseek(fd, 0, SEEK_CUR));
    report("pwrite past end @40", pwrite(fd, "Z", 1, 40));
    struct stat st;
    report("fstat", fstat(fd, &st));
    printf("  fstat size=%lld\n", (long long)st.st_size);
    close(fd);
    dump("after pwrite", a);

    /* truncate: shrink and grow */
    fd = open(a, O_RDWR);
    report("ftruncate 11", ftruncate(fd, 11));
    fstat(fd, &st);
    printf("  size=%lld\n", (long long)st.st_size);
    report("ftruncate 16", ftruncate(fd, 16));
    fstat(fd, &st);
    printf("  size=%lld\n", (long long)st.st_size);
    close(fd);
    dump("after truncate", a);
    report("truncate(path) 5", truncate(a, 5));
    size_of("stat after truncate(path)", a);
    fd = open(a, O_WRONLY | O_TRUNC);
    report_fd("open O_TRUNC", fd);
    close(fd);
    size_of("stat after O_TRUNC", a);

    /* larger file through stdio, read back with a checksum */
    const char *big = P(d, "big.bin");
    f = fopen(big, "wb");
    uint32_t h = FNV_INIT;
    for (int i = 0; i < 100000; i++) {
        unsigned char c = (unsigned char)(i * 7 + (i >> 8));
        fputc(c, f);
        h = fnv1a(h, &c, 1);
    }
    fclose(f);
    printf("big written fnv=%08x\n", h);
    size_of("stat big.bin", big);
    fd = open(big, O_RDONLY);
    uint32_t h2 = FNV_INIT;
    long total = 0;
    char chunk[4096];
    while ((n = read(fd, chunk, sizeof chunk)) > 0) { h2 = fnv1a(h2, (unsigned char *)chunk, n); total += n; }
    close(fd);
    printf("big read back %ld bytes fnv=%08x match=%d\n", total, h2, h == h2);

    /* write to a read-only fd, read from a write-only fd */
    fd = open(a, O_RDONLY);
    report("write on O_RDONLY", write(fd, "x", 1));
    close(fd);
    fd = open(a, O_WRONLY);
    report("read on O_WRONLY", read(fd, buf, 1));
    close(fd);

    /* final state kept for the directory-tree comparison */
    f = fopen(P(d, "final.txt"), "w");
    fputs("final contents\n", f);
    fclose(f);
    return 0;
}
