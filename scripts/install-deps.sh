#!/usr/bin/env bash
# Install what chiwawa's tests and benchmarks need on Debian 12 (bookworm).
# Idempotent and non-interactive (CI runs it as root with no stdin); fast when
# everything is already present. Every action is reported on stderr.
#
#   rustup target   wasm32-wasip1            (Rust test guests)
#   apt (bookworm)  clang lld wasi-libc libclang-rt-dev-wasm32
#                                            (C guests: clang --target=wasm32-wasi --sysroot=/usr)
#                   python3 python3-pip      (only if missing)
#                   nodejs                   (only if `node` is missing)
#   pip             wasmtime==50.0.1         (reference host for scripts/wasmtime-run.py)
#   cargo install   wasmi_cli --locked       (only with --bench; takes minutes)
#
# usage: scripts/install-deps.sh [--bench]
set -euo pipefail

WASMTIME_PY_VERSION="50.0.1"
APT_PACKAGES=(clang lld wasi-libc libclang-rt-dev-wasm32)
with_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) with_bench=1 ;;
    -h|--help) sed -n '2,15p' "$0" >&2; exit 0 ;;
    *) echo "install-deps: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "install-deps: $*" >&2; }
export DEBIAN_FRONTEND=noninteractive
exec </dev/null   # never wait for input

SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else SUDO=(); fi
fi

# ---- apt packages ----------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in "${APT_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ! python3 -m pip --version >/dev/null 2>&1; then missing+=(python3-pip); fi
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    log "ERROR: missing ${missing[*]} and apt-get is not available (this script targets Debian 12)"
    exit 1
  fi
  log "apt-get update"
  "${SUDO[@]}" apt-get update -q >&2
  log "apt-get install ${missing[*]}"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
else
  log "apt packages present: ${APT_PACKAGES[*]}, python3, pip, node"
fi

# ---- Rust target -----------------------------------------------------------
if command -v rustup >/dev/null 2>&1; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    log "rustup target wasm32-wasip1 present"
  else
    log "rustup target add wasm32-wasip1"
    rustup target add wasm32-wasip1 >&2
  fi
else
  log "WARNING: rustup not found; cannot add wasm32-wasip1 (only needed to rebuild tests/guests/rust)"
fi

# ---- Wasmtime reference host (Python bindings) -----------------------------
have_wasmtime_py() {
  python3 - "$WASMTIME_PY_VERSION" <<'EOF' 2>/dev/null
import sys, importlib.metadata as m
sys.exit(0 if m.version("wasmtime") == sys.argv[1] else 1)
EOF
}
if have_wasmtime_py; then
  log "python wasmtime==$WASMTIME_PY_VERSION present"
else
  pip_args=(install --quiet --disable-pip-version-check "wasmtime==$WASMTIME_PY_VERSION")
  # Debian's system python is "externally managed" (PEP 668); this is a CI/dev box.
  if [[ -z "${VIRTUAL_ENV:-}" ]] && python3 - <<'EOF'
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)
EOF
  then
    pip_args+=(--break-system-packages)
  fi
  [[ "$(id -u)" == 0 ]] && pip_args+=(--root-user-action=ignore)
  log "python3 -m pip ${pip_args[*]}"
  python3 -m pip "${pip_args[@]}" >&2
  have_wasmtime_py || { log "ERROR: wasmtime==$WASMTIME_PY_VERSION still not importable"; exit 1; }
fi

# ---- wasmi CLI (benchmarks only) -------------------------------------------
if ((with_bench)); then
  if command -v wasmi >/dev/null 2>&1 || [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/wasmi" ]]; then
    log "wasmi CLI present"
  else
    log "cargo install wasmi_cli --locked (takes minutes)"
    nice -n 19 cargo install wasmi_cli --locked >&2
  fi
fi
log "done"
