"""Layer outputs for a batch of images: eager for a small batch, compiled in chains for a large one.

An eager pass runs one operation at a time, and with featviz's chains
(chains.py) each operation has one core's threads. A pass over many large
images therefore runs compiled, each chain on its own part of the batch at
once. Compiling costs a trace, so a small pass stays eager.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection

import numpy as np

from ..runtime import _tf, chains
from . import graph

COMPILED_ABOVE = 1 << 21  # input values in one call (about eight 224x224x3 images)

_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {(layers, logits, mean): function}


def outputs(
    model, inputs: np.ndarray, layers: Collection[str], *, logits: bool = False, spatial_mean: bool = False
) -> dict[str, np.ndarray]:
    """The outputs of `layers` for `inputs` (in the model's input range), as arrays.

    logits: a layer ending in softmax gives its logits. spatial_mean: each
    output is averaged over its height and width, (N, channels).
    """
    want = frozenset(layers)
    if inputs.size <= COMPILED_ABOVE or chains.count() == 1:
        return {k: np.asarray(v) for k, v in _pass(model, want, logits, spatial_mean)(inputs).items()}
    key = (want, logits, spatial_mean)
    known = _compiled.setdefault(model, {})
    if key not in known:
        one = _pass(model, want, logits, spatial_mean)
        known[key] = graph.compile_if_traceable(
            model, lambda *parts: [one(part) for part in parts], reduce_retracing=True, autograph=False
        )
    found = known[key](*chains.split(inputs))
    return {k: np.concatenate([np.asarray(part[k]) for part in found]) for k in want}


def _pass(model, want: frozenset, logits: bool, spatial_mean: bool):
    held = weakref.ref(model)  # the compiled pass, cached per model, must not keep its model alive

    def run(x):
        tf = _tf.tf()
        call = graph.logits_of(want) if logits else None
        _, taps = graph.run_graph(held(), tf.convert_to_tensor(x), want, call, stop=True)
        if spatial_mean:
            return {k: tf.reduce_mean(v, axis=[1, 2]) for k, v in taps.items()}
        return taps

    return run
