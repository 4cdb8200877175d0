#!/usr/bin/env bash
# Builds kiln and the CTest suite with AddressSanitizer + UBSan (clang-19) in build-asan/ and
# runs the suite there: a sanitizer report anywhere (the tests, or a kiln they run) fails it.
# Usage: bash scripts/sanitize.sh [CTEST ARGS...]   (e.g. -R golden to run a part)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f build-asan/build.ninja ]]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_SANITIZE=ON \
        -DCMAKE_CXX_COMPILER=clang++-19
fi
ninja -C build-asan kiln kiln_tests ${KILN_JOBS:+-j "$KILN_JOBS"}

# halt_on_error: the first report ends the process. exitcode=86: a kiln that a test runs and
# that a sanitizer stops does not pass for a kiln that exits 1 on a model's errors.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:exitcode=86:${ASAN_OPTIONS:-}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86:${UBSAN_OPTIONS:-}

ctest --test-dir build-asan --output-on-failure -j "${KILN_JOBS:-$(nproc)}" "$@" 2>&1 | tee build-asan/ctest.log
