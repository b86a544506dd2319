#!/usr/bin/env bash
# Checkpoint cost, printed as markdown tables (progress on stderr):
#   1. one checkpoint of 16 MiB and 256 MiB of touched guest memory: file size, time to write it
#      durably (temp file, fsync, rename, fsync dir), versus writing and fsyncing the same number
#      of bytes with dd; and the time to restore from it;
#   2. the slowdown of `--every 10s` versus no checkpointing on the shared benchmark guests;
#   3. incremental generations: a guest with 1 GiB of touched memory that changes 1 % of its
#      pages between checkpoints (benches/dirty.wat): bytes and time per generation, incremental
#      versus --self-contained (full) generations; and the cost of `--every 1s` on it.
#
# usage: benches/checkpoint.sh [--guests "sieve matmul"] [--scale N] [--skip-overhead]
#                              [--skip-incremental] [--only-incremental] [--incremental-mib N]
# env:   CHIWAWA_BIN (default $CARGO_TARGET_DIR/release/chiwawa, else target/release/chiwawa: what cargo build --release built)
#        BENCH_CACHE (default target/bench-cache: benches/bench.sh builds the guests there)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CHIWAWA_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/chiwawa}
cache=${BENCH_CACHE:-$root/target/bench-cache}
guests="fib sieve matmul sha256 nbody sort bigmem" scale=1 overhead=1 incremental=1 full=1 inc_mib=1024
while (($#)); do
  case "$1" in
    --guests) guests="$2"; shift 2 ;;
    --scale) scale="$2"; shift 2 ;;
    --skip-overhead) overhead=0; shift ;;
    --skip-incremental) incremental=0; shift ;;
    --only-incremental) full=0; overhead=0; shift ;;
    --incremental-mib) inc_mib="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "no chiwawa at $bin (cargo build --release)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/chiwawa-ckbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Measure on the same file system as the checkpoint directory.
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

if ((full)); then
echo "| touched memory | checkpoint file | checkpoint (write+fsync+rename+fsync dir) | dd same bytes + fsync | restore |"
echo "|---:|---:|---:|---:|---:|"
for mib in 16 256; do
  echo "checkpoint bench: $mib MiB" >&2
  # the touch loop costs ~9 units per 4 KiB page, a checksum pass ~11: checkpoint once after
  # the touch phase, in the first pass, and let the guest finish (generations are archived).
  pages4k=$((mib * 256))
  n=$((pages4k * 20))
  dir="$work/ck$mib"
  RUST_LOG=chiwawa=debug "$bin" run --self-contained --every-instructions "$n" --keep 1 --keep-on-exit --checkpoint-dir "$dir" \
    --invoke touch "$root/benches/memtouch.wat" "$mib" 2 >/dev/null 2>"$work/log$mib"
  line=$(grep -m1 'checkpoint: generation' "$work/log$mib") || { cat "$work/log$mib" >&2; exit 1; }
  bytes=$(sed -E 's/.*\), ([0-9]+) bytes.*/\1/' <<<"$line")
  ms=$(sed -E 's/.* ([0-9.]+) ms.*/\1/' <<<"$line")
  file=$(ls "$dir"/archive-*/gen-*.ckpt | head -1)
  # dd: the same number of bytes, fsynced
  t0=$(now); dd if=/dev/zero of="$work/dd.bin" bs=1M count="$(((bytes + 1048575) / 1048576))" conv=fsync status=none; t1=$(now)
  dd_s=$(secs "$t0" "$t1"); rm -f "$work/dd.bin"
  # restore: --restore the archived generation; chiwawa logs how long rebuilding took
  RUST_LOG=chiwawa=info "$bin" run --restore "$file" --checkpoint-dir "$work/r$mib" \
    --invoke touch "$root/benches/memtouch.wat" "$mib" 2 >/dev/null 2>"$work/rlog$mib"
  rms=$(grep -m1 -o 'restored in [0-9.]* ms' "$work/rlog$mib" | grep -o '[0-9.]*') || { cat "$work/rlog$mib" >&2; exit 1; }
  printf '| %d MiB | %.1f MiB | %.3f s | %s s | %.3f s |\n' "$mib" "$(python3 -c "print($bytes/1048576)")" \
    "$(python3 -c "print($ms/1000)")" "$dd_s" "$(python3 -c "print($rms/1000)")"
done
fi

if ((incremental)); then
  # dirty.wat MIB ROUNDS PAGES SPIN: 1 % of the pages rewritten per round; a generation about
  # every round (the spin loop is ~12 instruction units per iteration).
  pages=$((inc_mib * 16)) per=$(((inc_mib * 16 + 99) / 100)) spin=2000000 every=24000011
  summarise() { # log label → "median bytes, median ms" of generations 2.. that wrote pages
    python3 - "$1" "$2" <<'PY'
import re, statistics, sys
log, label = open(sys.argv[1]).read(), sys.argv[2]
gens = [(int(g), int(b), float(ms)) for g, b, ms in
        re.findall(r"checkpoint: generation (\d+) \([^)]*\), (\d+) bytes, \d+ instructions, ([0-9.]+) ms", log)]
written = {int(g): int(w) for g, w in re.findall(r"generation (\d+): (\d+) pages written", log)}
rows = [(b, ms) for g, b, ms in gens if g >= 2 and written.get(g, 1) > 0]
print(f"{label}\t{len(rows)}\t{statistics.median(b for b, _ in rows)}\t{statistics.median(m for _, m in rows)}")
PY
  }
  echo
  echo "| ${inc_mib} MiB touched, ${per} of ${pages} pages changed per generation | generations | bytes per generation | time per generation |"
  echo "|---|---:|---:|---:|"
  for mode in incremental self-contained; do
    echo "incremental bench: $mode" >&2
    flag=(); [[ $mode == self-contained ]] && flag=(--self-contained)
    RUST_LOG=chiwawa=debug "$bin" run "${flag[@]}" --every-instructions "$every" --keep 2 --checkpoint-dir "$work/inc-$mode" \
      --invoke dirty "$root/benches/dirty.wat" "$inc_mib" 8 "$per" "$spin" >/dev/null 2>"$work/inc-$mode.log"
    summarise "$work/inc-$mode.log" "$mode" >"$work/inc-$mode.sum"
    read -r _ n b ms <"$work/inc-$mode.sum"
    printf '| %s | %s | %.1f MiB | %.1f ms |\n' "$mode" "$n" "$(python3 -c "print($b/1048576)")" "$ms"
  done
  read -r _ _ ib ims <"$work/inc-incremental.sum"; read -r _ _ fb fms <"$work/inc-self-contained.sum"
  printf '| incremental / full | | %.1f %% | %.1f %% |\n' "$(python3 -c "print(100*$ib/$fb)")" "$(python3 -c "print(100*$ims/$fms)")"
  rm -rf "$work"/inc-*
  # --every 1s on the same big heap (100 rounds of 1 %, ~20 s), against no checkpoints,
  # interleaved. The first generation writes every page (a full checkpoint, unavoidable);
  # "pauses" is the time the guest waited for the later ones (capture, plan, copy: the writing
  # goes on in a thread), as a share of the run; "slowdown after the first" is the whole
  # difference minus that first generation (faults, the writer thread's competition, noise).
  echo
  echo "| ${inc_mib} MiB heap, 1 % changed per round | no checkpoints | --every 1s (incremental) | checkpoints taken | slowdown | first (full) generation | later generations: pauses, share of the run | slowdown after the first generation |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for run in 1 2 3; do
    echo "every-1s bench: run $run" >&2
    t0=$(now); "$bin" run --invoke dirty "$root/benches/dirty.wat" "$inc_mib" 100 "$per" 60000000 >/dev/null; t1=$(now)
    base=$(secs "$t0" "$t1")
    t0=$(now); RUST_LOG=chiwawa=debug "$bin" run --every 1s --checkpoint-dir "$work/e1" --invoke dirty "$root/benches/dirty.wat" \
      "$inc_mib" 100 "$per" 60000000 >/dev/null 2>"$work/e1.log"; t1=$(now)
    with=$(secs "$t0" "$t1")
    count=$(grep -c 'checkpoint: generation' "$work/e1.log" || true)
    read -r first later < <(python3 - "$work/e1.log" <<'PY'
import re, sys
ms = [float(m) for m in re.findall(r"checkpoint: generation \d+ \([^)]*\), \d+ bytes, \d+ instructions, ([0-9.]+) ms", open(sys.argv[1]).read())]
print(ms[0] if ms else 0, sum(ms[1:]))
PY
)
    printf '| run %d | %s s | %s s | %s | %+.1f %% | %.0f ms | %.2f %% | %+.1f %% |\n' "$run" "$base" "$with" "$count" \
      "$(python3 -c "print(($with/$base-1)*100)")" "$first" "$(python3 -c "print($later/10/$with)")" \
      "$(python3 -c "print((($with-$first/1000)/$base-1)*100)")"
    cp "$work/e1.log" "${TMPDIR:-/tmp}/chiwawa-every1s-run$run.log"
    rm -rf "$work/e1"
  done
fi

((overhead)) || exit 0
echo
echo "| guest (scale $scale) | no checkpoints | --every 10s | checkpoints taken | slowdown |"
echo "|---|---:|---:|---:|---:|"
for g in $guests; do
  w="$cache/wasm/$g.wasm"
  [[ -f "$w" ]] || { echo "missing $w: run benches/bench.sh once to build the guests" >&2; exit 1; }
  echo "overhead bench: $g" >&2
  t0=$(now); "$bin" run "$w" "$scale" >/dev/null; t1=$(now)
  base=$(secs "$t0" "$t1")
  t0=$(now); RUST_LOG=chiwawa=debug "$bin" run --every 10s --checkpoint-dir "$work/ov-$g" "$w" "$scale" >/dev/null 2>"$work/ov-$g.log"; t1=$(now)
  with=$(secs "$t0" "$t1")
  count=$(grep -c 'checkpoint: generation' "$work/ov-$g.log" || true)
  printf '| %s | %s s | %s s | %s | %+.1f %% |\n' "$g" "$base" "$with" "$count" "$(python3 -c "print(($with/$base-1)*100)")"
done
