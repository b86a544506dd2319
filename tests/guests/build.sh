#!/usr/bin/env bash
# Rebuild every WASI test guest into tests/guests/wasm/NAME.wasm.
#   C guests:    c/NAME.c          -> wasm/NAME.wasm     (clang --target=wasm32-wasi, -O2)
#   Rust guests: rust/src/bin/*.rs -> wasm/rs_*.wasm     (cargo, wasm32-wasip1, release)
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
    echo "cc   $name" >&2
    "$CC" --target=wasm32-wasi --sysroot="$WASI_SYSROOT" -O2 -Wall \
      "$src" -Wl,--strip-debug -o "$out/$name.wasm"
  done
fi

if [[ "$what" == all || "$what" == rust ]]; then
  echo "cargo rust guests" >&2
  # Own target dir (gitignored) and no inherited RUSTFLAGS: reproducible output.
  (cd "$here/rust" && env -u RUSTFLAGS CARGO_TARGET_DIR="$here/rust/target" \
     cargo build --release --target wasm32-wasip1 >&2)
  for src in "$here"/rust/src/bin/*.rs; do
    name="$(basename "$src" .rs)"
    cp "$here/rust/target/wasm32-wasip1/release/$name.wasm" "$out/$name.wasm"
  done
fi
ls -l "$out" >&2
