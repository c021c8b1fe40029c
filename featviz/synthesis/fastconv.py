"""A faster input gradient for convolutions with few input channels.

The first layer of an image model has 1 or 3 input channels. oneDNN computes
the gradient of such a convolution with respect to its input slowly: 3.8 ms
in bfloat16 for the MNIST CNN's conv1 at batch 128, three times its forward
pass. The same gradient as one matrix product followed by an XLA-compiled
shift-and-add of the kernel taps (col2im) takes 0.8-0.9 ms. Pattern synthesis
needs exactly this gradient at every step.
"""

from __future__ import annotations

from ..runtime import _tf

MAX_CHANNELS = 4
_compiled: dict = {}  # the XLA-compiled col2im, made on first use


def applies(layer) -> bool:
    """A plain stride-1 Conv2D with at most MAX_CHANNELS input channels."""
    keras = _tf.keras()
    if type(layer) is not keras.layers.Conv2D or not layer.built:
        return False
    cfg = layer.get_config()
    return (
        tuple(cfg["strides"]) == (1, 1)
        and tuple(cfg["dilation_rate"]) == (1, 1)
        and cfg.get("groups", 1) == 1
        and cfg["data_format"] == "channels_last"
        and cfg["padding"] in ("valid", "same")
        and layer.kernel.shape[2] <= MAX_CHANNELS
    )


def call(layer, x, activation):
    """What `layer(x)` computes, with the fast input gradient; `activation` replaces the layer's own."""
    tf = _tf.tf()
    kernel = tf.cast(tf.convert_to_tensor(layer.kernel), x.dtype)
    kh, kw = kernel.shape[0], kernel.shape[1]
    if layer.padding == "same":
        x = tf.pad(x, [[0, 0], [(kh - 1) // 2, kh // 2], [(kw - 1) // 2, kw // 2], [0, 0]])
    y = conv_valid(tf.cast(x, kernel.dtype), kernel)
    if layer.use_bias:
        y = tf.nn.bias_add(y, tf.cast(tf.convert_to_tensor(layer.bias), y.dtype))
    return activation(y)


def conv_valid(x, kernel):
    """tf.nn.conv2d(x, kernel, 1, 'VALID') with a matmul + col2im input gradient."""
    tf = _tf.tf()

    @tf.custom_gradient
    def conv(inputs):
        def grad(dy):
            return input_gradient(dy, kernel, tf.shape(inputs))

        return tf.nn.conv2d(inputs, kernel, 1, "VALID"), grad

    return conv(x)


def input_gradient(dy, kernel, input_shape):
    """d(loss)/d(input) of a stride-1 valid convolution, from dy (N, oh, ow, cout).

    One matrix product gives every kernel tap's contribution, laid out tap-major
    so that each tap is a contiguous (N, oh, ow) block; an XLA-compiled
    shift-and-add (col2im) in float32 then sums them into the input's shape.
    """
    tf = _tf.tf()
    cout = kernel.shape[-1]
    taps = tf.matmul(tf.reshape(kernel, [-1, cout]), tf.reshape(dy, [-1, cout]), transpose_b=True)
    if "col2im" not in _compiled:
        _compiled["col2im"] = tf.function(col2im, jit_compile=True, reduce_retracing=True, autograph=False)
    return _compiled["col2im"](taps, tf.shape(dy), tuple(kernel.shape[:3]), input_shape)


def col2im(taps, dy_shape, kernel_shape, input_shape):
    """Sum the taps (kh * kw * cin, N * oh * ow) at their offsets into an input gradient (N, H, W, cin)."""
    tf = _tf.tf()
    kh, kw, cin = kernel_shape
    n, oh, ow = dy_shape[0], dy_shape[1], dy_shape[2]
    blocks = tf.reshape(tf.cast(taps, tf.float32), [kh, kw, cin, n, oh, ow])
    total = 0.0
    for i in range(kh):
        for j in range(kw):
            total += tf.pad(blocks[i, j], [[0, 0], [0, 0], [i, kh - 1 - i], [j, kw - 1 - j]])
    return tf.cast(tf.transpose(total, [1, 2, 3, 0]), taps.dtype)
