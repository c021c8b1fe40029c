"""How fast and how lean is the exemplar scan on a 224x224 model?

    python benchmarks/bench_scan.py [--images 512] [--layers 3]

On keras.applications MobileNetV2 (weights=None: random weights time the
same) at 224x224x3, it scans a folder of JPEG files written for the run and
prints, side by side, all measured in this one process:

  - featviz: `exemplars.scan` streamed in batches of SCAN_BATCH, compiled,
    returning only per-map numbers; decoding and centre-cropping included;
  - the baseline: the way featviz 0.2 scanned, all images decoded into one
    array first, then the extractor called eagerly batch by batch and the
    maps reduced in NumPy, with TensorFlow's default threads;
  - the compute floor: the forward FLOPs up to the last scanned layer, for
    every image, over the FLOP rate this machine reaches for one large
    float32 convolution;
  - the peak memory each one adds, measured in child processes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import conv_rate, cpu_line, prefix_flops


def write_images(folder: Path, count: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=85)


def model_and_layers(count: int):
    from featviz import models
    from featviz.runtime import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    layers = [info.name for info in models.feature_layers(model)]
    return model, layers[len(layers) // 2 : len(layers) // 2 + count]


def run_featviz(folder: Path, count: int) -> float:
    from featviz.natural import datasets, exemplars

    model, layers = model_and_layers(count)
    data = datasets.load(folder)
    start = time.perf_counter()
    exemplars.scan(model, layers, data, (0.0, 1.0), exemplars.ScanOptions(top_k=9))
    return time.perf_counter() - start


def run_baseline(folder: Path, count: int) -> float:
    from featviz import models
    from featviz.natural import datasets
    from featviz.pixels import images

    model, layers = model_and_layers(count)
    data = datasets.load(folder)
    start = time.perf_counter()
    x = images.to_range(data.take(range(len(data)), (224, 224, 3)), (0.0, 1.0))  # everything in memory
    net = models.extractor(model, layers)
    values = []
    for i in range(0, len(x), 64):
        outs = net(x[i : i + 64], training=False)
        values.append([np.asarray(o).mean(axis=(1, 2)) for o in outs])
    return time.perf_counter() - start


def child(kind: str, folder: Path, count: int) -> tuple[float, float]:
    """(seconds, peak MB) of one scan in a fresh process; the baseline with TensorFlow's default threads, as 0.2 ran."""
    env = {**os.environ, "FEATVIZ_CHAINS": "1"} if kind == "baseline" else None
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import bench_scan as b, resource; "
        f"s = b.run_{kind}(__import__('pathlib').Path({str(folder)!r}), {count}); "
        "print(s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    out = done.stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--layers", type=int, default=3, help="feature layers scanned, from the middle of the net")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="featviz-bench-scan-") as tmp:
        folder = Path(tmp)
        write_images(folder, args.images)
        model, layers = model_and_layers(args.layers)
        flops = prefix_flops(model, layers[-1], (224, 224)) * args.images
        floor = flops / conv_rate()
        ours = child("featviz", folder, args.layers)
        base = child("baseline", folder, args.layers)
    print(f"exemplar scan, MobileNetV2 224x224x3, {args.images} JPEG images (320x240), layers {', '.join(layers)}")
    print(f"  machine                 : {cpu_line()}")
    print(f"  compute floor           : {floor:7.2f} s  ({flops / 1e9:.0f} GFLOP forward)")
    print(f"  featviz (streamed)      : {ours[0]:7.2f} s  = {ours[0] / floor:.1f} x floor; peak {ours[1]:6.0f} MB")
    print(f"  baseline (all in memory): {base[0]:7.2f} s  = {base[0] / floor:.1f} x floor; peak {base[1]:6.0f} MB")


if __name__ == "__main__":
    main()
