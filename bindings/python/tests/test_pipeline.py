"""Encoder-decoders, segmentation training and pipelines from Python (docs/segmentation.md,
docs/pipeline.md): a small U-Net learns a toy segmentation, scores match numpy's counts, and
a three-stage pipeline runs, swaps a stage, refuses a wrong one, and survives save/load."""
import numpy as np
import pytest

import libadapt as ad

SIDE = 8


def unet(seed):
    m = ad.Model.sequential([1, SIDE, SIDE], seed=seed)
    for layer in [dict(kind="conv2d", out_features=4, kernel=3, padding=1), dict(kind="relu"),
                  dict(kind="maxpool2d", kernel=2, stride=2),
                  dict(kind="conv2d", out_features=8, kernel=3, padding=1), dict(kind="relu"),
                  dict(kind="conv_transpose2d", out_features=4, kernel=2, stride=2),
                  dict(kind="concat", source=1),
                  dict(kind="conv2d", out_features=2, kernel=1)]:
        m.append(**layer)
    return m


def squares(n, rng):
    x = rng.uniform(-0.2, 0.2, size=(n, 1, SIDE, SIDE)).astype(np.float32)
    masks = np.zeros((n, SIDE, SIDE), np.int32)
    for i in range(n):
        r, c = rng.integers(0, SIDE - 3, size=2)
        x[i, 0, r:r + 3, c:c + 3] = 1.0
        masks[i, r:r + 3, c:c + 3] = 1
    return x, masks


def test_a_unet_learns_a_toy_segmentation():
    rng = np.random.default_rng(1)
    x, masks = squares(64, rng)
    model = unet(2)
    history = ad.train_segmentation(model, x, masks, epochs=40, batch_size=16,
                                    optimizer="adamw", learning_rate=1e-2, n_threads=1)
    assert history[-1].loss < history[0].loss
    predicted = ad.predict_segmentation(model, x)
    scores = ad.segmentation_scores(predicted, masks, 2)
    assert scores["mean_iou"] > 0.9
    inter = [np.sum((predicted == k) & (masks == k)) for k in (0, 1)]
    union = [np.sum((predicted == k) | (masks == k)) for k in (0, 1)]
    np.testing.assert_allclose(scores["class_iou"], np.divide(inter, union))
    masks[0, 0, 0] = 2
    with pytest.raises(ad.InvalidArgumentError):
        ad.train_segmentation(model, x, masks, epochs=1)


def threshold(side):
    """A 1x1 convolution scoring class 1 where the pixel is above 0.5."""
    m = ad.Model.sequential([1, side, side], seed=1).append("conv2d", out_features=2, kernel=1)
    params = m.parameters()
    params["0.weight"].data[...] = np.array([-1, 1], np.float32).reshape(2, 1, 1, 1)
    params["0.bias"].data[...] = np.array([0.5, -0.5], np.float32)
    return m


def three_stages():
    p = ad.Pipeline()
    p.add("fg", threshold(SIDE))
    p.add("parts", threshold(SIDE), input="masked", source="fg")
    p.add("defects", threshold(4), input="crops", source="fg", margin=1)
    return p


def test_a_pipeline_runs_swaps_and_survives_save_and_load(tmp_path):
    image = np.zeros((1, SIDE, SIDE), np.float32)
    image[0, 1:3, 1:3] = 1.0
    image[0, 5:7, 4:7] = 1.0
    p = three_stages()
    assert p.stages == ["fg", "parts", "defects"]
    runs = p.run(image)
    np.testing.assert_array_equal(runs["fg"].map, image[0] > 0.5)
    assert [c.box for c in runs["defects"].crops] == [(0, 0, 4, 4), (4, 3, 8, 8)]
    assert runs["defects"].inputs == 2 and runs["defects"].flops > 0
    with pytest.raises(ad.ShapeError):
        p.replace("fg", threshold(4))
    previous = p.replace("fg", threshold(SIDE))
    assert isinstance(previous, ad.Model)
    with pytest.raises(ad.ShapeError):
        p.run(np.zeros((1, SIDE, SIDE + 1), np.float32))
    p.save(tmp_path)
    back = ad.Pipeline.load(tmp_path)
    for name, run in back.run(image).items():
        np.testing.assert_array_equal(run.map, runs[name].map)
    with pytest.raises(ad.InvalidArgumentError):
        p.add("later", threshold(SIDE), input="masked", source="nothing")
