"""The weights between maps (models/weights.py): exact expanded weights on tiny hand-built models, and --weights."""

import helpers
import numpy as np
import pytest

from featviz.errors import FeatvizError
from featviz.models import weights

# BatchNormalization with gamma (1, 2), moving variance (3, 0) and epsilon 1 scales its two maps by 1/2 and 2.
BN = [np.array([1.0, 2.0]), np.zeros(2), np.zeros(2), np.array([3.0, 0.0])]


def one_by_one(rows) -> np.ndarray:
    """A 1x1 kernel (1, 1, maps in, maps out) from its rows."""
    return np.array(rows, np.float32)[None, None]


def chain(*, with_relu: bool = False):
    """a (1x1 conv, 1 -> 2 maps) -> bn [-> relu] -> b (1x1 conv, 2 -> 1 map), no biases."""
    k = helpers.keras()
    x = k.Input((5, 5, 1))
    a = k.layers.Conv2D(2, 1, use_bias=False, name="a")(x)
    y = k.layers.BatchNormalization(epsilon=1.0, name="bn")(a)
    y = k.layers.ReLU(name="relu")(y) if with_relu else y
    b = k.layers.Conv2D(1, 1, use_bias=False, name="b")(y)
    model = k.Model(x, b)
    model.get_layer("a").set_weights([one_by_one([[2, -1]])])
    model.get_layer("bn").set_weights(BN)
    model.get_layer("b").set_weights([one_by_one([[3], [4]])])
    return model


def test_conv_bn_conv_expands_to_the_product_of_its_linear_maps():
    from_a = weights.expand(chain(), "b", {"a"})
    (source,) = from_a.sources
    assert source.layer == "a" and source.through == ("bn (BatchNormalization)",) and source.active == ()
    np.testing.assert_allclose(source.totals, [[3 / 2], [4 * 2]])  # b's weights times bn's scales
    (to_input,) = weights.expand(chain(), "b", set()).sources  # through a too: a linear conv
    assert to_input.layer == weights.INPUT and from_a.stopped == ()
    np.testing.assert_allclose(to_input.totals, [[2 * 3 / 2 - 1 * 4 * 2]])


def test_a_relu_passes_each_map_as_if_active_but_the_walk_stops_where_maps_mix_below_it():
    (source,) = weights.expand(chain(with_relu=True), "b", {"a"}).sources
    np.testing.assert_allclose(source.totals, [[3 / 2], [4 * 2]])
    assert source.active == ("relu (ReLU)",) and source.path() == "relu (ReLU, as if active), bn (BatchNormalization)"
    beyond = weights.expand(chain(with_relu=True), "b", set())
    assert beyond.sources == () and beyond.stopped[0].startswith("a (Conv2D) is not shown, and below the nonlinear")


def test_kernels_compose_with_strides():
    k = helpers.keras()
    x = k.Input((8, 8, 1))
    a = k.layers.Conv2D(1, 2, strides=2, use_bias=False, name="a")(x)
    model = k.Model(x, k.layers.Conv2D(1, 2, use_bias=False, name="b")(a))
    model.get_layer("a").set_weights([np.array([[1, 2], [3, 4]], np.float32)[..., None, None]])
    model.get_layer("b").set_weights([np.array([[1, 0], [0, -1]], np.float32)[..., None, None]])
    (source,) = weights.expand(model, "b", set()).sources
    expected = [[1, 2, 0, 0], [3, 4, 0, 0], [0, 0, -1, -2], [0, 0, -3, -4]]
    np.testing.assert_allclose(source.kernels[..., 0, 0], expected)
    image = np.random.default_rng(0).normal(size=(1, 8, 8, 1)).astype(np.float32)
    out = np.asarray(model(image))  # a linear model: its first unit is the image weighted by the expanded kernel
    np.testing.assert_allclose(out[0, 0, 0, 0], (image[0, :4, :4, 0] * source.kernels[..., 0, 0]).sum(), rtol=1e-5)


def residual(*, rendered_branch: bool):
    """a (2 maps) -> bn -> c (1x1) -> add(a, c) -> t (1x1, 1 map): a residual unit with an identity shortcut."""
    k = helpers.keras()
    x = k.Input((4, 4, 1))
    a = k.layers.Conv2D(2, 1, use_bias=False, name="a")(x)
    c = k.layers.Conv2D(2, 1, use_bias=False, name="c")(k.layers.BatchNormalization(epsilon=1.0, name="bn")(a))
    t = k.layers.Conv2D(1, 1, use_bias=False, name="t")(k.layers.Add(name="add")([a, c]))
    model = k.Model(x, t)
    model.get_layer("bn").set_weights(BN)
    model.get_layer("c").set_weights([one_by_one([[1, 2], [3, 4]])])
    model.get_layer("t").set_weights([one_by_one([[1], [-1]])])
    return weights.expand(model, "t", {"a", "c"} if rendered_branch else {"a"})


def test_a_residual_sum_adds_the_shortcut_to_the_branch():
    (source,) = residual(rendered_branch=False).sources  # both paths reach a: their weights add up
    shortcut, branch = np.array([1, -1]), np.array([0.5, 2]) * (np.array([[1, 2], [3, 4]]) @ [1, -1])
    np.testing.assert_allclose(source.totals[:, 0], shortcut + branch)  # [1 + 0.5 * -1, -1 + 2 * -1]
    assert set(source.through) == {"add (Add)", "c (Conv2D)", "bn (BatchNormalization)"}
    shown = residual(rendered_branch=True)  # c rendered: the branch ends there, the shortcut goes on to a
    assert {s.layer: s.totals[:, 0].tolist() for s in shown.sources} == {"c": [1, -1], "a": [1, -1]}


def test_a_max_pool_passes_each_map_through():
    model = helpers.tiny_cnn()
    (source,) = weights.expand(model, "c2", {"c1"}).sources
    kernel = model.get_layer("c2").get_weights()[0].astype(np.float64)
    np.testing.assert_allclose(source.totals, kernel.sum(axis=(0, 1)), rtol=1e-6)
    spread = np.repeat(np.repeat(kernel, 2, axis=0), 2, axis=1) / 4  # each tap over its 2x2 pool window
    np.testing.assert_allclose(source.kernels, spread, rtol=1e-6)
    assert source.active == ("pool (MaxPooling2D)",)
    up, down = weights.expand(model, "c2", {"c1"}).top(0, 2)
    assert [u.weight for u in up] == sorted((float(w) for w in source.totals[:, 0] if w > 0), reverse=True)[:2]
    assert [d.weight for d in down] == sorted(float(w) for w in source.totals[:, 0] if w < 0)[:2]
    assert weights.expand(model, "c2", set()).stopped[0].startswith("c1 (Conv2D) is not shown")
    with pytest.raises(FeatvizError, match=r"'pool' \(MaxPooling2D\) has no kernel that featviz reads"):
        weights.expand(model, "pool", {"c1"})


def test_patterns_weights_prints_each_maps_inputs_and_renders_nothing(cli, tiny_files, tmp_path):
    result = cli("patterns", tiny_files / "tiny.keras", "--layer", "c2", "--maps", "1,4", "--weights")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("c2 <- c1: each map's 4 largest positive and negative weights")
    assert lines[1] == "  from c1 through pool (MaxPooling2D, as if active)"
    assert [line.split()[:2] for line in lines[2:]] == [["map", "1"], ["map", "4"]]
    assert "excited by" in lines[2] and "inhibited by" in lines[2]
    assert not (tmp_path / "gallery").exists()
    refused = cli("patterns", tiny_files / "tiny.keras", "--layer", "pool", "--weights")
    assert refused.exit_code == 2 and "has no kernel that featviz reads" in refused.stderr
