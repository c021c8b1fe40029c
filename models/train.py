"""Train featviz's reference MNIST models, reproducibly.

    python models/train.py --arch cnn --data ../shared/data/mnist-10k.npz

Without --data the digits come from keras.datasets.mnist (a download). With
--data PATH they come from an npz holding `x` (N, 28, 28) uint8 and `y`, or
from a folder holding the four MNIST IDX files (optionally gzipped).

All samples are pooled, shuffled with --seed and split: the last --holdout
digits are never seen in training. They are saved as the exemplar set, and
ten of them (correctly classified) become models/samples/digit0..9.png.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{folder} has no {stem}[.gz]")


def load_mnist(data: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """All digits as (x uint8 (N,28,28), y uint8 (N,), description)."""
    if data is None:
        import keras

        (xa, ya), (xb, yb) = keras.datasets.mnist.load_data()
        return np.concatenate([xa, xb]), np.concatenate([ya, yb]), "keras.datasets.mnist (70,000 digits)"
    path = Path(data)
    if path.is_dir():
        parts = {k: read_idx(find_idx(path, v)) for k, v in IDX_NAMES.items()}
        x = np.concatenate([parts["x_train"], parts["x_test"]])
        y = np.concatenate([parts["y_train"], parts["y_test"]])
        return x, y, f"MNIST IDX files in {path.name}/ ({len(x):,} digits)"
    with np.load(path) as f:
        x, y = f["x"], f["y"]
    return x.astype(np.uint8), y.astype(np.uint8), f"{path.name} ({len(x):,} digits)"


def split(x: np.ndarray, y: np.ndarray, holdout: int, seed: int):
    order = np.random.default_rng(seed).permutation(len(x))
    train, held = order[:-holdout], order[-holdout:]
    return (x[train], y[train]), (x[held], y[held])


def build_cnn(keras):
    """The classic plain MNIST CNN of the ResNet blog series."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1), name="digit"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Conv2D(128, 3, activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="mnist_cnn",
    )


ARCHS = {"cnn": build_cnn}


def augment(keras, seed: int):
    """Small random shifts and rotations: 8,500 digits are few for a CNN."""
    return keras.Sequential(
        [
            keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed),
            keras.layers.RandomRotation(0.03, fill_mode="constant", seed=seed + 1),
        ]
    )


def train(args) -> dict:
    import keras

    keras.utils.set_random_seed(args.seed)
    x, y, source = load_mnist(args.data)
    (xt, yt), (xh, yh) = split(x, y, args.holdout, args.seed)
    xt = xt[..., None].astype("float32") / 255.0
    xh_f = xh[..., None].astype("float32") / 255.0

    model = ARCHS[args.arch](keras)
    aug = augment(keras, args.seed)
    ds = (
        __import__("tensorflow").data.Dataset.from_tensor_slices((xt, yt))
        .shuffle(len(xt), seed=args.seed)
        .batch(args.batch)
        .map(lambda a, b: (aug(a, training=True), b))
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(ds, epochs=args.epochs, verbose=2)
    _, acc = model.evaluate(xh_f, yh, verbose=0)
    return {
        "model": model,
        "held": (xh, yh),
        "held_pred": model.predict(xh_f, verbose=0).argmax(1),
        "card": {
            "name": model.name,
            "architecture": args.arch,
            "data": source,
            "split": f"shuffled with seed {args.seed}; last {args.holdout} digits held out, never trained on; "
            f"{len(xt)} training digits",
            "input": "28x28x1, pixels scaled to 0..1",
            "seed": args.seed,
            "epochs": args.epochs,
            "batch_size": args.batch,
            "optimizer": f"Adam lr={args.lr}",
            "augmentation": "random translation +-8%, rotation +-0.03 turns",
            "heldout_accuracy": round(float(acc), 4),
            "loss_curve": [round(float(v), 4) for v in history.history["loss"]],
            "train_accuracy_curve": [round(float(v), 4) for v in history.history["accuracy"]],
        },
    }


def write_outputs(result: dict, out: Path, stem: str) -> None:
    from PIL import Image

    model = result["model"]
    model.save(out / f"{stem}.keras")
    model.save(out / f"{stem}.h5")
    xh, yh = result["held"]
    np.savez_compressed(out / "exemplars.npz", x=xh, y=yh)
    samples = out / "samples"
    samples.mkdir(exist_ok=True)
    for digit in range(10):
        idx = np.flatnonzero((yh == digit) & (result["held_pred"] == digit))[0]
        Image.fromarray(xh[idx], mode="L").save(samples / f"digit{digit}.png")
    card = result["card"]
    (out / f"{stem}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"held-out accuracy {card['heldout_accuracy']:.4f}; wrote {out}/{stem}.*")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHS), default="cnn")
    p.add_argument("--data", help="npz with x/y, or a folder of MNIST IDX files (default: download)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", type=int, default=1500)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", default=str(HERE))
    p.add_argument("--stem", default="mnist_cnn")
    args = p.parse_args()
    write_outputs(train(args), Path(args.out), args.stem)


if __name__ == "__main__":
    main()
