#!/bin/sh
# The D2DMoE reproduction on Fashion-MNIST: three seeds of build/examples/d2dmoe_fmnist, then
# the tables and plots of examples/moe/summarize.py (docs/moe_results.md quotes them).
#
#   examples/moe/run_reproduction.sh [build-dir] [out-dir]   defaults: build, moe-results
#
# The environment may set MODEL (vit or mlp), EPOCHS (3), ALPHA (0.01), EXPERTS (16),
# THREADS (0: all cores), SEEDS ("1 2 3") and PYTHON (/usr/bin/python3). The documented runs:
#   examples/moe/run_reproduction.sh
#   MODEL=mlp EPOCHS=5 EXPERTS=32 examples/moe/run_reproduction.sh build moe-results-mlp
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
out=${2:-moe-results}
mkdir -p "$out"
: > "$out/results.csv"
for seed in ${SEEDS:-1 2 3}; do
    (cd "$out" && "$build/examples/d2dmoe_fmnist" "$seed" results.csv "${EPOCHS:-3}" \
        "${ALPHA:-0.01}" "${EXPERTS:-16}" "${THREADS:-0}" "${MODEL:-vit}")
done
"${PYTHON:-/usr/bin/python3}" "$here/summarize.py" "$out/results.csv" "$out" "${MODEL:-vit}"
