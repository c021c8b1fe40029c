"""Time and peak memory of `featviz gallery`, at both precisions, against its targets.

    python benchmarks/bench_gallery.py [--model cifar10_resnet_v2.keras] [--precisions auto,float32]
                                       [--convolutions-only] [--out /tmp/featviz-bench-gallery]

Runs the gallery command end to end in a child process per run (a fresh
Python, as a user runs it), at each precision, and reports wall time and
the child's peak resident memory. The targets: for the bundled MNIST CNN,
<= 45 s at float32 and <= 1.5 GB (issue #13; 60 s and 2 GB before); for the
CIFAR-10 ResNet V2, all its convolutions at 3 seeds, <= 10 minutes (#12).
As a baseline from the same run it also times `featviz patterns` for the
gallery's innermost layer at one seed: pattern synthesis alone. The
precision `auto` picks on this machine is printed with the CPU.
--convolutions-only passes the model's convolutions as --layers: the
default gallery also renders merges, such as a ResNet's residual sums,
which #12's goal does not count.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_line, in_child

# Runs featviz's CLI and writes the process's own peak memory (MB) to the file named first.
CHILD = """
import json, resource, sys
from featviz.cli import main
report, sys.argv = sys.argv[1], ["featviz", *sys.argv[2:]]
try:
    main()
finally:
    open(report, "w").write(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one featviz command in a fresh child process."""
    return in_child(CHILD, args)


def convolutions(model_spec: str) -> list[str]:
    """The model's convolutional layers among the gallery's default layers."""
    from featviz import models

    model = models.load(model_spec).model
    return [layer.name for layer in models.feature_layers(model) if "Conv" in layer.class_name]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist_cnn.keras")
    p.add_argument("--precisions", default="auto,float32")
    p.add_argument("--convolutions-only", action="store_true", help="the convolutions alone, without merges")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="featviz-bench-gallery-")
    layers = convolutions(args.model) if args.convolutions_only else []
    which = f"its {len(layers)} convolutions" if layers else "default layers"
    print(f"featviz gallery {args.model} ({which}, seeds 0,1,2, 256 steps)")
    print(f"  machine: {cpu_line()}")
    for precision in args.precisions.split(","):
        shutil.rmtree(out, ignore_errors=True)
        extra = ["--layers", ",".join(layers)] if layers else []
        seconds, mb = run(["gallery", args.model, "--precision", precision, "--out", out, *extra])
        print(f"  --precision {precision:<8}: {seconds:7.1f} s wall, {mb:6.0f} MB peak")
    shutil.rmtree(f"{out}-patterns", ignore_errors=True)
    seconds, _ = run(["patterns", args.model, "--out", f"{out}-patterns"])
    print(f"  baseline: featviz patterns {args.model}, its default layer, 1 seed: {seconds:.1f} s")
    shutil.rmtree(f"{out}-patterns", ignore_errors=True)


if __name__ == "__main__":
    main()
