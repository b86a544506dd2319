// Workload for QuickJS (PyPI sdist quickjs, upstream 2021-03-27): typical script code.
// The value of the last expression is printed by the driver.
var out = [];
var seed = 42;
function rand(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; }

// 1. classes, closures, method calls
class Vec { constructor(x, y) { this.x = x; this.y = y; }
  add(o) { return new Vec(this.x + o.x, this.y + o.y); }
  len2() { return this.x * this.x + this.y * this.y; } }
var acc = new Vec(0, 0);
for (var i = 0; i < 100000; i++) acc = acc.add(new Vec(rand(7) - 3, rand(5) - 2));
out.push("vec " + acc.x + "," + acc.y + " len2 " + acc.len2());

// 2. arrays: map/filter/reduce, sort with a comparator
var arr = [];
for (var i = 0; i < 30000; i++) arr.push({ k: rand(1000000), v: i });
arr.sort(function (a, b) { return a.k - b.k || a.v - b.v; });
var h = 0;
for (var i = 0; i < arr.length; i += 7) h = (h * 31 + arr[i].k) % 1000000007;
var evens = arr.filter(function (o) { return o.k % 2 === 0; }).map(function (o) { return o.k >> 3; })
  .reduce(function (s, x) { return (s + x) % 1000003; }, 0);
out.push("sort " + h + " evens " + evens);

// 3. strings, regular expressions, JSON
var parts = [];
for (var i = 0; i < 10000; i++) parts.push(("000000" + rand(1000000)).slice(-6) + ":" + "ab".repeat(i % 5));
var text = parts.join(";");
var m = 0, re = /(\d{3})(\d{3}):((?:ab)*)/g, r;
while ((r = re.exec(text)) !== null) m += parseInt(r[2], 10) + r[3].length;
var rep = text.replace(/ab/g, "X").length;
var obj = { items: arr.slice(0, 3000), meta: { n: arr.length, tag: "corpus" } };
var js = JSON.stringify(obj);
var back = JSON.parse(js);
out.push("regex " + m + " replace " + rep + " json " + js.length + " " + back.items[2999].k);

// 4. a Map/Set word count and a recursive function
var counts = new Map();
for (var i = 0; i < 60000; i++) { var w = "w" + (rand(5000) % 977); counts.set(w, (counts.get(w) || 0) + 1); }
var best = ""; var bestn = 0;
counts.forEach(function (n, w) { if (n > bestn || (n === bestn && w < best)) { bestn = n; best = w; } });
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
out.push("map " + counts.size + " best " + best + "x" + bestn + " fib " + fib(24));

// 5. floating point (sqrt and division only: correctly rounded everywhere, unlike sin)
var s = 0; for (var i = 1; i < 200000; i++) s += Math.sqrt(i) / (i + 0.5);
out.push("float " + Math.round(s * 1e6));
out.join("\n");
