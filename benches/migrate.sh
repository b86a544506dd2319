#!/usr/bin/env bash
# Live migration benchmark (issue 19): downtime and bytes sent when `chiwawa migrate` moves a
# guest with MIB MiB of touched memory that dirties RATE MB/s, against stop-and-copy (SIGTERM
# checkpoint, copy the checkpoint directory through the same transport, `chiwawa run` there).
#
#   benches/migrate.sh [--mib 1024] [--rates "0 10 100"] [--transports "pipe ssh"] [--bin PATH]
#
# Guest: tests/guests/wasm/dirty.wasm (touches MIB MiB, then rewrites one pseudo-random 64 KiB
# page per step, paced to RATE MB/s; RATE 0: idle, one step per ms, nothing dirtied).
# Transports: `pipe` runs the receiver as a local child process; `ssh` goes through `ssh
# localhost` to an sshd this script starts on port 2222 with throwaway keys (needs sshd).
# Ways: `receive+run` (receive, then a new `chiwawa run` on the destination directory, chained
# in the transport command) and `receive --run` (the receiver runs the guest itself).
# Downtime = the destination's "first instruction" log time - the source's "guest stopped" log
# time (both unix ns, same machine). Dirtied = the guest's own step count over the migration
# (its progress lines, +64 steps for the granularity). Bandwidth = round 1's bytes / the time until the receiver
# made it durable. Prints a Markdown table.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
mib=1024 rates="0 10 100" transports="pipe ssh" bin="${CHIWAWA_BIN:-$here/target/release/chiwawa}"
while (($#)); do
  case "$1" in
    --mib) mib="$2"; shift 2 ;;
    --rates) rates="$2"; shift 2 ;;
    --transports) transports="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "no chiwawa at $bin (cargo build --release, or --bin)" >&2; exit 1; }
guest="$here/tests/guests/wasm/dirty.wasm"
work="$(mktemp -d "${TMPDIR:-/tmp}/chiwawa-migrate-bench.XXXXXX")"
sshd_pid=""
cleanup() {
  [[ -n "$sshd_pid" ]] && kill "$sshd_pid" 2>/dev/null || true
  pkill -KILL -f "$work/" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ssh_cmd=()
if [[ " $transports " == *" ssh "* ]]; then
  if ! command -v /usr/sbin/sshd >/dev/null; then
    echo "no /usr/sbin/sshd: skipping the ssh transport" >&2
    transports="${transports/ssh/}"
  else
    mkdir -p "$work/ssh" ~/.ssh
    ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host" <<<y >/dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/user" <<<y >/dev/null
    cp "$work/ssh/user.pub" "$work/ssh/authorized_keys"
    cat >"$work/ssh/sshd_config" <<EOF
Port 2222
ListenAddress 127.0.0.1
HostKey $work/ssh/host
AuthorizedKeysFile $work/ssh/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $work/ssh/sshd.pid
EOF
    mkdir -p /run/sshd
    /usr/sbin/sshd -D -f "$work/ssh/sshd_config" -E "$work/ssh/log" &
    sshd_pid=$!
    sleep 0.5
    ssh_cmd=(ssh -p 2222 -i "$work/ssh/user" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
      -o LogLevel=ERROR -o BatchMode=yes 127.0.0.1)
    "${ssh_cmd[@]}" true || { echo "ssh localhost does not work (see $work/ssh/log)" >&2; exit 1; }
  fi
fi

ns() { date +%s%N; }
# The unix ns in the first log line of FILE matching PATTERN.
log_ns() { grep -m1 "$2" "$1" | sed -E 's/.*unix ns ([0-9]+).*/\1/'; }
wait_for() { # FILE PATTERN SECONDS
  local t=0
  until grep -q "$2" "$1" 2>/dev/null; do
    sleep 0.05; t=$((t + 1))
    ((t < $3 * 20)) || { echo "timed out waiting for '$2' in $1" >&2; tail -5 "$1" >&2; return 1; }
  done
}

# Starts the source guest in $case; sets src_pid.
start_source() { # CASE RATE
  local c="$1" rate="$2" pages=1
  ((rate == 0)) && pages=0 rate=1
  mkdir -p "$c"
  RUST_LOG=chiwawa=debug "$bin" run --checkpoint-dir "$c/src" --every 1h "$guest" "$mib" 100000000 "$pages" "$rate" \
    >"$c/src.out" 2>"$c/src.err" &
  src_pid=$!
  wait_for "$c/src.out" touched 300
  sleep 2   # the guest dirties at its pace before the migration starts
}

# A transport's command line reaching a shell on the destination.
remote() { # TRANSPORT SHELL-COMMAND
  if [[ "$1" == ssh ]]; then printf '%q ' "${ssh_cmd[@]}" "$2"; else printf 'sh -c %q' "$2"; fi
}

row() { echo "| $* |"; }
echo "| rate MB/s | transport | way | downtime ms | stop→commit ms | pre-copy s | rounds | final dirty MB | sent MB | touched+dirtied MB | sent/(touched+dirtied) | bandwidth MB/s | target ms |"
echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for rate in $rates; do
  for t in $transports; do
    for way in "receive+run" "receive --run" "stop-and-copy"; do
      c="$work/case-$rate-$t-${way// /_}"
      start_source "$c" "$rate"
      dst="$c/dst"
      if [[ "$way" == stop-and-copy ]]; then
        t0=$(ns)
        kill -TERM "$src_pid"; wait "$src_pid" || true
        sz=$(du -sb "$c/src" | cut -f1)
        # The copy goes through the same transport.
        cmd="mkdir -p $dst && tar -C $dst -x && RUST_LOG=chiwawa=debug exec $bin run --checkpoint-dir $dst/src --every 1h $guest $mib 100000000 1 1 >$c/dst.out 2>$c/dst.err"
        tar -C "$c" -c src | eval "$(remote "$t" "$cmd")" &
        wait_for "$c/dst.err" "first instruction" 300
        t1=$(log_ns "$c/dst.err" "first instruction")
        row "$rate | $t | $way | $(((t1 - t0) / 1000000)) | | | | | $((sz / 1000000)) | | | | "
      else
        if [[ "$way" == "receive+run" ]]; then
          cmd="$bin receive --checkpoint-dir $dst $guest && RUST_LOG=chiwawa=debug exec $bin run --checkpoint-dir $dst --every 1h $guest >$c/dst.out 2>$c/dst.err"
        else
          cmd="RUST_LOG=chiwawa=debug exec $bin receive --run --stdout $c/dst.out --stderr $c/dst.err --checkpoint-dir $dst --every 1h $guest"
        fi
        eval "transport=($(remote "$t" "$cmd"))"
        # The guest prints "step N" every 64 steps of one 64 KiB page each: what it dirtied
        # during the migration is the difference (no pacing assumption).
        s0=$(grep '^step' "$c/src.out" | tail -1 | sed -E 's/^step ([0-9]+).*/\1/'); s0=${s0:-0}
        "$bin" migrate --checkpoint-dir "$c/src" --remainder-mib 16 -- "${transport[@]}" 2>"$c/migrate.err" || {
          echo "migration failed: $(cat "$c/migrate.err")" >&2; exit 1; }
        wait "$src_pid" || true
        wait_for "$c/dst.err" "first instruction" 300
        start=$(log_ns "$c/src.err" "started the transport")
        stop=$(log_ns "$c/src.err" "guest stopped at")
        first=$(log_ns "$c/dst.err" "first instruction")
        line=$(grep -m1 "migrated: the receiver committed" "$c/src.err")
        sent=$(sed -E 's/.*; ([0-9]+) bytes in ([0-9]+) round.*/\1/' <<<"$line")
        rounds=$(sed -E 's/.*bytes in ([0-9]+) round.*/\1/' <<<"$line")
        commit_ms=$(sed -E 's/.*round\(s\), ([0-9.]+) ms after.*/\1/' <<<"$line")
        last=$(grep -m1 "guest stopped at" "$c/src.err" | sed -E 's/.*the last ([0-9]+) page.*/\1/')
        r1=$(grep -m1 "round 1 (.*durable at the receiver" "$c/src.err" | sed -E 's/.*round 1 \(([0-9]+) pages\) durable at the receiver after ([0-9.]+) ms.*/\1 \2/')
        read -r r1_pages r1_ms <<<"$r1"
        bw=$(awk -v p="$r1_pages" -v ms="$r1_ms" 'BEGIN { printf "%.0f", p * 65536 / 1e6 / (ms / 1e3) }')
        pre_s=$(awk -v a="$start" -v b="$stop" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
        s1=$(grep '^step' "$c/src.out" | tail -1 | sed -E 's/^step ([0-9]+).*/\1/'); s1=${s1:-0}
        ((rate == 0)) && s1=$s0
        dirtied=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", (b - a + 64) * 65536 / 1e6 }')
        base=$(awk -v m="$mib" -v d="$dirtied" 'BEGIN { printf "%.0f", m * 1.048576 + d }')
        target=$(awk -v l="$last" -v bw="$bw" 'BEGIN { printf "%.0f", 50 + l * 65536 / 1e6 / bw * 1e3 }')
        row "$rate | $t | $way | $(((first - stop) / 1000000)) | $commit_ms | $pre_s | $rounds | $(awk -v l="$last" 'BEGIN { printf "%.1f", l * 65536 / 1e6 }') | $((sent / 1000000)) | $base | $(awk -v s="$sent" -v b="$base" 'BEGIN { printf "%.2f", s / 1e6 / b }') | $bw | $target"
      fi
      pkill -KILL -f "$c/" 2>/dev/null || true
      sleep 0.2
      rm -rf "$c"
    done
  done
done
