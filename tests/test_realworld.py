"""Models as people save them: no Input layer, nested, residual, Keras 2 .h5, 0..255 inputs."""

import json

import h5py
import helpers
import keras2
import numpy as np
import pytest
from PIL import Image

from featviz import models
from featviz.errors import FeatvizError
from featviz.methods import activations
from featviz.synthesis import objectives, render

FAST = render.Recipe(steps=16, relax_steps=4, polish_steps=4)


def nested_model():
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=2)
    inner = k.Sequential(
        [
            k.Input((12, 12, 1)),
            k.layers.Conv2D(4, 3, activation="relu", name="c", kernel_initializer=init, bias_initializer="ones"),
            k.layers.MaxPooling2D(name="p"),
        ],
        name="inner",
    )
    inp = k.Input((12, 12, 1))
    x = k.layers.Conv2D(5, 3, activation="relu", name="after", kernel_initializer=init)(inner(inp))
    out = k.layers.Dense(2, activation="softmax", name="out")(k.layers.Flatten()(x))
    return k.Model(inp, out, name="outer")


def residual_model():
    """A pre-activation (ResNet V2) unit: BN -> ReLU -> conv, twice, plus the identity."""
    k = helpers.keras()
    L = k.layers
    inp = k.Input((12, 12, 1))
    x = L.Conv2D(4, 3, padding="same", name="stem")(inp)
    y = L.Conv2D(4, 3, padding="same", name="conv1")(L.ReLU(name="relu1")(L.BatchNormalization(name="bn1")(x)))
    y = L.Conv2D(4, 3, padding="same", name="conv2")(L.ReLU(name="relu2")(L.BatchNormalization(name="bn2")(y)))
    x = L.Add(name="add")([x, y])
    out = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(L.ReLU(name="post")(x)))
    return k.Model(inp, out, name="resv2")


def raw_pixel_model():
    """Expects 0..255: it rescales inside, as many trained-on-raw-pixel models do."""
    k = helpers.keras()
    base = helpers.tiny_cnn()
    inp = k.Input((12, 12, 1))
    x = k.layers.Rescaling(1 / 255, name="scale")(inp)
    for layer in base.layers:
        x = layer(x)
    return k.Model(inp, x, name="raw255"), base


def write_image(path, size=12):
    arr = np.zeros((size, size), np.uint8)
    arr[2:10, 5:7] = 255
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture()
def image(tmp_path):
    return write_image(tmp_path / "stroke.png")


def run_all_commands(cli, model_path, layer, image, *extra):
    listed = cli("layers", model_path)
    assert listed.exit_code == 0, listed.output
    assert layer in listed.stdout
    acts = cli("activations", model_path, image, "--layer", layer, *extra)
    assert acts.exit_code == 0, acts.output
    pats = cli(
        "patterns", model_path, "--layer", layer, "--steps", "8", "--maps", "0-1", "--dataset", image.parent, *extra
    )
    assert pats.exit_code == 0, pats.output
    return listed, acts, pats


def test_sequential_without_input_layer(cli, tiny_files, image):
    run_all_commands(cli, tiny_files / "noinput.keras", "c2", image)


def test_nested_submodel_layers_are_addressed_outer_inner(cli, tmp_path, image):
    model = nested_model()
    model.save(tmp_path / "nested.keras")
    listed, _, _ = run_all_commands(cli, tmp_path / "nested.keras", "inner/c", image)
    assert "inner/p" in listed.stdout and "after" in listed.stdout
    x = np.random.default_rng(0).random((1, 12, 12, 1), dtype=np.float32)
    maps = models.extractor(model, ["inner/c"])(x)
    expected = model.get_layer("inner").get_layer("c")(x)
    np.testing.assert_allclose(np.asarray(maps), np.asarray(expected), atol=1e-6)


def test_residual_unit_add_layer_works_everywhere(cli, tmp_path, image):
    residual_model().save(tmp_path / "res.keras")
    listed, _, _ = run_all_commands(cli, tmp_path / "res.keras", "add", image)
    assert "Add" in listed.stdout


def test_keras2_h5_with_batch_input_shape_is_repaired(cli, tmp_path, image):
    original = helpers.tiny_cnn()
    keras2.write_sequential(tmp_path / "old.h5", original)
    with h5py.File(tmp_path / "old.h5") as f:
        assert "batch_input_shape" in f.attrs["model_config"]
    loaded = models.load(tmp_path / "old.h5").model
    x = np.random.default_rng(0).random((2, 12, 12, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(original(x)), atol=1e-6)
    run_all_commands(cli, tmp_path / "old.h5", "conv2d_1", image)


def test_keras2_h5_with_slashes_in_names_and_an_input_layer(tmp_path):
    original = helpers.tiny_cnn()
    keras2.write_sequential(tmp_path / "slash.h5", original, input_layer=True, slash_names=True)
    loaded = models.load(tmp_path / "slash.h5").model
    assert [i.name for i in models.list_layers(loaded)][:3] == ["block_conv_a", "block_pool", "block_conv_b"]
    x = np.random.default_rng(1).random((2, 12, 12, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(original(x)), atol=1e-6)


def test_legacy_arguments_keras3_rejects_are_dropped(tmp_path):
    """tf.keras 2 wrote `groups` into DepthwiseConv2D configs; Keras 3 refuses the argument."""
    keras2.write_sequential(tmp_path / "dw.h5", helpers.tiny_cnn())
    with h5py.File(tmp_path / "dw.h5", "r+") as f:
        config = json.loads(f.attrs["model_config"])
        pool = config["config"]["layers"][1]
        config["config"]["layers"][1] = {
            "class_name": "DepthwiseConv2D",
            "config": {
                "name": "depthwise",
                "trainable": True,
                "dtype": "float32",
                "kernel_size": [1, 1],
                "strides": [1, 1],
                "padding": "valid",
                "data_format": "channels_last",
                "dilation_rate": [1, 1],
                "groups": 1,
                "activation": "linear",
                "use_bias": False,
                "depth_multiplier": 1,
                "depthwise_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            },
        }
        config["config"]["layers"].insert(2, pool)
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f["model_weights"]
        group.attrs["layer_names"] = np.array(
            [b"conv2d", b"depthwise", b"max_pooling2d", b"conv2d_1", b"flatten", b"dense"]
        )
        dw = group.create_group("depthwise")
        dw.attrs["weight_names"] = np.array([b"depthwise/depthwise_kernel:0"])
        dw.create_dataset("depthwise/depthwise_kernel:0", data=np.full((1, 1, 4, 1), 2.0, np.float32))
    model = models.load(tmp_path / "dw.h5").model
    assert model.get_layer("depthwise").get_weights()[0].max() == 2.0


def test_unrepairable_h5_says_what_it_holds(tmp_path):
    keras2.write_sequential(tmp_path / "custom.h5", helpers.tiny_cnn())
    with h5py.File(tmp_path / "custom.h5", "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["class_name"] = "MyCustomPooling"
        f.attrs["model_config"] = json.dumps(config).encode()
    with pytest.raises(FeatvizError, match=r"a Sequential model with 5 layers that Keras cannot load.*MyCustomPooling"):
        models.load(tmp_path / "custom.h5")


def test_model_expecting_0_255(cli, tmp_path, image):
    model, base = raw_pixel_model()
    model.save(tmp_path / "raw.keras")
    x = activations.prepare_image(base, image, (0, 1))
    same = activations.extract(model, image, "c2", (0, 255)).maps
    np.testing.assert_allclose(same, activations.extract(base, x, "c2").maps, atol=1e-5)
    _, _, pats = run_all_commands(cli, tmp_path / "raw.keras", "c2", image, "--input-range", "0,255")
    manifest = json.loads(next(tmp_path.rglob("manifest.json")).read_text())
    assert manifest["settings"]["input_range"] == [0.0, 255.0]
    assert all(m["value"] is not None for m in manifest["maps"])
    checked = cli("check", tmp_path / "raw.keras", image)
    assert checked.exit_code == 0 and "--input-range 0,1" in checked.stdout and "--input-range 0,255" in checked.stdout


def test_keras_applications_resnet50v2_at_64px():
    k = helpers.keras()
    k.utils.set_random_seed(0)  # weights=None initializes at random
    model = k.applications.ResNet50V2(weights=None, input_shape=(64, 64, 3), classes=10)
    infos = models.list_layers(model)
    adds = [i for i in infos if i.class_name == "Add"]
    assert len(adds) == 3 + 4 + 6 + 3 and models.innermost(infos).name == "post_relu"
    rgb = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    acts = activations.extract(model, rgb, "conv3_block2_out")
    assert acts.maps.shape == (8, 8, 512)
    layer = models.resolve_layer(model, "conv3_block2_out")
    recipe = render.Recipe(steps=30, relax_steps=10, polish_steps=5, precision="float32")
    result = render.render(model, objectives.channel(layer.name, [0, 1]), render.Batch.of(2, (64, 64)), recipe)
    assert result.images.shape == (2, 64, 64, 3)
    assert (result.history[-5:].mean(axis=0) > result.history[:5].mean(axis=0)).all(), result.history[[0, -1]]


def test_compare_command_writes_png_and_page(cli, tmp_path, tiny_files, image):
    residual_model().save(tmp_path / "res.keras")
    result = cli(
        "compare", tiny_files / "tiny.keras", tmp_path / "res.keras", "--image", image, "--top", "2", "--steps", "4"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tiny.keras: predicts") and lines[1].startswith("res.keras: predicts")
    png, page, listing = (tmp_path / line for line in lines[2:5])
    assert png.name == "compare.png" and png.exists() and page.exists() and listing.exists()
    assert "tiny.keras" in page.read_text() and "res.keras" in page.read_text()


def test_gallery_on_a_residual_model(cli, tmp_path, tiny_files, image):
    residual_model().save(tmp_path / "res.keras")
    result = cli(
        "gallery",
        tmp_path / "res.keras",
        "--steps",
        "4",
        "--seeds",
        "0",
        "--dataset",
        tiny_files / "digits.npz",
        "--images",
        image,
    )
    assert result.exit_code == 0, result.output
    index = (tmp_path / "gallery" / "index.html").read_text()
    for layer in ("stem", "conv1", "conv2", "add"):  # convolutions and the residual sum
        assert f">{layer}</a></h2>" in index
