#!/usr/bin/env bash
# The agreement check of CI (bench/README.md, "Agreement with PyTorch"): one training step
# from shared states, kiln against PyTorch in float64, with per-element tolerances derived
# from f32 rounding (bench/one_step.py); then 20 free-running steps as a smoke test, with
# tolerances from PyTorch's own float32-vs-float64 spread (bench/compare_losses.py).
# Needs python3-torch and python3-numpy: without them it prints "skipped" and passes, except
# under CI=true, where a missing tool fails the check.
# Usage: bash bench/check_agreement.sh [--threads N]   (KILN_BUILD: the build directory)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
while (($#)); do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    *) echo "check_agreement: unknown option '$1' (usage: check_agreement.sh [--threads N])" >&2; exit 2 ;;
  esac
done
build=${KILN_BUILD:-build}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  if [[ ${CI:-} == true ]]; then
    echo "check_agreement: FAILED: python3-torch and python3-numpy are needed (scripts/setup.sh installs them);" \
         "under CI=true a check that cannot run fails" >&2
    exit 1
  fi
  echo "skipped: torch not installed"
  exit 0
fi
ninja -C "$build" kiln kiln_one_step >/dev/null
start=$SECONDS
"$PY" bench/one_step.py --build "$build" --threads "$threads"
"$PY" bench/compare_losses.py --kiln "$build/kiln" --engine jit --threads "$threads"
echo "check_agreement: passed in $((SECONDS - start)) s"
