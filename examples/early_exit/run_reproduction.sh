#!/bin/sh
# The early-exit reproduction on Fashion-MNIST: CNN and ViT x joint, disjoint, mixed x seeds,
# two runs at a time with one thread each, then the tables and plots of summarize.py.
#
#   examples/early_exit/run_reproduction.sh [--out DIR] [build-dir] [seeds]
#                                           [backbone-epochs exit-epochs] [train-images]
#
# Defaults: build, 3 seeds, 3 + 3 epochs, all 55000 training images. Runs go to
# <build-dir>/early_exit; the summary (early_exit_results.md and images/) to DIR, by default
# that same folder: the source tree changes only when asked, e.g. --out docs to record a run.
set -eu
summary=
if [ "${1:-}" = --out ]; then
    mkdir -p "$2"
    summary=$(cd "$2" && pwd)
    shift 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seeds=${2:-3}
a=${3:-3}
b=${4:-3}
images=${5:-0}
out=$build/early_exit
summary=${summary:-$out}
mkdir -p "$out"
ninja -C "$build" examples/early_exit_fmnist > /dev/null

run_arch() {
    for seed in $(seq 1 "$seeds"); do
        for regime in joint disjoint mixed; do
            json=$out/$1-$regime-$seed.json
            [ -s "$json" ] && continue # finished earlier: resume where it stopped
            "$build/examples/early_exit_fmnist" "$1" "$regime" "$seed" "$json.tmp" \
                "$a" "$b" 1 "$images" > "$out/$1-$regime-$seed.log" 2>&1
            mv "$json.tmp" "$json"
            echo "done: $1 $regime seed $seed ($(tail -1 "$out/$1-$regime-$seed.log"))"
        done
    done
}

run_arch cnn &
run_arch vit &
wait
/usr/bin/python3 "$here/summarize.py" "$out" "$summary/early_exit_results.md" "$summary/images"
echo "summary: $summary/early_exit_results.md"
