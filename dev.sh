#!/usr/bin/env bash
# Sets up the environments and runs the project's jobs. Reads nothing outside this repository.
#   bash dev.sh demo     - set up .venv, then search + retrain on generated data
#   bash dev.sh test     - set up .venv, .venv-tfx and .venv-tfrs, then run the whole test suite:
#                          pipelines/tests and the engine tests listed in tests/keras38_tests.txt
#                          in .venv-tfx (Keras 3.8 / TF 2.16), tests_tfrs/ in .venv-tfrs
#                          (tf_keras), then tests/ in .venv
#   bash dev.sh test-tfx - set up .venv-tfx, then run only the TFX pipeline tests
#   bash dev.sh test-keras38 - set up .venv-tfx, then run only the engine tests on Keras 3.8
#   bash dev.sh test-tfrs - set up .venv-tfrs (TF 2.21 on tf_keras + TFRS 0.7.7), then run
#                          tests_tfrs/ with TF_USE_LEGACY_KERAS=1
#   bash dev.sh setup    - set up the three environments
#   bash dev.sh lock     - refresh requirements/constraints-py3.11.txt from an unpinned install
#                          in a temporary venv (run `bash dev.sh test` before committing it)
set -euo pipefail
cd "$(dirname "$0")"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
VENV=.venv
TFX_VENV=.venv-tfx
CONSTRAINTS=requirements/constraints-py3.11.txt
KERAS38_TESTS=tests/keras38_tests.txt
TFRS_VENV=.venv-tfrs
TFRS_CONSTRAINTS=requirements/constraints-tfrs-py3.11.txt
# What .venv-tfrs gets: the core lock's TF with tf_keras and TFRS, this package (editable), and
# what tests_tfrs/ needs (pytest; tensorflow-serving-api for the export's warmup requests).
TFRS_REQS=(tensorflow tf-keras tensorflow-recommenders pytest tensorflow-serving-api -e .)
# What .venv gets: TF, this package (editable) with its test, bench, rs (keras-rs: dcn_v2)
# and text (keras-hub, tensorflow-text: text fields) extras, so no test skips for want of them.
CORE_REQS=(tensorflow -e ".[test,bench,rs,text]")
# Also named for `dev.sh lock`: the optional packages the project uses (setup installs them
# through the rs and text extras; the test extra covers the serving and tensorboard extras).
LOCK_EXTRA=(keras-rs keras-hub tensorflow-text)

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

# The hash of the locks given and the package metadata: a venv's setup stamp.
setup_stamp() { cat "$@" setup.cfg | sha256sum | cut -d' ' -f1; }

# venv_ready VENV STAMP ENV MODULES: VENV was set up with STAMP and imports MODULES
# (with ENV, e.g. TF_USE_LEGACY_KERAS=1, set).
venv_ready() {
  [ -x "$1/bin/python" ] \
    && [ "$(cat "$1/.dimgrow-setup-stamp" 2>/dev/null)" = "$2" ] \
    && env $3 "$1/bin/python" -I -c "import $4" 2>/dev/null
}

# setup_venv VENV ENV MODULES LOCK... -- REQ...: a Python 3.11 venv with REQ installed under
# every LOCK, unless it is ready already (see venv_ready).
setup_venv() {
  local venv=$1 env_vars=$2 modules=$3 locks=() constraints=() stamp py
  shift 3
  while [ "$1" != "--" ]; do
    [ -f "$1" ] || { echo "dev.sh: $1 not found" >&2; exit 1; }
    locks+=("$1"); constraints+=(-c "$1"); shift
  done
  shift
  stamp=$(setup_stamp "${locks[@]}")
  venv_ready "$venv" "$stamp" "$env_vars" "$modules" && return 0
  if [ ! -x "$venv/bin/python" ]; then
    py=$(find_python 3.11) || { echo "dev.sh: Python 3.11 is required" >&2; exit 1; }
    "$py" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q "${constraints[@]}" --upgrade pip
  "$venv/bin/python" -m pip install -q "${constraints[@]}" "$@"
  echo "$stamp" > "$venv/.dimgrow-setup-stamp"
  venv_ready "$venv" "$stamp" "$env_vars" "$modules" \
    || { echo "dev.sh: $venv is still incomplete" >&2; exit 1; }
}

setup_core() {
  setup_venv "$VENV" "" "dimgrow_tf, serving, tensorflow, pytest, hypothesis, tensorboard, matplotlib, keras_rs, keras_hub, tensorflow_text" \
    "$CONSTRAINTS" -- "${CORE_REQS[@]}"
}

setup_tfx() { bash pipelines/setup_tfx_env.sh; }

setup_tfrs() {
  setup_venv "$TFRS_VENV" "TF_USE_LEGACY_KERAS=1" "dimgrow_tf, tf_keras, tensorflow_recommenders, pytest, tensorflow_serving" \
    "$CONSTRAINTS" "$TFRS_CONSTRAINTS" -- "${TFRS_REQS[@]}"
}

run_tfrs_tests() {
  echo "== TFRS tests on tf_keras ($TFRS_VENV, TF_USE_LEGACY_KERAS=1) =="
  TF_USE_LEGACY_KERAS=1 "$TFRS_VENV/bin/python" -m pytest -q tests_tfrs "$@"
}

# Prints the test files of $KERAS38_TESTS, one a line (comments and blank lines dropped).
keras38_tests() {
  [ -f "$KERAS38_TESTS" ] || { echo "dev.sh: $KERAS38_TESTS not found" >&2; return 1; }
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$KERAS38_TESTS"
}

run_keras38_tests() {
  local files
  mapfile -t files < <(keras38_tests)
  [ "${#files[@]}" -gt 0 ] || { echo "dev.sh: $KERAS38_TESTS lists no test" >&2; return 1; }
  echo "== engine tests on Keras 3.8 / TF 2.16 ($TFX_VENV, $KERAS38_TESTS) =="
  "$TFX_VENV/bin/python" -m pytest -q "${files[@]}" "$@"
}

lock() {
  local tmp py
  py=$(find_python 3.11) || { echo "dev.sh: Python 3.11 is required" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m venv "$tmp/venv"
  "$tmp/venv/bin/python" -m pip install -q --upgrade pip
  "$tmp/venv/bin/python" -m pip install -q "${CORE_REQS[@]}" "${LOCK_EXTRA[@]}"
  {
    sed -n '/^#/p;/^#/!q' "$CONSTRAINTS"
    "$tmp/venv/bin/python" -m pip freeze --all --exclude-editable \
      | grep -viE '^(setuptools|dimgrow-tf)=='
  } > "$tmp/lock.txt"
  mv "$tmp/lock.txt" "$CONSTRAINTS"
  echo "Wrote $CONSTRAINTS. Run 'bash dev.sh test' and commit it only if the tests pass:"
  git --no-pager diff --stat -- "$CONSTRAINTS" 2>/dev/null || true
}

cmd="${1:-}"
shift || true
case "$cmd" in
  setup) setup_core; setup_tfx; setup_tfrs ;;
  demo)  setup_core; exec "$VENV/bin/dimgrow" demo "$@" ;;
  test)  setup_core; setup_tfx; setup_tfrs
         rc=0
         echo "== TFX pipeline tests ($TFX_VENV) =="
         "$TFX_VENV/bin/python" -m pytest -q pipelines/tests || rc=$?
         run_keras38_tests || rc=$?
         run_tfrs_tests || rc=$?
         echo "== all tests ($VENV) =="
         "$VENV/bin/python" -m pytest -q "$@" || rc=$?
         exit $rc ;;
  test-tfx) setup_tfx; exec "$TFX_VENV/bin/python" -m pytest -q pipelines/tests "$@" ;;
  test-keras38) setup_tfx; run_keras38_tests "$@" ;;
  test-tfrs) setup_tfrs; run_tfrs_tests "$@" ;;
  lock)  lock ;;
  *) echo "usage: bash dev.sh {setup|demo|test|test-tfx|test-keras38|test-tfrs|lock} [args]" >&2; exit 2 ;;
esac
