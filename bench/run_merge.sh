#!/bin/sh
# Merging time and peak memory against the number of sources (docs/benchmarks.md): the
# timing table of bench_merge, then each call's peak heap, measured by valgrind's massif as
# the peak with the call less the peak of the same setup without it.
#
#   bench/run_merge.sh [build-dir] [sizes...]     (default build, MLP 784 512 512 10)
#   bench/plot_merge.py OUTPUT PNG                 draws what it printed
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
[ $# -gt 0 ] && shift
sizes="$*"
bench=$build/bench/bench_merge
ninja -C "$build" bench/bench_merge > /dev/null
"$bench" 3 $sizes
peak() { # method n: massif's largest heap (useful + extra bytes) over the run, in KiB
    out=$(mktemp)
    valgrind --tool=massif --massif-out-file="$out" "$bench" --once "$1" "$2" $sizes \
        > /dev/null 2>&1
    awk -F= '/mem_heap_B/ {h = $2} /mem_heap_extra_B/ {if (h + $2 > m) m = h + $2}
             END {printf "%d", m / 1024}' "$out"
    rm -f "$out"
}
setup=$(peak none 1)
printf '%-22s %8s %12s\n' method sources "peak KiB"
for method in tune_singular_values axis task_arithmetic ties; do
    for n in 1 2 4 8 16; do
        printf '%-22s %8d %12d\n' "$method" "$n" $(( $(peak "$method" "$n") - setup ))
    done
done
