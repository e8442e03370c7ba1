#!/usr/bin/python3
"""The four-stage inspection pipeline of arXiv 2210.05282 on synthetic scenes (scenes.py:
Fashion-MNIST items on scikit-learn's sample photos), with the library's adapt_pipeline
(docs/pipeline.md):

  (0) "foreground": a U-Net on the image, background / item;
  (1) "items": a U-Net on the image masked by (0), the item's class (10 + background);
  (2) "defects": a small U-Net on each item crop of (1)'s components, none / scratch / hole;
  (3) "damage": a CNN on the same crops, the item's damage level (none, light, moderate,
      severe).

    inspection_fmnist.py [--train 2000] [--test 400] [--epochs 12] [--seed 1] [--threads 0]
                         [--out pipeline-results] [--picture docs/images/pipeline.png]

Each model is trained on ground truth (stage 1 on images masked by the true foreground,
stages 2 and 3 on crops of the true item boxes). Reported on the test scenes: each stage's
mIoU on its own (true inputs) and in the pipeline (inputs from the stages before it); the
effect of the background masking on stage 1 (the same U-Net trained and run on unmasked
images); stage 1 swapped at run time for a U-Net of a quarter of the width: mIoU and time
per scene; per-item damage accuracy. One JSON line per run goes to OUT/results.jsonl.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import libadapt as ad  # noqa: E402
from scenes import crop_items, make_scenes  # noqa: E402

CROP = 32
EPOCH_ENDS = ad.ProgressPrinter(every=10 ** 9)
CLASSES = {"foreground": 2, "items": 11, "defects": 3, "damage": 5}


def unet(channels, side, classes, width, seed):
    """Two poolings down, two transposed convolutions up, skips joined at both levels."""
    m = ad.Model.sequential([channels, side, side], seed=seed)

    def conv(out, kernel=3):
        m.append("conv2d", out_features=out, kernel=kernel, padding=kernel // 2)
        m.append("relu")

    conv(width), conv(width)
    skip_a = len(m.blocks) - 1
    m.append("maxpool2d", kernel=2, stride=2)
    conv(2 * width), conv(2 * width)
    skip_b = len(m.blocks) - 1
    m.append("maxpool2d", kernel=2, stride=2)
    conv(4 * width)
    m.append("conv_transpose2d", out_features=2 * width, kernel=2, stride=2)
    m.append("concat", source=skip_b)
    conv(2 * width)
    m.append("conv_transpose2d", out_features=width, kernel=2, stride=2)
    m.append("concat", source=skip_a)
    conv(width)
    m.append("conv2d", out_features=classes, kernel=1)
    return m


def cnn(channels, side, classes, seed):
    m = ad.Model.sequential([channels, side, side], seed=seed)
    for width in (16, 32):
        m.append("conv2d", out_features=width, kernel=3, padding=1)
        m.append("relu")
        m.append("maxpool2d", kernel=2, stride=2)
    m.append("flatten")
    m.append("linear", out_features=64)
    m.append("relu")
    m.append("linear", out_features=classes)
    return m


def fit(model, x, masks, args):
    start = time.time()
    ad.train_segmentation(model, x, masks, epochs=args.epochs, batch_size=32,
                          optimizer="adamw", learning_rate=3e-3, schedule="cosine",
                          seed=args.seed, n_threads=args.threads, progress=EPOCH_ENDS)
    return time.time() - start


def masked(images, foreground):
    return (images * (foreground[:, None] != 0)).astype(np.float32)


def miou(predicted, truth, stage):
    return ad.segmentation_scores(predicted, truth, CLASSES[stage])["mean_iou"]


def train_stages(train, args):
    """The four models and the unmasked and narrow variants of stage 1, with their training
    seconds."""
    side = train["images"].shape[-1]
    crops = crop_items(train, margin=2, size=CROP)
    w, seconds, models = args.width, {}, {}
    models["foreground"] = unet(3, side, 2, w, args.seed)
    seconds["foreground"] = fit(models["foreground"], train["images"], train["foreground"], args)
    fg_masked = masked(train["images"], train["foreground"])
    models["items"] = unet(3, side, 11, w, args.seed + 1)
    seconds["items"] = fit(models["items"], fg_masked, train["classes"], args)
    models["items_unmasked"] = unet(3, side, 11, w, args.seed + 1)
    seconds["items_unmasked"] = fit(models["items_unmasked"], train["images"],
                                    train["classes"], args)
    models["items_narrow"] = unet(3, side, 11, max(1, w // 4), args.seed + 1)
    seconds["items_narrow"] = fit(models["items_narrow"], fg_masked, train["classes"], args)
    models["defects"] = unet(3, CROP, 3, w, args.seed + 2)
    seconds["defects"] = fit(models["defects"], crops["images"], crops["defects"], args)
    models["damage"] = cnn(3, CROP, 4, args.seed + 3)
    start = time.time()
    models["damage"].train((crops["images"], crops["damage_level"]), epochs=args.epochs,
                           batch_size=32, optimizer="adamw", learning_rate=1e-3,
                           seed=args.seed, n_threads=args.threads, progress=EPOCH_ENDS)
    seconds["damage"] = time.time() - start
    return models, seconds


def alone(models, test, args):
    """Each stage's mIoU on true inputs (crops of the true items for 2 and 3)."""
    crops = crop_items(test, margin=2, size=CROP)
    fg_masked = masked(test["images"], test["foreground"])

    def score(name, x, truth, stage):
        return miou(ad.predict_segmentation(models[name], x, args.threads), truth, stage)

    damage = models["damage"].predict(crops["images"], n_threads=args.threads).argmax(1)
    return {"foreground": score("foreground", test["images"], test["foreground"],
                                "foreground"),
            "items": score("items", fg_masked, test["classes"], "items"),
            "items_unmasked": score("items_unmasked", test["images"], test["classes"], "items"),
            "items_narrow": score("items_narrow", fg_masked, test["classes"], "items"),
            "defects": score("defects", crops["images"], crops["defects"], "defects"),
            "damage_accuracy": float((damage == crops["damage_level"]).mean())}


def build(models):
    p = ad.Pipeline()
    p.add("foreground", models.pop("foreground"))
    p.add("items", models.pop("items"), input="masked", source="foreground")
    p.add("defects", models.pop("defects"), input="crops", source="items", min_pixels=20)
    p.add("damage", models.pop("damage"), input="crops", output="classify", source="items",
          min_pixels=20)
    return p


def run_pipeline(p, test, args):
    """mIoU of every stage's map against the scene's, and the mean seconds per scene."""
    maps = {name: [] for name in p.stages}
    seconds = {name: 0.0 for name in p.stages}
    for image in test["images"]:
        for name, run in p.run(image, n_threads=args.threads).items():
            maps[name].append(run.map)
            seconds[name] += run.seconds / len(test["images"])
    truth = {"foreground": test["foreground"], "items": test["classes"],
             "defects": test["defects"], "damage": test["damage"]}
    return ({name: miou(np.stack(maps[name]), truth[name], name) for name in maps}, seconds,
            {name: np.stack(m) for name, m in maps.items()})


def picture(test, maps, path, rows=5):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    columns = [("image", None), ("true items", test["classes"]),
               ("foreground", maps["foreground"]), ("items", maps["items"]),
               ("true defects", test["defects"]), ("defects", maps["defects"]),
               ("true damage", test["damage"]), ("damage", maps["damage"])]
    fig, axes = plt.subplots(rows, len(columns), figsize=(1.6 * len(columns), 1.6 * rows + 0.4))
    for r in range(rows):
        for c, (title, m) in enumerate(columns):
            ax = axes[r, c]
            if m is None:
                ax.imshow(test["images"][r].transpose(1, 2, 0))
            else:
                ax.imshow(m[r], cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=8)
    fig.suptitle("Pipeline predictions on test scenes (each stage fed by the ones before)",
                 fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default="pipeline-results")
    parser.add_argument("--picture", default="")
    args = parser.parse_args()
    train = make_scenes(args.train, "train", args.seed)
    test = make_scenes(args.test, "test", args.seed)
    models, train_seconds = train_stages(train, args)
    stage_alone = alone(models, test, args)
    narrow = models.pop("items_narrow")
    models.pop("items_unmasked")
    p = build(models)
    in_pipeline, seconds, maps = run_pipeline(p, test, args)
    if args.picture:
        picture(test, maps, args.picture)
    flops = {name: p.model(name).flops for name in p.stages}
    p.replace("items", narrow)
    swapped, swapped_seconds, _ = run_pipeline(p, test, args)
    result = {"seed": args.seed, "train_scenes": args.train, "test_scenes": args.test,
              "epochs": args.epochs, "width": args.width, "train_seconds": train_seconds,
              "alone": stage_alone, "pipeline": in_pipeline, "seconds": seconds,
              "swapped": swapped, "swapped_seconds": swapped_seconds,
              "flops": flops, "swapped_items_flops": p.model("items").flops}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with open(Path(args.out) / "results.jsonl", "a") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
