"""Inputs that cannot mislead: one sample, datasets and integer pixels given to a model."""
import numpy as np
import pytest

import libadapt as ad

from conftest import blobs


@pytest.fixture
def mlp():
    with ad.Model.mlp(sizes=[8, 6, 3], seed=1) as model:
        yield model


def test_one_sample_of_the_input_shape_is_a_batch_of_one(mlp, ctx, rng):
    x = rng.normal(size=(4, 8)).astype(np.float32)
    batch = mlp.predict(x)
    assert mlp.input_shape == (8,)
    one = mlp.predict(x[2])
    assert one.shape == (3,) and np.allclose(one, batch[2], atol=1e-6)
    assert np.allclose(mlp.forward(ctx, x[2]), batch[2], atol=1e-6)
    assert mlp.forward(ctx, x[2], as_tensor=True).shape == (1, 3)
    assert mlp.predict(x[2:3]).shape == (1, 3)


def test_one_cnn_image_is_a_batch_of_one(rng):
    cnn = ad.Model.cnn([4], [1], [1], in_channels=1, image_size=6, n_classes=3,
                       stem_channels=4, seed=2)
    images = rng.uniform(size=(2, 1, 6, 6)).astype(np.float32)
    assert cnn.input_shape == (1, 6, 6)
    assert np.allclose(cnn.predict(images[1]), cnn.predict(images)[1], atol=1e-6)


def test_a_sample_of_another_shape_names_the_expected_shape(mlp):
    with pytest.raises(ad.ShapeError, match=r"one sample of shape \(8,\) or a batch \[N, 8\]"):
        mlp.predict(np.zeros(784, np.float32))
    with pytest.raises(ad.ShapeError, match=r"\(3,\); the model takes"):
        mlp.predict(np.zeros(3, np.float32))
    with pytest.raises(ad.ShapeError, match=r"input \[2, 5\] is not N >= 1 samples of shape"):
        mlp.predict(np.zeros((2, 5), np.float32))


def test_a_model_that_flattens_takes_batches_of_any_shape_of_its_size(rng):
    mlp = ad.Model.mlp(sizes=[16, 3], seed=1)
    images = rng.uniform(size=(2, 1, 4, 4)).astype(np.float32)
    assert np.allclose(mlp.predict(images), mlp.predict(images.reshape(2, 16)), atol=1e-6)


def test_predict_accepts_a_dataset(mlp, rng):
    x, labels = blobs(rng, 10, features=8)
    dataset = ad.Dataset.from_numpy(x, labels)
    assert np.array_equal(mlp.predict(dataset), mlp.predict(x))
    train, _ = dataset.split(0.5, seed=1)
    assert mlp.predict(train).shape == (5, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64])
def test_integer_pixels_are_refused_with_the_fix(mlp, ctx, dtype):
    pixels = np.full((2, 8), 200, dtype=dtype)
    labels = np.zeros(2, np.int32)
    for call in (lambda: mlp.predict(pixels), lambda: mlp.forward(ctx, pixels),
                 lambda: ad.Dataset.from_numpy(pixels, labels),
                 lambda: mlp.train((pixels, labels), epochs=1)):
        with pytest.raises(TypeError, match="scale them to float.*/ 255"):
            call()
    ad.Dataset.from_numpy(pixels.astype(np.float32) / 255, labels)


def test_dataset_features_and_labels(rng):
    x, labels = blobs(rng, 12, features=4)
    dataset = ad.Dataset.from_numpy(x, labels)
    assert np.array_equal(dataset.features, x) and np.array_equal(dataset.labels, labels)
    assert dataset.labels.dtype == np.int32
    assert np.array_equal(np.asarray(dataset), x)
    train, validation = dataset.split(0.25, seed=3)
    rows = [tuple(row) for row in x]
    assert len(validation.labels) == 3 and validation.features.shape == (3, 4)
    for values, label in zip(train.features, train.labels):
        assert labels[rows.index(tuple(values))] == label
    empty = ad.Dataset.from_numpy(np.zeros((0, 4), np.float32), np.zeros(0, np.int32))
    assert empty.features.shape == (0, 4) and empty.labels.shape == (0,)


@pytest.mark.parametrize("content", [
    b"weights: none\nthis is a text file\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01",
    b"hi\n",
    None,
], ids=["text", "png", "short", "npy"])
def test_other_files_are_not_safetensors(tmp_path, content):
    path = tmp_path / "file.safetensors"
    if content is None:
        np.save(path.with_suffix(".npy"), np.zeros(3, np.float32))
        path = path.with_suffix(".npy")
    else:
        path.write_bytes(content)
    with pytest.raises(ad.FormatError, match="not a safetensors file"):
        ad.Model.load(path)
    with pytest.raises(ad.FormatError, match="not a safetensors file"):
        ad.Model.mlp([8, 3]).load_weights(path)


def test_a_name_mismatch_names_both_sides(tmp_path):
    with_dropout = ad.Model.mlp(sizes=[8, 6, 3], dropout=0.2, seed=1)
    without = ad.Model.mlp(sizes=[8, 6, 3], seed=1)
    with_dropout.save(tmp_path / "w.safetensors")
    with pytest.raises(ad.FormatError) as error:
        without.load_weights(tmp_path / "w.safetensors")
    message = str(error.value)
    assert "in the model, not the file: '2.weight', '2.bias'" in message
    assert "in the file, not the model: '3.weight', '3.bias'" in message
    assert "dropout" in message
