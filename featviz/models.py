"""Load a model safely, list its layers, and run its graph up to any layer.

`run_graph` re-executes a model's layers on new inputs and records the
outputs of the layers asked for. It descends into nested models, so a layer
`outer/inner` is reachable without "Graph disconnected", and it works on a
Sequential model that was never called and on canvases larger than the
model's input.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

from . import _tf, bundled, fastconv, legacy, modelfile
from .errors import FeatvizError


@dataclass
class LoadedModel:
    model: Any  # keras.Model
    path: Path
    sha256: str
    trusted: bool = False

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class LayerInfo:
    index: int
    name: str  # "outer/inner" for a layer inside a nested model
    class_name: str
    output_shape: tuple  # without the batch axis
    params: int

    @property
    def spatial(self) -> bool:
        """True when the output is a stack of 2-D maps: (height, width, maps)."""
        return len(self.output_shape) == 3

    @property
    def maps(self) -> int | None:
        return self.output_shape[-1] if self.spatial else None


def load(path: str | Path | None = None, *, trust_code: bool = False) -> LoadedModel:
    """Load a .keras or .h5 model in safe mode, without compiling it.

    None loads the bundled MNIST CNN; a bare file name that does not exist
    here but names a bundled model (mnist_resnet_v2.keras) loads that.

    Models that would run code when loaded (Lambda layers, custom objects)
    are refused unless trust_code is True (`--trust-model-code`).
    """
    mf = modelfile.check_model_file(bundled.model(path))
    config = modelfile.read_config(mf)
    risky = modelfile.code_in_config(config)
    if risky and not trust_code:
        listed = ", ".join(risky[:3]) + (" ..." if len(risky) > 3 else "")
        raise FeatvizError(
            f"{mf.path}: the model holds code that would run when loaded ({listed}); "
            "pass --trust-model-code to allow it for this run if you trust the file"
        )
    keras = _tf.keras()
    try:
        model = keras.saving.load_model(mf.path, compile=False, safe_mode=not trust_code)
    except Exception as e:  # Keras raises many types for unreadable files
        model = legacy.repair_and_load(mf, config, e, trust_code=trust_code)
    if not isinstance(model, keras.Model):
        raise FeatvizError(f"{mf.path}: the file holds a {type(model).__name__}, not a Keras model")
    return LoadedModel(model, mf.path, mf.sha256, trusted=trust_code)


# --- running the graph -----------------------------------------------------


@dataclass
class Hooks:
    """Changes to the graph while it runs, for pattern synthesis.

    relu replaces the plain ReLUs of relu_layers (all if None); fast_conv computes first-layer style
    convolutions with a faster input gradient (see fastconv.py).
    """

    relu: Callable | None = None
    relu_layers: Collection[str] | None = None  # where `relu` applies; None: every plain ReLU
    fast_conv: bool = False
    compute_dtype: str | None = None  # e.g. "bfloat16": layers compute in it, weights stay float32
    pool_first: bool = False  # a convolution's monotone activation runs after the max-pool that follows it


@dataclass
class _Run:
    want: Collection[str] | None
    hooks: Hooks | None
    stop: bool = False
    taps: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)
    deferred: dict = field(default_factory=dict)  # id(output) -> (output, pre-activation, activation)


class _Done(Exception):
    """Raised to stop running the graph once every wanted layer has run."""


def run_graph(model, x, want: Collection[str] | None = None, hooks: Hooks | None = None, *, stop: bool = False):
    """Run `model` on `x`; return (output, {layer path: output of that layer}).

    `want` limits the recorded layers (None records all). Layers run in
    inference mode. `x` may be a real tensor or a symbolic keras.Input.
    With `stop`, the run ends after the last wanted layer and the output is
    None: the layers after it never see the (maybe larger) canvas.
    """
    run = _Run(want, hooks, stop=stop and want is not None)
    try:
        out = _run_model(model, x, "", run)
    except _Done:
        out = None
    missing = set(want or ()) - set(run.taps)
    if missing:
        raise FeatvizError(f"model {model.name!r} never runs the layer(s) {', '.join(sorted(missing))}")
    return out, run.taps


def _run_model(model, x, prefix: str, run: _Run):
    keras = _tf.keras()
    if isinstance(model, keras.Sequential):
        for layer in model.layers:
            if not isinstance(layer, keras.layers.InputLayer):
                x = _call(layer, (x,), {}, prefix, run)
        return x
    if _is_functional(model):
        if len(model.inputs) != 1:
            raise FeatvizError(f"model {model.name!r} has {len(model.inputs)} inputs; featviz handles one image input")
        return model._run_through_graph([x], operation_fn=lambda op: _caller(op, prefix, run))
    return model(x, training=False)


def _is_functional(model) -> bool:
    return hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth")


def _caller(op, prefix: str, run: _Run):
    return lambda *args, **kwargs: _call(op, args, kwargs, prefix, run)


def _call(op, args, kwargs, prefix: str, run: _Run):
    keras = _tf.keras()
    if not isinstance(op, keras.layers.Layer):
        return op(*args, **kwargs)
    path = prefix + op.name
    if isinstance(op, keras.Model) and (isinstance(op, keras.Sequential) or _is_functional(op)):
        out = _run_model(op, args[0], path + "/", run)
    else:
        out = _call_layer(op, args, kwargs, _for_layer(run.hooks, path), run.deferred)
        if run.want is None or path in run.want:
            run.taps[path] = out
            run.layers[path] = op
            if run.stop and len(run.taps) == len(run.want):
                raise _Done
    return out


def _for_layer(hooks: Hooks | None, path: str) -> Hooks | None:
    """The hooks as they apply to the layer at `path`."""
    if hooks is None or hooks.relu is None or hooks.relu_layers is None or path in hooks.relu_layers:
        return hooks
    return replace(hooks, relu=None, relu_layers=None)


def _call_layer(layer, args, kwargs, hooks: Hooks | None, deferred: dict):
    keras = _tf.keras()
    kwargs = {k: v for k, v in kwargs.items() if k != "training"}
    if hooks is None:
        return layer(*args, training=False, **kwargs)
    if hooks.compute_dtype is not None:
        with _policy(layer, keras, hooks.compute_dtype):
            return _hooked(layer, args, kwargs, hooks, keras, deferred)
    return _hooked(layer, args, kwargs, hooks, keras, deferred)


def _hooked(layer, args, kwargs, hooks: Hooks, keras, deferred: dict):
    if hooks.pool_first and isinstance(layer, keras.layers.MaxPooling2D):
        entry = deferred.get(id(args[0]))
        if entry is not None and entry[0] is args[0]:
            _, pre, activation = entry
            return activation(layer(pre, training=False))
    relu = hooks.relu or keras.activations.relu
    if hooks.fast_conv and fastconv.applies(layer):
        activation = relu if layer.activation is keras.activations.relu else layer.activation
        if hooks.pool_first and _commutes_with_max(activation, keras):
            return _defer(fastconv.call(layer, args[0], keras.activations.linear), activation, deferred)
        return fastconv.call(layer, args[0], activation)
    if hooks.relu is None:
        activation = getattr(layer, "activation", None)
        if hooks.pool_first and _is_convolution(layer, keras) and _commutes_with_max(activation, keras):
            with _linear_activation(layer, keras):
                pre = layer(*args, training=False, **kwargs)
            return _defer(pre, activation, deferred)
        return layer(*args, training=False, **kwargs)
    if _is_plain_relu_layer(layer, keras):
        return hooks.relu(args[0])
    if getattr(layer, "activation", None) is keras.activations.relu:
        with _linear_activation(layer, keras):
            pre = layer(*args, training=False, **kwargs)
        return hooks.relu(pre)
    return layer(*args, training=False, **kwargs)


def _is_convolution(layer, keras) -> bool:
    return isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D))


def _commutes_with_max(activation, keras) -> bool:
    """True for element-wise activations that never decrease: then act(max(x)) == max(act(x))."""
    names = ("relu", "relu6", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus", "linear")
    return any(activation is getattr(keras.activations, n, None) for n in names)


def _defer(pre, activation, deferred: dict):
    """The activated output; a max-pool that reads it pools `pre` instead, then activates (4x fewer values for 2x2).

    This moves the activation's forward and backward pass off the large
    pre-pool tensor; when nothing but the pool reads the output, the graph
    never computes it.
    """
    out = activation(pre)
    deferred[id(out)] = (out, pre, activation)
    return out


def _is_plain_relu_layer(layer, keras) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        cfg = layer.get_config()
        return cfg.get("max_value") is None and not cfg.get("negative_slope") and not cfg.get("threshold")
    return isinstance(layer, keras.layers.Activation) and layer.activation is keras.activations.relu


@contextlib.contextmanager
def _policy(layer, keras, dtype: str):
    """Run a layer in mixed precision: compute in dtype, weights kept in float32."""
    saved = layer.dtype_policy
    layer.dtype_policy = keras.DTypePolicy(f"mixed_{dtype}")
    try:
        yield
    finally:
        layer.dtype_policy = saved


@contextlib.contextmanager
def _linear_activation(layer, keras):
    """Run a layer without its ReLU, so a hook can apply its own ReLU."""
    saved = layer.activation
    layer.activation = keras.activations.linear
    try:
        yield
    finally:
        layer.activation = saved


# --- layers ------------------------------------------------------------------


def input_shape(model) -> tuple:
    """The model's input shape without the batch axis, e.g. (28, 28, 1)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        return tuple(inputs[0].shape[1:])
    for layer in getattr(model, "layers", [])[:1]:
        shape = getattr(layer, "batch_shape", None) or (getattr(layer, "_build_shapes_dict", None) or {}).get(
            "input_shape"
        )
        if shape:
            return tuple(shape[1:])
    raise FeatvizError(f"model {model.name!r} has never been called, so its input shape is unknown; build it first")


def image_channels(model) -> int:
    shape = input_shape(model)
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise FeatvizError(f"model {model.name!r} takes input of shape {shape}, not images (height, width, channels)")
    return int(shape[-1])


def list_layers(model) -> list[LayerInfo]:
    """Every layer in execution order, nested layers named `outer/inner`."""
    keras = _tf.keras()
    run = _Run(None, None)
    _run_model(model, keras.Input(input_shape(model)), "", run)
    return [
        LayerInfo(i, path, type(layer).__name__, tuple(run.taps[path].shape[1:]), _params(layer))
        for i, (path, layer) in enumerate(run.layers.items())
    ]


def _params(layer) -> int:
    try:
        return int(layer.count_params())
    except ValueError:  # not built
        return 0


def get_layer(model, path: str):
    """The Keras layer at `path`, descending into nested models: "outer/inner"."""
    layer = model
    for part in path.split("/"):
        layer = layer.get_layer(part)
    return layer


def spatial_layers(model) -> list[LayerInfo]:
    return [info for info in list_layers(model) if info.spatial]


MERGE_LAYERS = {"Add", "Concatenate", "Average", "Maximum", "Minimum", "Multiply", "Subtract"}


def feature_layers(model) -> list[LayerInfo]:
    """Spatial layers that compute new maps: convolutions and merges such as residual sums.

    Pooling, normalization, activation and padding layers only reshape or
    rescale maps that a layer before them made. Falls back to every spatial layer.
    """
    spatial = spatial_layers(model)
    made = [i for i in spatial if "Conv" in i.class_name or i.class_name in MERGE_LAYERS]
    return made or spatial


def innermost(layers: Sequence[LayerInfo]) -> LayerInfo | None:
    """The last layer with spatial maps, in execution order."""
    spatial = [info for info in layers if info.spatial]
    return spatial[-1] if spatial else None


def resolve_layer(model, spec: str | int | None = None) -> LayerInfo:
    """A layer with spatial maps, by name, by index, or the innermost one."""
    layers = list_layers(model)
    spatial_names = ", ".join(info.name for info in layers if info.spatial) or "(none)"
    if spec is None:
        found = innermost(layers)
        if found is None:
            raise FeatvizError(f"model {model.name!r} has no layer with spatial maps")
        return found
    found = _find(layers, spec)
    if found is None:
        raise FeatvizError(f"unknown layer {str(spec)!r}; layers with maps: {spatial_names}")
    if not found.spatial:
        raise FeatvizError(
            f"layer {found.name!r} has no spatial maps (output shape {found.output_shape}); "
            f"layers with maps: {spatial_names}"
        )
    return found


def _find(layers: Sequence[LayerInfo], spec: str | int) -> LayerInfo | None:
    by_name = {info.name: info for info in layers}
    if str(spec) in by_name:
        return by_name[str(spec)]
    if isinstance(spec, int) or str(spec).lstrip("-").isdigit():
        index = int(spec)
        return layers[index] if -len(layers) <= index < len(layers) else None
    tails = [info for info in layers if info.name.rsplit("/", 1)[-1] == spec]
    return tails[0] if len(tails) == 1 else None


def extractor(model, layer_names: Sequence[str], *, with_output: bool = False, canvas: tuple | None = None):
    """A keras.Model from the input to the named layers (and the model output).

    `canvas` (height, width) builds it for another input size; it fails with a
    clear error when a layer before the named ones needs the original size.
    """
    keras = _tf.keras()
    shape = input_shape(model)
    if canvas is not None:
        shape = (*canvas, shape[-1])
    inp = keras.Input(shape)
    try:
        out, taps = run_graph(model, inp, want=set(layer_names), stop=not with_output)
    except FeatvizError:
        raise
    except Exception as e:
        if canvas is None:
            raise
        raise FeatvizError(
            f"the layers before {layer_names[0]!r} need a {input_shape(model)[:2]} input: {legacy.first_line(e)}"
        ) from None
    outputs = [taps[name] for name in layer_names] + ([out] if with_output else [])
    return keras.Model(inp, outputs)
