#!/usr/bin/env bash
# Build the SIMD benchmark set twice, as scalar and as SIMD (fixed-width simd128) wasm:
#   OUTDIR/scalar/NAME.wasm   clang --target=wasm32-wasi -O3            (rustc: no simd128)
#   OUTDIR/simd/NAME.wasm     clang --target=wasm32-wasi -O3 -msimd128  (rustc: +simd128)
#   OUTDIR/native/NAME        native reference (clang -O3; coremark: cargo --release), whose
#                             checksum line every wasm run must print
# NAME: blur hash (benches/simd/*.c: hand-written wasm_simd128.h kernels with a scalar
# fallback under #ifndef __wasm_simd128__, same checksum), the seven shared guests of
# ../shared/guests (fib sieve matmul sha256 nbody sort bigmem: auto-vectorisation only) and
# coremark (the Rust `coremark` crate of benches/corpus/coremark, auto-vectorisation only).
# Prints how many SIMD instructions each build holds (llvm-objdump -d, if installed).
#
# usage: benches/simd/build.sh OUTDIR
# Needs what ../../tests/guests/build.sh and ../corpus/build.sh need (clang, lld, wasi-libc,
# libclang-rt-dev-wasm32, cargo with wasm32-wasip1; coremark's crate from crates.io).
# Override CC / WASI_SYSROOT / SHARED (default: <repo>/../shared/guests).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[[ $# -ge 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out="$(cd "$1" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="${SHARED:-$repo/../shared/guests}"
CC="${CC:-clang}"
WASI_SYSROOT="${WASI_SYSROOT:-/usr}"
NICE="nice -n 10"
KERNELS="blur hash"
SHARED_GUESTS="fib sieve matmul sha256 nbody sort bigmem"
log() { echo "simd-build: $*" >&2; }
mkdir -p "$out/scalar" "$out/simd" "$out/native"

cc_both() { # NAME SOURCE [INCLUDE DIR]
  local name="$1" src="$2" inc="-I$(dirname "$2")"
  $NICE "$CC" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" -O3 $inc "$src" -Wl,--strip-debug \
    -o "$out/scalar/$name.wasm"
  $NICE "$CC" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" -O3 -msimd128 $inc "$src" -Wl,--strip-debug \
    -o "$out/simd/$name.wasm"
  $NICE "$CC" -O3 $inc "$src" -o "$out/native/$name" -lm
}

for k in $KERNELS; do log "cc $k"; cc_both "$k" "$here/$k.c"; done
if [[ -d "$shared" ]]; then
  for g in $SHARED_GUESTS; do log "cc $g (shared)"; cc_both "$g" "$shared/$g.c"; done
else
  log "no $shared: skipping the shared guests"
fi

# CoreMark: the corpus's cargo project, built three times (native, wasm, wasm + simd128), each
# with its own target dir so RUSTFLAGS changes do not rebuild the others.
d="$out/src/coremark"
mkdir -p "$d"
cp "$repo/benches/corpus/coremark/main.rs" "$d/main.rs"
cmp -s "$repo/benches/corpus/coremark/Cargo.toml.in" "$d/Cargo.toml" || cp "$repo/benches/corpus/coremark/Cargo.toml.in" "$d/Cargo.toml"
log "cargo coremark (native, wasm, wasm +simd128)"
if (cd "$d" && env -u RUSTFLAGS CARGO_TARGET_DIR="$d/target" $NICE cargo build -q --release &&
      env -u RUSTFLAGS CARGO_TARGET_DIR="$d/target" $NICE cargo build -q --release --target wasm32-wasip1 &&
      RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR="$d/target-simd" \
        $NICE cargo build -q --release --target wasm32-wasip1); then
  cp "$d/target/release/coremark" "$out/native/coremark"
  cp "$d/target/wasm32-wasip1/release/coremark.wasm" "$out/scalar/coremark.wasm"
  cp "$d/target-simd/wasm32-wasip1/release/coremark.wasm" "$out/simd/coremark.wasm"
else
  log "coremark build failed: left out"
fi

# SIMD instruction counts (static, whole module).
count() {
  if command -v llvm-objdump >/dev/null 2>&1; then
    llvm-objdump -d "$1" 2>/dev/null | grep -cE '\b(v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2)\.' || true
  else
    echo "?"
  fi
}
{
  printf '%-10s %8s %8s\n' program scalar simd
  for f in "$out"/simd/*.wasm; do
    n="$(basename "$f" .wasm)"
    printf '%-10s %8s %8s\n' "$n" "$(count "$out/scalar/$n.wasm")" "$(count "$f")"
  done
} | tee "$out/simd-counts.txt" >&2
log "built into $out (scalar/ simd/ native/); SIMD instruction counts in $out/simd-counts.txt"
