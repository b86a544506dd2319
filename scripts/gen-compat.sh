#!/usr/bin/env bash
# Writes cases of the checkpoint compatibility corpus (tests/compat/, docs/FORMAT.md §16):
#
#   scripts/gen-compat.sh CHIWAWA_BINARY OUT_DIR PREFIX [CASE...]
#
# For each case: the module, one checkpoint file written by CHIWAWA_BINARY (a self-contained
# generation picked from an archived run: the deepest stack, or the middle one), the guest's
# arguments, and what resuming it must give — stdout and exit code of the resumed run, and the
# final files of its preopened directory (with the directory as it must be handed to the
# restore). Each case is checked before it is written: resumed, it must finish exactly as the
# uninterrupted run does.
#
# Committed cases are never regenerated: a later release must restore the files an earlier
# one wrote. Add new cases (new guests, new kinds of state) under new names.
set -euo pipefail
BIN=$(realpath "$1"); OUT=$(realpath -m "$2"); PREFIX=$3; shift 3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

wat2wasm() { python3 -c "import sys, wasmtime; open(sys.argv[2], 'wb').write(wasmtime.wat2wasm(open(sys.argv[1]).read()))" "$1" "$2"; }

# gen NAME MODULE PICK OPTS -- ARGS...: PICK is `deepest`, `middle` or `last`; OPTS are the
# checkpoint options of the run; a guest argument `/data` gets a preopened directory.
gen() {
  local name=$1 module=$2 pick=$3; shift 3
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done; shift
  local args=("$@") d="$WORK/$PREFIX$name" dir=()
  rm -rf "$d"; mkdir -p "$d/ref/data" "$d/run/data"
  cp "$module" "$d/module.wasm"
  [[ " ${args[*]-} " == *" /data "* ]] && dir=(--dir data::/data)
  # the uninterrupted run
  (cd "$d/ref" && "$BIN" run "${dir[@]}" ../module.wasm "${args[@]}" >stdout 2>/dev/null; echo $? >exit) || true
  # the archived run
  (cd "$d/run" && "$BIN" run "${dir[@]}" --checkpoint-dir ck --keep 100000 --keep-on-exit --self-contained \
     "${opts[@]}" ../module.wasm "${args[@]}" >stdout 2>/dev/null || true)
  cmp -s "$d/ref/stdout" "$d/run/stdout" || { echo "$name: the checkpointed run's output differs" >&2; exit 1; }
  local pickfile
  pickfile=$(python3 - "$d/run/ck" "$pick" <<'EOF'
import glob, json, subprocess, sys, os
files = sorted(glob.glob(os.path.join(sys.argv[1], 'archive-*', '*.ckpt')))
if not files:
    sys.exit('no generations')
if sys.argv[2] == 'deepest':
    def frames(f):
        out = subprocess.run([os.environ['BIN'], 'inspect', '--json', f], capture_output=True, text=True).stdout
        return json.loads(out)['frames']
    print(max(files, key=frames))
elif sys.argv[2] == 'last':
    print(files[-1])
else:
    print(files[len(files) // 2])
EOF
)
  local c="$OUT/$PREFIX$name"
  rm -rf "$c"; mkdir -p "$c"
  cp "$d/module.wasm" "$c/"
  cp "$pickfile" "$c/checkpoint.ckpt"
  printf '%s\n' "${args[@]}" > "$c/args"
  [ ${#args[@]} -eq 0 ] && : > "$c/args"
  if [ ${#dir[@]} -gt 0 ]; then
    # Restore truncates files the guest was writing back to their size at the checkpoint, so
    # the final tree of the uninterrupted run is a valid starting point.
    cp -r "$d/ref/data" "$c/data"
    cp -r "$d/ref/data" "$c/data.expected"
  fi
  # resume it, and check the result against the uninterrupted run
  local r="$WORK/check"; rm -rf "$r"; mkdir -p "$r"
  [ -d "$c/data" ] && cp -r "$c/data" "$r/data"
  (cd "$r" && "$BIN" run "${dir[@]}" --restore "$c/checkpoint.ckpt" --checkpoint-dir ck "$c/module.wasm" "${args[@]}" \
     >stdout 2>stderr; echo $? >exit) || true
  cmp -s "$r/exit" "$d/ref/exit" || { echo "$name: resumed exit $(cat "$r/exit") != $(cat "$d/ref/exit")" >&2; cat "$r/stderr" >&2; exit 1; }
  python3 -c "import sys; a=open(sys.argv[1],'rb').read(); b=open(sys.argv[2],'rb').read(); sys.exit(0 if a.endswith(b) else 1)" \
    "$d/ref/stdout" "$r/stdout" || { echo "$name: resumed stdout is not the uninterrupted run's tail" >&2; exit 1; }
  if [ -d "$c/data" ]; then diff -r "$r/data" "$c/data.expected" >/dev/null || { echo "$name: files differ" >&2; exit 1; }; fi
  cp "$r/stdout" "$c/stdout"; cp "$r/exit" "$c/exit"
  echo "$PREFIX$name: $(basename "$pickfile") ($(stat -c %s "$c/checkpoint.ckpt") bytes), resumed stdout $(stat -c %s "$c/stdout") bytes, exit $(cat "$c/exit")"
}
export BIN

want() { [ $# -eq 0 ] && return 0; for x in "${CASES[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
CASES=("$@")
sel() { [ ${#CASES[@]} -eq 0 ] || want "$1"; }

W="$WORK/wasm"; mkdir -p "$W"
for w in rec refs tables memgrow values tailcall; do wat2wasm "$ROOT/tests/wat/$w.wat" "$W/$w.wasm"; done
wat2wasm "$ROOT/tests/compat/sleeper.wat" "$W/sleeper.wasm"

sel rec && gen rec "$W/rec.wasm" deepest --every-instructions 50021 -- 4 2000
sel refs && gen refs "$W/refs.wasm" deepest --every-instructions 7919 -- 12
sel tables && gen tables "$W/tables.wasm" middle --every-instructions 20011 --
sel memgrow && gen memgrow "$W/memgrow.wasm" middle --every-instructions 3001 -- 10
sel values && gen values "$W/values.wasm" deepest --every-instructions 9973 --
sel tailcall && gen tailcall "$W/tailcall.wasm" middle --every-instructions 20011 -- 12 3000
sel counter && gen counter "$ROOT/tests/guests/wasm/counter.wasm" middle --every-instructions 1000003 -- 200000 20000 /data
# A checkpoint taken while the guest sleeps in poll_oneoff: its top frame is suspended at the
# host call (Resume::AtCall).
sel sleep && gen sleep "$W/sleeper.wasm" last --every 150ms --
true
