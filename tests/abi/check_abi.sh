#!/bin/sh
# Compares the built library with the committed baseline; fails on any ABI
# change but appended functions and enumerators.
# Usage: check_abi.sh <baseline.abi> <libadapt.so> <adapt.h>
set -eu
baseline="$1" lib="$2" header="$3"
if ! command -v abidiff >/dev/null; then
    echo "SKIP: abidiff not found (Debian package abigail-tools)"
    exit 77
fi
if [ "$(uname -m)" != x86_64 ]; then
    echo "SKIP: the baseline describes the x86_64 ABI, this is $(uname -m)"
    exit 77
fi
# The baseline already holds only adapt.h's types, so there is no
# --headers-dir1/2 here: abidiff 2.2 then files a change that goes through a
# system typedef (int32_t -> int64_t) under private types and drops it.
# --no-added-syms: functions are only ever appended, and an addition is allowed.
# Appended enumerators count as harmless already. Every other change sets bit 4
# (ABI change) or 8 (incompatible) of the status, and either fails the test.
# The experimental tier may change at will: its functions are left out, as they
# are from the baseline.
suppressions=$(mktemp)
trap 'rm -f "$suppressions"' EXIT
sh "$(dirname "$0")/experimental.sh" "$header" "$suppressions"
status=0
abidiff --no-added-syms --fail-no-debug-info --suppressions "$suppressions" \
    "$baseline" "$lib" || status=$?
if [ "$status" -ne 0 ]; then
    echo "abidiff status $status: the ABI differs from $baseline"
    echo "If that is deliberate, docs/abi.md says how to update the baseline."
    exit 1
fi
echo "ABI matches $(basename "$baseline") ($(grep -c '<elf-symbol ' "$baseline") stable functions;" \
    "$(grep -c '^\[suppress_function\]' "$suppressions") experimental ones not compared)"
