#!/usr/bin/env bash
# chiwawa-supervise.sh — run a chiwawa command until the *guest* finishes, restarting it after
# crashes (a signal such as kill -9 or OOM, or any failure of chiwawa itself) with exponential
# backoff. Each restart resumes from the newest valid checkpoint generation.
#
# usage: chiwawa-supervise.sh [--max-restarts N] [--backoff SECS] [--max-backoff SECS] -- \
#            chiwawa run --every 10s [run options] app.wasm [args...]
#
# The guest's own exit (proc_exit, return from _start, or a trap) ends supervision, and this
# script exits with the guest's exit code. A migration to another host (`chiwawa migrate`) ends
# it too, with 0 ("migrated" in the status file); a migration whose outcome is unknown with 91. chiwawa reports that the guest finished by writing
# "exit CODE" to the file named by $CHIWAWA_STATUS_FILE; when chiwawa ends without writing it,
# that was a crash and the command is started again.
# Defaults: unlimited restarts, backoff 1 s doubling up to 60 s; the backoff resets after a run
# that lasted longer than the maximum backoff. Messages go to stderr, prefixed "supervise:".
set -u

max_restarts=-1 backoff=1 max_backoff=60
while (($#)); do
  case "$1" in
    --max-restarts) max_restarts="$2"; shift 2 ;;
    --backoff) backoff="$2"; shift 2 ;;
    --max-backoff) max_backoff="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,16p' "$0" >&2; exit 0 ;;
    *) break ;;
  esac
done
if (($# == 0)); then
  echo "supervise: usage: chiwawa-supervise.sh [options] -- chiwawa run ... app.wasm [args...]" >&2
  exit 2
fi

status_dir=$(mktemp -d "${TMPDIR:-/tmp}/chiwawa-supervise.XXXXXX") || exit 1
trap 'rm -rf "$status_dir"' EXIT
export CHIWAWA_STATUS_FILE="$status_dir/status"

child=0
forward() { # stop the child too when we are asked to stop
  if ((child)); then kill -s "$1" "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
  exit 143
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'if ((child)); then kill -s HUP "$child" 2>/dev/null; fi' HUP

restarts=0 delay="$backoff"
while :; do
  rm -f "$CHIWAWA_STATUS_FILE"
  started=$SECONDS
  "$@" &
  child=$!
  wait "$child"
  code=$?
  # `wait` returns early when a trapped signal arrives; wait until the child is really gone.
  while kill -0 "$child" 2>/dev/null; do wait "$child"; code=$?; done
  child=0
  if [[ -f "$CHIWAWA_STATUS_FILE" ]]; then
    read -r what guest_code <"$CHIWAWA_STATUS_FILE"
    case "$what" in
      migrated)
        # `chiwawa migrate` moved the guest to another host: it goes on there, done here.
        echo "supervise: the guest migrated to another host (its generation $guest_code there); done here" >&2
        exit 0 ;;
      migration-unknown)
        # The final part of a migration went out unacknowledged: restarting here could run a
        # second copy (chiwawa would refuse anyway); a human decides, see chiwawa's message.
        echo "supervise: a migration's outcome is unknown (status $code); not restarting" >&2
        exit "$code" ;;
    esac
    echo "supervise: the guest finished with exit code $guest_code after $restarts restart(s)" >&2
    exit "$guest_code"
  fi
  if ((max_restarts >= 0 && restarts >= max_restarts)); then
    echo "supervise: chiwawa failed (status $code) and the restart limit ($max_restarts) is reached" >&2
    exit 1
  fi
  if ((SECONDS - started > max_backoff)); then delay="$backoff"; fi
  restarts=$((restarts + 1))
  echo "supervise: chiwawa ended without the guest finishing (status $code); restart $restarts in ${delay}s" >&2
  sleep "$delay"
  delay=$((delay * 2)); ((delay > max_backoff)) && delay="$max_backoff"
done
