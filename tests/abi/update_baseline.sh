#!/bin/sh
# Rewrites the committed ABI baseline from a built library. Run it only when the
# ABI is meant to change (docs/abi.md says when): check_abi.sh compares against it.
# Usage: update_baseline.sh <source root> <libadapt.so>
set -eu
source="$1" lib="$2"
out="$source/tests/abi/libadapt.abi"
# The stable part only: the experimental tier's functions are dropped.
suppressions=$(mktemp)
trap 'rm -f "$suppressions"' EXIT
sh "$source/tests/abi/experimental.sh" "$source/include/adapt.h" "$suppressions"
# Only the types adapt.h defines: the handles' internals stay declarations.
# No source locations, parameter names or DT_NEEDED entries (they vary with the
# code and the build options, not with the ABI); hashed type ids, so a new type
# does not renumber all the others. The file then changes only with the ABI.
abidw --headers-dir "$source/include" --drop-private-types --drop-undefined-syms \
    --no-corpus-path --no-comp-dir-path --no-show-locs --no-parameter-names \
    --no-elf-needed --type-id-style hash --suppressions "$suppressions" \
    --out-file "$out" "$lib"
# Translation units keep the compiler's source paths, absolute when the build
# directory is outside the tree: make them relative to the repository.
sed -i "s|\(<abi-instr [^>]*path='\)[^']*/lib/|\1lib/|" "$out"
echo "wrote $out: $(grep -c '<elf-symbol ' "$out") functions"
