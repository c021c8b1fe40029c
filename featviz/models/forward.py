"""Layer outputs for a batch of images: eager for a small batch, compiled in chains for a large one.

An eager pass runs one operation at a time, and with featviz's chains
(chains.py) each operation has one core's threads. A pass over many images
therefore runs compiled, each chain on its own part of the batch at once,
in chunks of about CHUNK_VALUES input values (so a pass over many 224-pixel
images holds a few of them at a time). Compiling costs a trace, once per
model, layers and image shape, whatever the batch; so a small pass stays eager.
On the CIFAR-10 ResNet V2, 576 images to `s3u3_add` took 1.04 s eager and
0.40 s compiled, after a 0.4 s trace; 128 images, 0.28 s and 0.08 s.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection

import numpy as np

from ..runtime import _tf, chains
from . import graph

COMPILED_ABOVE = 1 << 19  # input values in one call (about 170 CIFAR-10 images): a larger pass runs compiled
CHUNK_VALUES = 1 << 21  # a compiled pass's chunks (about 680 CIFAR-10 images, or eight 224x224x3 ones)

_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {(layers, logits, mean, ...): function}


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
    inputs = np.asarray(inputs, np.float32)
    step = max(1, CHUNK_VALUES // max(1, int(np.prod(inputs.shape[1:]))))
    found = []
    for start in range(0, len(inputs), step):
        parts = chains.split(inputs[start : start + step])
        found += _compiled_pass(model, want, logits, spatial_mean, parts)(*parts)
    return {k: np.concatenate([np.asarray(part[k]) for part in found]) for k in want}


def _compiled_pass(model, want: frozenset, logits: bool, spatial_mean: bool, parts: list[np.ndarray]):
    """The pass compiled for chains' parts of images shaped as `parts`' are, whatever their number."""
    tf = _tf.tf()
    key = (want, logits, spatial_mean, parts[0].shape[1:], len(parts))
    known = _compiled.setdefault(model, {})
    if key not in known:
        one = _pass(model, want, logits, spatial_mean)
        signature = [tf.TensorSpec((None, *parts[0].shape[1:]), tf.float32)] * len(parts)
        known[key] = graph.compile_if_traceable(
            model, lambda *each: [one(part) for part in each], input_signature=signature, autograph=False
        )
    return known[key]


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


def picked(model, inputs: np.ndarray, picks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """For each layer of `picks`, the maps of its (image row, channel) pairs (K, 2): (K, *spatial).

    One compiled pass per chunk of images for every layer at once (the gallery's exemplar pictures took a pass
    and a trace per layer), each chain on its own rows, holding only the picked maps, not the layers' outputs.
    """
    layers = sorted(picks)
    inputs = np.asarray(inputs, np.float32)
    step = max(1, CHUNK_VALUES // max(1, int(np.prod(inputs.shape[1:]))))
    found: dict[str, list] = {k: [] for k in layers}
    for start in range(0, len(inputs), step):
        parts = [slice(start + s.start, start + s.stop) for s in chains.slices(min(step, len(inputs) - start))]
        mine = [{k: np.flatnonzero((picks[k][:, 0] >= r.start) & (picks[k][:, 0] < r.stop)) for k in layers}
                for r in parts]  # fmt: skip
        args = []
        for rows, here in zip(parts, mine):
            args += [inputs[rows], *[(picks[k][here[k]] - [rows.start, 0]).astype(np.int32) for k in layers]]
        outs = _picking_pass(model, tuple(layers), inputs.shape[1:], len(parts))(*args)
        for i, here in enumerate(mine):
            for j, k in enumerate(layers):
                found[k].append((here[k], np.asarray(outs[i * len(layers) + j])))
    result = {}
    for k in layers:
        where = np.concatenate([w for w, _ in found[k]])
        values = np.concatenate([v for _, v in found[k]])
        result[k] = np.empty_like(values)
        result[k][where] = values
    return result


def _picking_pass(model, layers: tuple[str, ...], shape: tuple[int, ...], parts: int):
    """The compiled picking pass: per part, (images, one (K, 2) pairs per layer) in; per part and layer, the maps."""
    tf = _tf.tf()
    key = ("picked", layers, shape, parts)
    known = _compiled.setdefault(model, {})
    if key not in known:
        held, width = weakref.ref(model), 1 + len(layers)

        def pick(x, pairs):
            _, taps = graph.run_graph(held(), tf.convert_to_tensor(x), frozenset(layers), stop=True)
            out = []
            for k, p in zip(layers, pairs):
                rank = taps[k].shape.rank
                channels_second = tf.transpose(taps[k], [0, rank - 1, *range(1, rank - 1)])
                out.append(tf.gather_nd(channels_second, p))
            return out

        def run(*args):
            return [o for i in range(parts) for o in pick(args[i * width], args[i * width + 1 : (i + 1) * width])]

        one = [tf.TensorSpec((None, *shape), tf.float32)] + [tf.TensorSpec((None, 2), tf.int32)] * len(layers)
        known[key] = graph.compile_if_traceable(model, run, input_signature=one * parts, autograph=False)
    return known[key]
