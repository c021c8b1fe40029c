"""Time and peak memory of `featviz gallery` on the bundled model, against its targets.

    python benchmarks/bench_gallery.py [--out /tmp/featviz-bench-gallery]

Runs the gallery command end to end in a child process (a fresh Python, as a
user runs it), and reports wall time and peak resident memory side by side
with the targets (60 s, 2 GB on 2 cores). As a baseline from the same run it
also times `featviz patterns` for the same three layers at one seed: the
pattern synthesis alone, without exemplars, pages or the other seeds.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one featviz command in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "featviz.cli", *args], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="featviz-bench-gallery-")
    shutil.rmtree(out, ignore_errors=True)
    gallery_s, gallery_mb = run(["gallery", "--out", out])
    patterns_s = 0.0
    for layer in ("conv1", "conv2", "conv3"):
        seconds, _ = run(["patterns", "--layer", layer, "--out", f"{out}-patterns"])
        patterns_s += seconds
    print("featviz gallery, bundled MNIST CNN (3 layers, 224 maps, seeds 0,1,2, 256 steps)")
    print(f"  wall time                : {gallery_s:6.1f} s   (target <= 60 s)")
    print(f"  peak memory              : {gallery_mb:6.0f} MB  (target <= 2048 MB; ru_maxrss of the child)")
    print(f"  baseline: featviz patterns, same 3 layers, 1 seed, 3 processes: {patterns_s:.1f} s")
    shutil.rmtree(f"{out}-patterns", ignore_errors=True)


if __name__ == "__main__":
    main()
