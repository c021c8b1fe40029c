"""Shared by the benchmarks: this machine's convolution rate, and FLOP counts."""

from __future__ import annotations

import os
import time

from featviz import _tf, models


def conv_rate(repeats: int = 5) -> float:
    """FLOP/s of one large 3x3 convolution (32x64x64x128 -> 128), best of `repeats`."""
    tf = _tf.tf()
    x = tf.random.uniform((32, 64, 64, 128))
    k = tf.random.uniform((3, 3, 128, 128))
    conv = tf.function(lambda: tf.nn.conv2d(x, k, 1, "SAME"))
    conv().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        conv().numpy()
        best = min(best, time.perf_counter() - start)
    return 32 * 64 * 64 * 128 * 9 * 128 * 2 / best


def prefix_flops(model, layer_name: str, canvas: tuple[int, int]) -> float:
    """Forward FLOPs per image of every Conv2D and Dense layer up to layer_name, at canvas size.

    The gradient with respect to the input costs as much again, so a pattern
    step costs twice this per image.
    """
    keras = _tf.keras()
    inp = keras.Input((*canvas, models.input_shape(model)[-1]))
    _, taps = models.run_graph(model, inp, None)
    total = 0.0
    for name, out in taps.items():
        layer = models.get_layer(model, name)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel = layer.kernel.shape
            per_output = 1
            for d in kernel[:-1]:
                per_output *= d
            outputs = 1
            for d in out.shape[1:]:
                outputs *= d
            total += 2.0 * per_output * outputs
        if name == layer_name:
            break
    return total


def cpu_line() -> str:
    """The CPU, whether it computes bfloat16 natively, and what --precision auto picks here."""
    from featviz import cpu

    auto = "bfloat16" if cpu.native_bfloat16() else "float32"
    return f"{cpu.name()}, {os.cpu_count()} cores; native bfloat16: {cpu.native_bfloat16()}; auto picks {auto}"
