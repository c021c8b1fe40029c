"""What Ray costs on one small machine, and what a ResNet50V2 gallery would cost on a cluster.

    python benchmarks/bench_ray.py [--seeds 0] [--gpu-tflops 100 --gpu-efficiency 0.3]

1. Measured here, side by side in child processes: `featviz gallery` on the
   bundled MNIST CNN with the local executor, and with `--executor ray`
   (a local Ray started for the run, one worker per core). On 2 cores the
   difference is Ray's overhead: starting, shipping the model, and actors
   that each import TensorFlow.
2. On paper: the units and FLOPs of a full ResNet50V2 gallery at 224x224
   (every convolution and merge, 3 seeds, 256 steps), and its hours on N
   GPUs. A step costs the forward pass up to the layer plus the input
   gradient (2x). The GPU rate is an assumption you pass (--gpu-tflops,
   --gpu-efficiency); the efficiency featviz reaches on this CPU (its time
   over the compute floor, bench_patterns.py) is printed beside it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_line, prefix_flops


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "featviz", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def plan(seeds: int, steps: int) -> tuple[int, int, float]:
    """(units, channels, FLOPs) of a ResNet50V2 gallery at 224x224."""
    from featviz import models
    from featviz.execution import batches
    from featviz.runtime import _tf

    keras = _tf.keras()
    model = keras.applications.ResNet50V2(weights=None, input_shape=(224, 224, 3))
    layers = models.feature_layers(model)
    channels = sum(layer.units for layer in layers)
    units = seeds * sum(len(batches.chunks(range(layer.units))) for layer in layers)
    flops = sum(2 * prefix_flops(model, layer.name, (224, 224)) * layer.units for layer in layers) * seeds * steps
    return units, channels, flops


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0")
    p.add_argument("--gpu-tflops", type=float, default=100.0, help="peak of one GPU (an assumption)")
    p.add_argument(
        "--gpu-efficiency", type=float, default=0.3, help="share of that peak a step reaches (an assumption)"
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        local = timed(["gallery", "--seeds", args.seeds, "--out", f"{tmp}/local"])
        ray = timed(["gallery", "--seeds", args.seeds, "--executor", "ray", "--out", f"{tmp}/ray"])
    print(f"featviz gallery, bundled MNIST CNN, seeds {args.seeds}; {cpu_line()}")
    print(f"  local executor          : {local:7.1f} s")
    print(
        f"  Ray, local cluster      : {ray:7.1f} s  (+{ray - local:.1f} s: Ray's start, model shipping, worker imports)"
    )
    units, channels, flops = plan(3, 256)
    rate = args.gpu_tflops * 1e12 * args.gpu_efficiency
    print("ResNet50V2 at 224x224, every convolution and merge, 3 seeds, 256 steps (on paper)")
    print(f"  channels {channels:,}; units of <= 128 maps: {units:,}; {flops / 1e15:,.1f} PFLOP")
    for gpus in (1, 8, 64):
        print(
            f"  {gpus:3d} GPU(s) at {args.gpu_tflops:g} TFLOP/s x {args.gpu_efficiency:.0%}: "
            f"{flops / rate / gpus / 3600:8.1f} h"
        )


if __name__ == "__main__":
    main()
