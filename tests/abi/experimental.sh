#!/bin/sh
# Writes a libabigail suppression file that drops every function adapt.h declares in its
# experimental tier (between `#ifdef ADAPT_EXPERIMENTAL` and its `#endif`), so that the ABI
# baseline and its check cover the stable part only.
# Usage: experimental.sh <adapt.h> <output file>
set -eu
awk '
    /^#ifdef ADAPT_EXPERIMENTAL/ { inside = 1; next }
    /^#endif \/\* ADAPT_EXPERIMENTAL \*\// { inside = 0; next }
    inside && /^ADAPT_API/ {
        line = $0
        sub(/\(.*/, "", line)
        n = split(line, words, /[ *]+/)
        printf "[suppress_function]\n  symbol_name = %s\n  drop = yes\n\n", words[n]
    }
' "$1" > "$2"
