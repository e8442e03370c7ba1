#!/bin/sh
# libadapt against PyTorch and ONNX Runtime on the MLP 784-1024-1024-1024-10 and the ViT
# (patch 4, dim 192, depth 6, 3 heads): training samples/s at batch 128, inference latency at
# batch 1, inference samples/s at batch 256 and peak memory, same thread count for all, with
# the machine's sgemm GFLOP/s as the yardstick of the ViT forward. Prints a Markdown table.
#
#   bench/run_models.sh [threads] [build-dir]      defaults: 2, <repo>/build
#
# Every (implementation, model, mode) runs in its own process, so each peak RSS is that case's
# alone; the three implementations of a case run back to back. Each process does WARMUP
# untimed iterations, then timed ones until it has at least ROUNDS and SECONDS have passed, and
# reports the median. Inference cases run REPEATS times round-robin (libadapt, PyTorch, ORT,
# libadapt, ...), so a slow spell of the machine hits every implementation alike, and the table
# shows the median over the repeats. The environment may override WARMUP (2), ROUNDS (5),
# REPEATS (3), SECONDS_INFER1 (2), SECONDS_INFER256 (3), SECONDS_TRAIN (3), PYTHON
# (/usr/bin/python3) and NODE (node).
# PyTorch and ONNX Runtime run the weights the PyTorch side exports, and libadapt loads the same
# weights. Logs and model files go to <build-dir>/bench/models.
set -eu

threads=${1:-2}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${2:-$here/../build}" && pwd)
python=${PYTHON:-/usr/bin/python3}
node=${NODE:-node}
warmup=${WARMUP:-2}
rounds=${ROUNDS:-5}
repeats=${REPEATS:-3}
work=$build/bench/models
results=$work/results.txt
log=$work/log.txt

mkdir -p "$work"
: > "$results"
: > "$log"
ninja -C "$build" bench/bench_models bench/bench_gemm >> "$log"
ort_dir=$("$here/peers/setup_ort.sh" 2>> "$log")

# One thread count everywhere: OpenMP (oneDNN, PyTorch), MKL, OpenBLAS.
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$python" "$here/peers/torch_models.py" export "$work" 2>> "$log"

# The machine's sgemm: the best raw call (OpenBLAS or oneDNN) at 1024 x 1024 x 1024.
sgemm=$("$build/bench/bench_gemm" "$threads" 1 | tee -a "$log" | awk '
    /GFLOP\/s/ { for (i = 1; i <= NF; i++) if ($i == "blas" || $i == "dnnl") col[i] = 1 }
    /^ *1024 x 1024 x 1024/ { for (i in col) if ($i > best) best = $i }
    END { printf "%.1f", best }')

seconds_for() {
    case $1 in
    infer1) echo "${SECONDS_INFER1:-2}" ;;
    infer256) echo "${SECONDS_INFER256:-3}" ;;
    *) echo "${SECONDS_TRAIN:-3}" ;;
    esac
}

# Runs one case and keeps its result line; a failure is logged and leaves a gap in the table.
measure() {
    echo "== $*" >> "$log"
    if out=$("$@" 2>> "$log"); then
        echo "$out" | grep '^result ' >> "$results" || true
    else
        echo "failed: $*" >&2
    fi
}

for model in mlp vit; do
    weights=$work/$model.safetensors
    for mode in train128 infer1 infer256; do
        s=$(seconds_for "$mode")
        n=$repeats
        [ "$mode" = train128 ] && n=1
        for repeat in $(seq 1 "$n"); do
            echo "measuring $model $mode ($repeat of $n) ..." >&2
            measure "$build/bench/bench_models" -t "$threads" -w "$weights" -W "$warmup" \
                -n "$rounds" -s "$s" "$model" "$mode"
            measure "$python" "$here/peers/torch_models.py" run "$model" "$mode" \
                --threads "$threads" --weights "$weights" --warmup "$warmup" \
                --rounds "$rounds" --seconds "$s"
            if [ "$mode" != train128 ]; then
                measure "$node" "$here/peers/ort_models.mjs" "$ort_dir" "$work/$model.onnx" \
                    "$model" "$mode" "$threads" "$warmup" "$rounds" "$s"
            fi
        done
    done
done

torch_version=$("$python" -c 'import torch; print(torch.__version__)')
ort_version=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
    "$ort_dir/node_modules/onnxruntime-node/package.json")
echo
echo "$threads threads; PyTorch $torch_version; ONNX Runtime $ort_version (onnxruntime-node);" \
     "medians after $warmup warm-up iterations, inference the median of $repeats" \
     "round-robin repeats; load average $load_before before," \
     "$(cut -d' ' -f1-3 /proc/loadavg) after"
echo
awk -v sgemm="$sgemm" -f "$here/models_table.awk" "$results"
