/* Shared helpers for the corpus drivers: a deterministic PRNG and FNV-1a. */
#ifndef CORPUS_COMMON_H
#define CORPUS_COMMON_H
#include <stddef.h>
#include <stdint.h>
static uint64_t corpus_rng = 0x9E3779B97F4A7C15ull;
static inline uint32_t rnd(void) { /* xorshift64* */
  corpus_rng ^= corpus_rng >> 12; corpus_rng ^= corpus_rng << 25; corpus_rng ^= corpus_rng >> 27;
  return (uint32_t)((corpus_rng * 2685821657736338717ull) >> 32);
}
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) { h ^= s[i]; h *= 0x100000001b3ull; }
  return h;
}
#define FNV_INIT 0xcbf29ce484222325ull
#endif
