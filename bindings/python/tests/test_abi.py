"""The ctypes structs against the C compiler's view of adapt.h: size and every offset."""
import ctypes as C
import shutil
import subprocess

import pytest
from conftest import HEADER, needs_header

from libadapt import _structs


def layout_program():
    lines = ["#define ADAPT_EXPERIMENTAL", "#include <stddef.h>", "#include <stdio.h>",
             "#include <adapt.h>",
             "int main(void) {"]
    for struct in _structs.ALL:
        lines.append(f'    printf("{struct.c_name} %zu\\n", sizeof({struct.c_name}));')
        for field, _ in struct._fields_:
            lines.append(f'    printf("{struct.c_name}.{field} %zu\\n", '
                         f'offsetof({struct.c_name}, {field}));')
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        pytest.skip("no C compiler")
    work = tmp_path_factory.mktemp("abi")
    (work / "layout.c").write_text(layout_program())
    subprocess.run([compiler, "-std=c11", f"-I{HEADER.parent}", "-o", str(work / "layout"),
                    str(work / "layout.c")], check=True)
    output = subprocess.run([str(work / "layout")], check=True, capture_output=True, text=True)
    return {name: int(value) for name, value in
            (line.split() for line in output.stdout.splitlines())}


@needs_header()
@pytest.mark.parametrize("struct", _structs.ALL, ids=lambda s: s.c_name)
def test_struct_matches_c(c_layout, struct):
    assert C.sizeof(struct) == c_layout[struct.c_name]
    for field, _ in struct._fields_:
        assert getattr(struct, field).offset == c_layout[f"{struct.c_name}.{field}"], field


def test_params_carry_their_own_size_and_the_library_defaults():
    from libadapt._params import new_params
    params = new_params(_structs.TrainParams)
    assert params.struct_size == C.sizeof(_structs.TrainParams)
    assert (params.epochs, params.batch_size) == (10, 64)  # docs/training.md defaults
    assert params.learning_rate == pytest.approx(0.01)
    layer = new_params(_structs.LayerParams)
    assert (layer.kernel, layer.stride, layer.heads) == (3, 1, 1)
