"""The weights between maps: what reading and expanding them costs, and what they add to a gallery.

For each bundled model: the time `models.weights.expand_all` takes for every
convolution after the first (the gallery's "built from" sections), the
kernel-slice pictures those sections write (count, bytes, time to draw),
and `featviz patterns --weights` end to end in a fresh process (model load
included) at --precision auto and float32.

    python benchmarks/bench_weights.py [--repeat 5] [--models mnist_cnn.keras,...]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _common import cpu_line

from featviz import defaults, models
from featviz.models import weights
from featviz.pixels import images
from featviz.report import thumbs
from featviz.report.built_from import SLICE_PX

MODELS = "mnist_cnn.keras,mnist_plain_deep.keras,mnist_resnet_v2.keras,cifar10_resnet_v2.keras,cifar10_plain_deep.keras"


def best_of(repeat: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def slice_pictures(found: dict[str, weights.Expanded], maps: dict[str, int]) -> tuple[int, int]:
    """Every slice a gallery's sections draw, as PNG bytes in memory: (count, bytes)."""
    count = size = 0
    for name, expanded in found.items():
        for m in range(maps[name]):
            up, down = expanded.top(m, defaults.INPUTS)
            vmax = max((float(abs(f.kernel).max()) for f in up + down), default=1e-8) or 1e-8
            for f in up + down:
                pixels = thumbs.colormap(f.kernel, -vmax, vmax, "RdBu_r")
                png = images.png_bytes(thumbs.upscale(pixels, thumbs.factor_for(f.kernel.shape[0], SLICE_PX)))
                count, size = count + 1, size + len(png)
    return count, size


def command_seconds(model: str, layer: str, precision: str, repeat: int) -> float:
    """`featviz patterns MODEL --layer LAYER --weights` in a fresh process: the median wall time."""
    cmd = [sys.executable, "-m", "featviz", "patterns", model, "--layer", layer, "--weights", "--precision", precision]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, repeat: int) -> dict:
    model = models.load(name).model
    layers = models.list_layers(model)
    first = models.first_convolution(layers)
    convs = [i for i in layers if i.class_name == "Conv2D" and i.name != first.name]
    stops = {i.name for i in models.feature_layers(model)}
    seconds, found = best_of(repeat, lambda: weights.expand_all(model, [i.name for i in convs], stops))
    draw, (count, size) = best_of(1, lambda: slice_pictures(found, {i.name: i.maps for i in convs}))
    maps = sum(i.maps for i in convs)
    return dict(model=name, convs=len(convs), maps=maps, expand=seconds, slices=count, kib=size / 1024, draw=draw,
                auto=command_seconds(name, convs[-1].name, "auto", 3),
                float32=command_seconds(name, convs[-1].name, "float32", 3))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5, help="Runs of expand_all; the best is printed.")
    p.add_argument("--models", default=MODELS)
    args = p.parse_args()
    print(f"machine: {cpu_line()}")
    print("| model | convolutions after the first | their maps | expand_all (best) | slice PNGs | KiB | drawn in "
          "| `patterns --weights`, auto | float32 |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.models.split(","):
        r = measure(name, args.repeat)
        cells = [r["model"], r["convs"], r["maps"], f"{r['expand'] * 1000:.0f} ms", r["slices"], f"{r['kib']:.0f}",
                 f"{r['draw']:.2f} s", f"{r['auto']:.1f} s", f"{r['float32']:.1f} s"]  # fmt: skip
        print("| " + " | ".join(map(str, cells)) + " |", flush=True)


if __name__ == "__main__":
    main()
