"""Every non-OK status becomes its AdaptError subclass carrying adapt_last_error()."""
import builtins

import numpy as np
import pytest

import libadapt as ad
from libadapt import errors


def raised(call):
    with pytest.raises(ad.AdaptError) as info:
        call()
    return info.value


def test_each_status_has_its_class_and_every_class_its_status():
    seen = set()
    for status in ad.Status:
        if status == ad.Status.OK:
            continue
        error = errors.error_for_status(int(status), "detail")
        assert type(error) is not ad.AdaptError and isinstance(error, ad.AdaptError)
        assert error.status == status and error.message == "detail" and str(error) == "detail"
        seen.add(type(error))
    assert len(seen) == len(ad.Status) - 1


def test_an_unknown_status_from_a_newer_library_is_still_an_adapt_error():
    error = errors.error_for_status(-99, "new failure")
    assert type(error) is ad.AdaptError and error.status == -99


def test_classes_also_derive_from_the_matching_builtins():
    assert issubclass(ad.ShapeError, ValueError)
    assert issubclass(ad.InvalidArgumentError, ValueError)
    assert issubclass(ad.OutOfMemoryError, MemoryError)
    assert issubclass(ad.IOError, OSError)
    assert issubclass(ad.OverflowError, builtins.OverflowError)
    assert "OverflowError" not in ad.__all__ and "IOError" not in ad.__all__


def test_shape_error_carries_the_library_message(ctx):
    e = raised(lambda: ad.ops.matmul(ctx, np.ones((4, 5)), np.ones((4, 5))))
    assert type(e) is ad.ShapeError and e.status == ad.Status.SHAPE
    assert e.message == "adapt_op_matmul: cannot multiply [4, 5] by [4, 5] (flags 0x0)"


def test_nonfinite_input_is_refused(ctx):
    e = raised(lambda: ctx.input([1.0, float("nan")]))
    assert type(e) is ad.NonFiniteError and "adapt_tensor_input" in e.message


def test_invalid_argument_from_c(ctx):
    e = raised(lambda: ad.ops.cross_entropy(ctx, np.zeros((2, 3)), [0, 3]))
    assert type(e) is ad.InvalidArgumentError and "labels[1] = 3" in e.message


def test_out_of_memory_when_the_arena_cap_is_reached():
    with ad.Context(n_threads=1, arena_limit_bytes=4096) as small:
        e = raised(lambda: small.input(np.zeros((100, 100))))
        assert type(e) is ad.OutOfMemoryError and "arena_limit_bytes" in e.message
        assert small.input(np.zeros(4)).shape == (4,)  # the context stays usable


def test_overflow_of_a_shape():
    e = raised(lambda: ad.Parameter([2 ** 40, 2 ** 40]))
    assert type(e) is ad.OverflowError


def test_state_error_for_a_model_without_blocks(ctx):
    with ad.Model.sequential([3]) as empty:
        e = raised(lambda: empty.forward(ctx, np.zeros((1, 3))))
    assert type(e) is ad.StateError and "no blocks" in e.message


def test_io_format_and_unsupported_files(tmp_path):
    e = raised(lambda: ad.Model.load(tmp_path / "missing.safetensors"))
    assert type(e) is ad.IOError and "missing.safetensors" in e.message
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    e = raised(lambda: ad.Model.load(tmp_path / "junk.safetensors"))
    assert type(e) is ad.FormatError
    np.save(tmp_path / "f8.npy", np.zeros(3))
    e = raised(lambda: ad.npy_read(tmp_path / "f8.npy"))
    assert type(e) is ad.UnsupportedError and "'<f8'" in e.message


def test_a_failed_call_leaves_objects_usable(ctx):
    with pytest.raises(ad.ShapeError):
        ad.ops.add(ctx, np.ones(3), np.ones(4))
    assert ad.ops.add(ctx, np.ones(3), np.ones(3)).numpy().tolist() == [2.0, 2.0, 2.0]


# Refusals made in Python, before anything reaches C -------------------------------------

def test_integers_that_do_not_fit_the_c_type_are_refused_not_truncated(ctx):
    x = ctx.input(np.ones((1, 1, 4, 4)))
    with pytest.raises(ad.InvalidArgumentError, match="does not fit"):
        ad.ops.maxpool2d(ctx, x, kernel=2 ** 32 + 2)  # would truncate to 2
    with pytest.raises(ad.InvalidArgumentError, match="does not fit"):
        ad.Model.sequential([3], seed=-1)
    with pytest.raises(TypeError, match="integer"):
        ad.ops.transpose(ctx, x, 0.5, 1)


def test_paths_with_nul_bytes_are_refused(tmp_path):
    with pytest.raises(ad.InvalidArgumentError, match="NUL"):
        ad.npy_write(str(tmp_path / "a.npy") + "\0.txt", np.zeros(2))
    assert not list(tmp_path.iterdir())


def test_data_that_cannot_be_float32_is_refused(ctx):
    for bad in (np.array([1 + 2j]), np.array(["1.0"]), np.array([object()])):
        with pytest.raises(TypeError, match="float32"):
            ctx.input(bad)


def test_fractional_labels_are_refused_rather_than_truncated(ctx):
    with pytest.raises(TypeError, match="integers"):
        ad.ops.cross_entropy(ctx, np.zeros((2, 3)), np.array([0.0, 1.5]))
    with pytest.raises(ad.ShapeError, match="2 expected"):
        ad.ops.cross_entropy(ctx, np.zeros((2, 3)), [0])


def test_unknown_enum_names_are_refused():
    with pytest.raises(ad.InvalidArgumentError, match="relu, gelu"):
        ad.Model.mlp([4, 2], activation="swish")
    with pytest.raises(ad.InvalidArgumentError, match="not one of"):
        ad.Context(backend=17)
