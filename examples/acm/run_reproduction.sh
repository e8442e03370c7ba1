#!/bin/sh
# The ACM reproduction on Fashion-MNIST: three seeds of build/examples/acm_fmnist, then the
# tables and plots of examples/acm/summarize.py (docs/acm_results.md quotes them). With the
# D2DMoE reproduction's results.csv of the same seeds (examples/moe/run_reproduction.sh) as
# MOE_RESULTS, its curve joins the plot: both start from the same dense ViTs.
#
#   examples/acm/run_reproduction.sh [build-dir] [out-dir]   defaults: build, acm-results
#
# The environment may set EPOCHS (3), LEARNERS (4), THREADS (0: all cores), SEEDS ("1 2 3"),
# MOE_RESULTS and PYTHON (/usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
out=${2:-acm-results}
mkdir -p "$out"
: > "$out/results.csv"
for seed in ${SEEDS:-1 2 3}; do
    (cd "$out" && "$build/examples/acm_fmnist" "$seed" results.csv "${EPOCHS:-3}" \
        "${LEARNERS:-4}" "${THREADS:-0}")
done
"${PYTHON:-/usr/bin/python3}" "$here/summarize.py" "$out/results.csv" "$out" ${MOE_RESULTS:-}
