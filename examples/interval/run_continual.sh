#!/bin/sh
# Continual learning on Split Fashion-MNIST: three seeds of build/examples/continual_fmnist
# in each scenario, then the tables and plots of examples/interval/summarize_continual.py
# (docs/continual_results.md quotes them).
#
#   examples/interval/run_continual.sh [build-dir] [out-dir]   defaults: build, continual-results
#
# The environment may set EPOCHS (10), THREADS (0: all cores), SEEDS ("1 2 3"), SCENARIOS
# ("task domain class"), PYTHON (/usr/bin/python3), and what continual_fmnist reads.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
out=${2:-continual-results}
mkdir -p "$out"
: > "$out/results.csv"
for scenario in ${SCENARIOS:-task domain class}; do
    for seed in ${SEEDS:-1 2 3}; do
        (cd "$out" && "$build/examples/continual_fmnist" "$seed" "$scenario" results.csv \
            "${EPOCHS:-10}" "${THREADS:-0}")
    done
done
"${PYTHON:-/usr/bin/python3}" "$here/summarize_continual.py" "$out/results.csv" "$out"
