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

import numpy as np

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


def _unit(keras, x, filters: int, stride: int, name: str, residual: bool):
    """A pre-activation unit (He et al. 2016): BN -> ReLU -> conv, twice.

    With residual=True the input is added back: an identity shortcut, or a
    1x1 projection of the pre-activated input where the shape changes.
    """
    L = keras.layers
    pre = L.ReLU(name=f"{name}_relu1")(L.BatchNormalization(name=f"{name}_bn1")(x))
    y = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(pre)
    y = L.ReLU(name=f"{name}_relu2")(L.BatchNormalization(name=f"{name}_bn2")(y))
    y = L.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    if not residual:
        return y
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(pre)
    return L.Add(name=f"{name}_add")([shortcut, y])


def _stages(keras, residual: bool, name: str, units: int = 3, inp=None, x=None, widths=(16, 32, 64)):
    """Three stages of `units` basic units at `widths` maps (full, 1/2 and 1/4 size); 6*units+2 weighted layers.

    `inp` and `x` let a caller put preprocessing layers between the input and the stem.
    """
    L = keras.layers
    if inp is None:
        inp = x = keras.Input((28, 28, 1), name="digit")
    x = L.Conv2D(widths[0], 3, padding="same", use_bias=False, name="stem")(x)
    for stage, filters in enumerate(widths, 1):
        for unit in range(1, units + 1):
            stride = 2 if stage > 1 and unit == 1 else 1
            x = _unit(keras, x, filters, stride, f"s{stage}u{unit}", residual)
    x = L.ReLU(name="post_relu")(L.BatchNormalization(name="post_bn")(x))
    x = L.GlobalAveragePooling2D(name="pool")(x)
    out = L.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name=name)


def build_resnet(keras):
    """ResNet V2 (pre-activation, He et al. 2016) with basic units: a 3x3 stem, then 3 stages of 3 units
    (BN -> ReLU -> 3x3 conv, twice) at 16, 32 and 64 maps, identity shortcuts, 1x1 projections where the shape
    changes, BN -> ReLU -> global average pool -> dense. 20 weighted layers deep, plus 2 projections."""
    return _stages(keras, residual=True, name="mnist_resnet_v2")


def build_plain(keras):
    """The deep plain CNN: the ResNet V2's 20 weighted layers and BN -> ReLU -> conv order, with no shortcuts."""
    return _stages(keras, residual=False, name="mnist_plain_deep")


ARCHS = {"cnn": build_cnn, "resnet": build_resnet, "plain": build_plain}


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
        __import__("tensorflow")
        .data.Dataset.from_tensor_slices((xt, yt))
        .shuffle(len(xt), seed=args.seed)
        .batch(args.batch)
        .map(lambda a, b: (aug(a, training=True), b))
    )
    lr = args.lr
    if args.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=args.epochs * len(ds))
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # The held-out curve is recorded for the model card only: nothing is tuned on it.
    history = model.fit(ds, epochs=args.epochs, verbose=2, validation_data=(xh_f, yh))
    _, acc = model.evaluate(xh_f, yh, verbose=0)
    return {
        "model": model,
        "held": (xh, yh),
        "held_pred": model.predict(xh_f, verbose=0).argmax(1),
        "card": {
            "name": model.name,
            "architecture": args.arch,
            "description": " ".join((ARCHS[args.arch].__doc__ or "").split()),
            "data": source,
            "split": f"shuffled with seed {args.seed}; last {args.holdout} digits held out, never trained on; "
            f"{len(xt)} training digits",
            "input": "28x28x1, pixels scaled to 0..1",
            "seed": args.seed,
            "epochs": args.epochs,
            "layers": f"{sum(1 for layer in model.layers if layer.weights and 'bn' not in layer.name)} weighted layers "
            f"(conv and dense), {len(model.layers)} Keras layers, {model.count_params():,} parameters",
            "batch_size": args.batch,
            "optimizer": f"Adam lr={args.lr}" + (", cosine decay to 0" if args.schedule == "cosine" else ""),
            "augmentation": "random translation +-8%, rotation +-0.03 turns",
            "heldout_accuracy": round(float(acc), 4),
            "heldout_accuracy_curve": [round(float(v), 4) for v in history.history.get("val_accuracy", [])],
            "loss_curve": [round(float(v), 4) for v in history.history["loss"]],
            "train_accuracy_curve": [round(float(v), 4) for v in history.history["accuracy"]],
        },
    }


def write_outputs(result: dict, out: Path, stem: str, samples: bool) -> None:
    from PIL import Image

    model = result["model"]
    model.save(out / f"{stem}.keras")
    card = result["card"]
    (out / f"{stem}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"held-out accuracy {card['heldout_accuracy']:.4f}; wrote {out}/{stem}.*")
    if not samples:
        return
    model.save(out / f"{stem}.h5")
    xh, yh = result["held"]
    np.savez_compressed(out / "exemplars.npz", x=xh, y=yh)
    folder = out / "samples"
    folder.mkdir(exist_ok=True)
    for digit in range(10):
        idx = np.flatnonzero((yh == digit) & (result["held_pred"] == digit))[0]
        Image.fromarray(xh[idx]).save(folder / f"digit{digit}.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHS), default="cnn")
    p.add_argument("--data", help="npz with x/y, or a folder of MNIST IDX files (default: download)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", type=int, default=1500)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--schedule",
        choices=["constant", "cosine"],
        default=None,
        help="learning rate schedule (default: constant for cnn, cosine for the BN models)",
    )
    p.add_argument("--out", default=str(HERE))
    p.add_argument("--stem", help="output file stem (default: by --arch)")
    p.add_argument(
        "--samples",
        action="store_true",
        help="also write the .h5 copy, the held-out exemplars and the sample digits (done for cnn)",
    )
    args = p.parse_args()
    args.schedule = args.schedule or ("constant" if args.arch == "cnn" else "cosine")
    stem = args.stem or {"cnn": "mnist_cnn", "resnet": "mnist_resnet_v2", "plain": "mnist_plain_deep"}[args.arch]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # before the training, not after it
    write_outputs(train(args), out, stem, args.samples or args.arch == "cnn")


if __name__ == "__main__":
    main()
