#!/bin/sh
# Dynamic-k Mixture-of-Experts layers against the dense network they were split from, at batch
# 1 and batch 256 (65 ViT tokens per image), with PyTorch's reference CPU path (per-expert
# gather, two matmuls, index_add) on the same weights and inputs: measured speed-ups next to
# the speed-ups the FLOPs predict. Prints a Markdown table.
#
#   bench/run_moe.sh [threads] [build-dir]      defaults: 2, <repo>/build
#
# The environment may override SECONDS_PER_CASE (2), EXPERTS (24), TAUS ("0 0.1 0.2 0.3 0.4
# 0.5 0.6 0.8 1") and PYTHON (/usr/bin/python3). Logs and exported weights go to
# <build-dir>/bench/moe.
set -eu
threads=${1:-2}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${2:-$here/../build}" && pwd)
python=${PYTHON:-/usr/bin/python3}
seconds=${SECONDS_PER_CASE:-2}
taus=${TAUS:-0 0.1 0.2 0.3 0.4 0.5 0.6 0.8 1}
work=$build/bench/moe
mkdir -p "$work"
ninja -C "$build" bench/bench_moe > "$work/log.txt"
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
: > "$work/results.txt"
for batch in 1 256; do
    echo "measuring batch $batch ..." >&2
    # shellcheck disable=SC2086 # taus are separate arguments
    "$build/bench/bench_moe" -t "$threads" -b "$batch" -e "${EXPERTS:-24}" -s "$seconds" \
        -o "$work" $taus 2>> "$work/log.txt" | sed "s/^result /result impl=libadapt /" \
        >> "$work/results.txt"
    # shellcheck disable=SC2086
    "$python" "$here/peers/torch_moe.py" "$work" "$threads" "$seconds" $taus \
        2>> "$work/log.txt" | sed "s/^result /result batch=$batch /" >> "$work/results.txt"
done
echo
echo "$threads threads, ${EXPERTS:-24} experts of 32 units per MLP, PyTorch $("$python" -c \
    'import torch; print(torch.__version__)'); medians of at least ${seconds} s per case"
echo
awk -f "$here/moe_table.awk" "$work/results.txt"
