#!/bin/sh
# Compiles every ```c block of the given Markdown files as a whole program
# against the library in the build tree, and runs it: a snippet in the docs
# cannot stop compiling or working unnoticed.
# usage: check_c_snippets.sh INCLUDE_DIR LIBRARY_DIR CC FILE.md...
set -eu
include="$1" libdir="$2" cc="$3"
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
for doc in "$@"; do
    awk -v out="$work/snippet" '
        /^```c$/ { n++; file = out "_" n ".c"; inside = 1; next }
        /^```/   { inside = 0; next }
        inside   { print > file }' "$doc"
    for snippet in "$work"/snippet_*.c; do
        [ -e "$snippet" ] || continue
        count=$((count + 1))
        name="$(basename "$doc") snippet $(basename "$snippet" .c | sed 's/snippet_//')"
        if ! "$cc" -std=c11 -Wall -Wextra -Werror -I"$include" "$snippet" \
                -L"$libdir" -ladapt -Wl,-rpath,"$libdir" -o "$work/program"; then
            echo "FAIL: $name does not compile"
            exit 1
        fi
        if ! output=$("$work/program" 2>&1); then
            echo "FAIL: $name exits with an error: $output"
            exit 1
        fi
        echo "ok: $name: $output"
        rm "$snippet"
    done
done
echo "$count C snippets compiled and ran"
