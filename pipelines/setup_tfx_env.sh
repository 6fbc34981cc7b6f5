#!/usr/bin/env bash
# Creates .venv-tfx: Python 3.10, tfx 1.16 from pipelines/requirements-tfx.txt, this repo
# (--no-deps: the lock already pins TF 2.16 / Keras 3.8), plus what the pipeline tests and
# the Keras 3.8 engine tests need. Reads nothing outside this repository. Does nothing when
# the environment is complete.
#   bash pipelines/setup_tfx_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TFX_VENV:-.venv-tfx}"
LOCK="${TFX_LOCK:-pipelines/requirements-tfx.txt}"
# kfp-pipeline-spec: Kubeflow V2 compilation (0.2.2 is the last release on
# protobuf 3.x, which the lock pins); pytest: the pipeline tests and the engine tests of
# tests/keras38_tests.txt; hypothesis: property tests (6.168.5 is the last release for
# Python 3.10; its deps, sortedcontainers and exceptiongroup, are in the lock).
EXTRA=("kfp-pipeline-spec==0.2.2" "pytest==8.3.5" "hypothesis==6.168.5")

complete() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -I - <<'EOF' 2>/dev/null
import os, pip, pytest, hypothesis, tfx, tensorflow_transform, kfp.pipeline_spec, dimgrow_tf, serving
assert os.path.dirname(os.path.dirname(os.path.abspath(dimgrow_tf.__file__))) == os.getcwd()
EOF
}

find_python310() {
  local cand
  for cand in python3.10 \
      $(command -v pyenv >/dev/null 2>&1 && ls -d "$(pyenv root)"/versions/3.10*/bin/python3.10 2>/dev/null); do
    if command -v "$cand" >/dev/null 2>&1 \
        && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  return 1
}

if complete; then
  exit 0
fi
[ -f "$LOCK" ] || { echo "setup_tfx_env.sh: lock file $LOCK not found" >&2; exit 1; }
py=$(find_python310) || { echo "setup_tfx_env.sh: Python 3.10 is required (PATH or pyenv)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$py" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "pip<25"
"$VENV/bin/python" -m pip install -q -r "$LOCK"
"$VENV/bin/python" -m pip install -q -c "$LOCK" "${EXTRA[@]}"
"$VENV/bin/python" -m pip install -q --no-deps -e .
complete || { echo "setup_tfx_env.sh: $VENV is still incomplete" >&2; exit 1; }
