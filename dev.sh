#!/usr/bin/env bash
# Sets up the environments and runs the project's jobs.
#   bash dev.sh demo   - set up .venv, then search + retrain on generated data
#   bash dev.sh test   - set up .venv, then run the whole test suite
#   bash dev.sh setup  - set up .venv only
set -euo pipefail
cd "$(dirname "$0")"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
VENV=.venv

find_python() {
  for want in "$@"; do
    for cand in "python$want" "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/$want"*/bin/python$want)"; do
      for c in $cand; do
        if [ -x "$(command -v "$c" 2>/dev/null || echo "$c")" ] && "$c" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" 2>/dev/null; then
          echo "$c"; return 0
        fi
      done
    done
  done
  return 1
}

setup_core() {
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import dimgrow_tf, tensorflow, pytest, hypothesis, tensorboard, matplotlib" 2>/dev/null; then
    py=$(find_python 3.11) || { echo "dev.sh: Python 3.11 is required" >&2; exit 1; }
    "$py" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "tensorflow==2.21.*" -e ".[test,bench]"
  fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  setup) setup_core ;;
  demo)  setup_core; exec "$VENV/bin/dimgrow" demo "$@" ;;
  test)  setup_core; exec "$VENV/bin/python" -m pytest -q "$@" ;;
  *) echo "usage: bash dev.sh {setup|demo|test} [args]" >&2; exit 2 ;;
esac
