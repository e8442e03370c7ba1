#!/bin/sh
# Fails if the shared library exports anything but adapt_* functions:
# internals must stay hidden and the ABI must carry no data symbols.
set -eu
lib="$1"
exports=$(nm -D --defined-only "$lib" | awk '{ print $2, $3 }')
[ -n "$exports" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$exports" | awk '$1 != "T" || $2 !~ /^adapt_/')
count=$(printf '%s\n' "$exports" | wc -l)
if [ -n "$bad" ]; then
    echo "unexpected exports in $lib:"
    printf '%s\n' "$bad"
    exit 1
fi
echo "$count exported symbols, all adapt_* functions"
