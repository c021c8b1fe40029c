"""Objectives: what gradient ascent maximizes, one value per image.

An objective is a function of (taps, images) -> (N,), where taps maps layer
names to their outputs and images are the canvas in 0..1 (before it is
mapped into the model's input range). Objectives combine
with arithmetic, so a regularizer is just another objective:

    channel("conv3", 5) - 1e-3 * total_variation()

Combining never mutates an operand; it builds a new objective.

An objective that scores each image on its own (every one here but the
layer-list `match`) also knows how to score some of the batch's images: a
step then runs the network on a few images at a time (ascent.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from .. import defaults
from ..runtime import _tf

KINDS = defaults.OBJECTIVES  # and "at:Y,X", one unit of each map (parse_kind)


class Objective:
    """fn(taps, images) -> (N,), the layers it reads, and a name.

    `rows`, if given, scores part of the batch: rows(positions) is the fn for the images at `positions` of the
    batch (an int32 tensor), for an objective whose value for an image depends on that image alone. Without it
    (a custom objective, or one that compares images) a step runs the whole batch at once.
    """

    def __init__(
        self, fn: Callable, layers: frozenset[str] = frozenset(), name: str = "objective", rows: Callable | None = None
    ):
        self.fn = fn
        self.layers = frozenset(layers)
        self.name = name
        self.rows = rows

    def __call__(self, taps: dict, images):
        return self.fn(taps, images)

    def __repr__(self) -> str:
        return f"Objective({self.name})"

    def _combine(self, other, op: Callable, symbol: str) -> Objective:
        other = as_objective(other)
        both = self.rows is not None and other.rows is not None
        return Objective(
            lambda taps, images: op(self(taps, images), other(taps, images)),
            self.layers | other.layers,
            f"({self.name} {symbol} {other.name})",
            (lambda at: lambda taps, images: op(self.rows(at)(taps, images), other.rows(at)(taps, images)))
            if both
            else None,
        )

    def __add__(self, other):
        return self._combine(other, lambda a, b: a + b, "+")

    def __radd__(self, other):
        return as_objective(other) + self

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a - b, "-")

    def __rsub__(self, other):
        return as_objective(other) - self

    def __mul__(self, factor: float):
        if isinstance(factor, Objective):
            return self._combine(factor, lambda a, b: a * b, "*")
        rows = (lambda at: lambda taps, images: factor * self.rows(at)(taps, images)) if self.rows else None
        return Objective(
            lambda taps, images: factor * self(taps, images), self.layers, f"{factor:g} * {self.name}", rows
        )

    __rmul__ = __mul__

    def __neg__(self):
        return -1.0 * self


def as_objective(value) -> Objective:
    if isinstance(value, Objective):
        return value
    constant = float(value)
    return each_image(lambda taps, images, at: constant, name=f"{constant:g}")


def each_image(fn: Callable, layers: frozenset[str] = frozenset(), name: str = "objective") -> Objective:
    """An Objective from fn(taps, images, at) that scores each image on its own: `at` is None for the whole
    batch, or the batch positions of the images given (then `per_image` picks their constants)."""
    return Objective(
        lambda taps, images: fn(taps, images, None), layers, name, lambda at: lambda taps, images: fn(taps, images, at)
    )


def per_image(values, at, dtype=np.float32):
    """A constant with one row per image of the batch, as a tensor: all of it, or the rows at positions `at`.
    A single row is every image's, whatever `at`."""
    tf = _tf.tf()
    whole = tf.constant(np.asarray(values, dtype))
    return whole if at is None or len(values) == 1 else tf.gather(whole, at)


def parse_kind(kind: str) -> tuple[int, int] | None:
    """None for "mean" and "center"; (y, x) for "at:Y,X"; anything else is refused."""
    if kind in KINDS:
        return None
    try:
        y, x = (int(v) for v in kind.removeprefix("at:").split(","))
    except ValueError:
        raise ValueError(f"objective kind must be one of {KINDS} or at:Y,X, not {kind!r}") from None
    if not kind.startswith("at:") or y < 0 or x < 0:
        raise ValueError(f"objective kind must be one of {KINDS} or at:Y,X, not {kind!r}")
    return y, x


def channel(layer: str, index: int | Sequence[int], kind: str = "mean") -> Objective:
    """A map of `layer`: its mean, its centre unit, or the unit at ("at:Y,X"); a unit of a flat layer.

    With a sequence of indices, image i is scored on map index[i]: this is
    how every map of a layer is optimized in one batch. On a layer with flat
    output (a Dense layer, logits) a map is one unit, and kind is ignored.
    The same arguments give the same Objective, so a render can reuse the step
    that a calibration compiled for it (render.time_steps).
    """
    return _channel(layer, index if isinstance(index, int) else tuple(int(i) for i in index), kind)


@functools.lru_cache(maxsize=256)
def _channel(layer: str, index: int | tuple[int, ...], kind: str) -> Objective:
    parse_kind(kind)

    def fn(taps, images, at):
        tf = _tf.tf()
        out = taps[layer]
        if isinstance(index, int):
            selected = out[..., index]
        else:
            selected = tf.gather(out, per_image(index, at, np.int32), axis=len(out.shape) - 1, batch_dims=1)
        return selected if len(selected.shape) == 1 else reduce_map(selected, kind)

    return each_image(fn, frozenset([layer]), f"{kind} of {layer}[{_describe(index)}]")


def apart(layer: str, index: Sequence[int], limits: np.ndarray, kind: str = "mean") -> Objective:
    """`channel(layer, index, kind)`, less how far image i drives each other map k of the layer past limits[i, k].

    The self-check's "apart" remedy for collapsed maps (evaluation/self_check.py): a map's own value is raised
    while every other map is held below a limit, the value its own pattern reaches (a little less), or inf
    where there is nothing to keep. The candidate then drives its map without out-driving other maps' patterns.
    """
    parse_kind(kind)

    def fn(taps, images, at):
        tf = _tf.tf()
        values = tf.cast(reduce_maps(taps[layer], kind), tf.float32)
        chosen = per_image(list(index), at, np.int32)
        own = tf.gather(values, chosen, axis=1, batch_dims=1)
        others = 1.0 - tf.one_hot(chosen, values.shape[-1])
        over = tf.nn.relu(values - per_image(limits, at)) * others
        return own - tf.reduce_sum(over, axis=1)

    return each_image(fn, frozenset([layer]), f"{kind} of {layer}[{_describe(index)}] apart from the others")


def direction(layer: str, vector: Sequence[float], kind: str = "mean") -> Objective:
    """lucid's direction: the layer's activations projected on `vector` (one weight per map), then reduced."""
    parse_kind(kind)

    def fn(taps, images, at):
        tf = _tf.tf()
        out = taps[layer]
        projected = tf.tensordot(out, tf.constant(list(vector), out.dtype), axes=[[len(out.shape) - 1], [0]])
        return projected if len(projected.shape) == 1 else reduce_map(projected, kind)

    return each_image(fn, frozenset([layer]), f"{kind} of {layer} along a direction")


def directions(layer: str, vectors, kind: str = "mean", cossim_power: float = 0.0) -> Objective:
    """`direction`, batched: image i is scored along vectors[i] (an (N, maps) array), so N directions optimize
    together.

    With `cossim_power` p, each position's projection is weighted by its cosine with the direction, floored
    at 0.1, to the power p (lucid's direction_neuron_cossim): an image that raises every map at once gains
    less than one whose activations point along its own direction.
    """
    parse_kind(kind)

    def fn(taps, images, at):
        tf = _tf.tf()
        out = taps[layer]
        v = tf.cast(per_image(vectors, at), out.dtype)
        v = tf.reshape(v, [-1] + [1] * (len(out.shape) - 2) + [v.shape[-1]])
        projected = tf.reduce_sum(out * v, axis=-1)
        if cossim_power:
            norms = tf.norm(out, axis=-1) * tf.norm(v, axis=-1) + 1e-6
            projected = projected * tf.pow(tf.maximum(projected / norms, 0.1), cossim_power)
        return projected if len(projected.shape) == 1 else reduce_map(projected, kind)

    return each_image(fn, frozenset([layer]), f"{kind} of {layer} along {len(vectors)} directions")


def match(layer: str | Sequence[str], target) -> Objective:
    """Minus the relative squared error of a layer's activations from a target: -||A(x) - T||² / ||T||².

    Feature inversion maximizes it. `target` is the activations wanted:
    (1, ...) for every image or (N, ...) one per image. With a sequence of
    layers, image i is scored on layers[i] against target[i], a sequence of
    arrays (one image's activations each): every layer of a model is
    inverted in one batch.
    """
    if isinstance(layer, str):

        def one(taps, images, at):
            return -relative_error(taps[layer], per_image(target, at))

        return each_image(one, frozenset([layer]), f"match {layer}")
    layers, targets = list(layer), list(target)

    def fn(taps, images):
        tf = _tf.tf()
        return -tf.concat(
            [relative_error(taps[n][i : i + 1], t[None]) for i, (n, t) in enumerate(zip(layers, targets))], 0
        )

    return Objective(fn, frozenset(layers), f"match {len(set(layers))} layers")


def relative_error(activations, target):
    """(N,): ||activations - target||² / ||target||², summed over every axis but the first; target broadcasts."""
    tf = _tf.tf()
    wanted = tf.cast(tf.convert_to_tensor(target), tf.float32)
    axes = list(range(1, len(activations.shape)))
    energy = tf.maximum(tf.reduce_sum(tf.square(wanted), axis=axes), 1e-12)
    return tf.reduce_sum(tf.square(activations - wanted), axis=axes) / energy


def reduce_map(selected, kind: str):
    """(N, h, w) -> (N,): the mean over the map, minus it ("negative"), the value at its centre, or at ("at:Y,X")."""
    tf = _tf.tf()
    at = parse_kind(kind)
    if kind == "mean":
        return tf.reduce_mean(selected, axis=[1, 2])
    if kind == "negative":
        return -tf.reduce_mean(selected, axis=[1, 2])
    if at is not None:
        return selected[:, at[0], at[1]]
    h, w = tf.shape(selected)[1], tf.shape(selected)[2]
    return selected[:, h // 2, w // 2]


def reduce_maps(maps, kind: str):
    """(N, h, w, C) -> (N, C): each map's mean, minus it ("negative"), its centre unit, or its unit at ("at:Y,X").

    (N, C) from a flat layer stays as it is (negated for "negative"). NumPy or TensorFlow.
    """
    if kind == "negative":
        return -reduce_maps(maps, "mean")
    if len(maps.shape) == 2:
        return maps
    if kind == "mean":
        return maps.mean(axis=(1, 2)) if isinstance(maps, np.ndarray) else _tf.tf().reduce_mean(maps, axis=[1, 2])
    y, x = parse_kind(kind) or (maps.shape[1] // 2, maps.shape[2] // 2)
    return maps[:, y, x, :]


def _describe(index) -> str:
    if isinstance(index, int):
        return str(index)
    index = list(index)
    return f"{len(index)} maps"


def total_variation() -> Objective:
    """Mean absolute difference of neighbouring pixels, per image (penalize with a minus)."""

    def fn(taps, images, at):
        tf = _tf.tf()
        dy = tf.abs(images[:, 1:] - images[:, :-1])
        dx = tf.abs(images[:, :, 1:] - images[:, :, :-1])
        return tf.reduce_mean(dy, axis=[1, 2, 3]) + tf.reduce_mean(dx, axis=[1, 2, 3])

    return each_image(fn, name="total_variation")
