"""Shared by the benchmarks: this machine's convolution rate, and FLOP counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
