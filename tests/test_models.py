"""Loading models safely, listing their layers, and running their graph to any layer."""

import helpers
import numpy as np
import pytest

from featviz import models
from featviz.errors import FeatvizError


@pytest.mark.parametrize("name", ["tiny.keras", "tiny.h5", "noinput.keras"])
def test_loads_keras_h5_and_no_input_models(tiny_files, name):
    loaded = models.load(tiny_files / name)
    assert [i.name for i in models.list_layers(loaded.model)] == ["c1", "pool", "c2", "flat", "out"]
    assert len(loaded.sha256) == 64


def test_bundled_model_is_the_default():
    loaded = models.load()
    assert loaded.name == "mnist_cnn.keras"
    names = [i.name for i in models.spatial_layers(loaded.model)]
    assert names == ["conv1", "pool1", "conv2", "pool2", "conv3"]


def test_layer_table_facts():
    model = helpers.tiny_cnn()
    infos = {i.name: i for i in models.list_layers(model)}
    assert infos["c1"].output_shape == (10, 10, 4) and infos["c1"].maps == 4
    assert infos["c1"].params == 3 * 3 * 1 * 4 + 4
    assert infos["c2"].output_shape == (3, 3, 6) and infos["c2"].spatial
    assert not infos["flat"].spatial and infos["flat"].maps is None
    assert models.innermost(list(infos.values())).name == "c2"


def test_resolve_layer_by_name_index_and_default():
    model = helpers.tiny_cnn()
    assert models.resolve_layer(model).name == "c2"
    assert models.resolve_layer(model, "c1").name == "c1"
    assert models.resolve_layer(model, "0").name == "c1"


def test_unknown_layer_lists_the_valid_names():
    with pytest.raises(FeatvizError, match=r"unknown layer 'nope'; layers with maps: c1, pool, c2"):
        models.resolve_layer(helpers.tiny_cnn(), "nope")


def test_layer_without_maps_is_refused():
    with pytest.raises(FeatvizError, match=r"'out' has no spatial maps"):
        models.resolve_layer(helpers.tiny_cnn(), "out")


def test_extractor_matches_the_model_itself():
    model = helpers.tiny_cnn()
    x = np.random.default_rng(0).random((2, 12, 12, 1), dtype=np.float32)
    maps, out = models.extractor(model, ["c2"], with_output=True)(x)
    np.testing.assert_allclose(np.asarray(out), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    assert np.asarray(maps).shape == (2, 3, 3, 6)


def test_extractor_on_a_larger_canvas_for_a_convolutional_prefix():
    net = models.extractor(helpers.tiny_cnn(), ["c2"], canvas=(20, 20))
    assert tuple(net.outputs[0].shape[1:]) == (7, 7, 6)


def test_never_built_sequential_has_a_clear_error():
    k = helpers.keras()
    model = k.Sequential([k.layers.Conv2D(2, 3)])
    with pytest.raises(FeatvizError, match="never been called"):
        models.list_layers(model)


def test_every_private_keras_name_featviz_uses_is_still_there():
    """keras_internals.py is the one module that touches private Keras names; a release that moves one fails here."""
    import keras

    from featviz.models import keras_internals

    missing = keras_internals.missing()
    assert missing == [], (
        f"Keras {keras.__version__} moved {', '.join(missing)}: update featviz/models/keras_internals.py"
    )


def test_the_fence_notices_a_missing_name(monkeypatch):
    from featviz.models import keras_internals

    names = (*keras_internals.PRIVATE_NAMES, ("keras.src.models.functional.Functional", "_no_such_attribute"))
    monkeypatch.setattr(keras_internals, "PRIVATE_NAMES", names)
    assert keras_internals.missing() == ["keras.src.models.functional.Functional._no_such_attribute"]


def test_class_weights_of_a_flatten_dense_head_sum_each_maps_weights():
    from featviz.models import head

    model = helpers.tiny_cnn()  # c2 (3x3x6) -> flatten -> dense out (3 classes)
    kernel = model.get_layer("out").get_weights()[0]  # (54, 3), flatten order (y, x, map)
    weights = head.class_weights(model, models.resolve_layer(model, "c2"))
    assert weights.shape == (6, 3)
    np.testing.assert_allclose(weights[4], kernel[4::6].sum(axis=0), rtol=1e-6)
    # The same number, measured: raising every unit of map 4 by one moves each logit by its weight.
    x = np.zeros((1, 3, 3, 6), np.float32)
    bumped = x.copy()
    bumped[..., 4] += 1.0
    logits = lambda maps: maps.reshape(1, -1) @ kernel
    np.testing.assert_allclose((logits(bumped) - logits(x))[0], weights[4], rtol=1e-5)


def test_class_weights_of_a_pooling_head_and_none_for_other_heads():
    from featviz.models import head

    k = helpers.keras()
    inp = k.Input((8, 8, 1))
    conv = k.layers.Conv2D(5, 3, name="conv")(inp)
    pooled = k.layers.GlobalAveragePooling2D()(conv)
    gap = k.Model(inp, k.layers.Dense(4, name="logits")(k.layers.Dropout(0.5)(pooled)))
    weights = head.class_weights(gap, models.resolve_layer(gap, "conv"))
    np.testing.assert_array_equal(weights, gap.get_layer("logits").get_weights()[0])
    deeper = k.Model(inp, k.layers.Dense(4)(k.layers.Dense(7)(pooled)))
    assert head.class_weights(deeper, models.resolve_layer(deeper, "conv")) is None
    assert head.class_weights(helpers.tiny_cnn(), models.resolve_layer(helpers.tiny_cnn(), "c1")) is None
