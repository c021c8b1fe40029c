"""The graph runner's speed-ups for pattern synthesis change the speed, not the values or gradients."""

import helpers
import numpy as np
import pytest

from featviz import models
from featviz.runtime import _tf
from featviz.synthesis.hooks import Hooks, same_padding


def value_and_gradient(model, layer, hooks):
    tf = _tf.tf()
    x = tf.constant(np.random.default_rng(3).normal(0.5, 0.5, size=(2, 12, 12, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        _, taps = models.run_graph(model, x, [layer], hooks, stop=True)
        out = taps[layer]
        loss = tf.reduce_sum(out * tf.cos(out))  # a weighting that differs at every output
    return out.numpy(), tape.gradient(loss, x).numpy()


def branching_model(activation):
    """conv a feeds both a max-pool and, through a 1x1 conv, the sum at the end."""
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=4)
    inp = k.Input((12, 12, 1))
    a = k.layers.Conv2D(4, 3, activation=activation, name="a", kernel_initializer=init, bias_initializer="ones")(inp)
    pooled = k.layers.MaxPooling2D(2, name="pool")(a)
    b = k.layers.Conv2D(4, 3, padding="same", name="b", kernel_initializer=init)(pooled)
    side = k.layers.Conv2D(4, 1, name="side", kernel_initializer=init)(a)
    up = k.layers.UpSampling2D(2, name="up")(b)
    return k.Model(inp, k.layers.Add(name="sum")([up, side]))


@pytest.mark.parametrize("fast", [False, True])
def test_fast_paths_match_plain_keras_on_a_sequential_cnn(fast):
    model = helpers.tiny_cnn()
    plain = value_and_gradient(model, "c2", None)
    hooked = value_and_gradient(model, "c2", Hooks(fast_conv=fast, pool_first=True))
    np.testing.assert_allclose(hooked[0], plain[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hooked[1], plain[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu"])
def test_activation_after_pool_matches_when_the_conv_output_also_feeds_another_layer(activation):
    model = branching_model(activation)
    plain = value_and_gradient(model, "sum", None)
    hooked = value_and_gradient(model, "sum", Hooks(fast_conv=True, pool_first=True))
    np.testing.assert_allclose(hooked[0], plain[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hooked[1], plain[1], rtol=1e-4, atol=1e-5)


def test_a_non_monotone_activation_is_not_moved_past_the_pool():
    """gelu(max(x)) differs from max(gelu(x)): a negative maximum can map above a more negative neighbour."""
    model = branching_model("gelu")
    conv = model.get_layer("a")
    conv.bias.assign(np.full(4, -2.0, np.float32))  # gelu decreases below about -0.75
    plain = value_and_gradient(model, "pool", None)
    hooked = value_and_gradient(model, "pool", Hooks(fast_conv=True, pool_first=True))
    np.testing.assert_allclose(hooked[0], plain[0], rtol=1e-5, atol=1e-5)


def gradient_graph(model, layer, hooks):
    """The traced graph of the input gradient of `layer`'s sum, for 2 images of 12x12x1."""
    tf = _tf.tf()

    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            _, taps = models.run_graph(model, x, [layer], hooks, stop=True)
            loss = tf.reduce_sum(taps[layer])
        return tape.gradient(loss, x)

    return tf.function(gradient).get_concrete_function(tf.TensorSpec((2, 12, 12, 1))).graph


@pytest.mark.parametrize("pool_first", [False, True])
def test_pool_first_moves_the_relu_gradient_onto_the_pooled_maps(pool_first):
    model = helpers.tiny_cnn()  # c1: 10x10x4 -> pool: 5x5x4 -> c2 (the objective)
    graph = gradient_graph(model, "c2", Hooks(fast_conv=True, pool_first=pool_first))
    shapes = {tuple(op.outputs[0].shape[1:]) for op in graph.get_operations() if op.type == "ReluGrad"}
    assert shapes == ({(5, 5, 4), (3, 3, 6)} if pool_first else {(10, 10, 4), (3, 3, 6)})


def randomize_normalizations(model, names):
    """Moving statistics far from 0 and 1, so that a normalization is not nearly the identity."""
    rng = np.random.default_rng(7)
    for name in names:
        layer = model.get_layer(name)
        for weight, (lo, hi) in zip(layer.weights, [(0.5, 2.0), (-1.0, 1.0), (-0.5, 0.5), (0.1, 3.0)]):
            weight.assign(rng.uniform(lo, hi, weight.shape).astype(np.float32))  # gamma, beta, mean, variance
    return model


def normalized_model(top=None):
    """Pre-activation: BN -> ReLU (capped at `top`) -> conv, with a BN that feeds an Add too. The BNs read
    convolutions with an activation, which cannot take them into their weights."""
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=5)
    inp = k.Input((12, 12, 1))
    x = k.layers.Conv2D(6, 3, activation="tanh", name="c1", kernel_initializer=init)(inp)
    bn1 = k.layers.BatchNormalization(name="bn1")(x)
    r1 = k.layers.ReLU(max_value=top, name="r1")(bn1)
    y = k.layers.Conv2D(6, 3, padding="same", activation="tanh", name="c2", kernel_initializer=init)(r1)
    bn2 = k.layers.BatchNormalization(name="bn2")(y)
    r2 = k.layers.ReLU(max_value=top, name="r2")(bn2)
    model = k.Model(inp, k.layers.Add(name="sum")([r2, bn2]))
    return randomize_normalizations(model, ("bn1", "bn2"))


def folded_model():
    """MobileNetV2's pattern after a first 1x1 convolution: convolution -> BN -> ReLU6, a padded stride-2 depthwise
    convolution -> BN -> ReLU6, a 1x1 projection -> BN; the convolution after the first has a bias, the others
    none."""
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=8)
    x = inp = k.Input((12, 12, 1))
    x = k.layers.Conv2D(6, 1, name="c0", kernel_initializer=init)(x)
    bias = k.initializers.RandomUniform(-0.5, 0.5, seed=9)
    x = k.layers.Conv2D(6, 3, name="c1", kernel_initializer=init, bias_initializer=bias)(x)
    x = k.layers.ReLU(6.0, name="r1")(k.layers.BatchNormalization(name="bn1")(x))  # 10x10x6
    x = k.layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad")(x)
    x = k.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, use_bias=False, name="d2",
                                 depthwise_initializer=init)(x)  # fmt: skip
    x = k.layers.ReLU(6.0, name="r2")(k.layers.BatchNormalization(name="bn2")(x))  # 5x5x12
    x = k.layers.Conv2D(4, 1, use_bias=False, name="c3", kernel_initializer=init)(x)
    model = k.Model(inp, k.layers.BatchNormalization(name="bn3")(x))
    return randomize_normalizations(model, ("bn1", "bn2", "bn3"))


def test_a_normalization_folded_into_its_convolution_keeps_the_values_and_gradient():
    model = folded_model()
    plain = value_and_gradient(model, "bn3", Hooks())
    hooked = value_and_gradient(model, "bn3", Hooks(fast_conv=True))
    for got, want in zip(hooked, plain):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


@helpers.needs_bfloat16
def test_a_folded_normalization_in_bfloat16_keeps_the_values_and_the_gradients_direction():
    """The folded kernel is rounded to bfloat16 where Keras rounds the convolution's output: a unit near a ReLU6's
    kink can land on its other side, so the gradient is compared by direction."""
    model = folded_model()
    plain = value_and_gradient(model, "bn3", Hooks(compute_dtype="bfloat16"))
    hooked = value_and_gradient(model, "bn3", Hooks(fast_conv=True, compute_dtype="bfloat16"))
    np.testing.assert_allclose(hooked[0], plain[0], rtol=0, atol=3e-2 * np.abs(plain[0]).max())
    cosine = np.sum(hooked[1] * plain[1]) / np.linalg.norm(hooked[1]) / np.linalg.norm(plain[1])
    assert cosine > 0.99


def test_a_first_convolution_keeps_its_fast_input_gradient_and_is_not_folded():
    """fastconv's matrix product and col2im stand in for oneDNN's input gradient, which is slow with 1 channel."""
    k = helpers.keras()
    x = inp = k.Input((12, 12, 1))
    x = k.layers.Conv2D(4, 3, name="c1")(x)
    model = randomize_normalizations(k.Model(inp, k.layers.BatchNormalization(name="bn1")(x)), ("bn1",))
    ops = [op.type for op in gradient_graph(model, "bn1", Hooks(fast_conv=True)).get_operations()]
    assert "Conv2DBackpropInput" not in ops and "MatMul" in ops


def test_a_folded_normalization_leaves_no_multiply_on_the_convolutions_outputs():
    model = folded_model()
    sizes = {model.get_layer(n).output.shape[1:] for n in ("c1", "d2", "c3")}

    def multiplies(hooks):
        ops = gradient_graph(model, "bn3", hooks).get_operations()
        return sum(op.type == "Mul" and op.outputs[0].shape[1:] in sizes for op in ops)

    assert multiplies(Hooks()) > 0 and multiplies(Hooks(fast_conv=True)) == 0


@pytest.mark.parametrize("top", [None, 1.0], ids=["relu", "capped relu"])
@pytest.mark.parametrize(
    "dtype, tolerance", [(None, 1e-5), pytest.param("bfloat16", 3e-2, marks=helpers.needs_bfloat16)]
)
def test_a_normalization_and_its_relu_run_fused_with_the_same_values_and_gradient(dtype, tolerance, top):
    model = normalized_model(top)
    plain = value_and_gradient(model, "sum", Hooks(compute_dtype=dtype))
    hooked = value_and_gradient(model, "sum", Hooks(fast_conv=True, compute_dtype=dtype))
    for got, want in zip(hooked, plain):  # bfloat16 keeps 8 bits: compare with the largest magnitude
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * np.abs(want).max())


def test_the_fused_kernel_replaces_the_keras_normalization_ops():
    model = normalized_model()

    def ops(hooks):
        return [op.type for op in gradient_graph(model, "c2", hooks).get_operations()]

    assert "ReluGrad" in ops(Hooks()) and "ReluGrad" not in ops(Hooks(fast_conv=True))


def test_the_objectives_own_relu_is_not_fused_so_it_can_be_relaxed():
    tf = _tf.tf()
    model = normalized_model()
    calls = []

    def relu(x):
        calls.append(x)
        return tf.nn.relu(x)

    value_and_gradient(model, "r1", Hooks(relu=relu, relu_layers={"r1"}, fast_conv=True))
    assert len(calls) == 1


def padded_model():
    """keras.applications' MobileNets pad, then convolve 'valid'. Before a depthwise convolution, (0, 1) at
    stride 2 and (1, 1) at stride 1 are what 'same' adds; (1, 1) at stride 2 is not, and a dense convolution keeps
    its padding whatever it is."""
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=6)
    x = inp = k.Input((12, 12, 1))
    x = k.layers.Conv2D(4, 1, name="c0", kernel_initializer=init)(x)
    for name, pad, stride in (("d1", ((0, 1), (0, 1)), 2), ("d2", 1, 1), ("d3", 1, 2)):  # 12 -> 6 -> 6 -> 3
        x = k.layers.ZeroPadding2D(pad, name=f"pad_{name}")(x)
        x = k.layers.DepthwiseConv2D(3, strides=stride, name=name, depthwise_initializer=init)(x)
    x = k.layers.ZeroPadding2D(1, name="pad_c4")(x)
    return k.Model(inp, k.layers.Conv2D(2, 3, name="c4", kernel_initializer=init)(x))


def test_same_padding_is_what_tensorflow_adds():
    assert [same_padding(112, 3, 2), same_padding(56, 3, 1), same_padding(57, 5, 2), same_padding(224, 7, 2)] == [
        (0, 1),
        (1, 1),
        (2, 2),
        (2, 3),
    ]


def test_a_padding_that_same_would_add_runs_inside_the_depthwise_convolution():
    model = padded_model()
    plain = value_and_gradient(model, "c4", Hooks())
    hooked = value_and_gradient(model, "c4", Hooks(fast_conv=True))
    np.testing.assert_array_equal(hooked[0], plain[0])
    np.testing.assert_allclose(hooked[1], plain[1], rtol=1e-5, atol=1e-7)  # oneDNN's kernel for 4 channels

    def unpads(hooks):  # a Pad's gradient is two Slices; the unused Pad itself is traced, then pruned
        return sum(op.type == "Slice" for op in gradient_graph(model, "c4", hooks).get_operations()) // 2

    assert (unpads(Hooks()), unpads(Hooks(fast_conv=True))) == (4, 2)


def test_a_bfloat16_run_keeps_depthwise_convolutions_in_float32():
    """oneDNN's bfloat16 depthwise kernels are slower than its float32 ones; the dense convolutions run bfloat16."""
    tf = _tf.tf()
    model = padded_model()
    x = tf.constant(np.random.default_rng(0).random((1, 12, 12, 1), dtype=np.float32))
    _, taps = models.run_graph(model, x, ["c0", "d2", "c4"], Hooks(compute_dtype="bfloat16"))
    assert [taps[n].dtype for n in ("c0", "d2", "c4")] == [tf.bfloat16, tf.float32, tf.bfloat16]
