#!/usr/bin/env bash
# kiln benchmark: installs what it needs (Debian 12 packages, only when missing), builds
# kiln if needed, measures kiln vs PyTorch per-step training time and OpenBLAS's sgemm
# ceiling, and prints a table of ratios. Usage: bash bench/run.sh [run_bench.py options],
# e.g. --threads 2 --engine jit --models linreg,mlp_small --json results.json
# Environment: KILN_BUILD (build directory, default build), KILN_JOBS (ninja -j).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake ninja-build g++ gcc llvm-19-dev libzstd-dev libboost-dev libfmt-dev catch2
          python3 python3-numpy python3-torch libopenblas-dev)
bash scripts/install_packages.sh bench "${PACKAGES[@]}"

BUILD=${KILN_BUILD:-build}
if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
ninja -C "$BUILD" ${KILN_JOBS:+-j "$KILN_JOBS"} kiln kiln_monitor_bench >&2

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cc -O2 -Wall bench/sgemm_ceiling.c -o "$WORK/sgemm_ceiling" -lopenblas

# Debian's python3-torch is installed for the system interpreter.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
echo "bench: $(date -u '+%Y-%m-%d %H:%M UTC'), kiln $(git rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
"$PY" bench/run_bench.py --kiln "$BUILD/kiln" --monitor-bench "$BUILD/kiln_monitor_bench" --python "$PY" \
  --sgemm "$WORK/sgemm_ceiling" "$@"
