#!/usr/bin/env bash
# Two chiwawa builds side by side, interleaved in one run (the machines are noisy: only ratios
# measured together mean something). For each guest, runs A and B alternately REPS times and
# prints the median wall time of each and B/A as a markdown table, with a geomean row.
#
# usage: benches/ab.sh A_BINARY B_BINARY [--reps N] [--checkpoint-every N] GUEST.wasm[:ARGS]...
#   ARGS: guest arguments, comma-separated (`fib.wasm:1`, `sqlite.wasm`).
#   --checkpoint-every N  run with `--checkpoint-dir` and `--every-instructions N` (self-contained
#                         generations, in a fresh directory per run): what checkpointing costs.
# Every run's stdout must equal the first run's; a mismatch aborts.
set -euo pipefail
a=$(realpath "$1"); b=$(realpath "$2"); shift 2
reps=5 every=""
guests=()
while (($#)); do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --checkpoint-every) every="$2"; shift 2 ;;
    *) guests+=("$1"); shift ;;
  esac
done
work=$(mktemp -d "${TMPDIR:-/tmp}/chiwawa-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "| guest | A (s) | B (s) | B/A |"
echo "|---|---:|---:|---:|"
ratios=()
for g in "${guests[@]}"; do
  wasm=${g%%:*}; args=()
  [[ "$g" == *:* ]] && IFS=, read -r -a args <<<"${g#*:}"
  ta=() tb=()
  for ((r = 0; r < reps; r++)); do
    for which in a b; do
      bin=$a; [[ $which == b ]] && bin=$b
      opts=()
      if [[ -n "$every" ]]; then
        rm -rf "$work/ck"
        opts=(--checkpoint-dir "$work/ck" --every-instructions "$every" --self-contained)
      fi
      s=$(date +%s.%N)
      "$bin" run "${opts[@]}" "$wasm" "${args[@]}" >"$work/out" 2>/dev/null
      e=$(date +%s.%N)
      if [[ ! -f "$work/ref" ]]; then cp "$work/out" "$work/ref"; fi
      cmp -s "$work/out" "$work/ref" || { echo "$g: output of $which differs" >&2; exit 1; }
      t=$(python3 -c "print(f'{$e - $s:.4f}')")
      if [[ $which == a ]]; then ta+=("$t"); else tb+=("$t"); fi
    done
  done
  rm -f "$work/ref"
  line=$(python3 - "${ta[*]}" "${tb[*]}" <<'EOF'
import statistics, sys
a = statistics.median(map(float, sys.argv[1].split()))
b = statistics.median(map(float, sys.argv[2].split()))
print(f"{a:.3f} {b:.3f} {b / a:.3f}")
EOF
)
  read -r ma mb ratio <<<"$line"
  ratios+=("$ratio")
  echo "| $(basename "$wasm")${args[*]:+ ${args[*]}} | $ma | $mb | $ratio |"
done
python3 - "${ratios[*]}" <<'EOF'
import math, sys
r = [float(x) for x in sys.argv[1].split()]
print(f"| **geomean** | | | **{math.exp(sum(map(math.log, r)) / len(r)):.3f}** |")
EOF
