#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in build-fuzz/ (clang-19, ASan + UBSan), replays
# every regression file, then fuzzes each target for a bounded time on its seed corpus.
# Usage: bash scripts/fuzz.sh [TARGET...]   (default: all; KILN_FUZZ_TIME seconds each, 30)
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(parser_fuzz pipeline_fuzz csv_fuzz npy_fuzz safetensors_fuzz json_fuzz ir_text_fuzz)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL[@]}")
FUZZ_TIME=${KILN_FUZZ_TIME:-30}

if [[ ! -f build-fuzz/build.ninja ]]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_FUZZ=ON \
        -DCMAKE_CXX_COMPILER=clang++-19
fi
ninja -C build-fuzz "${TARGETS[@]}" ${KILN_JOBS:+-j "$KILN_JOBS"}

# The regression folders of a target: its own; pipeline_fuzz reads models too, and replays
# the parser's regressions as well.
regression_dirs() {
  [[ $1 == pipeline_fuzz ]] && echo tests/fuzz/regressions/parser_fuzz
  echo "tests/fuzz/regressions/$1"
}
# The seed files of a target: the repository's own inputs of that reader, hand-made seeds
# (tests/fuzz/seeds/TARGET) and every regression (regression_dirs).
seeds() {
  case $1 in
    parser_fuzz | pipeline_fuzz) ls examples/*.model examples/*/*.model tests/golden/*/*.model ;;
    csv_fuzz) ls tests/data/*.csv examples/data/*.csv ;;
    npy_fuzz) find tests/data -name '*.npy' ;;
    safetensors_fuzz) find tests/data -name '*.safetensors' ;;
    json_fuzz) find tests/golden -name '*.json.expected' -o -name '*.check-json.expected' \
                 -o -name '*.sarif.expected' ;;
    ir_text_fuzz) find tests/golden -name '*.ir.expected' -o -name '*.grad.expected' -o -name '*.opt.expected' ;;
  esac
  find "tests/fuzz/seeds/$1" $(regression_dirs "$1") -type f 2>/dev/null || true
}
# Inputs up to this size: a model, a CSV's first lines, an NPY or safetensors file of a few
# tensors, a JSON document, an IR dump (the CSV and JSON seeds are cut to it).
max_len() {
  case $1 in
    csv_fuzz | npy_fuzz | safetensors_fuzz) echo 4096 ;;
    *) echo 8192 ;;
  esac
}

failed=()
for t in "${TARGETS[@]}"; do
  bin=build-fuzz/tests/$t
  corpus=build-fuzz/corpus/$t
  artifacts=build-fuzz/artifacts/$t/
  log=build-fuzz/$t.log
  mkdir -p "$corpus" "$artifacts"
  : >"$log"
  # Unique names in the corpus (examples_iris.model, ...); CSV files cut to their first lines.
  while read -r f; do
    dest=$corpus/${f//\//_}
    if [[ $t == csv_fuzz ]]; then head -n 40 "$f" | head -c "$(max_len "$t")" >"$dest"; else cp "$f" "$dest"; fi
  done < <(seeds "$t")

  # Every regression once, as it is (a crash here fails the run even if fuzzing would not
  # reach it again).
  mapfile -t regressions < <(find $(regression_dirs "$t") -type f 2>/dev/null | sort)
  if ((${#regressions[@]})); then
    echo "fuzz: $t: replaying ${#regressions[@]} regression file(s)"
    if ! "$bin" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" >>"$log" 2>&1; then
      tail -n 40 "$log"
      echo "fuzz: $t fails on a regression file; see $log" >&2
      failed+=("$t")
      continue
    fi
  fi

  echo "fuzz: $t for ${FUZZ_TIME}s ($(ls "$corpus" | wc -l) inputs in its corpus)"
  # A crash, sanitizer report, leak, timeout (10 s on one input) or running out of memory
  # (2 GB) makes libFuzzer exit non-zero and leave the input in build-fuzz/artifacts/TARGET/.
  status=0
  "$bin" -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >>"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
  echo "fuzz: $t: ${runs:-?} inputs run, ${added:-?} new in the corpus"
  if [[ $status -ne 0 ]]; then
    tail -n 40 "$log"
    echo "fuzz: $t found a failure (exit $status); see $log, reproducer in $artifacts" >&2
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} target(s) passed"
