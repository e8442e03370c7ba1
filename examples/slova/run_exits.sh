#!/bin/sh
# SLOVA heads as early exits on Fashion-MNIST: the CNN of the early-exit reproduction with
# SDN heads, trained in the mixed regime on the cross-entropy and on the one-vs-all loss, a
# pair of runs at a time with one thread each, then the tables of summarize_exits.py.
#
#   examples/slova/run_exits.sh [--out DIR] [build-dir] [seeds] [backbone-epochs exit-epochs]
#
# Defaults: build, 3 seeds, 3 + 3 epochs. Runs go to <build-dir>/slova_exits; the summary
# (slova_exits_results.md) to DIR, by default that same folder.
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
out=$build/slova_exits
summary=${summary:-$out}
mkdir -p "$out"
ninja -C "$build" examples/early_exit_fmnist > /dev/null

run() { # loss seed [--one-vs-all]
    json=$out/$1-$2.json
    [ -s "$json" ] && return # finished earlier: resume where it stopped
    "$build/examples/early_exit_fmnist" ${3:-} cnn mixed "$2" "$json.tmp" "$a" "$b" 1 \
        > "$out/$1-$2.log" 2>&1
    mv "$json.tmp" "$json"
    echo "done: $1 seed $2 ($(tail -1 "$out/$1-$2.log"))"
}

for seed in $(seq 1 "$seeds"); do
    run cross_entropy "$seed" &
    run one_vs_all "$seed" --one-vs-all &
    wait
done
/usr/bin/python3 "$here/summarize_exits.py" "$out" > "$summary/slova_exits_results.md"
echo "summary: $summary/slova_exits_results.md"
