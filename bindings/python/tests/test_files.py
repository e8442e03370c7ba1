"""Checkpoints (safetensors) and NPY files."""
import json

import numpy as np
import pytest

import libadapt as ad


def test_checkpoint_round_trip(tmp_path, ctx, rng):
    model = ad.Model.cnn([4], [1], [2], in_channels=1, image_size=6, n_classes=3,
                         stem_channels=4, seed=2)
    model.parameters()["fc.bias"].data[:] = [0.5, -0.5, 0.25]
    path = tmp_path / "model.safetensors"
    model.save(path)
    with ad.Model.load(str(path)) as loaded:
        assert loaded.blocks == model.blocks
        for name, value in model.state_dict().items():
            assert np.array_equal(loaded.state_dict()[name], value), name
        x = rng.uniform(size=(2, 1, 6, 6))
        assert np.array_equal(loaded.forward(ctx, x), model.forward(ctx, x))


def test_load_weights_into_an_existing_model(tmp_path):
    source, target = ad.Model.mlp([5, 3], seed=1), ad.Model.mlp([5, 3], seed=2)
    source.save(tmp_path / "w.safetensors")
    target.load_weights(tmp_path / "w.safetensors")
    assert np.array_equal(target.state_dict()["0.weight"], source.state_dict()["0.weight"])
    other = ad.Model.mlp([5, 4], seed=3)
    before = other.state_dict()
    with pytest.raises(ad.FormatError, match="0.weight"):
        other.load_weights(tmp_path / "w.safetensors")
    assert all(np.array_equal(other.state_dict()[n], v) for n, v in before.items())


def test_truncated_checkpoints_are_format_errors(tmp_path):
    path = tmp_path / "m.safetensors"
    ad.Model.mlp([5, 3], seed=1).save(path)
    data = path.read_bytes()
    for cut in (4, 40, len(data) - 3):
        path.write_bytes(data[:cut])
        with pytest.raises(ad.FormatError):
            ad.Model.load(path)


def test_saving_into_a_missing_directory_is_an_io_error(tmp_path):
    with pytest.raises(ad.IOError):
        ad.Model.mlp([2, 2]).save(tmp_path / "no" / "such" / "dir.safetensors")


@pytest.mark.parametrize("array", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.float32(3.5),
    np.zeros((0, 3), np.float32),
    np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1),
], ids=["2-d", "scalar", "empty", "float64-transposed"])
def test_npy_round_trips_with_numpy(tmp_path, array):
    ours = tmp_path / "ours.npy"
    ad.npy_write(ours, array)
    assert np.array_equal(np.load(ours), np.asarray(array, np.float32))
    theirs = tmp_path / "theirs.npy"
    np.save(theirs, np.asarray(array, np.float32))
    back = ad.npy_read(theirs)
    assert back.dtype == np.float32 and back.shape == np.shape(array)
    assert np.array_equal(back, np.asarray(array, np.float32))
    assert ours.read_bytes() == theirs.read_bytes()  # byte-identical to numpy.save


def test_npy_refusals(tmp_path):
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.ones((2, 3), np.float32)))
    with pytest.raises(ad.UnsupportedError, match="fortran"):
        ad.npy_read(tmp_path / "fortran.npy")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    with pytest.raises(ad.FormatError):
        ad.npy_read(tmp_path / "junk.npy")
    with pytest.raises(TypeError):
        ad.npy_write(tmp_path / "c.npy", np.ones(2, np.complex64))


def test_save_safetensors_writes_what_the_loader_reads(tmp_path, ctx, rng):
    source = ad.Model.cnn([4], [1], [2], in_channels=1, image_size=6, n_classes=3,
                          stem_channels=4, seed=2)
    state = {name: value.astype(np.float64) for name, value in source.state_dict().items()}
    state["stem.1.num_batches_tracked"] = np.array(100, np.int64)  # as PyTorch has it
    path = tmp_path / "exported.safetensors"
    ad.save_safetensors(state, path)
    target = ad.Model.cnn([4], [1], [2], in_channels=1, image_size=6, n_classes=3,
                          stem_channels=4, seed=3)
    target.load_weights(path)
    x = rng.uniform(size=(2, 1, 6, 6))
    assert np.array_equal(target.forward(ctx, x), source.forward(ctx, x))


def test_save_safetensors_layout(tmp_path):
    path = tmp_path / "t.safetensors"
    ad.save_safetensors({"a": np.arange(6, dtype=">f8").reshape(2, 3)[:, ::2],
                         "b": np.array([7], np.uint8)}, path)
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    assert length % 8 == 0 and data[8:9] == b"{"
    header = json.loads(data[8:8 + length])
    assert header == {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                      "b": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]}}
    body = data[8 + length:]
    assert np.array_equal(np.frombuffer(body[:16], "<f4"), [0, 2, 3, 5])
    assert np.frombuffer(body[16:], "<i8").tolist() == [7]
    with pytest.raises(TypeError, match="complex"):
        ad.save_safetensors({"c": np.ones(2, complex)}, path)
    with pytest.raises(ad.InvalidArgumentError, match="__metadata__"):
        ad.save_safetensors({"__metadata__": np.ones(2)}, path)


def test_a_pytorch_state_dict_exported_loads_into_the_twin(tmp_path, ctx, rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    path = tmp_path / "torch.safetensors"
    ad.save_safetensors({k: v.numpy() for k, v in module.state_dict().items()}, path)
    model = ad.Model.mlp(sizes=[8, 6, 3], seed=1)
    model.load_weights(path)
    x = rng.normal(size=(4, 8)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert np.allclose(model.forward(ctx, x), expected, atol=1e-5)
