"""upsample2d and conv_transpose2d against PyTorch: outputs, and the gradients of x, weight
and bias for a random loss sum(y * r), on the same values."""
import numpy as np
import pytest

import libadapt as ad
from libadapt import ops

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-5


def assert_close(got, want, what):
    # Relative to the tensor's scale: sums of products cancel to values near 0.
    want = np.asarray(want, dtype=np.float64)
    scale = max(float(np.abs(want).max()), 1e-30)
    error = float(np.abs(np.asarray(got, dtype=np.float64) - want).max())
    assert error <= RTOL * scale, f"{what}: off by {error:.3g} at scale {scale:.3g}"


def libadapt_pass(forward, arrays, n_threads=1):
    """Output and parameter gradients of sum(forward(...) * r), r fixed by the output shape."""
    params = [None if a is None else ad.Parameter.from_numpy(a) for a in arrays]
    with ad.Context(n_threads=n_threads) as ctx:
        ctx.grad = True
        y = forward(ctx, *params)
        r = np.random.default_rng(7).uniform(-1, 1, y.shape).astype(np.float32)
        ad.backward(ops.sum(ctx, ops.mul(ctx, y, r)))
        return y.numpy(), r, [None if p is None else p.grad.copy() for p in params]


def torch_pass(forward, arrays, r):
    tensors = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    y = forward(*tensors)
    (y * torch.tensor(r)).sum().backward()
    return y.detach().numpy(), [None if t is None else t.grad.numpy() for t in tensors]


def compare(ours, theirs, arrays, names):
    y, r, grads = libadapt_pass(ours, arrays)
    want_y, want_grads = torch_pass(theirs, arrays, r)
    assert y.shape == want_y.shape
    assert_close(y, want_y, "output")
    for name, got, want in zip(names, grads, want_grads):
        if want is not None:
            assert_close(got, want, f"gradient of {name}")


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("scale", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("size", [(5, 7), (4, 6), (1, 3)])
def test_upsample2d_matches_torch(mode, scale, size, rng):
    x = rng.uniform(-1, 1, (2, 3, *size)).astype(np.float32)
    compare(lambda ctx, x: ops.upsample2d(ctx, x, scale, mode),
            lambda x: F.interpolate(x, scale_factor=scale, mode=mode,
                                    **({"align_corners": False} if mode == "bilinear" else {})),
            [x], ["x"])


def test_upsample2d_nearest_picks_torchs_cells_at_large_scales(rng):
    # PyTorch rounds 1 / scale to float, which at scale 41 sends output 41 to cell 0.
    x = rng.uniform(-1, 1, (1, 1, 3, 50)).astype(np.float32)
    with ad.Context(n_threads=1) as ctx:
        got = ops.upsample2d(ctx, x, 41, "nearest").numpy()
    want = F.interpolate(torch.tensor(x), scale_factor=41, mode="nearest").numpy()
    assert np.array_equal(got, want)


CONV_T_CASES = [  # n, cin, cout, h, w, k, stride, padding, bias
    (2, 3, 4, 5, 6, 2, 1, 0, True), (2, 3, 4, 5, 6, 3, 1, 1, False),
    (2, 4, 3, 6, 5, 2, 2, 0, True), (2, 4, 3, 6, 5, 3, 2, 1, True),
    (1, 8, 16, 9, 9, 4, 2, 1, True), (3, 16, 8, 7, 8, 3, 3, 2, False),
    (2, 5, 6, 4, 4, 5, 1, 3, True),
]


@pytest.mark.parametrize("case", CONV_T_CASES, ids=str)
def test_conv_transpose2d_matches_torch(case, rng):
    n, cin, cout, h, w, k, stride, padding, has_bias = case
    x = rng.uniform(-1, 1, (n, cin, h, w)).astype(np.float32)
    weight = rng.uniform(-1, 1, (cin, cout, k, k)).astype(np.float32)
    bias = rng.uniform(-1, 1, cout).astype(np.float32) if has_bias else None
    compare(lambda ctx, x, w, b: ops.conv_transpose2d(ctx, x, w, b, stride, padding),
            lambda x, w, b: F.conv_transpose2d(x, w, b, stride=stride, padding=padding),
            [x, weight, bias], ["x", "weight", "bias"])


def test_threads_do_not_change_the_bits(rng):
    x = rng.uniform(-1, 1, (4, 8, 10, 10)).astype(np.float32)
    weight = rng.uniform(-1, 1, (8, 6, 3, 3)).astype(np.float32)
    bias = rng.uniform(-1, 1, 6).astype(np.float32)

    def forward(ctx, x, w, b):
        y = ops.conv_transpose2d(ctx, x, w, b, 2, 1)
        return ops.upsample2d(ctx, y, 2, "bilinear")

    one = libadapt_pass(forward, [x, weight, bias], n_threads=1)
    two = libadapt_pass(forward, [x, weight, bias], n_threads=2)
    assert np.array_equal(one[0], two[0])
    for got, want in zip(two[2], one[2]):
        assert np.array_equal(got, want)


def test_bad_arguments_are_refused():
    with ad.Context(n_threads=1) as ctx:
        x = np.zeros((1, 2, 3, 3), np.float32)
        with pytest.raises(ad.InvalidArgumentError, match="adapt_op_upsample2d"):
            ops.upsample2d(ctx, x, 0)
        with pytest.raises(ad.InvalidArgumentError, match="not one of"):
            ops.upsample2d(ctx, x, 2, "bicubic")
        with pytest.raises(ad.ShapeError, match="adapt_op_conv_transpose2d"):
            ops.conv_transpose2d(ctx, x, np.zeros((3, 2, 3, 3), np.float32))
        with pytest.raises(ad.InvalidArgumentError, match="stride"):
            ops.conv_transpose2d(ctx, x, np.zeros((2, 2, 3, 3), np.float32), stride=0)
