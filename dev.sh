#!/usr/bin/env bash
# Sets up the environments and runs the project's jobs.
#   bash dev.sh demo   - set up .venv, then search + retrain on generated data
#   bash dev.sh test   - set up .venv and .venv-tfx, then run the whole test suite
#   bash dev.sh test-tfx - set up .venv-tfx, then run only the TFX pipeline tests
#   bash dev.sh setup  - set up both environments
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
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -I -c "import dimgrow_tf, serving, tensorflow, pytest, hypothesis, tensorboard, matplotlib" 2>/dev/null; then
    py=$(find_python 3.11) || { echo "dev.sh: Python 3.11 is required" >&2; exit 1; }
    "$py" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "tensorflow==2.21.*" -e ".[test,bench]"
  fi
}

setup_tfx() { bash pipelines/setup_tfx_env.sh; }

cmd="${1:-}"
shift || true
case "$cmd" in
  setup) setup_core; setup_tfx ;;
  demo)  setup_core; exec "$VENV/bin/dimgrow" demo "$@" ;;
  test)  setup_core; setup_tfx
         rc=0
         .venv-tfx/bin/python -m pytest -q pipelines/tests || rc=$?
         "$VENV/bin/python" -m pytest -q "$@" || rc=$?
         exit $rc ;;
  test-tfx) setup_tfx; exec .venv-tfx/bin/python -m pytest -q pipelines/tests "$@" ;;
  *) echo "usage: bash dev.sh {setup|demo|test|test-tfx} [args]" >&2; exit 2 ;;
esac
