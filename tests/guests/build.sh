#!/usr/bin/env bash
# Rebuild every WASI test guest into tests/guests/wasm/NAME.wasm.
#   C guests:    c/NAME.c          -> wasm/NAME.wasm     (clang --target=wasm32-wasi, -O2;
#                                                         c/simd_*.c: -O3 -msimd128)
#   Rust guests: rust/src/bin/*.rs -> wasm/rs_*.wasm     (cargo, wasm32-wasip1, release;
#                rs_simd: a second cargo run with -C target-feature=+simd128, see below)
# The built .wasm files are committed so `cargo test` needs no C toolchain.
# Needs: scripts/install-deps.sh (clang, lld, wasi-libc, libclang-rt-dev-wasm32,
# rustup target wasm32-wasip1). Override CC / WASI_SYSROOT if yours differ.
# usage: tests/guests/build.sh [c|rust]     (default: both)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/wasm"
CC="${CC:-clang}"
WASI_SYSROOT="${WASI_SYSROOT:-/usr}"   # Debian's wasi-libc: /usr/include/wasm32-wasi, /usr/lib/wasm32-wasi
what="${1:-all}"
mkdir -p "$out"

if [[ "$what" == all || "$what" == c ]]; then
  for src in "$here"/c/*.c; do
    name="$(basename "$src" .c)"
    opt=(-O2)
    # SIMD guests: -O3 lets the loop vectoriser work, -msimd128 enables the v128 instructions
    case "$name" in simd_*) opt=(-O3 -msimd128) ;; esac
    echo "cc   $name ${opt[*]}" >&2
    "$CC" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" "${opt[@]}" -Wall \
      "$src" -Wl,--strip-debug -o "$out/$name.wasm"
  done
fi

if [[ "$what" == all || "$what" == rust ]]; then
  echo "cargo rust guests" >&2
  # Own target dir (gitignored) and no inherited RUSTFLAGS: reproducible output.
  (cd "$here/rust" && env -u RUSTFLAGS CARGO_TARGET_DIR="$here/rust/target" \
     cargo build --release --target wasm32-wasip1 >&2)
  # rs_simd needs simd128 for its own code only: the run above skips it (required-features
  # in Cargo.toml), this one builds just that bin with the target feature, into a target dir
  # of its own so the other guests' artifacts (and their bytes) are untouched.
  echo "cargo rs_simd (+simd128)" >&2
  (cd "$here/rust" && env CARGO_TARGET_DIR="$here/rust/target/simd128" \
     RUSTFLAGS="-C target-feature=+simd128" \
     cargo build --release --target wasm32-wasip1 --features simd --bin rs_simd >&2)
  for src in "$here"/rust/src/bin/*.rs; do
    name="$(basename "$src" .rs)"
    dir="$here/rust/target"
    [[ "$name" == rs_simd ]] && dir="$here/rust/target/simd128"
    cp "$dir/wasm32-wasip1/release/$name.wasm" "$out/$name.wasm"
  done
fi
ls -l "$out" >&2
