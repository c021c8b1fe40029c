"""How each layer runs during pattern synthesis: same values, a gradient built for ascent, less work.

A `Hooks` object is a `models.graph.LayerCall`: `run_graph` calls it in place
of each layer. It can

- replace the ReLUs and ReLU6s of the objective's own layers with the
  relaxed ReLU of render.py (capped at 6 for a ReLU6);
- compute first-layer convolutions with a faster input gradient (fastconv.py);
- run layers in a lower compute precision, weights kept in float32
  (depthwise convolutions stay in float32, which is faster for them, and
  so does a fused BatchNormalization and ReLU that reads one; a
  BatchNormalization folded into one returns its own compute dtype);
- run a convolution's monotone activation after the max-pool that reads it
  (act(max(x)) == max(act(x)), on 4x fewer values for a 2x2 pool);
- run a BatchNormalization that reads a convolution as that convolution,
  its weights rescaled (foldednorm.py), and one that reads anything else
  together with the ReLU (or ReLU6) after it as one XLA kernel (fusednorm.py);
- run a ZeroPadding2D and the 'valid' depthwise convolution that reads it
  as one 'same' convolution, when the padding is what 'same' would add
  (keras.applications' MobileNets): no padded copy forward, no slice of
  its gradient backward;
- run the objective's own layers without their activation (`uncapped`): a
  bounded activation (ReLU6, tanh) stops the gradient at its ceiling, and
  what feeds it keeps rising.

It changes `layer.activation` and `layer.dtype_policy` only while the layer
is being traced, and restores them at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ..models import graph
from ..runtime import _tf
from . import fastconv, foldednorm, fusednorm

MONOTONE_ACTIVATIONS = ("relu", "relu6", "elu", "selu", "sigmoid", "hard_sigmoid", "tanh", "softplus", "linear")


@dataclass
class Hooks:
    relu: Callable | None = None  # stands in for the ReLUs and ReLU6s of relu_layers
    relu_layers: Collection[str] | None = None  # None: every ReLU and ReLU6
    fast_conv: bool = False
    compute_dtype: str | None = None  # e.g. "bfloat16"
    pool_first: bool = False
    logit_layers: Collection[str] = ()  # these layers return logits when their activation is softmax
    deferred: dict = field(default_factory=dict)  # id(output) -> (output, pre-activation, activation)
    normalized: dict = field(default_factory=dict)  # id(output) -> (output, input, BatchNormalization)
    uncapped: Collection[str] = ()  # these layers run without their activation
    padded: dict = field(default_factory=dict)  # id(output) -> (output, input, ZeroPadding2D)
    convolved: dict = field(default_factory=dict)  # id(output) -> (output, input, convolution, padding, dtype)

    def __call__(self, layer, path: str, args: tuple, kwargs: dict):
        relu = self.relu if self.relu_layers is None or path in self.relu_layers else None
        with contextlib.ExitStack() as stack:
            if self.compute_dtype is not None and not _keeps_float32(layer):
                stack.enter_context(_policy(layer, self.compute_dtype))
            if path in self.uncapped:
                return _without_activation(layer, args, kwargs)
            if path in self.logit_layers and graph.ends_in_softmax(layer):
                stack.enter_context(_linear_activation(layer))
                relu = None
            return self._run(layer, args, kwargs, relu)

    def _run(self, layer, args, kwargs, relu):
        out = self._computed(layer, args, kwargs, relu)
        if self.fast_conv and len(args) == 1 and id(out) not in self.convolved and self._folds(layer):
            self.convolved[id(out)] = (out, args[0], layer, layer.padding, layer.compute_dtype)
        return out

    def _folds(self, layer) -> bool:
        """Whether a BatchNormalization after `layer` is folded into it: not into a stride-1 convolution of at most
        fastconv.MAX_CHANNELS input channels (a first layer), whose fastconv input gradient is faster."""
        return foldednorm.foldable(layer) and not fastconv.applies(layer)

    def _computed(self, layer, args, kwargs, relu):
        pooled = self._pool_deferred(layer, args)
        if pooled is not None:
            return pooled
        if self.fast_conv:
            fused = self._folded_norm(layer, args)
            if fused is None:
                fused = self._normalized_relu(layer, args, relu)
            if fused is None:
                fused = self._same_padded(layer, args, kwargs, relu)
            if fused is not None:
                return fused
        if self.fast_conv and fastconv.applies(layer):
            return self._fast_conv(layer, args[0], relu)
        if relu is None:
            return self._plain(layer, args, kwargs)
        return _with_relu(layer, args, kwargs, relu)

    def _pool_deferred(self, layer, args):
        if not (self.pool_first and isinstance(layer, _tf.keras().layers.MaxPooling2D)):
            return None
        entry = self.deferred.get(id(args[0]))
        if entry is None or entry[0] is not args[0]:
            return None
        _, pre, activation = entry
        return activation(layer(pre, training=False))

    def _folded_norm(self, layer, args):
        """A BatchNormalization reading a convolution's output: the convolution again, with the normalization folded
        into its weights (foldednorm.py). A convolution returns its usual output and is noted; when nothing but
        the normalization reads that output, the graph never computes it.
        """
        entry = self.convolved.get(id(args[0])) if len(args) == 1 else None
        if entry is None or entry[0] is not args[0] or not fusednorm.applies(layer, args[0]):
            return None
        _, x, conv, padding, dtype = entry
        return _tf.tf().cast(foldednorm.convolve(conv, layer, x, padding, dtype), layer.compute_dtype)

    def _normalized_relu(self, layer, args, relu):
        """A ReLU or ReLU6 reading a BatchNormalization's output: both as one kernel, from the normalization's input.

        A BatchNormalization returns its usual output and is noted; when
        nothing but the ReLU reads that output, the graph never computes it.
        """
        if fusednorm.applies(layer, args[0]):
            out = layer(*args, training=False)
            self.normalized[id(out)] = (out, args[0], layer)
            return out
        entry = self.normalized.get(id(args[0]))
        if relu is not None or entry is None or entry[0] is not args[0]:
            return None
        clips, top = fusednorm.ceiling(layer)
        return fusednorm.normalized_relu(entry[1], entry[2], top) if clips else None

    def _same_padded(self, layer, args, kwargs, relu):
        """A ZeroPadding2D returns its usual output and is noted; a convolution that reads it, and that is the same
        convolution with padding 'same' on the unpadded input (pads_as_same), runs so.

        When nothing but the convolution reads the padded tensor, the graph never computes it.
        """
        if isinstance(layer, _tf.keras().layers.ZeroPadding2D):
            out = layer(*args, training=False)
            self.padded[id(out)] = (out, args[0], layer)
            return out
        entry = self.padded.get(id(args[0])) if len(args) == 1 else None
        if entry is None or entry[0] is not args[0] or not pads_as_same(entry[2], layer, entry[1].shape):
            return None
        with _swapped(layer, "padding", "same"):
            return self._run(layer, (entry[1],), kwargs, relu)

    def _fast_conv(self, layer, x, relu):
        activation = _relaxed(layer.activation, relu)
        if self.pool_first and commutes_with_max(activation):
            return self._defer(fastconv.call(layer, x, _tf.keras().activations.linear), activation)
        return fastconv.call(layer, x, activation)

    def _plain(self, layer, args, kwargs):
        activation = getattr(layer, "activation", None)
        if self.pool_first and _is_convolution(layer) and commutes_with_max(activation):
            with _linear_activation(layer):
                pre = layer(*args, training=False, **kwargs)
            return self._defer(pre, activation)
        return layer(*args, training=False, **kwargs)

    def _defer(self, pre, activation):
        """The activated output; a max-pool that reads it pools `pre` instead, then activates.

        When nothing but the pool reads the output, the graph never computes it.
        """
        out = activation(pre)
        self.deferred[id(out)] = (out, pre, activation)
        return out


def _without_activation(layer, args, kwargs):
    """What feeds the layer's activation: the input of an activation layer, or the layer run linear."""
    keras = _tf.keras()
    if isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)):
        return args[0]
    if getattr(layer, "activation", None) is None:
        return layer(*args, training=False, **kwargs)
    with _linear_activation(layer):
        return layer(*args, training=False, **kwargs)


def _with_relu(layer, args, kwargs, relu):
    """The layer with `relu` (render's relaxed ReLU) standing in for its ReLU or ReLU6, if it has one."""
    clips, top = fusednorm.ceiling(layer)
    if clips:
        return _at_most(relu, top)(args[0])
    activation = getattr(layer, "activation", None)
    relaxed = _relaxed(activation, relu)
    if relaxed is activation:
        return layer(*args, training=False, **kwargs)
    with _linear_activation(layer):
        return relaxed(layer(*args, training=False, **kwargs))


def _relaxed(activation, relu):
    """`activation` with `relu` standing in when it is a ReLU or ReLU6; `activation` itself otherwise."""
    clips, top = fusednorm.relu_top(activation)
    return _at_most(relu, top) if clips and relu is not None else activation


def _at_most(relu, top: float | None):
    """`relu`, capped at `top` (ReLU6's 6): below the ceiling its gradient is the relaxed ReLU's."""
    if top is None:
        return relu
    return lambda x: _tf.tf().minimum(relu(x), top)


def pads_as_same(pad, conv, shape) -> bool:
    """True when ZeroPadding2D `pad` of an input of `shape`, then `conv`, is `conv` with padding 'same' on that input.

    Only for a 'valid' DepthwiseConv2D. The values are the same; the input
    gradient's last bits can differ with the kernel oneDNN picks for a shape:
    the same bits on keras.applications' MobileNetV2 at 224 px (4 maps x 3
    steps, float32 and bfloat16), the last bits with 4 channels at 12x12. A
    dense convolution's float32 input gradient differed at 224 px, so dense
    convolutions keep their padding. No bundled model pads; the zoo's 224-px MobileNetV2 does.
    """
    keras = _tf.keras()
    if not isinstance(conv, keras.layers.DepthwiseConv2D) or conv.padding != "valid":
        return False
    if {conv.data_format, pad.data_format} != {"channels_last"} or None in tuple(shape[1:3]):
        return False
    axes = zip(pad.padding, shape[1:3], conv.kernel_size, conv.strides, conv.dilation_rate)
    return all(tuple(p) == same_padding(int(n), k, s, d) for p, n, k, s, d in axes)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after): what padding 'same' adds on an axis of `size`, as TensorFlow pads it."""
    total = max((-(-size // stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _is_convolution(layer) -> bool:
    layers = _tf.keras().layers
    return isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D))


def commutes_with_max(activation) -> bool:
    """True for element-wise activations that never decrease: then act(max(x)) == max(act(x))."""
    activations = _tf.keras().activations
    return any(activation is getattr(activations, n, None) for n in MONOTONE_ACTIVATIONS)


@contextlib.contextmanager
def _swapped(layer, attribute: str, value):
    """Run a layer with one attribute set to `value`, restored afterwards."""
    saved = getattr(layer, attribute)
    setattr(layer, attribute, value)
    try:
        yield
    finally:
        setattr(layer, attribute, saved)


def _keeps_float32(layer) -> bool:
    """A depthwise convolution runs in float32 in a bfloat16 run: oneDNN's bfloat16 depthwise kernels are slower
    than its float32 ones. keras.applications' MobileNetV2 at 224 px, 64 maps x 32 steps on the Xeon: 36.5 s all
    in bfloat16, 30.7 s with its depthwise convolutions in float32, 29.7 s all in float32."""
    return isinstance(layer, _tf.keras().layers.DepthwiseConv2D)


def _policy(layer, dtype: str):
    """Run a layer in mixed precision: compute in dtype, weights kept in float32."""
    return _swapped(layer, "dtype_policy", _tf.keras().DTypePolicy(f"mixed_{dtype}"))


def _linear_activation(layer):
    """Run a layer without its activation, so a hook can apply its own."""
    return _swapped(layer, "activation", _tf.keras().activations.linear)
