#!/usr/bin/env bash
# Sets up and builds kiln, runs the whole test suite (CTest), the agreement check against
# PyTorch, the fuzzers (scripts/fuzz.sh) and the suite under ASan + UBSan (scripts/sanitize.sh).
# Under CI=true (.ci/run) a test that would skip for a missing tool fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

ctest --test-dir build --output-on-failure ${KILN_JOBS:+-j "$KILN_JOBS"} 2>&1 | tee build/ctest.log
total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' build/ctest.log | tail -n 1)

# kiln against PyTorch: one training step from shared states, every element within its
# f32 rounding tolerance, and 20 free-running steps as a smoke test (bench/README.md,
# "Agreement with PyTorch"). Without python3-torch it is skipped, except under CI=true.
bash bench/check_agreement.sh

# The fuzzers (scripts/fuzz.sh): one libFuzzer target per reader and one for the compile
# pipeline, built by clang-19 with ASan + UBSan in build-fuzz/; every regression file
# replayed, then each target fuzzed for KILN_FUZZ_TIME seconds (30). A crash, leak, timeout
# or OOM fails the run.
start=$SECONDS
bash scripts/fuzz.sh
echo "test: fuzzers took $((SECONDS - start))s"

# The sanitizer run (scripts/sanitize.sh): the CTest suite again, built by clang-19 with
# ASan + UBSan in build-asan/; any report fails the test that triggered it.
start=$SECONDS
bash scripts/sanitize.sh
asan_total=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' build-asan/ctest.log | tail -n 1)
echo "test: sanitizer build and suite took $((SECONDS - start))s"

fuzzers=$(ls tests/fuzz/*_fuzz.cpp | wc -l)
echo "test: all passed (CTest, the agreement check, the $fuzzers fuzzers, CTest under ASan + UBSan)"
echo "tests: $((total + 1 + fuzzers + asan_total)) passed, 0 failed"
