#!/bin/sh
# IBP training and certification on Fashion-MNIST: three seeds of build/examples/ibp_fmnist,
# then the tables and plot of examples/interval/summarize.py (docs/interval_results.md quotes
# them).
#
#   examples/interval/run_reproduction.sh [build-dir] [out-dir]   defaults: build, ibp-results
#
# The environment may set EPOCHS (10), THREADS (0: all cores), SEEDS ("1 2 3"), IBP_MODELS
# ("mlp cnn") and PYTHON (/usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
out=${2:-ibp-results}
mkdir -p "$out"
: > "$out/results.csv"
for seed in ${SEEDS:-1 2 3}; do
    (cd "$out" && "$build/examples/ibp_fmnist" "$seed" results.csv "${EPOCHS:-10}" \
        "${THREADS:-0}")
done
"${PYTHON:-/usr/bin/python3}" "$here/summarize.py" "$out/results.csv" "$out"
