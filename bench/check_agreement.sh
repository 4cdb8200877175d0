#!/usr/bin/env bash
# Optional CI check: kiln and PyTorch agree on the loss of every training step (1e-4
# relative) from the same initial parameters and data order (bench/compare_losses.py).
# Exits 0 with "skipped: torch not installed" when PyTorch is absent.
# Usage: bash bench/check_agreement.sh [compare_losses.py options, e.g. --engine interp]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "skipped: torch not installed"
  exit 0
fi
exec "$PY" bench/compare_losses.py --kiln "${KILN_BUILD:-build}/kiln" "$@"
