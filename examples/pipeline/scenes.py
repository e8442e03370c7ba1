#!/usr/bin/python3
"""Synthetic inspection scenes for the four-stage pipeline of post-earthquake UAV images:
(0) background / foreground segmentation, (1) structural-component segmentation with the
background masked, (2) defect segmentation on component crops, (3) the damage level of each
component. No such images ship with libadapt, so this module composes stand-ins:

  - background: a random SIDE x SIDE crop (randomly mirrored) of one of scikit-learn's two
    sample photos (china.jpg, flower.jpg). Training scenes crop the left 60 % of a photo,
    test scenes the right 40 %, so the splits share no background pixel;
  - components: 1 to 3 Fashion-MNIST items (training images for training scenes, test
    images for test scenes), each resized to 22-34 px and placed inside the scene so that
    the boxes of their pixels do not overlap (an item that finds no room in 50 tries is
    left out, with the scene's remaining ones). An item's pixels are those of resized
    intensity > 0.15; they show the intensity times a random per-item colour (channels in
    [0.4, 1]), which keeps them visible on both photos;
  - defects: each item gets 0-3 of them (DEFECT_COUNTS), each a scratch or a hole with
    equal chance. A scratch is a straight segment 5-15 px long and 1-2 px wide through an
    item pixel, drawn at 0.3 times the item's colour; a hole is a disc of radius 2-4 px,
    centred where the item is thick enough to hold it, through which the background shows;
  - damage: an item's level follows from the fraction f of its pixels that are defects:
    0 none (f = 0), 1 light (f < 0.04), 2 moderate (f < 0.10), 3 severe (otherwise).

Each scene has four int32 label maps, one per stage: `foreground` (1 on item pixels, holes
included since the component is still there), `classes` (Fashion-MNIST class + 1),
`defects` (0 none, 1 scratch, 2 hole) and `damage` (the item's level + 1), all 0 on the
background. `crop_items` cuts the items out again for the crop-level stages (2 and 3).

    scenes.py [--preview scenes.png] [--n 2000] [--seed 0] [--side 64]
"""
import argparse
import functools
import gzip
import os
import struct
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

SPLIT_COLUMN = 0.6                      # training backgrounds left of it, test ones right
ITEM_SIDES = (22, 34)                   # inclusive range of resized item sides, in pixels
THRESHOLD = 0.15                        # resized intensity above which a pixel is the item's
DEFECT_COUNTS = (0.25, 0.5, 0.15, 0.1)  # P(0, 1, 2, 3 defects): every level >= 10 % of items
LEVEL_LIMITS = (0.04, 0.10)             # defect fractions that end light and moderate damage
PLACEMENT_TRIES = 50


def _read_idx(path):
    """An IDX file (gzip) as a numpy array: big-endian dimensions, then unsigned bytes."""
    data = gzip.open(path).read()
    ndim = data[3]
    shape = struct.unpack(f">{ndim}i", data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


@functools.lru_cache(maxsize=None)
def _fashion(split):
    """(images float32 [N, 28, 28] in [0, 1], labels) of the split, read once."""
    directory = Path(os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(directory / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255
    return images, _read_idx(directory / f"{prefix}-labels-idx1-ubyte.gz")


@functools.lru_cache(maxsize=None)
def _photos(split):
    """The split's part of each sample photo, float32 RGB in [0, 1]."""
    from sklearn.datasets import load_sample_images
    photos = []
    for photo in load_sample_images().images:
        split_at = int(SPLIT_COLUMN * photo.shape[1])
        part = photo[:, :split_at] if split == "train" else photo[:, split_at:]
        photos.append(part.astype(np.float32) / 255)
    return photos


def _background(rng, photos, side):
    photo = photos[rng.integers(len(photos))]
    r, c = rng.integers(photo.shape[0] - side + 1), rng.integers(photo.shape[1] - side + 1)
    patch = photo[r:r + side, c:c + side]
    return (patch[:, ::-1] if rng.random() < 0.5 else patch).copy()


def _place(rng, size, bounds, side, boxes):
    """Top-left corner for a size x size item whose pixel box (bounds, relative to the
    corner) overlaps none of `boxes`, or None when PLACEMENT_TRIES corners all collide."""
    r0, c0, r1, c1 = bounds
    for _ in range(PLACEMENT_TRIES):
        r, c = rng.integers(side - size + 1, size=2)
        if all(r + r1 <= b[0] or b[2] <= r + r0 or c + c1 <= b[1] or b[3] <= c + c0
               for b in boxes):
            return r, c
    return None


def _scratch(rng, mask, defects):
    """A straight 1-2 px wide segment through a random item pixel, kept on the item."""
    rows, cols = np.nonzero(mask)
    k = rng.integers(len(rows))
    length, angle = rng.uniform(5, 15), rng.uniform(0, np.pi)
    t = np.linspace(-length / 2, length / 2, int(2 * length) + 1)[:, None]
    across = np.arange(rng.integers(1, 3))[None, :]     # the second pixel of a 2 px line
    r = np.rint(rows[k] + t * np.sin(angle) + across * np.cos(angle)).astype(int).ravel()
    c = np.rint(cols[k] + t * np.cos(angle) - across * np.sin(angle)).astype(int).ravel()
    keep = (r >= 0) & (r < mask.shape[0]) & (c >= 0) & (c < mask.shape[1])
    keep[keep] = mask[r[keep], c[keep]]             # only the segment's part on the item
    defects[r[keep], c[keep]] = 1


def _hole(rng, mask, depth, defects):
    """A disc of radius 2-4 px centred where the item is at least that thick (else at its
    thickest), so that the hole reads as a hole and not as a bite out of the outline."""
    radius = rng.integers(2, 5)
    rows, cols = np.nonzero(depth >= min(radius, depth.max()))
    k = rng.integers(len(rows))
    rr, cc = np.ogrid[:mask.shape[0], :mask.shape[1]]
    disc = (rr - rows[k]) ** 2 + (cc - cols[k]) ** 2 <= radius ** 2
    defects[disc & mask] = 2


def _add_item(rng, scene, labels, boxes, fashion):
    """Draws one item with its defects into the scene and label maps; its record, or None
    if it found no room."""
    images, classes = fashion
    index = rng.integers(len(images))
    size = rng.integers(ITEM_SIDES[0], ITEM_SIDES[1] + 1)
    intensity = ndimage.zoom(images[index], size / 28, order=1)
    mask = intensity > THRESHOLD
    rows, cols = np.nonzero(mask)
    bounds = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1
    corner = _place(rng, size, bounds, scene.shape[0], boxes)
    if corner is None:
        return None
    colour = rng.uniform(0.4, 1.0, size=3).astype(np.float32)
    defects = np.zeros(mask.shape, np.int32)
    depth = ndimage.distance_transform_edt(mask)
    for kind in rng.integers(1, 3, size=rng.choice(4, p=DEFECT_COUNTS)):
        if kind == 1:
            _scratch(rng, mask, defects)
        else:
            _hole(rng, mask, depth, defects)
    fraction = float(np.count_nonzero(defects) / np.count_nonzero(mask))
    level = 0 if fraction == 0 else 1 + int(np.searchsorted(LEVEL_LIMITS, fraction, "right"))

    appearance = intensity[..., None] * colour
    appearance[defects == 1] *= 0.3
    shown = mask & (defects != 2)                   # holes keep the background pixels
    r, c = corner
    window = np.s_[r:r + size, c:c + size]
    scene[window][shown] = appearance[shown]
    for name, value in (("foreground", 1), ("classes", classes[index] + 1),
                        ("defects", defects[mask]), ("damage", level + 1)):
        labels[name][window][mask] = value
    box = tuple(int(v) for v in (r + bounds[0], c + bounds[1], r + bounds[2], c + bounds[3]))
    boxes.append(box)
    return {"box": box, "class": int(classes[index]), "damage_level": level,
            "defect_fraction": fraction}


def make_scenes(n, split, seed, side=64):
    """n scenes of the split ("train" or "test"), the same for the same (n, split, seed):
    images float32 [n, 3, side, side]; foreground, classes, defects, damage int32
    [n, side, side]; items, per scene a list of {box, class, damage_level, defect_fraction}
    with box = (row0, col0, row1, col1), end exclusive."""
    assert split in ("train", "test")
    rng = np.random.default_rng([seed, ("train", "test").index(split)])
    photos, fashion = _photos(split), _fashion(split)
    images = np.empty((n, side, side, 3), np.float32)
    labels = {name: np.zeros((n, side, side), np.int32)
              for name in ("foreground", "classes", "defects", "damage")}
    items = []
    for i in range(n):
        images[i] = _background(rng, photos, side)
        scene_labels = {name: maps[i] for name, maps in labels.items()}
        records, boxes = [], []
        for _ in range(rng.integers(1, 4)):
            record = _add_item(rng, images[i], scene_labels, boxes, fashion)
            if record is None:                      # no room left: fewer items
                break
            records.append(record)
        items.append(records)
    return {"images": images.transpose(0, 3, 1, 2).copy(), **labels, "items": items}


def _resize(a, size, nearest=False):
    """a [..., h, w] resampled to [..., size, size], pixel centres aligned: bilinear, or
    nearest neighbour for labels."""
    h, w = a.shape[-2:]
    r, c = (np.arange(size) + 0.5) / size * [[h], [w]]     # output centres, source pixels
    if nearest:
        return a[..., r.astype(int)[:, None], c.astype(int)]
    r, c = np.clip(r - 0.5, 0, h - 1), np.clip(c - 0.5, 0, w - 1)
    r0, c0 = r.astype(int), c.astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (r - r0)[:, None], c - c0
    rows = a[..., r0, :] * (1 - fr) + a[..., r1, :] * fr
    return rows[..., c0] * (1 - fc) + rows[..., c1] * fc


def crop_items(scenes, margin=2, size=32):
    """Every item of every scene cut out along its box grown by `margin` (clipped to the
    scene) and resized to size x size: images float32 [m, 3, size, size], defects int32
    [m, size, size], damage_level, scene_index [m] and box [m, 4] (the crop's box in the
    scene, end exclusive), all int32."""
    side = scenes["images"].shape[-1]
    index = [(i, item) for i, records in enumerate(scenes["items"]) for item in records]
    boxes = np.array([item["box"] for _, item in index], np.int32).reshape(-1, 4)
    boxes = np.clip(boxes + [-margin, -margin, margin, margin], 0, side).astype(np.int32)
    images, defects = [], []
    for (i, _), (r0, c0, r1, c1) in zip(index, boxes):
        images.append(_resize(scenes["images"][i, :, r0:r1, c0:c1], size))
        defects.append(_resize(scenes["defects"][i, r0:r1, c0:c1], size, nearest=True))
    return {"images": np.array(images, np.float32).reshape(-1, 3, size, size),
            "defects": np.array(defects, np.int32).reshape(-1, size, size),
            "damage_level": np.array([item["damage_level"] for _, item in index], np.int32),
            "scene_index": np.array([i for i, _ in index], np.int32), "box": boxes}


def preview(scenes, path, count=6):
    """The first `count` scenes with their four label maps, one scene per row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    maps = [("foreground", ListedColormap(["black", "white"]), 1),
            ("classes", ListedColormap(["black", *plt.cm.tab10.colors]), 10),
            ("defects", ListedColormap(["black", "gold", "red"]), 2),
            ("damage", ListedColormap(["black", "green", "gold", "orange", "red"]), 4)]
    fig, axes = plt.subplots(count, 5, figsize=(10, 2 * count))
    for i, row in enumerate(axes):
        row[0].imshow(scenes["images"][i].transpose(1, 2, 0), interpolation="nearest")
        for ax, (name, cmap, top) in zip(row[1:], maps):
            ax.imshow(scenes[name][i], cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
            if i == 0:
                ax.set_title(name)
        for item in scenes["items"][i]:
            r0, c0, r1, c1 = item["box"]
            row[0].add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False,
                                           edgecolor="cyan", linewidth=0.8))
            row[0].text(c0, r0 - 1, f"c{item['class']} L{item['damage_level']}", fontsize=6,
                        color="cyan")
    plt.setp(axes, xticks=[], yticks=[])
    axes[0, 0].set_title("image (class, level)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preview", default="scenes.png")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--side", type=int, default=64)
    args = parser.parse_args()
    _fashion("train")                               # file reading stays out of the timing
    _photos("train")
    start = time.perf_counter()
    scenes = make_scenes(args.n, "train", args.seed, args.side)
    elapsed = time.perf_counter() - start
    levels = np.bincount([it["damage_level"] for s in scenes["items"] for it in s], minlength=4)
    print(f"{args.n} training scenes in {elapsed:.2f} s, {levels.sum() / args.n:.2f} items each")
    for name, count in zip(("none", "light", "moderate", "severe"), levels):
        print(f"  damage {name:<9} {count:5d} items ({100 * count / levels.sum():.1f} %)")
    print(f"foreground pixels: {100 * scenes['foreground'].mean():.1f} %")
    preview(scenes, args.preview)


if __name__ == "__main__":
    main()
