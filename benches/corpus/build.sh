#!/usr/bin/env bash
# Build the third-party benchmark corpus (issue 17): each program for wasm32-wasi and natively
# (the native build computes the expected output that every Wasm run is checked against).
#
# usage: benches/corpus/build.sh OUTDIR [PROGRAM...]
#   writes OUTDIR/wasm/<program>.wasm and OUTDIR/native/<program>; OUTDIR/src holds the fetched
#   sources. A program whose inputs did not change since its last build is skipped.
#
# Programs (all third-party code comes from package registries, versions pinned below):
#   coremark    EEMBC CoreMark 1.0, Rust port: crate coremark =1.0.0 (CRCs match the C reference),
#               2K performance run, 4000 iterations                                    [benchmark]
#   lua         Lua 5.4.9 interpreter from crate lua-src =551.1.0, running lua/bench.lua
#               (fannkuch, binary trees, method calls, string patterns, sort, spectral norm)
#                                                                          [language interpreter]
#   quickjs     QuickJS 2021-03-27 as vendored by the PyPI sdist quickjs==1.19.4, running
#               quickjs/bench.js (classes, sort, regexps, JSON, Map, recursion)
#                                                                 [language interpreter, JIT-less JS]
#   sqlite      SQLite 3.54.1 amalgamation from crate libsqlite3-sys =0.40.0, sqlite/driver.c:
#               inserts, indexes, joins, aggregates, window functions, CTE in :memory: [database]
#   zstd        zstd 1.6.0 from crate zstd-sys =2.2.0 (+zstd.1.6.0): 8 MiB of generated text
#               compressed at levels 1 and 5, decompressed, verified               [compression]
#   jpeg        mozjpeg from crate mozjpeg-sys =2.2.3: a generated 400x300 image encoded
#               (progressive, trellis) at q80 4:2:0 and q95 4:4:4, decoded, PSNR     [image]
#   picosat     PicoSAT 965 as vendored by the PyPI sdist pycosat==0.6.6: random 3-SAT
#               instances at the phase transition plus pigeon-hole 8/7               [solver]
#   treesitter  tree-sitter =0.27.1 runtime + tree-sitter-c =0.24.2 grammar (crates): parse
#               300 KB of C (the Lua sources), 20 incremental re-parses, walk  [compiler front end]
#
# Fetch step (done here, needs crates.io and PyPI): a scratch cargo project in OUTDIR/src/fetch
# depends on the pinned crates and `cargo fetch`es them into the cargo registry cache; their
# directories are found with `cargo metadata`. pycosat and quickjs are `pip download`ed as sdists
# and checked against their sha256.
#
# Needs: clang with the wasm32 target, lld, wasi-libc, libclang-rt-dev-wasm32 (Debian),
# python3 + pip, cargo with the wasm32-wasip1 target. Override CC / WASI_SYSROOT / CFLAGS.
# Flags as ../../../shared/guests/build.sh: clang --target=wasm32-wasi --sysroot=/usr -O2.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[[ $# -ge 1 ]] || { echo "usage: $0 OUTDIR [PROGRAM...]" >&2; exit 2; }
mkdir -p "$1"
out="$(cd "$1" && pwd)"
shift
ALL="coremark lua quickjs sqlite zstd jpeg picosat treesitter"
PROGRAMS="${*:-$ALL}"
CC="${CC:-clang}"
WASI_SYSROOT="${WASI_SYSROOT:-/usr}"
CFLAGS="${CFLAGS:--O2}"
NICE="nice -n 10"
log() { echo "corpus: $*" >&2; }
mkdir -p "$out/wasm" "$out/native" "$out/src" "$out/stamps"

# ---- fetch (pinned versions) ------------------------------------------------------------
CRATES=(coremark=1.0.0 lua-src=551.1.0 libsqlite3-sys=0.40.0 zstd-sys=2.2.0
        mozjpeg-sys=2.2.3 tree-sitter=0.27.1 tree-sitter-c=0.24.2)
PYCOSAT_VERSION=0.6.6
PYCOSAT_SHA256=a376cfae20b16fcfbef24bf3c047a8a294c35032bb051fa98842c12bbab6f0ff
QUICKJS_VERSION=1.19.4
QUICKJS_SHA256=1205953abc24ff757f4a795304d5d61e4bf1e555c9ef6ec96a132d4b95535484

fetch="$out/src/fetch"
mkdir -p "$fetch/src"
{
  echo '[package]'; echo 'name = "corpus-fetch"'; echo 'version = "0.0.0"'; echo 'edition = "2021"'
  echo 'publish = false'; echo; echo '[dependencies]'
  for c in "${CRATES[@]}"; do
    echo "${c%%=*} = { version = \"=${c#*=}\", default-features = false }"
  done
  echo; echo '[workspace]'
} >"$fetch/Cargo.toml.new"
cmp -s "$fetch/Cargo.toml.new" "$fetch/Cargo.toml" || mv "$fetch/Cargo.toml.new" "$fetch/Cargo.toml"
rm -f "$fetch/Cargo.toml.new"
[[ -f "$fetch/src/lib.rs" ]] || : >"$fetch/src/lib.rs"
log "cargo fetch (pinned crates)"
(cd "$fetch" && cargo fetch -q)
# crate name -> source directory
declare -A DIR
while IFS=$'\t' read -r name dir; do DIR[$name]="$dir"; done < <(
  cargo metadata -q --format-version 1 --manifest-path "$fetch/Cargo.toml" | python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    print(p["name"] + "\t" + os.path.dirname(p["manifest_path"]))')
for c in "${CRATES[@]}"; do
  [[ -d "${DIR[${c%%=*}]:-}" ]] || { log "crate ${c%%=*} not found after cargo fetch"; exit 1; }
done

# A PyPI source distribution, checked against its sha256 and unpacked into $out/src, unless
# the file `$4` (relative to the unpacked directory) is already there.
sdist() { # NAME VERSION SHA256 MARKER
  [[ -f "$out/src/$1-$2/$4" ]] && return 0
  log "pip download $1==$2 (sdist)"
  python3 -m pip download -q --no-binary :all: --no-deps -d "$out/src" "$1==$2"
  echo "$3  $out/src/$1-$2.tar.gz" | sha256sum -c --quiet
  tar -xzf "$out/src/$1-$2.tar.gz" -C "$out/src"
}
pyc="$out/src/pycosat-$PYCOSAT_VERSION"
sdist pycosat "$PYCOSAT_VERSION" "$PYCOSAT_SHA256" picosat.c
qjs="$out/src/quickjs-$QUICKJS_VERSION"
sdist quickjs "$QUICKJS_VERSION" "$QUICKJS_SHA256" upstream-quickjs/quickjs.c

LUA="${DIR[lua-src]}/lua-5.4.9"
SQLITE="${DIR[libsqlite3-sys]}/sqlite3"
ZSTD="${DIR[zstd-sys]}/zstd/lib"
MOZJPEG="${DIR[mozjpeg-sys]}/vendor"
TS="${DIR[tree-sitter]}"
TSC="${DIR[tree-sitter-c]}/src"

# ---- build helpers -----------------------------------------------------------------------
# embed FILE NAME > header: `unsigned char NAME[]` and `unsigned int NAME_len` (as xxd -i)
embed() {
  python3 - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
name = sys.argv[2]
print("unsigned char %s[] = {" % name)
for i in range(0, len(data), 12):
    print("  " + ", ".join("0x%02x" % b for b in data[i:i + 12]) + ("," if i + 12 < len(data) else ""))
print("};\nunsigned int %s_len = %d;" % (name, len(data)))
PY
}

# cbuild NAME "CFLAGS for both" "extra wasm flags" "extra wasm libs" "native libs" SOURCES...
cbuild() {
  local name="$1" flags="$2" wflags="$3" wlibs="$4" nlibs="$5"
  shift 5
  # -fmacro-prefix-map: __FILE__ (in assert messages) must not depend on OUTDIR
  flags="$flags -fmacro-prefix-map=$out/src/= -fmacro-prefix-map=$here/=corpus/"
  $NICE "$CC" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" $CFLAGS $flags $wflags "$@" \
    -Wl,--strip-debug $wlibs -o "$out/wasm/$name.wasm"
  $NICE "$CC" $CFLAGS $flags "$@" -o "$out/native/$name" $nlibs
}

# up_to_date NAME FILES... : is the stamp of NAME equal to the hash of these inputs?
stamp_of() { (cat "$here/build.sh" "$here/common.h" "$@"; echo "$CC $CFLAGS $WASI_SYSROOT") | md5sum | cut -d' ' -f1; }

build_coremark() {
  local d="$out/src/coremark-build"
  mkdir -p "$d"
  cp "$here/coremark/main.rs" "$d/main.rs"
  cmp -s "$here/coremark/Cargo.toml.in" "$d/Cargo.toml" || cp "$here/coremark/Cargo.toml.in" "$d/Cargo.toml"
  (cd "$d" && $NICE cargo build -q --release --target wasm32-wasip1 && $NICE cargo build -q --release)
  cp "$d/target/wasm32-wasip1/release/coremark.wasm" "$out/wasm/coremark.wasm"
  cp "$d/target/release/coremark" "$out/native/coremark"
}

build_lua() {
  local gen="$out/src/gen-lua" srcs=() f
  mkdir -p "$gen"
  embed "$here/lua/bench.lua" bench_lua >"$gen/bench_lua.h"
  for f in "$LUA"/*.c; do   # the core and the pure libraries (no io/os/package/debug/coroutine)
    case "$(basename "$f")" in lua.c|luac.c|linit.c|loslib.c|liolib.c|loadlib.c|ldblib.c|lcorolib.c) ;; *) srcs+=("$f") ;; esac
  done
  cbuild lua "-include $here/lua/nothrow.h -I$here/lua/stub -I$LUA -I$gen" \
    "-D_WASI_EMULATED_SIGNAL" "-lwasi-emulated-signal" "-lm" "$here/lua/driver.c" "${srcs[@]}"
}

build_quickjs() {
  # -DEMSCRIPTEN: no Atomics (pthreads) and no stack check, as QuickJS's own wasm build; the
  # same for native. wasm has only round-to-nearest: FE_DOWNWARD/FE_UPWARD (used by toFixed and
  # toPrecision on ties) get x86's values, which wasi-libc's fesetround rejects; bench.js
  # prints integers only, so the output does not depend on them.
  local gen="$out/src/gen-quickjs" Q="$qjs/upstream-quickjs"
  mkdir -p "$gen"
  embed "$here/quickjs/bench.js" bench_js >"$gen/bench_js.h"
  cbuild quickjs "-DEMSCRIPTEN -DCONFIG_VERSION=\"2021-03-27\" -DCONFIG_BIGNUM -D_GNU_SOURCE -I$Q -I$gen" \
    "-DFE_DOWNWARD=0x400 -DFE_UPWARD=0x800" "" "-lm" "$here/quickjs/driver.c" \
    "$Q/quickjs.c" "$Q/libregexp.c" "$Q/libunicode.c" "$Q/cutils.c" "$Q/libbf.c"
}

build_sqlite() {
  cbuild sqlite "-DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -I$SQLITE" \
    "-D_WASI_EMULATED_MMAN -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS" \
    "-lwasi-emulated-mman -lwasi-emulated-getpid -lwasi-emulated-signal -lwasi-emulated-process-clocks" \
    "-lm" "$here/sqlite/driver.c" "$SQLITE/sqlite3.c"
}

build_zstd() {
  cbuild zstd "-DZSTD_DISABLE_ASM -I$ZSTD" "" "" "" "$here/zstd/driver.c" \
    "$ZSTD"/common/*.c "$ZSTD"/compress/*.c "$ZSTD"/decompress/*.c
}

build_jpeg() {
  # the library files mozjpeg-sys's build.rs compiles with default features, plus jsimd_none.c
  local files=() f
  for f in jcapimin jcapistd jccoefct jccolor jcdctmgr jcext jchuff jcinit jcmainct jcmarker jcmaster \
           jcomapi jcparam jcphuff jcprepct jcsample jctrans jdapimin jdapistd jdatadst jdatasrc jdcoefct \
           jdcolor jddctmgr jdhuff jdinput jdmainct jdmarker jdmaster jdmerge jdphuff jdpostct jdsample \
           jdtrans jerror jfdctflt jfdctfst jfdctint jidctflt jidctfst jidctint jidctred jmemmgr jmemnobs \
           jquant1 jquant2 jutils jsimd_none; do
    files+=("$MOZJPEG/$f.c")
  done
  cbuild jpeg "-I$here/jpeg/config -I$MOZJPEG" "" "" "-lm" "$here/jpeg/driver.c" "${files[@]}"
}

build_picosat() {
  cbuild picosat "-DNDEBUG -DNGETRUSAGE -I$pyc" "" "" "" "$here/picosat/driver.c" "$pyc/picosat.c"
}

build_treesitter() {
  local gen="$out/src/gen-treesitter"
  mkdir -p "$gen"
  cat "$LUA"/{lvm,lparser,lcode,lgc,ltable,lstrlib}.c >"$gen/input.c"   # the text to parse
  embed "$gen/input.c" input_c >"$gen/input_c.h"
  cbuild treesitter "-D_POSIX_C_SOURCE=200112L -D_DEFAULT_SOURCE -I$TS/include -I$TS/src -I$TSC -I$gen" \
    "" "" "" "$here/treesitter/driver.c" "$TS/src/lib.c" "$TSC/parser.c"
}

for p in $PROGRAMS; do
  case " $ALL " in *" $p "*) ;; *) log "unknown program $p (known: $ALL)"; exit 2 ;; esac
  s="$(stamp_of $(find "$here/$p" -type f | sort))"
  if [[ -f "$out/wasm/$p.wasm" && -x "$out/native/$p" && "$(cat "$out/stamps/$p" 2>/dev/null)" == "$s" ]]; then
    log "$p up to date"
    continue
  fi
  log "building $p"
  rm -f "$out/stamps/$p"
  "build_$p"
  echo "$s" >"$out/stamps/$p"
done
log "built: $(cd "$out" && ls wasm/*.wasm | tr '\n' ' ')"
