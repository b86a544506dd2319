#!/usr/bin/env bash
# Build chiwawa itself for wasm32-wasip1 (release) and print the path of chiwawa.wasm on stdout
# (cargo's progress goes to stderr). The result runs inside any WASI preview1 host:
#
#   python3 scripts/wasmtime-run.py --dir . "$(scripts/build-wasm.sh)" run app.wasm
#   node --single-threaded-gc scripts/chiwawa-node.mjs --dir . "$(scripts/build-wasm.sh)" run app.wasm
#
# scripts/test.sh exports the path as CHIWAWA_WASM for tests/hosted.rs (which otherwise builds
# it by itself into <target>/hosted-wasm). Honours CARGO_TARGET_DIR and extra cargo arguments:
#
#   usage: scripts/build-wasm.sh [CARGO BUILD ARGS]...      (e.g. --locked, --quiet)
#
# Needs the wasm32-wasip1 Rust target (scripts/install-deps.sh adds it). The release profile
# uses fat LTO: a cold build takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip1; then
  echo "build-wasm: the wasm32-wasip1 target is missing: run scripts/install-deps.sh" >&2
  exit 1
fi
cargo build --release --target wasm32-wasip1 --bin chiwawa "$@" >&2
# Ask cargo where the target dir is (CARGO_TARGET_DIR, .cargo/config build.target-dir, ...).
target_dir="$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
wasm="${target_dir:-$PWD/target}/wasm32-wasip1/release/chiwawa.wasm"
if [[ ! -f "$wasm" ]]; then
  echo "build-wasm: cargo succeeded but $wasm is missing" >&2
  exit 1
fi
echo "$wasm"
