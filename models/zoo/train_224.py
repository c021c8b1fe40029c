"""Train a 224-pixel model for the plan's estimate (issue #34): keras.applications MobileNetV2, alpha 0.35.

    python models/zoo/train_224.py --data ../shared/data/cifar10-jpeg.zip

The ImageNet weights cannot be downloaded here, and a model with random weights is not what users bring: the
self-check flags most of its maps, where a trained model's are mostly fine. So this trains the architecture of
issue #34's Teachable Machine backbone on CIFAR-10, briefly and from seed 0: first at 64 px (the network is
fully convolutional, so the weights carry over), then at 224 px, the CIFAR images upsampled. It writes
models/zoo/c10_mobilenet_v2_224.keras and its card. It is not a member of zoo.json: its patterns take minutes
per layer, so the zoo's quality table leaves it out; benchmarks/bench_plan.py times the plan against it.
"""

from __future__ import annotations

import argparse
import json
import time

from train_zoo import HERE, SEED, Data, _machine, batches

NAME = "c10_mobilenet_v2_224"
# (pixels, epochs, training images) of each stage
STAGES = ((64, 6, 20000), (224, 1, 6000))
BATCH, LR = 64, 2e-3
HELD_OUT = 2000  # test/ images scored, upsampled to 224 px


def build(keras, size: int):
    return keras.applications.MobileNetV2(
        alpha=0.35, weights=None, input_shape=(size, size, 3), classes=10, classifier_activation="softmax"
    )


def quick_statistics(keras, model) -> None:
    """BatchNormalization's running statistics follow the last ~10 batches rather than keras.applications' ~1,000:
    the short stage at 224 px must replace the statistics of 64 px, or the model predicts one class for all."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9


def dataset(tf, x, y, size: int, train: bool):
    """Batches of CIFAR-10 pixels upsampled to `size`, at -1..1 as MobileNetV2 takes them; training ones shuffled
    and flipped as the zoo's are."""
    ds = batches(tf, x, y, BATCH, flip=True) if train else tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)

    def prepare(images, labels):
        return tf.image.resize(tf.cast(images, tf.float32), (size, size)) / 127.5 - 1, labels

    return ds.map(prepare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="cifar10-jpeg.zip")
    args = parser.parse_args()
    import keras
    import numpy as np
    import tensorflow as tf

    xt, yt, xh, yh, source, split_text = Data(args.data, None).get("cifar")
    keras.utils.set_random_seed(SEED)
    weights, curves, started = None, [], time.time()
    for size, epochs, count in STAGES:
        order = np.random.default_rng(SEED + size).permutation(len(xt))[:count]
        model = build(keras, size)
        if weights is not None:
            model.set_weights(weights)
        quick_statistics(keras, model)
        model.compile(optimizer=keras.optimizers.Adam(LR if weights is None else LR / 4),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
        history = model.fit(dataset(tf, xt[order], yt[order], size, True), epochs=epochs, verbose=2)
        curves.append({"pixels": size, "images": count, **{k: [round(v, 4) for v in history.history[k]]
                                                          for k in ("loss", "accuracy")}})  # fmt: skip
        weights = model.get_weights()
    seconds = time.time() - started
    shipped = build(keras, 224)
    shipped.set_weights(weights)
    held = np.random.default_rng(SEED).permutation(len(xh))[:HELD_OUT]  # test/ is in class order
    predicted = shipped.predict(dataset(tf, xh[held], yh[held], 224, False), verbose=0).argmax(1)
    accuracy = float((predicted == yh[held]).mean())
    path = HERE / f"{NAME}.keras"
    shipped.save(path)
    card = {
        "name": NAME,
        "file": f"models/zoo/{NAME}.keras",
        "description": "keras.applications.MobileNetV2(alpha=0.35, 224x224x3, 10 classes): issue #34's backbone",
        "data": source,
        "data_split": split_text + f"; accuracy on {HELD_OUT} of the test/ images (seed {SEED})",
        "seed": SEED,
        "stages": curves,
        "batch_size": BATCH,
        "optimizer": f"Adam lr {LR} at 64 px, {LR / 4} at 224 px",
        "augmentation": "random horizontal flip",
        "train_seconds": round(seconds, 1),
        "heldout_accuracy": round(accuracy, 4),
        "chance_accuracy": 0.1,
        "params": int(shipped.count_params()),
        "file_bytes": path.stat().st_size,
        "input": "224x224x3 (CIFAR-10 upsampled), pixels / 127.5 - 1, -1..1",
        "featviz_flags": ["--input-range", "-1,1"],
        "machine": _machine(None),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }
    (HERE / f"{NAME}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"== {NAME}: held-out accuracy {accuracy:.4f} after {seconds:.0f} s; wrote {path}", flush=True)


if __name__ == "__main__":
    main()
