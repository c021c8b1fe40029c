"""The fast first-layer convolution computes exactly what Keras computes, value and input gradient."""

import numpy as np
import pytest

from featviz.runtime import _tf
from featviz.synthesis import fastconv


def keras():
    return _tf.keras()


def conv_layer(cin, padding="valid", kernel=(3, 3), **kwargs):
    layer = keras().layers.Conv2D(5, kernel, padding=padding, activation="relu", **kwargs)
    layer.build((None, 9, 8, cin))
    rng = np.random.default_rng(cin)
    layer.kernel.assign(rng.normal(size=layer.kernel.shape).astype(np.float32))
    layer.bias.assign(rng.normal(size=layer.bias.shape).astype(np.float32))
    return layer


def value_and_gradient(fn, x):
    tf = _tf.tf()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * tf.sin(y))  # a weighting that differs at every output
    return y.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("cin", [1, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel", [(3, 3), (2, 5)])
def test_matches_keras_value_and_input_gradient(cin, padding, kernel):
    tf = _tf.tf()
    layer = conv_layer(cin, padding, kernel)
    assert fastconv.applies(layer)
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 9, 8, cin)).astype(np.float32))
    want_y, want_g = value_and_gradient(lambda t: layer(t), x)
    got_y, got_g = value_and_gradient(lambda t: fastconv.call(layer, t, tf.nn.relu), x)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-4, atol=1e-4)


def test_gradient_of_a_single_output_is_the_kernel_at_its_place():
    tf = _tf.tf()
    kernel = tf.reshape(tf.range(1.0, 7.0), [2, 3, 1, 1])  # 1 2 3 / 4 5 6
    dy = np.zeros((1, 3, 2, 1), np.float32)
    dy[0, 1, 0, 0] = 1.0  # output (1, 0) reads input rows 1-2, columns 0-2
    grad = fastconv.input_gradient(tf.constant(dy), kernel, [1, 4, 4, 1]).numpy()[0, ..., 0]
    expected = np.zeros((4, 4), np.float32)
    expected[1:3, 0:3] = [[1, 2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(grad, expected)


@pytest.mark.parametrize(
    "cin, kwargs",
    [(8, {}), (1, {"strides": 2}), (1, {"dilation_rate": 2})],
    ids=["many channels", "strided", "dilated"],
)
def test_other_convolutions_keep_the_keras_path(cin, kwargs):
    assert not fastconv.applies(conv_layer(cin, **kwargs))
