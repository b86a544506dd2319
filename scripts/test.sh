#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# installs what the tests need, then checks formatting and lints, builds chiwawa.wasm
# (scripts/build-wasm.sh, exported as CHIWAWA_WASM), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Keep the build warm outside the clone (CI clones afresh every time).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chiwawa-target}"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# chiwawa itself compiled to wasm32-wasip1, for tests/hosted.rs (chiwawa.wasm under Wasmtime and Node)
CHIWAWA_WASM="$(scripts/build-wasm.sh)"
export CHIWAWA_WASM
# the examples must build (they hold no tests)
cargo build --examples
# unit tests, spec (official Wasm 2.0 suite), cli, wasi (vs Wasmtime), checkpoint, crash, sleep,
# supervise, hosted (chiwawa.wasm under Wasmtime and Node), compat (the committed checkpoints of
# earlier releases, tests/compat/: they must all still resume identically)
cargo test --lib --bins --tests
# the official suite under the plain lowering too (CHIWAWA_LOWERING=plain: no fusion, no
# register forms), which checkpoints cross to and from (docs/FORMAT.md §16)
CHIWAWA_LOWERING=plain cargo test --test spec
# doctests: the compile_fail ones show that the interpreter's trusted state cannot be written
# from outside the crate (issue 13's sound boundary)
cargo test --doc
# fuzzing (docs/FUZZING.md): every target's seeds and regression inputs replayed, then a bounded
# run of each (SMOKE_SECONDS, default 15 s) — checkpoint bytes, module bytes, differential vs
# wasmi, checkpoint oracle
scripts/fuzz.sh smoke
# the switch dispatch backend (what chiwawa.wasm runs) natively too: unit tests and the
# official suite (own target dir, so neither configuration invalidates the other's build)
CHIWAWA_SWITCH_DISPATCH=1 CARGO_TARGET_DIR="$CARGO_TARGET_DIR/switch-dispatch" \
  cargo test --lib --test spec
