#!/usr/bin/env bash
# Benchmark chiwawa against native code, Wasmtime and wasmi on the shared guests
# (../shared/guests: fib sieve matmul sha256 nbody sort bigmem; argv[1] = scale), or with
# --corpus on the third-party corpus of benches/corpus (coremark lua quickjs sqlite zstd jpeg picosat
# treesitter: fixed workloads, no arguments; see benches/corpus/build.sh).
#
# usage: benches/bench.sh [options]
#   --corpus          run the third-party corpus instead of the shared guests (built by
#                     benches/corpus/build.sh into <cache>/corpus; the first build fetches the
#                     pinned crates and the pycosat and quickjs sdists; several minutes)
#   --simd            scalar vs SIMD (simd128) builds of the same programs: benches/simd's blur
#                     and hash kernels, the shared guests and coremark, built by
#                     benches/simd/build.sh into <cache>/simd (scalar: -O3; simd: -O3 -msimd128
#                     / +simd128); every runtime runs both, the table adds simd/scalar and
#                     chiwawa/wasmi ratios. A runtime that refuses SIMD shows FAIL in its cells
#   --scale N         work scale passed to every guest (default 1; not used with --corpus)
#   --reps N          timed repetitions per guest and runtime; the median is shown (default 3)
#   --filter LIST     comma-separated guest (or corpus program) and/or runtime names, e.g.
#                     fib,sort or wasmi,chiwawa or sqlite,lua
#                     (runtimes: native wasmtime wasmi chiwawa hosted; native always runs: it
#                     provides the reference checksum; `hosted` = chiwawa.wasm inside Wasmtime,
#                     only when named, as it takes about 3x chiwawa's time)
#   --timeout SEC     wall-clock limit for one run (default 300); a run over it shows TIMEOUT
#   --cache DIR       where the guests are built (default: <repo>/target/bench-cache)
#   --build           cargo build --release chiwawa first (and scripts/build-wasm.sh for hosted;
#                     default: use target/release/chiwawa and chiwawa.wasm as they are)
#   --no-install      do not `cargo install wasmi_cli` when wasmi is missing
#   --csv FILE        also write every sample as CSV (default: <cache>/last-run.csv)
# env: CHIWAWA_BIN=path   benchmark another chiwawa binary (default $CARGO_TARGET_DIR/release/chiwawa, else <repo>/target/release/chiwawa)
#      CHIWAWA_WASM=path  the chiwawa.wasm for `hosted` (default <target dir>/wasm32-wasip1/release)
#
# Output: a markdown table on stdout (progress on stderr):
#   guest | native | wasmtime | wasmi | chiwawa | chiwawa/wasmi   (median wall seconds)
#   (with hosted: also | hosted | hosted/chiwawa)
#   --simd: guest | native | RT scalar | RT simd ... | RT simd/scalar ... | chiwawa/wasmi scalar | simd
# plus a geomean row. Every runtime's stdout must equal native's checksum line, otherwise
# the cell reads WRONG; a non-zero exit reads FAIL; a run over --timeout reads TIMEOUT.
#
# Wasmtime: a `wasmtime` CLI on PATH is preferred; otherwise scripts/wasmtime-run.py (the
# wasmtime PyPI package, Cranelift JIT) is used. Its times include Python start-up,
# `import wasmtime` and instantiation; compiled code is cached (one untimed warm-up run per
# guest fills the cache). The table footer reports that fixed overhead, measured on an
# empty guest.
set -euo pipefail

scale=1 reps=3 filter="" timeout_s=300 cache="" build=0 install=1 csv="" corpus=0 simd=0
while (($#)); do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --filter) filter="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --cache) cache="$2"; shift 2 ;;
    --csv) csv="$2"; shift 2 ;;
    --build) build=1; shift ;;
    --no-install) install=0; shift ;;
    --corpus) corpus=1; shift ;;
    --simd) simd=1; shift ;;
    -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$scale" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --scale must be a positive integer" >&2; exit 2; }
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --reps must be a positive integer" >&2; exit 2; }
((corpus && simd)) && { echo "bench.sh: --corpus and --simd are exclusive" >&2; exit 2; }

log() { echo "bench: $*" >&2; }
repo="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
shared="$repo/../shared/guests"
((corpus)) || [[ -x "$shared/build.sh" ]] || { log "missing $shared/build.sh (../shared next to the checkout)"; exit 1; }
cache="${cache:-$repo/target/bench-cache}"
csv="${csv:-$cache/last-run.csv}"
mkdir -p "$cache"

want_runtime() {  # is runtime $1 selected by --filter?
  local t any=0
  if [[ -z "$filter" ]]; then [[ "$1" != hosted ]]; return; fi   # hosted only when named
  for t in ${filter//,/ }; do
    case "$t" in native|wasmtime|wasmi|chiwawa|hosted) any=1; [[ "$t" == "$1" ]] && return 0 ;; esac
  done
  ((any == 0)) && [[ "$1" != hosted ]]   # a filter of guests only: the default runtimes
}

# ---- build the guests (only when their sources changed) --------------------
if ((corpus)); then
  log "building the corpus into $cache/corpus (benches/corpus/build.sh skips what is up to date)"
  "$repo/benches/corpus/build.sh" "$cache/corpus" >&2
elif ((simd)); then
  stamp="$( (cd "$repo/benches" && cat simd/* corpus/coremark/*; cd "$shared" && cat *.c *.h; echo "${CC:-clang}") | md5sum | cut -d' ' -f1)"
  if [[ "$(cat "$cache/simd/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    log "building scalar and SIMD guests into $cache/simd"
    "$repo/benches/simd/build.sh" "$cache/simd" >&2
    echo "$stamp" >"$cache/simd/.stamp"
  else
    log "scalar and SIMD guests up to date in $cache/simd"
  fi
else
stamp="$( (cd "$shared" && cat build.sh *.c *.h; echo "${CC:-clang} ${CFLAGS:-}") | md5sum | cut -d' ' -f1)"
if [[ "$(cat "$cache/.stamp" 2>/dev/null)" != "$stamp" ]]; then
  log "building shared guests into $cache"
  "$shared/build.sh" "$cache" >&2
  echo "$stamp" >"$cache/.stamp"
else
  log "shared guests up to date in $cache"
fi
fi

# ---- locate the runtimes ---------------------------------------------------
wasmtime_cmd=""
wasmtime_desc=""
if command -v wasmtime >/dev/null 2>&1; then
  wasmtime_cmd="$(command -v wasmtime) run"
  wasmtime_desc="wasmtime CLI ($(wasmtime --version 2>/dev/null | head -1))"
elif python3 -c 'import wasmtime' 2>/dev/null; then
  wasmtime_cmd="python3 $repo/scripts/wasmtime-run.py"
  wasmtime_desc="scripts/wasmtime-run.py (wasmtime-py $(python3 -c 'import importlib.metadata as m; print(m.version("wasmtime"))'), Cranelift JIT)"
else
  log "no wasmtime CLI and python3 cannot import wasmtime (run scripts/install-deps.sh): wasmtime column will FAIL"
  wasmtime_desc="unavailable"
fi

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
find_wasmi() {
  local c
  for c in wasmi wasmi_cli "$cargo_bin/wasmi" "$cargo_bin/wasmi_cli"; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  return 1
}
wasmi_bin="$(find_wasmi || true)"
if [[ -z "$wasmi_bin" ]] && want_runtime wasmi && ((install)); then
  # --features simd: wasmi_cli's own feature for fixed-width SIMD (needed by --simd)
  log "wasmi not found: nice -n 19 cargo install wasmi_cli --locked --features simd (takes a few minutes)"
  nice -n 19 cargo install wasmi_cli --locked --features simd >&2 || log "cargo install wasmi_cli failed"
  wasmi_bin="$(find_wasmi || true)"
fi
wasmi_cmd="" wasmi_desc="unavailable"
if [[ -n "$wasmi_bin" ]]; then
  wasmi_cmd="$wasmi_bin run"
  "$wasmi_bin" run --help >/dev/null 2>&1 || wasmi_cmd="$wasmi_bin"   # older CLIs: no `run`
  wasmi_desc="$("$wasmi_bin" --version 2>/dev/null | head -1) (default compilation mode)"
  if ((simd)); then   # does this build run simd128? (wasmi_cli built without its `simd` feature refuses it)
    if $wasmi_cmd "$repo/tests/guests/wasm/simd_auto.wasm" 1 >/dev/null 2>&1; then
      wasmi_desc="$wasmi_desc, runs SIMD"
    else
      wasmi_desc="$wasmi_desc, refuses SIMD (reinstall: cargo install wasmi_cli --locked --features simd)"
      log "wasmi refuses SIMD modules: its simd cells will FAIL"
    fi
  fi
fi

chiwawa_bin="${CHIWAWA_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/chiwawa}"
if ((build)) && want_runtime chiwawa; then
  log "cargo build --release"
  (cd "$repo" && cargo build --release >&2) || log "cargo build --release failed: chiwawa column will FAIL"
fi
chiwawa_desc="$chiwawa_bin ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))"
[[ -x "$chiwawa_bin" ]] || log "$chiwawa_bin missing (use --build): chiwawa column will FAIL"

hosted_cmd="" hosted_desc="unavailable"
if want_runtime hosted; then
  if ((build)); then
    log "scripts/build-wasm.sh"
    CHIWAWA_WASM="$("$repo/scripts/build-wasm.sh")" || log "scripts/build-wasm.sh failed: hosted column will FAIL"
  fi
  chiwawa_wasm="${CHIWAWA_WASM:-$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/wasm32-wasip1/release/chiwawa.wasm}"
  if [[ -f "$chiwawa_wasm" ]] && python3 -c 'import wasmtime' 2>/dev/null; then
    # the guests live in the cache: preopen it, so chiwawa.wasm can read them
    hosted_cmd="python3 $repo/scripts/wasmtime-run.py --dir $cache $chiwawa_wasm run"
    hosted_desc="$chiwawa_wasm under scripts/wasmtime-run.py"
  else
    log "no chiwawa.wasm at $chiwawa_wasm (use --build) or no python wasmtime: hosted column will FAIL"
  fi
fi

export B_CORPUS="$corpus" B_SIMD="$simd"
export B_HOSTED="$hosted_cmd" B_HOSTED_DESC="$hosted_desc"
export B_SCALE="$scale" B_REPS="$reps" B_FILTER="$filter" B_TIMEOUT="$timeout_s" B_CACHE="$cache" B_CSV="$csv"
export B_WASMTIME="$wasmtime_cmd" B_WASMTIME_DESC="$wasmtime_desc" B_WASMI="$wasmi_cmd" B_WASMI_DESC="$wasmi_desc"
export B_CHIWAWA="$chiwawa_bin run" B_CHIWAWA_DESC="$chiwawa_desc" B_EMPTY="$repo/tests/guests/wasm/ret0.wasm"

python3 - <<'EOF'
import csv, math, os, shlex, signal, statistics, subprocess, sys, time

CORPUS = os.environ["B_CORPUS"] == "1"
SIMD = os.environ["B_SIMD"] == "1"
GUESTS = (["coremark", "lua", "quickjs", "sqlite", "zstd", "jpeg", "picosat", "treesitter"] if CORPUS
          else ["blur", "hash", "fib", "sieve", "matmul", "sha256", "nbody", "sort", "bigmem", "coremark"] if SIMD
          else ["fib", "sieve", "matmul", "sha256", "nbody", "sort", "bigmem"])
RUNTIMES = ["native", "wasmtime", "wasmi", "chiwawa", "hosted"]
DEFAULT_RUNTIMES = ["native", "wasmtime", "wasmi", "chiwawa"]
E = os.environ
scale, reps, timeout = E["B_SCALE"], int(E["B_REPS"]), float(E["B_TIMEOUT"])
cache = E["B_CACHE"]
gdir = os.path.join(cache, "corpus") if CORPUS else cache   # holds wasm/ and native/
if SIMD:
    gdir = os.path.join(cache, "simd")                       # holds scalar/, simd/ and native/
args = [] if CORPUS else [scale]                           # corpus workloads are fixed
tokens = [t for t in E["B_FILTER"].split(",") if t]
bad = [t for t in tokens if t not in GUESTS and t not in RUNTIMES]
if bad:
    sys.exit("bench.sh: --filter: unknown name(s) %s (guests: %s; runtimes: %s)" % (
        ", ".join(bad), " ".join(GUESTS), " ".join(RUNTIMES)))
guests = [g for g in GUESTS if g in tokens] or GUESTS
runtimes = [r for r in RUNTIMES if r in tokens] or DEFAULT_RUNTIMES
if "native" not in runtimes:
    runtimes = ["native"] + runtimes
cmds = {
    "native": None,
    "wasmtime": shlex.split(E["B_WASMTIME"]),
    "wasmi": shlex.split(E["B_WASMI"]),
    "chiwawa": shlex.split(E["B_CHIWAWA"]),
    "hosted": shlex.split(E["B_HOSTED"]),
}

def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)

def argv_for(rt, guest, wasm=None):
    a = [] if SIMD and guest == "coremark" else args   # coremark: its fixed 4000 iterations
    if rt == "native":
        return [os.path.join(gdir, "native", guest)] + a
    if not cmds[rt]:
        return None
    w = wasm or os.path.join(gdir, "wasm", guest + ".wasm")
    if rt == "hosted":
        # The guest's real directory preopened too: chiwawa.wasm's sandbox does not follow a
        # symbolic link out of a preopen (a cache whose corpus/ links elsewhere).
        w = os.path.realpath(w)
        return cmds[rt][:2] + ["--dir", os.path.dirname(w)] + cmds[rt][2:] + [w] + a
    return cmds[rt] + [w] + a

def run(argv):
    """-> (status, seconds, stdout); status is ok / FAIL / TIMEOUT."""
    if argv is None:
        return "FAIL", None, b"runtime unavailable"
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:
        return "FAIL", None, str(e).encode()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return "TIMEOUT", None, b""
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        return "FAIL", dt, out + b"\n" + err[-400:]
    return "ok", dt, out

results = {}   # (guest, rt) -> median seconds or "FAIL"/"TIMEOUT"/"WRONG"
samples = []

def counted(gm, xs):
    """A geomean cell: `gm` (formatted, or None), and how many guests it covers if not all."""
    return "-" if gm is None else gm + ("" if len(xs) == len(guests) else " (%d/%d)" % (len(xs), len(guests)))

def write_csv():
    os.makedirs(os.path.dirname(os.path.abspath(E["B_CSV"])), exist_ok=True)
    with open(E["B_CSV"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["guest", "runtime", "rep", "status", "seconds"])
        w.writerows(samples)

def guest_rows(keys, res, ratio_cols, lines):
    """Appends a table row per guest to `lines`: its cells res[(guest, key)] for `keys`, then
    each ratio column (name, numerator key, denominator key). -> the ratios by column."""
    ratios = {n: [] for n, _, _ in ratio_cols}
    for g in guests:
        row = [g] + [cell(res[(g, k)]) for k in keys]
        for n, x, y in ratio_cols:
            a, b = res[(g, x)], res[(g, y)]
            if isinstance(a, float) and isinstance(b, float):
                ratios[n].append(a / b)
                row.append("%.2f" % (a / b))
            else:
                row.append("-")
        lines.append("| " + " | ".join(row) + " |")
    return ratios

def judge(g, key, name, rep, sample, expected, dead, state):
    """Records one run `sample` = (status, seconds, stdout) of guest g by `name` (column `key`):
    its time goes to state[key], or a failure or an output other than native's marks the
    column dead[key]. -> native's output once known (the expected one)."""
    st, dt, out = sample
    samples.append((g, name, rep, st, "" if dt is None else "%.4f" % dt))
    if name == "native" and st == "ok" and expected is None:
        expected = out
    if st == "ok" and expected is not None and out != expected:
        st = "WRONG"
        log("%s/%s: output %r differs from native %r" % (g, name, out[:200], expected[:200]))
    if st != "ok":
        dead[key] = st
        if st == "FAIL":
            log("%s/%s: FAIL: %s" % (g, name, out.decode(errors="replace").strip()[-300:]))
        else:
            log("%s/%s: %s" % (g, name, st))
        return expected
    state[key].append(dt)
    log("%s/%s rep %d: %.3fs" % (g, name, rep + 1, dt))
    return expected

def cell(v):
    return "%.3f" % v if isinstance(v, float) else v

def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None

try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    cpu = "?"

if SIMD:
    # Columns (runtime, variant); native runs once, for the reference checksum.
    VARIANTS = ["scalar", "simd"]
    wrts = [rt for rt in runtimes if rt != "native"]
    cols = [("native", None)] + [(rt, v) for rt in wrts for v in VARIANTS]
    res = {}
    for g in guests:
        expected = None
        dead = {}
        state = {c: [] for c in cols}
        for rt in ("wasmtime", "hosted"):
            if rt in wrts and cmds[rt]:
                for v in VARIANTS:   # untimed warm-up: fills the compile cache
                    run(argv_for(rt, g, os.path.join(gdir, v, g + ".wasm")))
        for rep in range(reps):
            for c in cols:
                if c in dead:
                    continue
                rt, v = c
                wasm = None if v is None else os.path.join(gdir, v, g + ".wasm")
                if wasm and not os.path.exists(wasm):
                    dead[c] = "-"
                    continue
                st, dt, out = run(argv_for(rt, g, wasm))
                name = rt if v is None else rt + "/" + v
                expected = judge(g, c, name, rep, (st, dt, out), expected, dead, state)
        for c in cols:
            res[(g, c)] = dead.get(c) or statistics.median(state[c])

    # ratio columns: simd/scalar per runtime, then chiwawa/wasmi per variant
    ratio_cols = [("%s simd/scalar" % rt, (rt, "simd"), (rt, "scalar")) for rt in wrts]
    if "chiwawa" in wrts and "wasmi" in wrts:
        ratio_cols += [("chiwawa/wasmi %s" % v, ("chiwawa", v), ("wasmi", v)) for v in VARIANTS]
    head = ["guest"] + [rt if v is None else "%s %s" % (rt, v) for rt, v in cols] + [n for n, _, _ in ratio_cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    ratios = guest_rows(cols, res, ratio_cols, lines)
    row = ["**geomean**"]
    for c in cols:
        xs = [res[(g, c)] for g in guests if isinstance(res[(g, c)], float)]
        gm = geomean(xs)
        row.append(counted(None if gm is None else "%.3f" % gm, xs))
    for n, _, _ in ratio_cols:
        gm = geomean(ratios[n])
        row.append(counted(None if gm is None else "%.2f" % gm, ratios[n]))
    lines.append("| " + " | ".join(row) + " |")
    write_csv()
    print("Median wall seconds of %d run(s), scalar vs SIMD builds, scale %s, %s, %d CPUs, %s." % (
        reps, scale, cpu, os.cpu_count() or 0, time.strftime("%Y-%m-%d %H:%M")))
    print()
    print("\n".join(lines))
    print()
    print("- builds: benches/simd/build.sh (scalar: clang -O3 / rustc; simd: clang -O3 -msimd128 / "
          "rustc -C target-feature=+simd128); native: clang -O3 (coremark: cargo --release); "
          "coremark runs its fixed 4000 iterations, the others scale %s" % scale)
    counts = os.path.join(gdir, "simd-counts.txt")
    if os.path.exists(counts):
        print("- SIMD instructions per module (static): " + "; ".join(
            "%s %s/%s" % tuple(l.split()[:3]) for l in open(counts).read().splitlines()[1:] if len(l.split()) >= 3))
    for rt in wrts:
        print("- %s: %s" % (rt, {"wasmtime": E["B_WASMTIME_DESC"], "wasmi": E["B_WASMI_DESC"],
                                 "chiwawa": E["B_CHIWAWA_DESC"], "hosted": E["B_HOSTED_DESC"]}[rt]))
    print("- every cell's output was checked against native's checksum line (WRONG = mismatch; "
          "FAIL = non-zero exit, e.g. a runtime refusing SIMD); samples: %s" % E["B_CSV"])
    sys.exit(0)
for g in guests:
    expected = None
    state = {rt: [] for rt in runtimes}
    dead = {}
    for rt in ("wasmtime", "hosted"):
        if rt in runtimes and cmds[rt]:
            run(argv_for(rt, g))   # untimed warm-up: fills the compile cache
    for rep in range(reps):
        for rt in runtimes:
            if rt in dead:
                continue
            expected = judge(g, rt, rt, rep, run(argv_for(rt, g)), expected, dead, state)
    for rt in runtimes:
        results[(g, rt)] = dead.get(rt) or statistics.median(state[rt])

cols = [rt for rt in RUNTIMES if rt in runtimes]
# (column, numerator, denominator) for the runtimes that ran
ratio_cols = [(n, x, y) for n, x, y in (("chiwawa/wasmi", "chiwawa", "wasmi"),
                                         ("hosted/chiwawa", "hosted", "chiwawa"))
              if x in runtimes and y in runtimes]
head = ["program" if CORPUS else "guest"] + cols + [n for n, _, _ in ratio_cols]
lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]

ratios = guest_rows(cols, results, ratio_cols, lines)
row = ["**geomean**"]
for rt in cols:
    xs = [results[(g, rt)] for g in guests if isinstance(results[(g, rt)], float)]
    gm = geomean(xs)
    row.append(counted(None if gm is None else "%.3f" % gm, xs))
for n, _, _ in ratio_cols:
    gm = geomean(ratios[n])
    row.append(counted(None if gm is None else "%.2f" % gm, ratios[n]))
lines.append("| " + " | ".join(row) + " |")

overhead = None
if "wasmtime" in runtimes and cmds["wasmtime"] and os.path.exists(E["B_EMPTY"]):
    ts = []
    for i in range(max(3, reps)):
        st, dt, _ = run(cmds["wasmtime"] + [E["B_EMPTY"]])
        if st == "ok" and i > 0:
            ts.append(dt)
    overhead = statistics.median(ts) if ts else None

write_csv()

print("Median wall seconds of %d run(s), %s, %s, %d CPUs, %s." % (
    reps, "third-party corpus (benches/corpus)" if CORPUS else "scale " + scale, cpu, os.cpu_count() or 0, time.strftime("%Y-%m-%d %H:%M")))
print()
print("\n".join(lines))
print()
if "wasmtime" in runtimes:
    parts = []
    for rt in cols:
        rs = [results[(g, rt)] / results[(g, "wasmtime")] for g in guests
              if isinstance(results[(g, rt)], float) and isinstance(results[(g, "wasmtime")], float)]
        if rt != "wasmtime" and rs:
            parts.append("%s %.2f%s" % (rt, geomean(rs), "" if len(rs) == len(guests) else " (%d/%d)" % (len(rs), len(guests))))
    if parts:
        print("Geomean ratio to wasmtime: " + ", ".join(parts) + ".")
        print()
if CORPUS:
    print("- native: clang -O2, coremark rustc --release (benches/corpus/build.sh); wasm: the same sources, "
          "clang --target=wasm32-wasi -O2 / rustc wasm32-wasip1")
else:
    print("- native: clang -O2 (../shared/guests/build.sh)")
if "wasmtime" in runtimes:
    print("- wasmtime: %s" % E["B_WASMTIME_DESC"])
    if overhead is not None:
        print("  - fixed start-up overhead included in its times: %.3f s (empty guest, median)" % overhead)
if "wasmi" in runtimes:
    print("- wasmi: %s" % E["B_WASMI_DESC"])
if "chiwawa" in runtimes:
    print("- chiwawa: %s" % E["B_CHIWAWA_DESC"])
if "hosted" in runtimes:
    print("- hosted: %s" % E["B_HOSTED_DESC"])
print("- every cell's output was checked against native's checksum line (WRONG = mismatch); samples: %s" % E["B_CSV"])
EOF
