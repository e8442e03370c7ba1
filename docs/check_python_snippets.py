#!/usr/bin/python3
"""Runs the ```python blocks of the given Markdown files, so a Python example in the docs
cannot stop working unnoticed.

The blocks of one file run in order in one namespace, as a reader pastes them into one
session (a later block may use an earlier one's names), in a scratch directory (they may
write files). The HTML comment on the line before a block says when not to run it:
  <!-- snippet: compile -->        uses names the page only implies (a model, a data set):
                                   compiled, not run
  <!-- snippet: fashion-mnist -->  reads Fashion-MNIST from $FMNIST_DIR or Debian's
                                   dataset-fashion-mnist: skipped when it is not there

usage: check_python_snippets.py FILE.md...  (libadapt importable, ADAPT_LIBRARY set)
"""
import os
import re
import sys
import tempfile
import traceback

FMNIST_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
MODES = ("run", "compile", "fashion-mnist")


def snippets(path):
    """(line of the opening fence, mode, code) of each ```python block."""
    mode, block = "run", None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if block is not None:
                if line.startswith("```"):
                    yield start, mode, "".join(block)
                    mode, block = "run", None
                else:
                    block.append(line)
            elif line.rstrip() == "```python":
                start, block = number, []
            else:
                marker = re.fullmatch(r"<!-- snippet: ([a-z-]+) -->\n?", line)
                mode = marker.group(1) if marker else "run"


def check(path):
    """Checks the blocks of one file; False at the first failure."""
    namespace = {"__name__": "__main__"}
    for line, mode, code in snippets(path):
        name = f"{os.path.basename(path)}:{line}"
        if mode not in MODES:
            print(f"FAIL: {name}: unknown snippet mode '{mode}'")
            return False
        if mode == "fashion-mnist" and not os.path.isdir(FMNIST_DIR):
            print(f"skip: {name}: needs Fashion-MNIST, not found in {FMNIST_DIR}")
            continue
        try:
            compiled = compile(code, name, "exec")
            if mode != "compile":
                exec(compiled, namespace)
        except Exception:
            print(f"FAIL: {name} ({mode})")
            traceback.print_exc()
            return False
        print(f"ok: {name} ({mode})")
    return True


def main():
    # The blocks run in a scratch directory: keep paths relative to the caller's valid.
    if "ADAPT_LIBRARY" in os.environ:
        os.environ["ADAPT_LIBRARY"] = os.path.abspath(os.environ["ADAPT_LIBRARY"])
    sys.path = [os.path.abspath(p) for p in sys.path]
    count = 0
    with tempfile.TemporaryDirectory() as scratch:
        for path in map(os.path.abspath, sys.argv[1:]):
            os.chdir(scratch)
            if not check(path):
                return 1
            count += sum(1 for _ in snippets(path))
    print(f"{count} Python snippets checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
