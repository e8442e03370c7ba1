#!/bin/sh
# Installs what is missing, builds libadapt and runs the main demo.
set -eu
cd "$(dirname "$0")/.."
sh tests/install_deps.sh
[ -d build ] || meson setup build
meson compile -C build
build/examples/fit_spiral "$@"
