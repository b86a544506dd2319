/* zstd workload: compress 8 MiB of generated text at levels 1 and 5, decompress, verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zstd.h"
#include "../common.h"

static const char *words[] = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
  "interpreter", "webassembly", "module", "function", "memory", "table", "checkpoint", "restore",
  "0", "1", "42", "1024", "\n", ", ", ". ", "and", "or", "not", "if", "then", "else", "return"};

int main(void) {
  size_t n = 8u << 20;
  char *src = malloc(n);
  size_t off = 0;
  while (off < n) {
    const char *w = words[rnd() % (sizeof words / sizeof *words)];
    size_t l = strlen(w);
    if (off + l + 1 > n) break;
    memcpy(src + off, w, l); off += l;
    src[off++] = ' ';
  }
  memset(src + off, '.', n - off);
  size_t cap = ZSTD_compressBound(n);
  char *dst = malloc(cap), *back = malloc(n);
  int levels[] = {1, 5};
  for (int i = 0; i < 2; i++) {
    size_t c = ZSTD_compress(dst, cap, src, n, levels[i]);
    if (ZSTD_isError(c)) { printf("compress error %s\n", ZSTD_getErrorName(c)); return 1; }
    size_t d = ZSTD_decompress(back, n, dst, c);
    if (ZSTD_isError(d) || d != n || memcmp(back, src, n)) { printf("roundtrip mismatch\n"); return 1; }
    printf("zstd %s level %d: %zu -> %zu bytes, fnv %016llx\n", ZSTD_versionString(), levels[i], n, c,
           (unsigned long long)fnv1a(FNV_INIT, dst, c));
  }
  return 0;
}
