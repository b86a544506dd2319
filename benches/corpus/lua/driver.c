/* Lua 5.4 workload: runs bench.lua (embedded as bench_lua.h by build.sh) in a fresh state
   with the base, string, table, math and utf8 libraries (no io/os: the script is pure). */
#include <stdio.h>
#include <stdlib.h>
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "bench_lua.h"   /* unsigned char bench_lua[]; unsigned int bench_lua_len; */

int main(void) {
  lua_State *L = luaL_newstate();
  const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
                           {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                           {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}};
  for (const luaL_Reg *l = libs; l->func; l++) { luaL_requiref(L, l->name, l->func, 1); lua_pop(L, 1); }
  if (luaL_loadbuffer(L, (const char *)bench_lua, bench_lua_len, "=bench.lua") != LUA_OK ||
      lua_pcall(L, 0, 0, 0) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_close(L);
  return 0;
}
