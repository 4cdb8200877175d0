#!/usr/bin/env bash
# Sets up and builds kiln, checks an example model, then trains it on its bundled real
# data with the JIT (20% of the rows held out for validation) and saves the parameters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=${1:-examples/breast_cancer.model}
NAME=$(basename "$MODEL" .model)
DATA=${2:-examples/data/$NAME.csv}
mkdir -p out
echo "\$ build/kiln check $MODEL"
build/kiln check "$MODEL"
echo "\$ build/kiln train $MODEL --data $DATA --val-split 0.2 --save out/$NAME.safetensors --log out/$NAME.jsonl"
build/kiln train "$MODEL" --data "$DATA" --val-split 0.2 --save "out/$NAME.safetensors" --log "out/$NAME.jsonl"
echo "\$ build/kiln eval $MODEL --params out/$NAME.safetensors --data $DATA"
build/kiln eval "$MODEL" --params "out/$NAME.safetensors" --data "$DATA"
