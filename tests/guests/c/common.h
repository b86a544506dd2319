/* Helpers shared by the chiwawa WASI test guests (C, wasm32-wasi).
 * Every guest prints only deterministic output: no inode numbers, times,
 * addresses or random values. */
#ifndef CHIWAWA_TEST_COMMON_H
#define CHIWAWA_TEST_COMMON_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print "LABEL: ok" or "LABEL: ERR errno=N (strerror)". Returns the value. */
__attribute__((unused)) static long report(const char *label, long rc) {
    if (rc < 0)
        printf("%s: ERR errno=%d (%s)\n", label, errno, strerror(errno));
    else
        printf("%s: ok %ld\n", label, rc);
    return rc;
}

/* Like report() for calls returning a descriptor: prints only "ok", since fd
 * numbering is a runtime detail. */
__attribute__((unused)) static long report_fd(const char *label, long fd) {
    if (fd < 0)
        printf("%s: ERR errno=%d (%s)\n", label, errno, strerror(errno));
    else
        printf("%s: ok\n", label);
    return fd;
}

/* Join dir + "/" + name into a static rotating buffer. */
__attribute__((unused)) static const char *P(const char *dir, const char *name) {
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ & 7];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

/* FNV-1a over bytes. */
__attribute__((unused)) static uint32_t fnv1a(uint32_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
    return h;
}
#define FNV_INIT 2166136261u
#endif
