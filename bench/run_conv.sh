#!/bin/sh
# The early-exit CNN's convolutions, libadapt (bench_conv) against PyTorch (peers/torch_conv.py)
# on the same shapes and thread count; prints a Markdown table with milliseconds, multiply-adds
# per second and PyTorch's time over libadapt's (above 1: libadapt is faster).
#
#   bench/run_conv.sh [threads] [batch] [build-dir]      defaults: 2, 256, <repo>/build
set -eu
threads=${1:-2}
batch=${2:-256}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${3:-$here/../build}" && pwd)
python=${PYTHON:-/usr/bin/python3}
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
ninja -C "$build" bench/bench_conv > /dev/null
results=$(mktemp)
trap 'rm -f "$results"' EXIT
"$build/bench/bench_conv" -t "$threads" -b "$batch" >> "$results"
"$python" "$here/peers/torch_conv.py" --threads "$threads" --batch "$batch" >> "$results"
echo "$threads threads, batch $batch, medians of 41 interleaved rounds"
awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
    f["impl"] == "libadapt" { order[++n] = f["layer"]; ms[f["layer"]] = f["ms"]; g[f["layer"]] = f["gmacs"] }
    f["impl"] == "pytorch" { tms[f["layer"]] = f["ms"]; tg[f["layer"]] = f["gmacs"] }
    END {
        print "| layer | libadapt ms | GMAC/s | PyTorch ms | GMAC/s | PyTorch / libadapt |"
        print "|---|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            l = order[i]; a += ms[l]; b += tms[l]
            printf "| %s | %.3f | %.1f | %.3f | %.1f | %.2f |\n", l, ms[l], g[l], tms[l], tg[l], tms[l] / ms[l]
        }
        printf "| all ten | %.3f | | %.3f | | %.2f |\n", a, b, b / a
    }' "$results"
