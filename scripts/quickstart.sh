#!/usr/bin/env bash
# Sets up and builds kiln, then checks an example model and shows the IR graph it builds.
# (Once training exists this becomes a training run.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=${1:-examples/breast_cancer.model}
echo "\$ build/kiln check $MODEL"
build/kiln check "$MODEL"
echo "ok: $MODEL has no errors"
echo "\$ build/kiln dump $MODEL --stage=ir"
build/kiln dump "$MODEL" --stage=ir
