#!/bin/sh
# Throughput beside another process: MLP training and inference and ViT inference on 1 and on
# 2 threads, first on an idle machine, then with a busy loop pinned to the last
# core. Prints samples/s per case and the 2-thread / 1-thread ratio.
# usage: bench/run_under_load.sh [build-dir] [seconds-per-case]
set -eu
build=${1:-build}
seconds=${2:-2}
bench="$build/bench/bench_models"
last_core=$(($(nproc) - 1))

rate() { # threads model mode -> samples/s
    "$bench" -t "$1" -s "$seconds" "$2" "$3" | sed -n 's/.*samples_per_s=\([0-9.]*\).*/\1/p'
}

measure() { # label
    for case in "mlp train128" "mlp infer256" "vit infer256"; do
        one=$(rate 1 $case)
        two=$(rate 2 $case)
        echo "$1 $case: 1 thread $one, 2 threads $two samples/s, ratio" \
            "$(echo "$two $one" | awk '{printf "%.2f", $1 / $2}')"
    done
}

measure idle
taskset -c "$last_core" sh -c 'while :; do :; done' &
busy=$!
trap 'kill $busy' EXIT
measure busy
