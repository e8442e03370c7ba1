#!/bin/sh
# Adaptive Computation Modules against the dense ViT they stand in for, at batch 1 and batch
# 256 (65 ViT tokens per image): measured speed-ups next to the speed-ups the FLOPs predict,
# for every fixed learner count (latency against executed learners) and for gates shaped
# around each budget. Prints a Markdown table.
#
#   bench/run_acm.sh [threads] [build-dir]      defaults: 2, <repo>/build
#
# The environment may override SECONDS_PER_CASE (2) and LEARNERS (4). Logs go to
# <build-dir>/bench/acm.
set -eu
threads=${1:-2}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${2:-$here/../build}" && pwd)
seconds=${SECONDS_PER_CASE:-2}
work=$build/bench/acm
mkdir -p "$work"
ninja -C "$build" bench/bench_acm > "$work/log.txt"
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
: > "$work/results.txt"
for batch in 1 256; do
    echo "measuring batch $batch ..." >&2
    "$build/bench/bench_acm" -t "$threads" -b "$batch" -s "$seconds" -l "${LEARNERS:-4}" \
        2>> "$work/log.txt" >> "$work/results.txt"
done
echo
echo "$threads threads, ${LEARNERS:-4} learners per MLP; medians of at least ${seconds} s per case"
echo
awk -f "$here/acm_table.awk" "$work/results.txt"
