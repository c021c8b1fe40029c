"""The weights between maps: a convolution's kernel, expanded down the graph to the layers below it.

"Visualizing Weights" (Voss et al. 2021) reads from the kernel which maps of
the layer below a map is built from; through linear pieces, from the expanded
weights: the product of the linear maps along the path. `expand` walks from a
convolution's input towards the model's input, carrying the kernel, and stops
at the layers in `stops` (the ones the gallery renders), at the model's input,
or where it cannot go on (`Expanded.stopped` says where and why).

- Linear pieces are expanded exactly: a Conv2D with a linear activation
  (kernels convolved; their sums multiply), BatchNormalization (each map
  scaled by gamma / sqrt(moving variance + epsilon)), Add (each branch gets the
  whole weight), Subtract, Average, Concatenate, Rescaling, Normalization,
  average pooling, and the layers that pass maps through (dropout, padding,
  augmentation).
- Nonlinear pieces that keep maps apart and rise with their input (ReLU and
  its kin, a Conv2D's own activation, max pooling) pass each map through as if
  active (slope 1), and are named in `Source.active`. Below one of them the walk
  takes channelwise pieces only: a piece that mixes maps there (a Conv2D that
  the gallery does not render) ends the walk, since the weight would then mix
  the slopes of many units.
Biases, BatchNormalization's shift and ReLU thresholds are left out: they move
a map by a constant, not with its inputs. docs/method.md has the reasons.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import FeatvizError
from ..runtime import _tf, stable
from .graph import Called, layer_calls

INPUT = "input"  # the source name of the model's input


@dataclass(frozen=True)
class Source:
    """One layer that the expanded weights reach: its maps' kernels into the target's maps."""

    layer: str  # a layer path, or INPUT
    kernels: np.ndarray  # (kh, kw, maps of this layer, maps of the target), in this layer's coordinates
    through: tuple[str, ...]  # the layers between, target side first: "name (Class)"
    active: tuple[str, ...]  # of those, the nonlinear ones taken as active (slope 1)

    @property
    def totals(self) -> np.ndarray:
        """(maps of this layer, maps of the target): each kernel slice's sum."""
        return self.kernels.sum(axis=(0, 1))

    def path(self) -> str:
        """'s1u1_relu1 (ReLU, as if active), s1u1_bn1 (BatchNormalization)', or '' when nothing is between."""
        return ", ".join(f"{name[:-1]}, as if active)" if name in self.active else name for name in self.through)


@dataclass(frozen=True)
class Input:
    """One map that a target map is built from."""

    layer: str
    map: int
    weight: float  # the kernel slice's sum: the target's rise when this map rises by one everywhere
    kernel: np.ndarray  # (kh, kw): the slice


@dataclass(frozen=True)
class Expanded:
    """What each map of a convolution is built from."""

    target: str
    sources: tuple[Source, ...]  # nearest first
    stopped: tuple[str, ...]  # where a path ended short of a stop layer, and why

    def top(self, m: int, k: int) -> tuple[list[Input], list[Input]]:
        """The k inputs of map m with the largest positive weight, and the k with the largest negative one."""
        found = [
            Input(s.layer, i, float(total), s.kernels[:, :, i, m])
            for s in self.sources
            for i, total in enumerate(s.totals[:, m])
        ]
        order = stable.descending(np.array([f.weight for f in found], np.float32))
        up = [found[i] for i in order if found[i].weight > 0][:k]
        down = [found[i] for i in order[::-1] if found[i].weight < 0][:k]
        return up, down


class _Stop(Exception):
    """A path that `expand` cannot follow further: its message says where and why."""


@dataclass(frozen=True)
class _Flow:
    """Expanded weights on their way down: the target's kernels in the coordinates of one tensor."""

    kernels: np.ndarray  # (kh, kw, maps of the tensor, maps of the target)
    stride: tuple[int, int]  # the spacing of the target's units, in the tensor's pixels
    through: tuple[str, ...] = ()
    active: tuple[str, ...] = ()

    def past(self, layer, *, nonlinear: bool = False) -> _Flow:
        name = f"{layer.name} ({type(layer).__name__})"
        return _Flow(
            self.kernels, self.stride, (*self.through, name), (*self.active, name) if nonlinear else self.active
        )

    def scaled(self, scale) -> _Flow:
        """Each map of the tensor multiplied by its own factor (or all by one)."""
        factor = np.broadcast_to(np.asarray(scale, np.float64).reshape(-1), (self.kernels.shape[2],))
        return _Flow(self.kernels * factor[None, None, :, None], self.stride, self.through, self.active)

    def with_kernels(self, kernels: np.ndarray, stride: tuple[int, int]) -> _Flow:
        return _Flow(kernels, stride, self.through, self.active)

    def plus(self, other: _Flow) -> _Flow:
        """Two paths that reach the same tensor: their kernels added, centred on each other."""
        if other.stride != self.stride:
            raise _Stop(f"paths of strides {self.stride} and {other.stride} meet")
        size = np.maximum(self.kernels.shape[:2], other.kernels.shape[:2])
        total = _centred(self.kernels, size) + _centred(other.kernels, size)
        return _Flow(total, self.stride, _merged(self.through, other.through), _merged(self.active, other.active))


def _centred(kernels: np.ndarray, size) -> np.ndarray:
    out = np.zeros((*size, *kernels.shape[2:]))
    y, x = (size[0] - kernels.shape[0]) // 2, (size[1] - kernels.shape[1]) // 2
    out[y : y + kernels.shape[0], x : x + kernels.shape[1]] = kernels
    return out


def _merged(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(name for name in b if name not in a)


def _spread(flow: _Flow, window: np.ndarray, stride, depthwise: bool) -> _Flow:
    """The flow through a sliding window (a kernel, or a pool's box) of `stride`, into the window's input.

    Each tap of the flow lands `stride` pixels from the next one in the input, and spreads over the window.
    """
    wh, ww = window.shape[:2]
    (sy, sx), (fh, fw) = stride, flow.kernels.shape[:2]
    maps_in = flow.kernels.shape[2] if depthwise else window.shape[2]
    out = np.zeros(((fh - 1) * sy + wh, (fw - 1) * sx + ww, maps_in, flow.kernels.shape[3]))
    for p in range(fh):
        for q in range(fw):
            tap = flow.kernels[p, q]
            spread = window[:, :, None, None] * tap if depthwise else np.einsum("uvij,jn->uvin", window, tap)
            out[p * sy : p * sy + wh, q * sx : q * sx + ww] += spread
    return flow.with_kernels(out, (flow.stride[0] * sy, flow.stride[1] * sx))


def reads(layer) -> bool:
    """Whether `expand` reads this layer's kernel: a channels-last Conv2D of one group."""
    return type(layer).__name__ == "Conv2D" and layer.groups == 1 and layer.data_format == "channels_last"


def conv_kernel(layer) -> tuple[np.ndarray, tuple[int, int]]:
    """A Conv2D's kernel (kh, kw, maps in, maps out), dilated as it applies, and its strides."""
    if not reads(layer):
        raise FeatvizError(
            f"layer {layer.name!r} ({type(layer).__name__}) has no kernel that featviz reads: it reads channels-last "
            "Conv2D layers of one group"
        )
    kernel = np.asarray(layer.kernel, np.float64)
    dy, dx = layer.dilation_rate
    dilated = np.zeros(((kernel.shape[0] - 1) * dy + 1, (kernel.shape[1] - 1) * dx + 1, *kernel.shape[2:]))
    dilated[::dy, ::dx] = kernel
    return dilated, tuple(layer.strides)


def expand(model, target: str, stops: Collection[str]) -> Expanded:
    """What each map of the Conv2D `target` is built from: its kernel, expanded down to the layers in `stops`."""
    return expand_all(model, [target], stops)[target]


def expand_all(model, targets: Sequence[str], stops: Collection[str]) -> dict[str, Expanded]:
    """`expand` for several convolutions, from one run of the graph."""
    calls, model_input = layer_calls(model)
    by_path = {call.path: i for i, call in enumerate(calls)}
    missing = [t for t in targets if t not in by_path]
    if missing:
        raise FeatvizError(f"model {model.name!r} has no layer {missing[0]!r}")
    return {t: _walk(calls[: by_path[t] + 1], model_input, stops) for t in targets}


def _walk(calls: list[Called], model_input: int, stops: Collection[str]) -> Expanded:
    """From the last call, a Conv2D, down the calls before it, in reverse execution order.

    A tensor's flow is complete when its maker comes up: every call that takes it came later.
    """
    target = calls[-1]
    kernel, stride = conv_kernel(target.layer)
    pending = {target.inputs[0]: _Flow(kernel, stride)}
    sources, stopped = [], []
    for call in reversed(calls[:-1]):
        flow = pending.pop(call.output, None)
        if flow is None:
            continue
        if call.path in stops:
            sources.append(Source(call.path, flow.kernels, flow.through, flow.active))
            continue
        try:
            for tensor, step in zip(call.inputs, _step(call.layer, flow, call.maps_in)):
                pending[tensor] = pending[tensor].plus(step) if tensor in pending else step
        except _Stop as stop:
            stopped.append(str(stop))
    if model_input in pending:
        flow = pending[model_input]
        sources.append(Source(INPUT, flow.kernels, flow.through, flow.active))
    return Expanded(target.path, tuple(sources), tuple(stopped))


PASS_THROUGH = {
    "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    "Identity", "ZeroPadding2D", "Cropping2D",
}  # fmt: skip
# Activations that act on each value alone and never fall as their input rises.
MONOTONE = {"relu", "relu6", "leaky_relu", "elu", "selu", "softplus", "sigmoid", "hard_sigmoid", "tanh", "exponential"}


def _activation(function) -> str:
    return getattr(function, "__name__", type(function).__name__)


def _step(layer, flow: _Flow, maps_in: tuple[int, ...]) -> list[_Flow]:
    """The flow into each input of `layer`, given the flow at its output."""
    kind = type(layer).__name__
    if kind in PASS_THROUGH or kind.startswith("Random"):
        return [flow.past(layer)]
    if _monotone(layer):
        return [flow.past(layer, nonlinear=True)]
    rule = _RULES.get(kind)
    if rule is None:
        raise _Stop(f"{layer.name} ({kind}): featviz does not expand the weights through this kind of layer")
    return rule(layer, flow, maps_in)


def _monotone(layer) -> bool:
    kind = type(layer).__name__
    if kind == "Activation":
        return _activation(layer.activation) in MONOTONE
    if kind in ("ReLU", "LeakyReLU"):
        return float(getattr(layer, "negative_slope", 0.0) or 0.0) >= 0
    return kind == "ELU" and float(getattr(layer, "alpha", 1.0)) >= 0


def _conv(layer, flow: _Flow, maps_in) -> list[_Flow]:
    own = _activation(layer.activation)
    if own != "linear" or flow.active:
        below = f"its own activation, {own}" if own != "linear" else f"the nonlinear {flow.active[0]}"
        raise _Stop(f"{layer.name} (Conv2D) is not shown, and below {below}, featviz expands the weights map by "
                    "map only")  # fmt: skip
    kernel, stride = conv_kernel(layer)
    return [_spread(flow.past(layer), kernel, stride, depthwise=False)]


def _batch_norm(layer, flow: _Flow, maps_in) -> list[_Flow]:
    if layer.axis not in (-1, 3):
        raise _Stop(f"{layer.name} (BatchNormalization) normalizes axis {layer.axis}, not the maps")
    gamma = np.asarray(layer.gamma, np.float64) if layer.scale else 1.0
    return [flow.past(layer).scaled(gamma / np.sqrt(np.asarray(layer.moving_variance, np.float64) + layer.epsilon))]


def _pool(layer, flow: _Flow, maps_in) -> list[_Flow]:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise _Stop(f"{layer.name} ({type(layer).__name__}) pools channels-first maps")
    ph, pw = layer.pool_size
    box = np.full((ph, pw), 1.0 / (ph * pw))
    passed = flow.past(layer, nonlinear=type(layer).__name__ == "MaxPooling2D")
    return [_spread(passed, box, tuple(layer.strides), depthwise=True)]


def _merge(layer, flow: _Flow, maps_in) -> list[_Flow]:
    """Add, Average and Subtract: each branch gets the whole weight, a share of it, or its negation."""
    passed, kind = flow.past(layer), type(layer).__name__
    if kind == "Average":
        return [passed.scaled(1.0 / len(maps_in))] * len(maps_in)
    if kind == "Subtract":
        return [passed, passed.scaled(-1.0)]
    return [passed] * len(maps_in)


def _concatenate(layer, flow: _Flow, maps_in) -> list[_Flow]:
    if layer.axis not in (-1, 3):
        raise _Stop(f"{layer.name} (Concatenate) joins axis {layer.axis}, not the maps")
    passed = flow.past(layer)
    cuts = np.cumsum(maps_in)[:-1]
    return [passed.with_kernels(part, flow.stride) for part in np.split(passed.kernels, cuts, axis=2)]


def _rescaling(layer, flow: _Flow, maps_in) -> list[_Flow]:
    return [flow.past(layer).scaled(layer.scale)]


def _normalization(layer, flow: _Flow, maps_in) -> list[_Flow]:
    variance = np.asarray(layer.variance, np.float64).reshape(-1)
    if layer.invert or variance.size not in (1, flow.kernels.shape[2]):
        raise _Stop(f"{layer.name} (Normalization) does not scale each map by one factor")
    return [flow.past(layer).scaled(1.0 / np.maximum(np.sqrt(variance), _tf.keras().backend.epsilon()))]


_RULES = {
    "Conv2D": _conv,
    "BatchNormalization": _batch_norm,
    "MaxPooling2D": _pool,
    "AveragePooling2D": _pool,
    "Add": _merge,
    "Average": _merge,
    "Subtract": _merge,
    "Concatenate": _concatenate,
    "Rescaling": _rescaling,
    "Normalization": _normalization,
}
