#!/usr/bin/env bash
# Sets up and builds kiln, runs the whole test suite (CTest) and the agreement check against
# PyTorch, then builds the parser fuzzer with clang-19 (libFuzzer + AddressSanitizer) and
# runs it for a bounded time. Under CI=true (.ci/run) a test that would skip for a missing
# tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

ctest --test-dir build --output-on-failure ${KILN_JOBS:+-j "$KILN_JOBS"} 2>&1 | tee build/ctest.log
total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' build/ctest.log | tail -n 1)

# kiln against PyTorch: one training step from shared states, every element within its
# f32 rounding tolerance, and 20 free-running steps as a smoke test (bench/README.md,
# "Agreement with PyTorch"). Without python3-torch it is skipped, except under CI=true.
bash bench/check_agreement.sh

# The fuzzer: its own build directory, compiled by clang-19 (KILN_FUZZ=ON builds only the
# front end, IR, passes and backend sources it needs, instrumented).
FUZZ_TIME=${KILN_FUZZ_TIME:-60}
if [[ ! -f build-fuzz/build.ninja ]]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_FUZZ=ON \
        -DCMAKE_CXX_COMPILER=clang++-19
fi
ninja -C build-fuzz parser_fuzz ${KILN_JOBS:+-j "$KILN_JOBS"}

corpus=build-fuzz/corpus
mkdir -p "$corpus" build-fuzz/artifacts
for f in examples/*.model examples/*/*.model tests/golden/*/*.model tests/fuzz/regressions/*.model; do
  cp "$f" "$corpus/${f//\//_}"   # unique names: examples_iris.model, ...
done
echo "test: fuzzing the parser for ${FUZZ_TIME}s"
# A crash, leak or timeout makes the fuzzer exit non-zero and fails this script.
status=0
build-fuzz/tests/parser_fuzz -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 \
  -max_len=8192 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ \
  "$corpus" >build-fuzz/fuzz.log 2>&1 || status=$?
tail -n 30 build-fuzz/fuzz.log
if [[ $status -ne 0 ]]; then
  echo "test: the fuzzer found a failure (exit $status); see build-fuzz/fuzz.log, reproducer in build-fuzz/artifacts/" >&2
  exit 1
fi
echo "test: all passed (CTest, the agreement check and the fuzzer)"
echo "tests: $((total + 2)) passed, 0 failed"
