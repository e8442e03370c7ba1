"""Finds the shared library and checks that its version is one these bindings can drive.

Search order: the file named by $ADAPT_LIBRARY (no fallback when it is set: a wrong path is an
error, not a reason to load some other copy), then build trees of the repository these
bindings live in (build/ first), then the library directory `meson install` recorded beside
an installed copy of the package, then the system's library path.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path

#: The C API version these bindings are written against (adapt.h's ADAPT_VERSION_*).
BINDINGS_VERSION = (1, 0, 0)

_REPOSITORY = Path(__file__).resolve().parents[3]
_SYSTEM_NAMES = ("libadapt.so.1", "libadapt.so")
# A library built with these sanitizers aborts the whole process when loaded into an
# interpreter that was not started with their runtime, so it is skipped or refused instead.
_SANITIZER_RUNTIMES = (b"libasan.so", b"libtsan.so", b"libhwasan.so")


def _sanitizer_runtime(path):
    """Name of the sanitizer runtime the library needs and the process lacks, or None."""
    try:
        image = Path(path).read_bytes()
    except OSError:
        return None
    preloaded = os.environ.get("LD_PRELOAD", "").encode()
    for runtime in _SANITIZER_RUNTIMES:
        if runtime in image and runtime not in preloaded:
            return runtime.decode()
    return None


def _build_tree_candidates():
    main = _REPOSITORY / "build" / "lib" / "libadapt.so"
    others = sorted(p for p in _REPOSITORY.glob("build*/lib/libadapt.so") if p != main)
    return [p for p in [main] + others if p.is_file() and not _sanitizer_runtime(p)]


def _installed_candidates():
    """The library `meson install` put beside this package: _install_paths.py, written at
    install time, names its directory (absent in the source tree)."""
    try:
        from ._install_paths import LIBRARY_DIR
    except ImportError:
        return []
    return [p for p in (Path(LIBRARY_DIR) / name for name in _SYSTEM_NAMES) if p.is_file()]


def _load_explicit(path):
    if not Path(path).is_file():
        raise ImportError(f"ADAPT_LIBRARY={path}: no such file")
    runtime = _sanitizer_runtime(path)
    if runtime:
        raise ImportError(f"ADAPT_LIBRARY={path} is built with a sanitizer ({runtime}); "
                          f"load it only with that runtime in LD_PRELOAD")
    try:
        return ctypes.CDLL(str(path))
    except OSError as e:
        raise ImportError(f"ADAPT_LIBRARY={path}: {e}") from None


def load():
    """The loaded library and the path or name it was loaded from."""
    explicit = os.environ.get("ADAPT_LIBRARY")
    if explicit:
        return _load_explicit(explicit), explicit
    tried = []
    system = [ctypes.util.find_library("adapt"), *_SYSTEM_NAMES]
    candidates = _build_tree_candidates() + _installed_candidates() + [n for n in system if n]
    for candidate in dict.fromkeys(candidates):
        try:
            return ctypes.CDLL(str(candidate)), str(candidate)
        except OSError as e:
            tried.append(f"{candidate}: {e}")
    raise ImportError("libadapt shared library not found; set ADAPT_LIBRARY to its path. "
                      "Tried:\n  " + "\n  ".join(tried))


def version_tuple(number):
    """ADAPT_VERSION_NUMBER (M*10000 + m*100 + p) as (M, m, p)."""
    return number // 10000, number // 100 % 100, number % 100


def check_version(lib, where):
    """Refuses a library of another major version or older than the bindings: the API
    only ever appends, so anything newer within the major version serves them."""
    lib.adapt_version_number.restype = ctypes.c_uint
    lib.adapt_version_number.argtypes = []
    found = version_tuple(lib.adapt_version_number())
    if found[0] != BINDINGS_VERSION[0] or found < BINDINGS_VERSION:
        have = ".".join(map(str, found))
        need = ".".join(map(str, BINDINGS_VERSION))
        raise ImportError(f"{where} is libadapt {have}; these bindings need "
                          f"{BINDINGS_VERSION[0]}.x, at least {need}")
    return found
