#!/bin/sh
# Builds jansson and zlib from their Debian sources with the fuzz build's sanitizers and
# libFuzzer coverage instrumentation, as static PIC libraries with pkg-config files, so that
# the JSON parsing behind the checkpoint/safetensors readers and the gzip decoding behind the
# IDX reader are fuzzed (and checked by ASan/UBSan) along with the library.
#
#   tests/fuzz/build_instrumented_deps.sh [SRC_DIR] [PREFIX]
#
# SRC_DIR (default /tmp/fuzz-src) receives the sources, PREFIX (default /tmp/fuzz-deps) the
# libraries. Needs clang, cmake, make, dpkg-dev and a deb-src entry in the APT sources
# (`apt-get update` after adding it). Then configure the fuzz build against PREFIX:
#
#   PKG_CONFIG_PATH=PREFIX/lib/pkgconfig CC=clang meson setup build-fuzz ...
#
# Not part of the normal build or test run.
set -eu

src=$(realpath -m "${1:-/tmp/fuzz-src}")
prefix=$(realpath -m "${2:-/tmp/fuzz-deps}")
cc=${CC:-clang}
cflags="-g -O1 -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all -fPIC"
jobs=${JOBS:-1}

mkdir -p "$src" "$prefix"
cd "$src"
ls -d jansson-*/src >/dev/null 2>&1 || apt-get source jansson
ls zlib-*/zlib.h >/dev/null 2>&1 || apt-get source zlib

# jansson: its CMake build (the Debian tarball has no generated configure); static by default.
jdir=$(ls -d "$src"/jansson-*/ | head -n 1)
rm -rf "$src/build-jansson"
cmake -S "$jdir" -B "$src/build-jansson" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$cflags" \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_INSTALL_LIBDIR=lib -DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF \
    -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON
make -C "$src/build-jansson" -j"$jobs" install

# zlib: static only, so -lz resolves to the instrumented archive.
zdir=$(ls -d "$src"/zlib-*/ | head -n 1)
cd "$zdir"
[ ! -f Makefile ] || make distclean
CC="$cc" CFLAGS="$cflags" ./configure --static --prefix="$prefix" --libdir="$prefix/lib"
make -j"$jobs" libz.a
make install

# The archives must carry libFuzzer's coverage hooks.
for lib in libjansson.a libz.a; do
    n=$(nm "$prefix/lib/$lib" 2>/dev/null | grep -c '__sanitizer_cov' || true)
    echo "$lib: $n __sanitizer_cov references"
    [ "$n" -gt 0 ]
done
