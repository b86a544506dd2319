/* PicoSAT workload: random 3-SAT instances near the phase transition (clause/variable ratio
   4.26, satisfiable and unsatisfiable ones) plus a pigeon-hole instance; prints each answer,
   the solver's decision and propagation counts and, for SAT, a digest of the model. */
#include <stdio.h>
#include "picosat.h"
#include "../common.h"

static uint64_t total = FNV_INIT;

static void report(const char *name, PicoSAT *ps, int res, int nvars) {
  uint64_t h = FNV_INIT;
  if (res == PICOSAT_SATISFIABLE)
    for (int v = 1; v <= nvars; v++) { int x = picosat_deref(ps, v); h = fnv1a(h, &x, sizeof x); }
  unsigned long long d = picosat_decisions(ps), p = picosat_propagations(ps);
  printf("%-14s %-5s decisions %8llu propagations %10llu model %016llx\n", name,
         res == PICOSAT_SATISFIABLE ? "SAT" : res == PICOSAT_UNSATISFIABLE ? "UNSAT" : "?", d, p,
         (unsigned long long)h);
  total = fnv1a(total, &h, sizeof h);
  total = fnv1a(total, &d, sizeof d);
}

static void random3sat(int nvars, int round) {
  PicoSAT *ps = picosat_init();
  int nclauses = nvars * 426 / 100;
  for (int c = 0; c < nclauses; c++) {
    for (int k = 0; k < 3; k++) {
      int v = 1 + rnd() % nvars;
      picosat_add(ps, (rnd() & 1) ? v : -v);
    }
    picosat_add(ps, 0);
  }
  char name[32];
  snprintf(name, sizeof name, "3sat-%d-%d", nvars, round);
  report(name, ps, picosat_sat(ps, -1), nvars);
  picosat_reset(ps);
}

static void pigeonhole(int holes) {  /* holes+1 pigeons, `holes` holes: UNSAT */
  PicoSAT *ps = picosat_init();
  int pigeons = holes + 1;
#define X(p, h) ((p) * holes + (h) + 1)
  for (int p = 0; p < pigeons; p++) {
    for (int h = 0; h < holes; h++) picosat_add(ps, X(p, h));
    picosat_add(ps, 0);
  }
  for (int h = 0; h < holes; h++)
    for (int p = 0; p < pigeons; p++)
      for (int q = p + 1; q < pigeons; q++) { picosat_add(ps, -X(p, h)); picosat_add(ps, -X(q, h)); picosat_add(ps, 0); }
  char name[32];
  snprintf(name, sizeof name, "php-%d", holes);
  report(name, ps, picosat_sat(ps, -1), pigeons * holes);
  picosat_reset(ps);
}

int main(void) {
  printf("picosat (as vendored by pycosat 0.6.6)\n");
  for (int r = 0; r < 4; r++) random3sat(200, r);
  pigeonhole(7);
  printf("total %016llx\n", (unsigned long long)total);
  return 0;
}
