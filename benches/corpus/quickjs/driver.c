/* QuickJS workload: evaluates bench.js (embedded as bench_js.h by build.sh) in a fresh runtime
   and prints the string it evaluates to. No quickjs-libc: the script is pure. */
#include <stdio.h>
#include <string.h>
#include "quickjs.h"
#include "bench_js.h"   /* unsigned char bench_js[]; unsigned int bench_js_len; */

int main(void) {
  JSRuntime *rt = JS_NewRuntime();
  JSContext *ctx = JS_NewContext(rt);
  char *src = (char *)js_malloc(ctx, bench_js_len + 1);
  memcpy(src, bench_js, bench_js_len);
  src[bench_js_len] = 0;
  JSValue v = JS_Eval(ctx, src, bench_js_len, "bench.js", JS_EVAL_TYPE_GLOBAL);
  int ok = !JS_IsException(v);
  if (!ok) v = JS_GetException(ctx);
  const char *s = JS_ToCString(ctx, v);
  printf("%s\n", s ? s : "(null)");
  JS_FreeCString(ctx, s);
  JS_FreeValue(ctx, v);
  js_free(ctx, src);
  JS_FreeContext(ctx);
  JS_FreeRuntime(rt);
  return ok ? 0 : 1;
}
