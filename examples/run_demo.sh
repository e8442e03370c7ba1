#!/bin/sh
# Installs what is missing, builds libadapt, trains an MLP on Fashion-MNIST
# (arguments go to train_fmnist: mlp|cnn|vit [epochs] [checkpoint] [threads]),
# then reloads the checkpoint and classifies the test set with it.
set -eu
cd "$(dirname "$0")/.."
sh tests/install_deps.sh
[ -d build ] || meson setup build
meson compile -C build
data=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
arch=${1:-mlp}
epochs=${2:-5}
checkpoint=${3:-build/fmnist-$arch.safetensors}
build/examples/train_fmnist "$arch" "$epochs" "$checkpoint" ${4:+"$4"}
build/examples/classify "$checkpoint" "$data/t10k-images-idx3-ubyte.gz" \
    "$data/t10k-labels-idx1-ubyte.gz"
