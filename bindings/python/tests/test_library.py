"""Loading, versions, and the declarations against adapt.h."""
import ctypes as C
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HEADER, PACKAGE_ROOT, needs_header

import libadapt as ad
from libadapt import _library, _native, _structs, enums, ops


def header_text():
    # Comments hold parentheses and words that would confuse the simple parsing below.
    text = HEADER.read_text()
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def header_functions():
    """{name: (return type, [parameter types])} for every ADAPT_API function."""
    functions = {}
    for match in re.finditer(r"(?m)^ADAPT_API\s+([^;{(]*?)\b(adapt_\w+)\s*\(([^)]*)\)\s*;",
                             header_text()):
        returns, name, params = match.groups()
        params = [] if params.strip() == "void" else [p.strip() for p in params.split(",")]
        functions[name] = (returns.strip(), params)
    return functions


def header_define(name):
    return int(re.search(rf"#define {name} (\d+)", HEADER.read_text()).group(1))


SCALARS = {"int32_t": C.c_int32, "int64_t": C.c_int64, "uint32_t": C.c_uint32,
           "uint64_t": C.c_uint64, "float": C.c_float, "double": C.c_double, "int": C.c_int,
           "unsigned": C.c_uint, "size_t": C.c_size_t}
STRUCTS = {s.c_name: s for s in _structs.ALL}
HANDLES = {name: getattr(_structs, name)
           for name in ("adapt_context", "adapt_tensor", "adapt_model", "adapt_dataset",
                        "adapt_calibrator", "adapt_head", "adapt_recording",
                        "adapt_consolidation", "adapt_probe", "adapt_router",
                        "adapt_flow", "adapt_pipeline", "adapt_pipeline_result")}


def expected_ctype(c_declaration):
    """The ctypes type a C parameter or return type must be declared as (None: void)."""
    words = c_declaration.replace("*", " * ").split()
    words = [w for w in words if w != "const"]
    base, stars = words[0], words.count("*")
    if base == "char" and stars == 1:
        return C.c_char_p
    if base == "void":
        return C.c_void_p if stars else None
    if base in SCALARS:
        ctype = SCALARS[base]
    elif base in HANDLES or base in STRUCTS:
        ctype = HANDLES.get(base) or STRUCTS[base]
    else:  # adapt_status and the other enums travel as int
        ctype = C.c_int
    for _ in range(stars):
        ctype = C.POINTER(ctype)
    return ctype


@needs_header()
def test_every_header_function_is_declared_with_its_exact_signature():
    functions = header_functions()
    assert len(functions) > 80  # the parse found the API, not a fragment of it
    assert set(functions) == set(_native.SIGNATURES)
    for name, (returns, params) in functions.items():
        declared = getattr(_native.lib, name)
        assert len(declared.argtypes) == len(params), name
        for i, (argtype, param) in enumerate(zip(declared.argtypes, params)):
            assert argtype is expected_ctype(param), f"{name} argument {i}: {param}"
        if returns == "adapt_status":
            assert declared.restype is C.c_int, name
        else:
            assert declared.restype is expected_ctype(returns), f"{name} returns {returns}"
        if returns == "adapt_status":
            assert declared.errcheck is _native._raise_on_error, name


def test_every_exported_function_is_declared():
    nm = subprocess.run(["nm", "-D", "--defined-only", ad.library_path], capture_output=True,
                        text=True)
    if nm.returncode != 0:
        pytest.skip("nm cannot read the library")
    exported = {line.split()[-1] for line in nm.stdout.splitlines() if " T " in line}
    assert exported and exported <= set(_native.SIGNATURES)


@needs_header()
def test_versions_agree_with_the_header():
    version = tuple(header_define(f"ADAPT_VERSION_{p}") for p in ("MAJOR", "MINOR", "PATCH"))
    assert _library.BINDINGS_VERSION == version
    assert ad.__version__ == ad.library_version() == ".".join(map(str, version))


@needs_header()
def test_constants_and_enums_agree_with_the_header():
    text = header_text()
    assert ops.MATMUL_TRANS_A == int(re.search(r"ADAPT_MATMUL_TRANS_A (\d+)u", text).group(1))
    assert ops.MATMUL_TRANS_B == int(re.search(r"ADAPT_MATMUL_TRANS_B (\d+)u", text).group(1))
    assert ops.AXIS_ALL == header_define("ADAPT_AXIS_ALL")
    assert _native.lib and header_define("ADAPT_MAX_DIMS") == 8
    prefixes = {enums.Status: "ADAPT_ERR_", enums.Backend: "ADAPT_BACKEND_",
                enums.Activation: "ADAPT_ACTIVATION_", enums.LayerKind: "ADAPT_LAYER_",
                enums.Optimizer: "ADAPT_OPTIMIZER_", enums.Schedule: "ADAPT_SCHEDULE_",
                enums.ScoreKind: "ADAPT_SCORES_", enums.CalibrationMethod: "ADAPT_CALIBRATION_",
                enums.HeadKind: "ADAPT_HEAD_", enums.ExitRegime: "ADAPT_REGIME_",
                enums.ExitRule: "ADAPT_EXIT_", enums.ExitTarget: "ADAPT_TARGET_",
                enums.IntervalPhase: "ADAPT_INTERVAL_",
                enums.ConsolidationKind: "ADAPT_CONSOLIDATION_",
                enums.LossKind: "ADAPT_LOSS_", enums.MergeMethod: "ADAPT_MERGE_",
                enums.TuneMethod: "ADAPT_TUNE_", enums.ProbeKind: "ADAPT_PROBE_",
                enums.CouplingKind: "ADAPT_COUPLING_", enums.UpsampleMode: "ADAPT_UPSAMPLE_",
                # the two stage enums share a prefix: each takes its own names
                enums.StageInput: "ADAPT_STAGE_(?=IMAGE|MASKED|CROPS)",
                enums.StageOutput: "ADAPT_STAGE_(?=SEGMENT|CLASSIFY)"}
    for kind, prefix in prefixes.items():
        values = {m.group(1): int(m.group(2))
                  for m in re.finditer(rf"{prefix}(\w+) = (-?\d+)", text)}
        if kind is enums.Status:
            values["OK"] = 0
        assert values == {member.name: member.value for member in kind}, kind


def version_check(number):
    def adapt_version_number():
        return number

    class Library:
        pass

    library = Library()
    library.adapt_version_number = adapt_version_number
    return _library.check_version(library, "test library")


def test_version_check_accepts_newer_minor_and_refuses_other_majors_and_older():
    major, minor, patch = _library.BINDINGS_VERSION
    assert version_check(major * 10000 + minor * 100 + patch) == (major, minor, patch)
    assert version_check(major * 10000 + (minor + 1) * 100) == (major, minor + 1, 0)
    with pytest.raises(ImportError, match="need"):
        version_check((major + 1) * 10000 + minor * 100)
    if major > 0:
        with pytest.raises(ImportError, match="need"):
            version_check((major - 1) * 10000 + 99 * 100)
    if (minor, patch) > (0, 0):
        older = major * 10000 + minor * 100 + patch - 1
        with pytest.raises(ImportError, match="at least"):
            version_check(older)


def import_with_library(path):
    env = dict(os.environ, ADAPT_LIBRARY=str(path), PYTHONPATH=str(PACKAGE_ROOT))
    return subprocess.run([sys.executable, "-c", "import libadapt"], env=env,
                          capture_output=True, text=True)


def test_adapt_library_pointing_nowhere_is_an_import_error(tmp_path):
    result = import_with_library(tmp_path / "missing.so")
    assert result.returncode != 0 and "ImportError" in result.stderr
    assert "no such file" in result.stderr


def test_a_sanitizer_build_is_refused_instead_of_aborting_python(tmp_path):
    fake = tmp_path / "libadapt.so"
    fake.write_bytes(b"\x7fELF...NEEDED libasan.so.8...")
    result = import_with_library(fake)
    assert "ImportError" in result.stderr and "sanitizer" in result.stderr


def test_a_file_that_is_not_a_library_is_an_import_error(tmp_path):
    fake = tmp_path / "libadapt.so"
    fake.write_text("not a shared object")
    result = import_with_library(fake)
    assert result.returncode != 0 and "ImportError" in result.stderr


def test_status_strings_and_backends():
    assert ad.status_string(ad.Status.OK)
    assert ad.status_string(ad.Status.SHAPE) != ad.status_string(ad.Status.OK)
    assert ad.backend_available("reference")
    assert ad.backend_available(ad.Backend.DEFAULT)
    with pytest.raises(ad.InvalidArgumentError, match="not one of"):
        ad.backend_available("cuda")


def test_a_function_the_library_lacks_fails_when_called_not_at_import():
    stub = _native._missing("adapt_exit_fit")
    with pytest.raises(ad.UnsupportedError, match="adapt_exit_fit is not exported"):
        stub(None)
    assert not _native.MISSING  # the library under test has everything


TYPED_API = [ad.Model.mlp, ad.Model.cnn, ad.Model.vit, ad.Model.sequential, ad.Model.load,
             ad.Model.save, ad.Model.load_weights, ad.Model.predict, ad.Model.forward,
             ad.Model.train, ad.Model.train_exits, ad.Model.evaluate, ad.Model.infer_exits,
             ad.Model.exit_logits, ad.Model.state_dict, ad.Model.load_state_dict,
             ad.Dataset.from_numpy, ad.Dataset.load_idx, ad.Dataset.split,
             ad.save_safetensors, ad.npy_read, ad.npy_write, ad.ProgressPrinter.__call__]


@pytest.mark.parametrize("function", TYPED_API, ids=lambda f: f.__qualname__)
def test_the_public_api_is_typed(function):
    signature = inspect.signature(function)
    untyped = [name for name, p in signature.parameters.items()
               if p.annotation is p.empty and name not in ("self", "cls")
               and p.kind not in (p.VAR_KEYWORD,)]
    assert not untyped and signature.return_annotation is not signature.empty


def test_the_package_says_it_is_typed():
    assert (PACKAGE_ROOT / "libadapt" / "py.typed").is_file()
    assert '"py.typed"' in (PACKAGE_ROOT / "pyproject.toml").read_text()


def test_meson_installs_every_file_of_the_package():
    listed = set(re.findall(r"'libadapt/([\w.]+)'", (PACKAGE_ROOT / "meson.build").read_text()))
    package = {p.name for p in (PACKAGE_ROOT / "libadapt").iterdir()
               if p.suffix in (".py", ".typed")}
    assert listed == package | {"_install_paths.py.in"}


def test_an_installed_copy_finds_the_library_meson_installed(tmp_path):
    installed = tmp_path / "site" / "libadapt"
    shutil.copytree(PACKAGE_ROOT / "libadapt", installed,
                    ignore=shutil.ignore_patterns("__pycache__", "*.in"))
    libdir = tmp_path / "prefix" / "lib"
    libdir.mkdir(parents=True)
    (libdir / "libadapt.so.1").symlink_to(Path(ad.library_path).resolve())
    (installed / "_install_paths.py").write_text(f"LIBRARY_DIR = {str(libdir)!r}\n")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(installed.parent),
           "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-c", "import libadapt; print(libadapt.library_path)"],
                            env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(libdir / "libadapt.so.1")
