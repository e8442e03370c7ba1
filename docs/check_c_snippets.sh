#!/bin/sh
# Compiles every ```c block of the given Markdown files against the library in
# the build tree: a snippet in the docs cannot stop compiling or working
# unnoticed. The HTML comment on the line before a block says what it is:
#   (none)                      a whole program: compiled, linked and run
#   <!-- snippet: no-main -->   a whole translation unit without main():
#                               compiled to an object
#   <!-- snippet: fragment -->  statements: pasted into a function body after
#                               snippet_prelude.h (the names the docs take as
#                               given) and compiled to an object; its own
#                               preprocessor lines go before the prelude
# usage: check_c_snippets.sh INCLUDE_DIR LIBRARY_DIR CC FILE.md...
set -eu
# Absolute paths: programs run in a scratch directory, fragments are compiled there.
include=$(realpath "$1") libdir=$(realpath "$2") cc="$3"
shift 3
prelude="$(realpath "$(dirname "$0")")/snippet_prelude.h"
cflags="-std=c11 -Wall -Wextra -Werror -I$include"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
for doc in "$@"; do
    # snippet_<n>.<mode>: mode from the marker on the line before the fence.
    awk -v out="$work/snippet" '
        /^<!-- snippet: [a-z-]+ -->$/ { mode = $3; next }
        /^```c$/ { n++; file = out "_" n "." (mode ? mode : "program"); inside = 1; next }
        /^```/   { inside = 0; next }
        inside   { print > file }
        { mode = "" }' "$doc"
    for snippet in "$work"/snippet_*; do
        [ -e "$snippet" ] || continue
        count=$((count + 1))
        mode=${snippet##*.}
        name="$(basename "$doc") snippet $(basename "$snippet" ".$mode" | sed 's/snippet_//')"
        case $mode in
        program)
            # Run in the scratch directory: programs may write files.
            if ! "$cc" $cflags -x c "$snippet" -L"$libdir" -ladapt -lm \
                    -Wl,-rpath,"$libdir" -o "$work/program"; then
                echo "FAIL: $name does not compile as a program" \
                     "(a fragment? mark it: see $0)"
                exit 1
            fi
            if ! output=$(cd "$work" && ./program 2>&1); then
                echo "FAIL: $name exits with an error: $output"
                exit 1
            fi
            echo "ok: $name (program): $output";;
        no-main)
            if ! "$cc" $cflags -x c -c "$snippet" -o "$work/snippet.o"; then
                echo "FAIL: $name does not compile"
                exit 1
            fi
            echo "ok: $name (no-main)";;
        fragment)
            # A fragment may leave a status or a result for the reader's next
            # step: unused locals are not errors here.
            { grep '^#' "$snippet" || true
              echo "#include \"$prelude\""
              echo "void snippet(void);"
              echo "void snippet(void) {"
              grep -v '^#' "$snippet"
              echo "}"; } > "$work/fragment.c"
            if ! "$cc" $cflags -Wno-unused-variable -Wno-unused-but-set-variable \
                    -c "$work/fragment.c" -o "$work/snippet.o"; then
                echo "FAIL: $name does not compile as a fragment"
                exit 1
            fi
            echo "ok: $name (fragment)";;
        *)
            echo "FAIL: $name: unknown snippet mode '$mode'"
            exit 1;;
        esac
        rm "$snippet"
    done
done
echo "$count C snippets checked"
