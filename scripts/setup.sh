#!/usr/bin/env bash
# Installs kiln's build dependencies (Debian 12 packages only; skipped when present) and
# builds kiln into build/. Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: cmake ninja-build g++ llvm-19-dev libzstd-dev libboost-dev libfmt-dev catch2.
# Tests (every tool a test uses: under CI=true a test that would skip for a missing tool
# fails instead): clang-19 + libfuzzer-19-dev + libclang-rt-19-dev (the parser fuzzer; the
# last holds clang's AddressSanitizer runtime, which neither of the others depends on),
# graphviz (renders dumps), python3 (validates JSON dumps), bsdutils (`script`: the colour
# test's terminal), python3-torch and python3-numpy (bench/check_agreement.sh: kiln
# against PyTorch).
PACKAGES=(cmake ninja-build g++ llvm-19-dev libzstd-dev libboost-dev libfmt-dev catch2
          clang-19 libfuzzer-19-dev libclang-rt-19-dev graphviz python3 bsdutils
          python3-torch python3-numpy)

bash scripts/install_packages.sh setup "${PACKAGES[@]}"

BUILD_TYPE=${KILN_BUILD_TYPE:-RelWithDebInfo}
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
fi
# Parallelism: ninja's default uses every core; KILN_JOBS limits it.
ninja -C build ${KILN_JOBS:+-j "$KILN_JOBS"}
echo "setup: built build/kiln"
