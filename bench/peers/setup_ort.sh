#!/bin/sh
# Installs onnxruntime-node (CPU) into a scratch directory, once.
#
#   setup_ort.sh [directory]    default: ${XDG_CACHE_HOME:-~/.cache}/libadapt-bench/ort
#
# Prints the directory that holds node_modules/onnxruntime-node. The package's install script
# is skipped: it fetches a GPU build and fails without one, while the CPU library the package
# bundles is all the benchmark needs.
set -eu

ORT_VERSION=1.20.1
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/libadapt-bench/ort}
installed=$dir/node_modules/onnxruntime-node/package.json

if ! [ -f "$installed" ] || ! grep -q "\"version\": \"$ORT_VERSION\"" "$installed"; then
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
    (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund \
        "onnxruntime-node@$ORT_VERSION" >&2)
fi
echo "$dir"
