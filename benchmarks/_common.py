"""Shared by the benchmarks: this machine's convolution rate and memory bandwidth, and FLOP counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from featviz.models.cost import prefix_flops  # noqa: F401  (the benchmarks' FLOP counts are the plan's)
from featviz.runtime import _tf

HERE = Path(__file__).resolve().parent


def conv_rate(repeats: int = 5) -> float:
    """FLOP/s of one large 3x3 convolution (32x64x64x128 -> 128) on all cores, best of `repeats`.

    With featviz's chains (featviz/chains.py) each operation gets one core's
    threads, so the batch is split into the same chains and run at once;
    TensorFlow's default threads spread the single convolution instead.
    """
    tf = _tf.tf()
    from featviz.runtime import chains

    x = tf.random.uniform((32, 64, 64, 128))
    k = tf.random.uniform((3, 3, 128, 128))
    parts = chains.sizes(32)
    conv = tf.function(lambda: [tf.nn.conv2d(part, k, 1, "SAME") for part in tf.split(x, parts)])
    [c.numpy() for c in conv()]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        [c.numpy() for c in conv()]
        best = min(best, time.perf_counter() - start)
    return 32 * 64 * 64 * 128 * 9 * 128 * 2 / best


def memory_rate(repeats: int = 5, mib: int = 256) -> tuple[float, float]:
    """Bytes/s of one large float32 add (x + y, `mib` MiB each) on all cores, best of `repeats`: (numpy, TensorFlow).

    Counted as STREAM counts an add: two arrays read and one written (3 x mib
    MiB), not the extra read a cache line's write-allocate costs. At 256 MiB
    the arrays are far larger than any cache here, as a 224-px batch's
    activations are. numpy adds into an array allocated once, one thread per
    core; TensorFlow adds in the chains (one core's threads each), and
    allocates its output each time, as a step does.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from featviz.runtime import chains

    tf, n = _tf.tf(), mib * 2**20 // 4
    x, y, out = np.random.rand(n).astype(np.float32), np.random.rand(n).astype(np.float32), np.empty(n, np.float32)
    rows = chains.slices(n, chains.cores())
    with ThreadPoolExecutor(len(rows)) as pool:
        numpy = _best(lambda: list(pool.map(lambda r: np.add(x[r], y[r], out=out[r]), rows)), repeats)
    tx, ty, parts = tf.constant(x), tf.constant(y), chains.sizes(n)
    add = tf.function(lambda: [a + b for a, b in zip(tf.split(tx, parts), tf.split(ty, parts))])
    tensorflow = _best(lambda: [c.numpy() for c in add()], repeats)
    return 3 * 4 * n / numpy, 3 * 4 * n / tensorflow


def _best(run, repeats: int) -> float:
    """The shortest of `repeats` timed runs of `run`, after one untimed run."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def in_default_threads(module: str, function: str, **kwargs):
    """`module.function(**kwargs)` in a child process with TensorFlow's default threads, and its JSON result.

    Peers are timed this way, as their users run them: featviz's chains give
    each operation one core's threads, which slows a single chain of work.
    """
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import {module}; "
        f"print('@@' + json.dumps({module}.{function}(**json.loads(sys.argv[1]))))"
    )
    env = {**os.environ, "FEATVIZ_CHAINS": "1"}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{module}.{function} failed in its child process:\n{done.stderr[-2000:]}")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("@@")][-1][2:])


def cpu_line() -> str:
    """The device (a GPU TensorFlow sees, else the CPU), whether the CPU computes bfloat16 natively, and what
    --precision auto picks here."""
    from featviz.runtime import cpu

    found = _tf.device()
    return f"{found.text()}; native bfloat16 on the CPU: {cpu.native_bfloat16()}; auto picks {found.auto_precision}"


def in_child(child: str, args: list[str]) -> tuple[float, object]:
    """Wall seconds of `child` (Python code that writes its JSON report to the file named by sys.argv[1]) run with
    `args` in a fresh process, and that report."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", child, report.name, *args], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        return seconds, json.loads(Path(report.name).read_text())
