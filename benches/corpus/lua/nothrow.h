/* Force-included into every Lua source (-include): Lua raises errors with longjmp, which
   clang 14's wasm32-wasi cannot compile (no setjmp/longjmp without the exception-handling
   proposal). bench.lua raises no error and uses no coroutine, so a "try" is a plain call and
   a throw aborts. The native build uses the same definitions, so both run the same code. */
#include <stdio.h>
#include <stdlib.h>
#define LUAI_THROW(L, c) (fprintf(stderr, "lua: error thrown (status %d), aborting\n", (c)->status), abort())
#define LUAI_TRY(L, c, a) { a }
#define luai_jmpbuf int
