#!/bin/sh
# Installs the build into a scratch root, then compiles and runs a program
# with nothing but `pkg-config --cflags --libs libadapt`.
set -eu
build="$1" source="$2"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet
pcdir=$(dirname "$(find "$root" -name libadapt.pc | head -n 1)")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs libadapt)
echo "pkg-config: $flags"
cc -std=c11 -Wall -Werror "$source" $flags -o "$root/consumer"
libdir=$(dirname "$(find "$root" -name 'libadapt.so' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$root/consumer"
