"""A convolution and the inference BatchNormalization that reads it, as one convolution with rescaled weights.

In inference a BatchNormalization is `y * a + b` per channel, so after a
convolution it can be folded into the kernel (each output channel's weights
times its `a`) and a bias (`b`, plus `a` times the convolution's own bias).
That is what TensorFlow Lite and oneDNN's graph compilers do. Pattern
synthesis then skips a read and a write of the layer's output forward and
one more backward, and oneDNN fuses the bias and a following ReLU or ReLU6
into the convolution. MobileNetV2 puts a BatchNormalization after every
convolution. The values are the same up to float rounding: the last bits of
a pattern change, not what it shows.
"""

from __future__ import annotations

from ..runtime import _tf
from . import fusednorm


def foldable(layer) -> bool:
    """A built, linear Conv2D (one group) or DepthwiseConv2D, channels last, whose output a BatchNormalization
    can be folded into."""
    keras = _tf.keras()
    if type(layer) not in (keras.layers.Conv2D, keras.layers.DepthwiseConv2D) or not layer.built:
        return False
    cfg = layer.get_config()
    one_of = tuple(cfg["strides"]) == (1, 1) or tuple(cfg["dilation_rate"]) == (1, 1)
    return (
        layer.activation is keras.activations.linear
        and cfg.get("groups", 1) == 1
        and cfg["data_format"] == "channels_last"
        and one_of
    )


def convolve(conv, norm, x, padding: str, dtype: str):
    """norm(conv(x)) with `conv`'s padding set to `padding`, as one convolution computed in `dtype`."""
    tf = _tf.tf()
    a, b = fusednorm.scale_and_shift(norm)
    kernel = tf.convert_to_tensor(conv.kernel)
    depthwise = isinstance(conv, _tf.keras().layers.DepthwiseConv2D)
    kernel = kernel * (tf.reshape(a, kernel.shape[2:]) if depthwise else a)
    if conv.use_bias:
        b = b + a * tf.convert_to_tensor(conv.bias)
    x, kernel = tf.cast(x, dtype), tf.cast(kernel, dtype)
    strides, rates = tuple(conv.strides), tuple(conv.dilation_rate)
    if depthwise:
        y = tf.nn.depthwise_conv2d(x, kernel, (1, *strides, 1), padding.upper(), dilations=rates)
    else:
        y = tf.nn.conv2d(x, kernel, strides, padding.upper(), dilations=rates)
    return tf.nn.bias_add(y, tf.cast(b, dtype))
