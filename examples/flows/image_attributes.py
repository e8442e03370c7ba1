"""What the latent-flow experiment measures on 28 x 28 images, and how it makes identities.

Attributes are moments of the ink (pixel values as mass), so they are smooth in the pixels
and mean the same on a sharp image and on an autoencoder's blurred one:
  ink    mean pixel value;
  width  standard deviation of the ink's column, in pixels;
  height standard deviation of the ink's row, in pixels;
  slant  the shear cov(column, row) / var(row): how far the ink leans right per row down.
"""
import numpy as np
from scipy import ndimage

NAMES = ["ink", "width", "height", "slant"]
SIDE = 28


def attributes(images):
    """[n, 4] attributes of images [n, 784] (values clipped to [0, 1] first)."""
    ink = np.clip(images.reshape(-1, SIDE, SIDE), 0, 1).astype(np.float64)
    mass = ink.sum(axis=(1, 2)) + 1e-9
    axis = np.arange(SIDE, dtype=np.float64)
    col_mass, row_mass = ink.sum(axis=1), ink.sum(axis=2)
    cx = (col_mass * axis).sum(1) / mass
    cy = (row_mass * axis).sum(1) / mass
    dx = axis[None, :] - cx[:, None]
    dy = axis[None, :] - cy[:, None]
    var_x = (col_mass * dx ** 2).sum(1) / mass
    var_y = (row_mass * dy ** 2).sum(1) / mass
    cov = np.einsum("nij,ni,nj->n", ink, dy, dx) / mass
    return np.stack([mass / SIDE ** 2, np.sqrt(var_x), np.sqrt(var_y),
                     cov / (var_y + 1e-9)], axis=1)


def _views(image, count, rng):
    """count views of one image: a zoom in (a centred crop of 80-100 % of the side resized to
    the full side) and a shift of up to 2 pixels each way, as frames of one object vary."""
    out = np.empty((count, SIDE, SIDE), dtype=np.float32)
    centre = (SIDE - 1) / 2.0
    for k in range(count):
        scale = rng.uniform(0.8, 1.0)
        shift = rng.integers(-2, 3, size=2)
        # output pixel p reads input pixel centre + scale (p - centre) - shift
        offset = centre - scale * centre - shift
        out[k] = ndimage.affine_transform(image, np.diag([scale, scale]), offset=offset,
                                          order=1, mode="constant", cval=0.0)
    return out.reshape(count, -1)


def identities(images, views, rng):
    """Each image seen `views` times under random zooms and shifts: ([n * views, 784] images,
    [n * views] identity ids)."""
    x = np.concatenate([_views(image.reshape(SIDE, SIDE), views, rng) for image in images])
    return x, np.repeat(np.arange(len(images), dtype=np.int32), views)
