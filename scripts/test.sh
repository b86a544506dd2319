#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# installs what the tests need, then checks formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Keep the build warm outside the clone (CI clones afresh every time).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chiwawa-target}"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# unit tests, spec (official Wasm 2.0 suite), cli, wasi (vs Wasmtime), checkpoint, crash, supervise
cargo test --all-targets
