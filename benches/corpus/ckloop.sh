#!/usr/bin/env bash
# Checkpoint safety on the third-party corpus: for each program, a reference run; then runs with
# `--every 30ms` (incremental generations written in the background, the write tracker checked
# against a full fingerprint pass at every generation: CHIWAWA_DIRTY_VERIFY=1), SIGKILLed after
# a random 0.1-0.9 s up to 4 times and resumed until the program ends — each run under the other
# lowering than the run before (CHIWAWA_LOWERING=plain every second run), so most resumes restore
# a generation the other lowering wrote. Prints one line per
# program: exit codes, whether stdout is identical, kills, generations, and problems (a write
# the tracker missed, a failed checkpoint, a panic). Exits non-zero if any program differs.
#
# usage: benches/corpus/ckloop.sh CORPUS_DIR [PROGRAM...]   (CORPUS_DIR/wasm/*.wasm, as built by
#        benches/corpus/build.sh); env CHIWAWA_BIN (default $CARGO_TARGET_DIR/release/chiwawa, else target/release/chiwawa)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CHIWAWA_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/chiwawa}
corpus=${1:?usage: ckloop.sh CORPUS_DIR [PROGRAM...]}; shift
progs=${*:-coremark lua quickjs sqlite zstd jpeg picosat treesitter}
out=$(mktemp -d "${TMPDIR:-/tmp}/chiwawa-ckloop.XXXXXX")
trap 'rm -rf "$out"' EXIT
bad=0
for p in $progs; do
  w=$corpus/wasm/$p.wasm d=$out/$p
  mkdir -p "$d"
  (cd "$d" && "$bin" run "$w" >ref.txt 2>ref.err; echo $? >ref.code)
  kills=0
  while :; do
    lowering=optimized; ((kills % 2)) && lowering=plain
    (cd "$d" && CHIWAWA_LOWERING=$lowering CHIWAWA_DIRTY_VERIFY=1 RUST_LOG=chiwawa=debug exec "$bin" run --every 30ms --checkpoint-dir ck "$w" >>out.txt 2>>run.err) &
    pid=$!
    if ((kills < 4)); then
      sleep "0.$((RANDOM % 9 + 1))"
      if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); wait "$pid" 2>/dev/null; continue; fi
    fi
    wait "$pid"; code=$?
    break
  done
  same=$(cmp -s "$d/ref.txt" "$d/out.txt" && echo same || echo DIFFERENT)
  problems=$(grep -c "missed a write\|checkpoint failed\|panicked" "$d/run.err")
  gens=$(grep -c "checkpoint: generation" "$d/run.err")
  background=$(grep -c "written in the background" "$d/run.err")
  [[ $same == same && $code == "$(cat "$d/ref.code")" && $problems == 0 ]] || bad=1
  echo "$p: exit $(cat "$d/ref.code") / $code, stdout $same, kills $kills, generations $gens ($background in the background), problems $problems"
done
exit $bad
