"""Small real Keras models and files that the tests build for themselves."""

from __future__ import annotations

import numpy as np
import pytest

from featviz.runtime import _tf, cpu


def keras():
    return _tf.keras()


def tiny_cnn(shape=(12, 12, 1), *, with_input: bool = True, seed: int = 1):
    """conv c1 (4 maps) -> pool -> conv c2 (6 maps) -> flatten -> dense out (3 classes)."""
    k = keras()
    init = k.initializers.GlorotUniform(seed=seed)
    layers = [
        k.layers.Conv2D(4, 3, activation="relu", name="c1", kernel_initializer=init, bias_initializer="ones"),
        k.layers.MaxPooling2D(2, name="pool"),
        k.layers.Conv2D(6, 3, activation="relu", name="c2", kernel_initializer=init, bias_initializer="ones"),
        k.layers.Flatten(name="flat"),
        k.layers.Dense(3, activation="softmax", name="out", kernel_initializer=init),
    ]
    if with_input:
        return k.Sequential([k.Input(shape, name="img"), *layers], name="tiny")
    model = k.Sequential(layers, name="tiny_noinput")
    model.build((None, *shape))
    return model


def with_dead_map(model, layer: str = "c2", index: int = 0):
    """Make one map of a ReLU conv layer zero for every input: zero kernel, negative bias."""
    conv = model.get_layer(layer)
    kernel, bias = conv.get_weights()
    kernel[..., index] = 0.0
    bias[index] = -1.0
    conv.set_weights([kernel, bias])
    return model


def random_digits(n: int = 16, size: int = 12, seed: int = 0) -> np.ndarray:
    """uint8 (n, size, size) strokes on black: a stand-in natural dataset."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        r, c = rng.integers(1, size - 4, size=2)
        x[i, r : r + 4, c] = 255
        x[i, r, c : c + 4] = 200
    return x


# Tests that compute in bfloat16: oneDNN held to AVX2 (ONEDNN_MAX_CPU_ISA, standing in for an AVX2 CPU) refuses it.
needs_bfloat16 = pytest.mark.skipif(not cpu.bfloat16_runs(), reason="oneDNN is held to an ISA without bfloat16")
