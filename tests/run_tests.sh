#!/bin/sh
# Installs what is missing, builds libadapt, and runs every test twice:
# in a release build, then under AddressSanitizer + UndefinedBehaviorSanitizer;
# then the tests of threads once more under ThreadSanitizer.
set -eu
cd "$(dirname "$0")/.."
sh tests/install_deps.sh

[ -d build ] || meson setup build
meson compile -C build
meson test -C build --print-errorlogs -v

[ -d build-sanitize ] || meson setup build-sanitize --buildtype=debug \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
meson compile -C build-sanitize
# The install test links a plain program to the library, which an
# instrumented library cannot serve; the release run covers it. The abi suite
# checks the interface of the library users get, also done by the release run.
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-sanitize --print-errorlogs -v --no-suite install --no-suite parity --no-suite python \
        --no-suite abi

# ThreadSanitizer sees only instrumented code: oneDNN is not, and would make
# false reports, so this build has no oneDNN. Only the concurrency suite runs
# here, so only its program is built.
[ -d build-tsan ] || meson setup build-tsan --buildtype=debug -Db_sanitize=thread \
    -Db_lundef=false -Donednn=disabled -Dbench=false
meson compile -C build-tsan test_concurrency
TSAN_OPTIONS=halt_on_error=1 \
    meson test -C build-tsan --no-rebuild --suite concurrency --print-errorlogs -v
