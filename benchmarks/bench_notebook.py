"""docs/quickstart.ipynb's calls timed one by one, in a fresh process per precision, and the whole notebook on
a real Jupyter kernel (what tests/test_notebook.py runs).

    python benchmarks/bench_notebook.py [--precisions auto,float32] [--repeat 1] [--skip-kernel]

Prints wall and CPU seconds (user + system, this process and its threads) per call. On a shared machine
the CPU seconds are the steadier figure: wall time grows with the other jobs' load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MNIST = ["mnist_cnn.keras", "mnist_plain_deep.keras", "mnist_resnet_v2.keras"]

CALLS = """
import json, os, sys, time
clock = lambda: (time.perf_counter(), sum(os.times()[:2]))
times, precision = {}, sys.argv[1]
def timed(name, call):
    (w, c) = clock(); out = call(); (w2, c2) = clock()
    times[name] = (round(w2 - w, 2), round(c2 - c, 2))
    return out
featviz = timed("import featviz", lambda: __import__("featviz"))
model = timed("load (TensorFlow imported)", lambda: featviz.load("mnist_cnn.keras"))
timed("layers", lambda: featviz.layers(model).lines())
acts = timed("activations", lambda: featviz.activations(model, "digit6.png"))
timed("activations drawn (PNG)", lambda: acts._repr_png_())
found = timed("patterns: conv3, 8 maps x 128 steps",
              lambda: featviz.patterns(model, "conv3", maps=range(8), steps=128, precision=precision))
timed("patterns drawn (HTML and PNG)", lambda: (found._repr_html_(), found._repr_png_()))
compared = timed("compare: 3 models, 4 maps x 128 steps",
                 lambda: featviz.compare(MNIST, "digit6.png", top_k=4, steps=128, precision=precision))
timed("compare drawn (PNG)", lambda: compared._repr_png_())
print(json.dumps(times))
"""


def calls(precision: str) -> dict[str, tuple[float, float]]:
    code = f"MNIST = {MNIST!r}\n{CALLS}"
    done = subprocess.run([sys.executable, "-c", code, precision], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def kernel() -> float:
    """The whole notebook on a python3 kernel, wall seconds from the kernel's start to its last cell."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "docs" / "quickstart.ipynb", as_version=4)
    started = time.perf_counter()
    where = {"metadata": {"path": str(REPO / "docs")}}
    NotebookClient(notebook, kernel_name="python3", timeout=600, resources=where).execute(
        env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", default="auto,float32")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-kernel", action="store_true")
    args = parser.parse_args()
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")
    print(f"CPU: {cpu}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for precision in args.precisions.split(","):
        for run in range(args.repeat):
            print(f"\n--precision {precision}, run {run + 1}: call, wall s, CPU s")
            for name, (wall, cpu_s) in calls(precision).items():
                print(f"  {name:<40} {wall:>7.2f} {cpu_s:>7.2f}")
    if not args.skip_kernel:
        print(f"\nthe whole notebook on a real kernel: {kernel():.1f} s wall")


if __name__ == "__main__":
    main()
