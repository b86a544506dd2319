/* SQLite workload in :memory: — inserts, an index, updates, joins, aggregates, sorting, a
   recursive CTE. Prints every query result digest and a total checksum. */
#include <stdio.h>
#include <stdlib.h>
#include "sqlite3.h"
#include "../common.h"

static sqlite3 *db;
static uint64_t total = FNV_INIT;

static void exec(const char *sql) {
  char *err = 0;
  if (sqlite3_exec(db, sql, 0, 0, &err) != SQLITE_OK) { printf("error: %s in %s\n", err, sql); exit(1); }
}

/* run a query, hash every column of every row as text; print rows count and digest */
static void query(const char *name, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, 0) != SQLITE_OK) { printf("error: %s\n", sqlite3_errmsg(db)); exit(1); }
  uint64_t h = FNV_INIT; long rows = 0;
  char first[128] = "";
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const unsigned char *t = sqlite3_column_text(st, c);
      int n = sqlite3_column_bytes(st, c);
      if (t) h = fnv1a(h, t, n);
      h = fnv1a(h, "|", 1);
      if (rows == 0 && c == 0 && t) snprintf(first, sizeof first, "%s", t);
    }
    rows++;
  }
  sqlite3_finalize(st);
  total = fnv1a(total, &h, sizeof h);
  printf("%-10s rows %6ld first %-12.12s digest %016llx\n", name, rows, first, (unsigned long long)h);
}

int main(void) {
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
  printf("sqlite %s\n", sqlite3_libversion());
  exec("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city INTEGER, score REAL);"
       "CREATE TABLE orders(id INTEGER PRIMARY KEY, cust INTEGER, item TEXT, qty INTEGER, price REAL);");
  exec("BEGIN");
  sqlite3_stmt *c, *o;
  sqlite3_prepare_v2(db, "INSERT INTO customer VALUES(?,?,?,?)", -1, &c, 0);
  sqlite3_prepare_v2(db, "INSERT INTO orders(cust,item,qty,price) VALUES(?,?,?,?)", -1, &o, 0);
  const int NC = 4000, NO = 40000;
  char buf[64];
  for (int i = 1; i <= NC; i++) {
    snprintf(buf, sizeof buf, "cust%05u-%c%c", rnd() % 100000, 'a' + rnd() % 26, 'a' + rnd() % 26);
    sqlite3_bind_int(c, 1, i);
    sqlite3_bind_text(c, 2, buf, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(c, 3, rnd() % 50);
    sqlite3_bind_double(c, 4, (rnd() % 10000) / 100.0);
    sqlite3_step(c); sqlite3_reset(c);
  }
  for (int i = 0; i < NO; i++) {
    snprintf(buf, sizeof buf, "item-%03u", rnd() % 500);
    sqlite3_bind_int(o, 1, 1 + rnd() % NC);
    sqlite3_bind_text(o, 2, buf, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(o, 3, 1 + rnd() % 9);
    sqlite3_bind_double(o, 4, (rnd() % 100000) / 100.0);
    sqlite3_step(o); sqlite3_reset(o);
  }
  sqlite3_finalize(c); sqlite3_finalize(o);
  exec("COMMIT");
  exec("CREATE INDEX orders_cust ON orders(cust); CREATE INDEX orders_item ON orders(item, qty);");
  exec("UPDATE orders SET price = price * 1.1 WHERE qty > 6;");
  exec("DELETE FROM orders WHERE item LIKE 'item-%7' AND qty = 1;");
  query("count", "SELECT count(*), sum(qty), printf('%.2f', sum(price)) FROM orders");
  query("by_city", "SELECT city, count(*), printf('%.2f', sum(o.qty * o.price)) FROM customer c JOIN orders o ON o.cust = c.id "
                   "GROUP BY city ORDER BY 3 DESC");
  query("top_items", "SELECT item, sum(qty) AS q FROM orders GROUP BY item ORDER BY q DESC, item LIMIT 50");
  query("best_cust", "SELECT c.name, (SELECT count(*) FROM orders WHERE cust = c.id) AS n FROM customer c "
                     "ORDER BY n DESC, c.name LIMIT 100");
  query("names", "SELECT name FROM customer WHERE name GLOB '*-a?' ORDER BY name");
  query("window", "SELECT cust, id, sum(price) OVER (PARTITION BY cust ORDER BY id) FROM orders WHERE cust % 97 = 0 "
                  "ORDER BY cust, id");
  query("cte", "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000) "
               "SELECT sum(x * x % 1013), max(length(hex(x))) FROM n");
  for (int r = 0; r < 2; r++)
    query("sorted", "SELECT item, qty, price FROM orders ORDER BY price DESC, id LIMIT 20000");
  query("integrity", "PRAGMA integrity_check");
  printf("total %016llx\n", (unsigned long long)total);
  sqlite3_close(db);
  return 0;
}
