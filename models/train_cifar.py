"""Train featviz's reference CIFAR-10 models, reproducibly: a ResNet V2 and its plain twin.

    python models/train_cifar.py --arch resnet --data ../shared/data/cifar10-jpeg.zip
    python models/train_cifar.py --arch plain  --data ../shared/data/cifar10-jpeg.zip

Without --data the images come from keras.datasets.cifar10 (a download).
With --data PATH they come from a zip or folder laid out as
`train/<class>/*.jpg` and `test/<class>/*.jpg`, or from an npz holding
x_train, y_train, x_test and y_test.

The models take raw pixels, 0..255, as people feed them: a Rescaling and a
Normalization layer (the training set's channel means and variances) sit
inside, before the stem. Training sees the 50,000 training images only,
with random flips and 4-pixel crops; the 10,000 test images give the
held-out accuracy. Two of them per class become models/samples/cifar-*.png,
and 1,000 (100 per class) the bundled CIFAR exemplars.

On a CPU with native bfloat16 (--precision auto) training runs in mixed
precision, about 1.4x faster on 2 cores; the shipped file is float32.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train import _stages  # noqa: E402

from featviz.runtime.cpu import native_bfloat16  # noqa: E402

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def load_cifar(data: str | None) -> tuple[tuple, tuple, str]:
    """((x_train, y_train), (x_test, y_test), description), x uint8 (N, 32, 32, 3)."""
    if data is None:
        import keras

        (xa, ya), (xb, yb) = keras.datasets.cifar10.load_data()
        return (xa, ya.ravel()), (xb, yb.ravel()), "keras.datasets.cifar10"
    path = Path(data)
    if path.suffix == ".npz":
        with np.load(path) as f:
            return (f["x_train"], f["y_train"].ravel()), (f["x_test"], f["y_test"].ravel()), path.name
    files = _listing(path)
    parts = tuple(_decode(path, [f for f in files if f.startswith(split + "/")]) for split in ("train", "test"))
    return parts[0], parts[1], f"{path.name} (CIFAR-10 as JPEG files)"


def _listing(path: Path) -> list[str]:
    if path.is_dir():
        return sorted(p.relative_to(path).as_posix() for p in path.rglob("*.jpg"))
    with zipfile.ZipFile(path) as z:
        return sorted(n for n in z.namelist() if n.endswith(".jpg"))


def _decode(path: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    opener = zipfile.ZipFile(path) if path.is_file() else None
    read = opener.read if opener else (lambda n: (path / n).read_bytes())
    x = np.stack([np.asarray(Image.open(io.BytesIO(read(n))).convert("RGB")) for n in names])
    y = np.array([CLASSES.index(n.split("/")[1]) for n in names], np.uint8)
    return x, y


def build(keras, arch: str, mean: np.ndarray, var: np.ndarray, width: int = 18):
    """The ResNet V2 or its plain twin (mnist's _stages at 32x32x3, `width` maps in the first stage),
    with preprocessing inside."""
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="image")
    x = L.Rescaling(1 / 255, name="rescale")(inp)
    x = L.Normalization(mean=mean, variance=var, name="normalize")(x)
    name = {"resnet": "cifar10_resnet_v2", "plain": "cifar10_plain_deep"}[arch]
    widths = (width, 2 * width, 4 * width)
    return _stages(keras, residual=arch == "resnet", name=name, inp=inp, x=x, widths=widths)


def dataset(tf, x, y, batch: int, seed: int):
    """Shuffled batches with a random horizontal flip and a random 32x32 crop of the image padded by 4.

    The augmentation works on whole batches: per-image ops cost a third of an epoch on 2 cores.
    """
    generator = tf.random.Generator.from_seed(seed)

    def augment(images, labels):
        n = tf.shape(images)[0]
        flip = generator.uniform((n, 1, 1, 1)) < 0.5
        images = tf.where(flip, tf.reverse(images, axis=[2]), images)
        padded = tf.pad(images, [[0, 0], [4, 4], [4, 4], [0, 0]], mode="REFLECT")
        offsets = generator.uniform((2, n), maxval=9, dtype=tf.int32)
        rows = offsets[0][:, None] + tf.range(32)[None]
        cols = offsets[1][:, None] + tf.range(32)[None]
        images = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        return images, labels

    ds = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch, drop_remainder=True)
    return ds.map(augment).prefetch(2)


def labels_and_loss(keras, y: np.ndarray, smoothing: float):
    """Class indices and sparse cross-entropy; with label smoothing, one-hot rows, which it needs."""
    if not smoothing:
        return y.astype("int32"), "sparse_categorical_crossentropy"
    return np.eye(len(CLASSES), dtype="float32")[y], keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)


def train(args) -> dict:
    import keras
    import tensorflow as tf

    if args.threads:
        # Results depend on how reductions are split; a fixed count makes a run repeatable on any machine.
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    (xt, yt), (xh, yh), source = load_cifar(args.data)
    unit = xt.astype("float32") / 255
    stats = unit.mean(axis=(0, 1, 2)), unit.var(axis=(0, 1, 2))
    if args.precision == "auto":
        args.precision = "bfloat16" if native_bfloat16() else "float32"
    if args.precision == "bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build(keras, args.arch, *stats, width=args.width)
    model.get_layer("predictions").dtype_policy = keras.DTypePolicy("float32")
    labels, loss = labels_and_loss(keras, yt, args.label_smoothing)
    ds = dataset(tf, xt, labels, args.batch, args.seed)
    steps = args.epochs * len(ds)
    warmup = len(ds)
    lr = keras.optimizers.schedules.CosineDecay(0.0, steps - warmup, warmup_target=args.lr, warmup_steps=warmup)
    optimizer = keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    started = time.time()
    # The test images are never trained on; their accuracy is recorded for the model card only.
    # With --backup, an interrupted run started again resumes after its last finished epoch.
    callbacks = [keras.callbacks.BackupAndRestore(args.backup)] if args.backup else []
    history = model.fit(
        ds,
        epochs=args.epochs,
        verbose=2,
        validation_data=(xh.astype("float32"), labels_and_loss(keras, yh, args.label_smoothing)[0]),
        validation_freq=5,
        callbacks=callbacks,
    )
    minutes = (time.time() - started) / 60
    predictions = model.predict(xh.astype("float32"), verbose=0, batch_size=500).argmax(1)
    accuracy = float((predictions == yh).mean())
    keras.mixed_precision.set_global_policy("float32")
    shipped = build(keras, args.arch, *stats, width=args.width)
    shipped.set_weights(model.get_weights())
    return {
        "model": shipped,
        "held": (xh, yh, predictions),
        "card": card(args, model, history, source, accuracy, minutes),
    }


def card(args, model, history, source: str, accuracy: float, minutes: float) -> dict:
    return {
        "name": model.name,
        "architecture": args.arch,
        "description": "ResNet V2 (pre-activation) with basic units, as mnist_resnet_v2 at 32x32x3"
        if args.arch == "resnet"
        else "the ResNet V2's plain twin: the same 20 weighted layers, no shortcuts",
        "data": source,
        "split": "the 50,000 training images for training; the 10,000 test images held out, never trained on",
        "input": "32x32x3 raw pixels, 0..255; Rescaling(1/255) and Normalization "
        "(training-set channel statistics) inside",
        "classes": list(CLASSES),
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch,
        "width": f"{args.width}, {2 * args.width} and {4 * args.width} maps in the three stages",
        "precision": "mixed bfloat16 (float32 weights), shipped as float32"
        if args.precision == "bfloat16"
        else "float32",
        "optimizer": f"SGD nesterov momentum 0.9, lr {args.lr} after a one-epoch warm-up, cosine decay to 0, "
        f"decoupled weight decay {args.weight_decay}, label smoothing {args.label_smoothing}",
        "augmentation": "random horizontal flip, random 32x32 crop of the image reflect-padded by 4",
        "layers": f"{_weighted(model)} weighted layers, {len(model.layers)} Keras layers, "
        f"{model.count_params():,} parameters",
        "training_minutes": round(minutes, 1),
        "machine": _cpu(),
        "threads": args.threads or "TensorFlow's default",
        "test_accuracy": round(accuracy, 4),
        "test_accuracy_every_5_epochs": [round(float(v), 4) for v in history.history.get("val_accuracy", [])],
        "loss_curve": [round(float(v), 4) for v in history.history["loss"]],
        "train_accuracy_curve": [round(float(v), 4) for v in history.history["accuracy"]],
    }


def _weighted(model) -> int:
    return sum(1 for layer in model.layers if layer.weights and "bn" not in layer.name and layer.name != "normalize")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{os.cpu_count()} cores"


def write_outputs(result: dict, out: Path, samples: bool) -> None:
    model, card_ = result["model"], result["card"]
    model.save(out / f"{model.name}.keras")
    (out / f"{model.name}.json").write_text(json.dumps(card_, indent=2) + "\n")
    print(
        f"test accuracy {card_['test_accuracy']:.4f} after {card_['training_minutes']} min; wrote {out}/{model.name}.*"
    )
    if samples:
        write_samples(out, *result["held"])


def write_samples(out: Path, xh: np.ndarray, yh: np.ndarray, predictions: np.ndarray) -> None:
    """cifar-<class>-<n>.png: two correctly classified test images per class; cifar10_exemplars.npz: 100 per class."""
    from PIL import Image

    folder = out / "samples"
    folder.mkdir(exist_ok=True)
    for c, name in enumerate(CLASSES):
        for n, idx in enumerate(np.flatnonzero((yh == c) & (predictions == c))[:2]):
            Image.fromarray(xh[idx]).save(folder / f"cifar-{name}-{n}.png")
    chosen = np.concatenate([np.flatnonzero(yh == c)[:100] for c in range(len(CLASSES))])
    np.savez_compressed(out / "cifar10_exemplars.npz", x=xh[chosen], y=yh[chosen])


def evaluate(path: str, data: str | None) -> float:
    """The held-out accuracy of a saved model, as it is shipped (float32), on the 10,000 test images."""
    import keras

    _, (xh, yh), _ = load_cifar(data)
    model = keras.models.load_model(path)
    return float((model.predict(xh.astype("float32"), batch_size=500, verbose=0).argmax(1) == yh).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=["resnet", "plain"], default="resnet")
    p.add_argument("--data", help="zip or folder of train/<class>/*.jpg and test/<class>/*.jpg, or an npz")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument(
        "--weight-decay", type=float, default=5e-3, help="decoupled (Keras): 5e-3 is about the classic coupled 5e-4"
    )
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--threads", type=int, help="TensorFlow's intra- and inter-op threads (default: TensorFlow's)")
    p.add_argument("--width", type=int, default=18, help="maps in the first stage; the others have 2x and 4x")
    p.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="bfloat16: mixed precision (the shipped file is float32); auto: bfloat16 where the CPU has it natively",
    )
    p.add_argument("--out", default=str(HERE))
    p.add_argument(
        "--backup", help="folder for the state after each epoch: run again to resume (Keras BackupAndRestore)"
    )
    p.add_argument("--samples", action="store_true", help="also write the sample images and the exemplar npz")
    p.add_argument("--evaluate", metavar="MODEL", help="print a saved model's test accuracy and exit; no training")
    args = p.parse_args()
    if args.evaluate:
        print(f"{args.evaluate}: test accuracy {evaluate(args.evaluate, args.data):.4f}")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # before the hour of training, not after it
    write_outputs(train(args), out, args.samples)


if __name__ == "__main__":
    main()
