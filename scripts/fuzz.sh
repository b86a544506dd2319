#!/usr/bin/env bash
# Fuzz chiwawa with cargo-fuzz + libFuzzer (see docs/FUZZING.md).
#
#   scripts/fuzz.sh smoke                  replay every target's seed corpus and regression
#                                          inputs, then fuzz each target for SMOKE_SECONDS
#                                          (default 15); exits non-zero on any crash
#   scripts/fuzz.sh long [SECONDS] [TARGET...]
#                                          long runs (default 3600 s; all four targets, one
#                                          after another unless started in parallel by hand),
#                                          niced, crashes collected without stopping; logs,
#                                          working corpora, crash files and a final stats line
#                                          under fuzz/runs/
#   scripts/fuzz.sh build                  just build the targets
#
# Installs cargo-fuzz if missing (idempotent). libFuzzer needs `-Z` flags of a nightly rustc:
# no nightly can be downloaded here, so the stable toolchain runs in bootstrap mode
# (RUSTC_BOOTSTRAP=1). Builds go to ${CARGO_TARGET_DIR:-$HOME/.cache/chiwawa-target}/fuzz.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
TARGETS=(checkpoint module differential checkpoint_oracle)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chiwawa-target}/fuzz"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN="$CARGO_TARGET_DIR/$TRIPLE/release"
SMOKE_SECONDS="${SMOKE_SECONDS:-15}"
# stdout of the guests goes to /dev/null (-close_fd_mask=1): the embedded guests print.
COMMON=(-close_fd_mask=1 -rss_limit_mb=4096 -timeout=20)

log() { echo "fuzz.sh: $*" >&2; }
exec </dev/null

ensure_cargo_fuzz() {
  if cargo fuzz --version >/dev/null 2>&1; then
    log "cargo-fuzz present ($(cargo fuzz --version))"
  else
    log "cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked >&2
  fi
}

# build [TARGET...]: all targets, or just these (leaves the others' binaries alone, e.g.
# under a long run of them).
build() {
  ensure_cargo_fuzz
  local t=("$@")
  ((${#t[@]})) || t=("${TARGETS[@]}")
  log "building ${t[*]} (AddressSanitizer, debug assertions) into $CARGO_TARGET_DIR"
  if (($#)); then
    for x in "$@"; do (cd "$ROOT" && nice -n 19 cargo fuzz build "$x" >&2); done
  else
    (cd "$ROOT" && nice -n 19 cargo fuzz build >&2)
  fi
}

# run TARGET LOG ARGS...: libFuzzer with stderr into LOG through a pipe (never a regular
# file: restore truncates a regular-file stdout/stderr to the size a checkpoint records).
run() {
  local t="$1" logf="$2"
  shift 2
  set +e
  nice -n 19 "$BIN/$t" "${COMMON[@]}" "$@" 2>&1 | cat >"$logf"
  local rc="${PIPESTATUS[0]}"
  set -e
  return "$rc"
}

smoke() {
  build
  local fail=0 start=$SECONDS
  tmp="$(mktemp -d)"
  trap 'rm -rf "${tmp:-}"' EXIT
  for t in "${TARGETS[@]}"; do
    # Replay: every seed once, then every regression input on its own (all are reported).
    if run "$t" "$tmp/$t-replay.log" -runs=0 -artifact_prefix="$tmp/$t-replay-" "$FUZZ/corpus/$t"; then
      log "$t: seeds: $(grep -ho 'Done [0-9]* runs' "$tmp/$t-replay.log" || echo '?')"
    else
      log "$t: FAILED replaying the seeds in $FUZZ/corpus/$t:"
      grep -E 'panicked|Running:|SUMMARY|ERROR' -A3 "$tmp/$t-replay.log" | tail -20 >&2
      fail=1
      continue
    fi
    local bad=0 r
    for r in "$FUZZ/regressions/$t"/*; do
      [[ -f "$r" ]] || continue
      if ! run "$t" "$tmp/$t-regression.log" -artifact_prefix="$tmp/$t-replay-" "$r"; then
        log "$t: FAILED regression ${r#"$ROOT"/}: $(grep -m1 -A1 'panicked at' "$tmp/$t-regression.log" | tail -1)"
        bad=1
      fi
    done
    if ((bad)); then
      fail=1
      continue
    fi
    # Fuzz for a while from the seeds (new inputs go to a scratch dir), past known bugs.
    mkdir -p "$tmp/$t"
    if run "$t" "$tmp/$t.log" -max_total_time="$SMOKE_SECONDS" -artifact_prefix="$tmp/$t-" \
      "$tmp/$t" "$FUZZ/corpus/$t"; then
      log "$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$tmp/$t.log" | tail -1)"
    else
      log "$t: FAILED after fuzzing (crash input below is in $FUZZ/runs/smoke-$t-crash)"
      grep -E 'panicked|SUMMARY|ERROR|Test unit written' -A3 "$tmp/$t.log" | tail -20 >&2
      mkdir -p "$FUZZ/runs"
      cp "$tmp/$t"-crash-* "$FUZZ/runs/smoke-$t-crash" 2>/dev/null || true
      fail=1
    fi
  done
  log "smoke took $((SECONDS - start)) s"
  if ((fail)); then
    log "FAILED"
    exit 1
  fi
  log "smoke passed: seeds, regressions and ${SMOKE_SECONDS}s of fuzzing clean for ${#TARGETS[@]} targets"
}

long() {
  local secs="${1:-3600}"
  shift || true
  local targets=("${TARGETS[@]}")
  if (($#)); then targets=("$@"); fi
  build "${targets[@]}"
  for t in "${targets[@]}"; do
    local dir="$FUZZ/runs/$t"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    local stamp
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    log "$t: ${secs}s, log $dir/$stamp.log"
    # Fork mode with one job: a crash is recorded (artifacts/) and fuzzing goes on.
    run "$t" "$dir/$stamp.log" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
      -max_total_time="$secs" -artifact_prefix="$dir/artifacts/" "$dir/corpus" "$FUZZ/corpus/$t" || true
    {
      echo "target $t  started $stamp  seconds $secs"
      grep -E '^#[0-9]+: cov' "$dir/$stamp.log" | tail -1 || true
      echo "crash files: $(find "$dir/artifacts" -name 'crash-*' | wc -l)"
    } | tee "$dir/$stamp.stats" >&2
  done
}

case "${1:-}" in
  smoke) smoke ;;
  long) shift; long "$@" ;;
  build) build ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
