#!/bin/sh
# Installs the Debian 12 packages libadapt needs to build and test, if any
# is missing. Run as root (or through sudo). Debian's oneDNN CMake package asks
# for OpenCL, which libdnnl-dev does not pull in: without ocl-icd-opencl-dev the
# build silently leaves the oneDNN backend out.
set -eu
packages="gcc g++ meson ninja-build pkg-config cmake libopenblas-dev libdnnl-dev
          ocl-icd-opencl-dev check libsubunit-dev zlib1g-dev libjansson-dev python3-numpy
          python3-torch python3-pytest python3-matplotlib python3-sklearn dataset-fashion-mnist
          abigail-tools doxygen"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086 # word splitting is the point
    apt-get install -y -qq --no-install-recommends $missing
fi
