/* tree-sitter workload: parse C source text (the Lua 5.4 sources from the lua-src crate,
   concatenated and embedded as input_c.h by build.sh) with the tree-sitter-c grammar, walk
   the tree, then re-parse incrementally after edits; prints node counts and a digest of
   the node types and byte ranges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tree_sitter/api.h"
#include "input_c.h"   /* unsigned char input_c[]; unsigned int input_c_len; */
#include "../common.h"

const TSLanguage *tree_sitter_c(void);

static void walk(TSTree *tree, const char *name) {
  TSTreeCursor cur = ts_tree_cursor_new(ts_tree_root_node(tree));
  uint64_t h = FNV_INIT;
  long nodes = 0, named = 0, errors = 0, fns = 0;
  for (;;) {
    TSNode n = ts_tree_cursor_current_node(&cur);
    nodes++;
    if (ts_node_is_named(n)) named++;
    if (ts_node_is_error(n) || ts_node_is_missing(n)) errors++;
    TSSymbol s = ts_node_symbol(n);
    if (strcmp(ts_node_type(n), "function_definition") == 0) fns++;
    uint32_t b[3] = {s, ts_node_start_byte(n), ts_node_end_byte(n)};
    h = fnv1a(h, b, sizeof b);
    if (ts_tree_cursor_goto_first_child(&cur)) continue;
    while (!ts_tree_cursor_goto_next_sibling(&cur))
      if (!ts_tree_cursor_goto_parent(&cur)) goto done;
  }
done:
  ts_tree_cursor_delete(&cur);
  printf("%-8s nodes %7ld named %7ld functions %4ld errors %3ld digest %016llx\n", name, nodes, named, fns,
         errors, (unsigned long long)h);
}

int main(void) {
  TSParser *p = ts_parser_new();
  ts_parser_set_language(p, tree_sitter_c());
  uint32_t len = input_c_len;
  char *src = malloc(len + 64);
  memcpy(src, input_c, len);
  TSTree *tree = ts_parser_parse_string(p, NULL, src, len);
  walk(tree, "full");
  /* incremental: 20 edits that replace a '+' with '-' (same length), re-parse each time */
  uint32_t pos = 0;
  for (int e = 0; e < 20; e++) {
    pos = (pos + len / 21) % len;
    while (pos < len && src[pos] != '+') pos++;
    if (pos >= len) break;
    src[pos] = '-';
    TSInputEdit ed = {pos, pos + 1, pos + 1, {0, 0}, {0, 0}, {0, 0}};
    ts_tree_edit(tree, &ed);  /* points unused by this walk: byte offsets suffice */
    TSTree *t2 = ts_parser_parse_string(p, tree, src, len);
    ts_tree_delete(tree);
    tree = t2;
  }
  walk(tree, "edited");
  ts_tree_delete(tree);
  /* a second full parse from scratch of the edited text */
  tree = ts_parser_parse_string(p, NULL, src, len);
  walk(tree, "reparse");
  ts_tree_delete(tree);
  ts_parser_delete(p);
  return 0;
}
