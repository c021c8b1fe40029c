"""Run a model's graph on new inputs and record the outputs of any of its layers.

`run_graph` re-executes a model layer by layer. It descends into nested
models, so a layer `outer/inner` is reachable without "Graph disconnected",
and it works on a Sequential that was never called and on canvases larger
than the model's input. A `LayerCall` can stand in for each layer call: that
is how pattern synthesis swaps in its own ReLU gradient and faster kernels
(see synthesis/hooks.py) without touching the model.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from ..errors import FeatvizError
from ..runtime import _tf
from . import keras_internals
from .shape import input_shape

# (layer, path, args, kwargs) -> output; kwargs never hold `training`.
LayerCall = Callable[[Any, str, tuple, dict], Any]


def plain_call(layer, path: str, args: tuple, kwargs: dict):
    """The layer as it is, in inference mode."""
    return layer(*args, training=False, **kwargs)


def ends_in_softmax(layer) -> bool:
    return getattr(layer, "activation", None) is _tf.keras().activations.softmax


def logits_of(layers: Collection[str], call: LayerCall = plain_call) -> LayerCall:
    """`call`, except that a layer in `layers` whose activation is softmax returns its logits.

    Maximizing a softmax mostly pushes the other classes down; lucid and the
    Distill article optimize the logit, and featviz scores with it too.
    """

    def run(layer, path: str, args: tuple, kwargs: dict):
        if path not in layers or not ends_in_softmax(layer):
            return call(layer, path, args, kwargs)
        saved = layer.activation
        layer.activation = _tf.keras().activations.linear
        try:
            return call(layer, path, args, kwargs)
        finally:
            layer.activation = saved

    return run


@dataclass
class _Run:
    want: Collection[str] | None
    call: LayerCall
    stop: bool = False
    until: set | None = None  # the layers after which the run ends (layer_calls_on, which records every layer)
    taps: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)  # each recorded layer's arguments


class _Done(Exception):
    """Raised to stop running the graph once every wanted layer has run."""


def run_graph(model, x, want: Collection[str] | None = None, call: LayerCall | None = None, *, stop: bool = False):
    """Run `model` on `x`; return (output, {layer path: output of that layer}).

    `want` limits the recorded layers (None records all). Layers run in
    inference mode. `x` may be a real tensor or a symbolic keras.Input.
    With `stop`, the run ends after the last wanted layer and the output is
    None: the layers after it never see the (maybe larger) canvas.
    """
    run = _Run(want, call or plain_call, stop=stop and want is not None)
    try:
        out = _run_model(model, x, "", run)
    except _Done:
        out = None
    missing = set(want or ()) - set(run.taps)
    if missing:
        raise FeatvizError(f"model {model.name!r} never runs the layer(s) {', '.join(sorted(missing))}")
    return out, run.taps


# TensorFlow's name scopes, which Keras opens for each layer it calls inside a tf.function.
_SCOPE = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")


def compile_if_traceable(model, fn: Callable, **options) -> Callable:
    """fn as a tf.function, unless a layer's name is not a valid TensorFlow scope name.

    Keras opens a name scope per layer inside a tf.function, and TensorFlow
    refuses names like "<img src=x>" there; such a model still runs eagerly.
    """
    names = list(layer_outputs(model, _tf.keras().Input(input_shape(model)))[1])
    if all(_SCOPE.match(part) for name in names for part in name.split("/")):
        return _tf.tf().function(fn, **options)
    return fn


def layer_outputs(model, x) -> tuple[dict, dict]:
    """({path: output}, {path: layer}) for every layer, in execution order."""
    outputs, layers, _ = layer_calls_on(model, x)
    return outputs, layers


def layer_calls_on(model, x, until: Collection[str] | None = None) -> tuple[dict, dict, dict]:
    """({path: output}, {path: layer}, {path: the tensors it took}) for every layer run on x, in execution order;
    with `until`, up to the last of those layers (the layers after it never see the maybe larger canvas), or
    every layer if one never runs."""
    run = _Run(None, plain_call, until=set(until) if until else None)
    with contextlib.suppress(_Done):
        _run_model(model, x, "", run)
    return run.taps, run.layers, run.inputs


def _run_model(model, x, prefix: str, run: _Run):
    keras = _tf.keras()
    if isinstance(model, keras.Sequential):
        for layer in model.layers:
            if not isinstance(layer, keras.layers.InputLayer):
                x = _call(layer, (x,), {}, prefix, run)
        return x
    if keras_internals.is_functional(model):
        if len(model.inputs) != 1:
            raise FeatvizError(f"model {model.name!r} has {len(model.inputs)} inputs; featviz handles one image input")
        return keras_internals.run_through_graph(model, x, lambda op: _caller(op, prefix, run))
    return model(x, training=False)


def _caller(op, prefix: str, run: _Run):
    return lambda *args, **kwargs: _call(op, args, kwargs, prefix, run)


def _call(op, args, kwargs, prefix: str, run: _Run):
    keras = _tf.keras()
    if not isinstance(op, keras.layers.Layer):
        return op(*args, **kwargs)
    path = prefix + op.name
    if isinstance(op, keras.Model) and (isinstance(op, keras.Sequential) or keras_internals.is_functional(op)):
        return _run_model(op, args[0], path + "/", run)
    kwargs = {k: v for k, v in kwargs.items() if k != "training"}
    out = run.call(op, path, args, kwargs)
    if run.want is None or path in run.want:
        run.taps[path] = out
        run.layers[path] = op
        run.inputs[path] = args
        if run.stop and len(run.taps) == len(run.want):
            raise _Done
        if run.until is not None:
            run.until.discard(path)
            if not run.until:
                raise _Done
    return out


@dataclass(frozen=True)
class Called:
    """One layer call of a graph run, with the ids of the tensors it took and gave."""

    path: str
    layer: Any
    inputs: tuple[int, ...]
    maps_in: tuple[int, ...]  # the maps (last axis) of each input
    output: int
    held: tuple  # the tensors themselves, so that no other object takes their ids


def layer_calls(model) -> tuple[list[Called], int]:
    """Every layer call on a symbolic input, in execution order; and the id of that input.

    A tensor's id links the call that made it to the calls that take it: a graph walk without private Keras names.
    """
    keras = _tf.keras()
    x = keras.Input(input_shape(model))
    calls = []

    def record(layer, path: str, args: tuple, kwargs: dict):
        out = plain_call(layer, path, args, kwargs)
        tensors = [t for t in keras.tree.flatten(args) if hasattr(t, "shape")]
        first = keras.tree.flatten(out)[0]
        maps = tuple(int(t.shape[-1] or 0) for t in tensors)
        calls.append(Called(path, layer, tuple(id(t) for t in tensors), maps, id(first), (*tensors, first)))
        return out

    run_graph(model, x, call=record)
    return calls, id(x)
