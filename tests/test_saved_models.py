"""Models as Keras 2.0 to 3.x saved them load, give the reference model's outputs, and work in every command."""

import json

import helpers
import numpy as np
import pytest
import saved
from PIL import Image

from featviz import models
from featviz.errors import FeatvizError


def same_outputs(loaded, reference, shape, scale=1.0):
    x = np.random.default_rng(0).random((3, *shape)).astype(np.float32) * scale
    np.testing.assert_allclose(
        np.asarray(loaded(x, training=False)), np.asarray(reference(x, training=False)), atol=1e-5
    )


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tutorial")
    model = saved.tutorial_model()
    model.save(folder / "today.keras")
    return model, folder


def test_keras33_nested_augmentation_with_value_range_loads(tutorial, tmp_path):
    model, folder = tutorial
    path = saved.rewrite_archive(folder / "today.keras", tmp_path / "keras33.keras", saved.as_keras33)
    with pytest.raises(Exception, match="value_range"):  # Keras's own loader refuses it
        helpers.keras().saving.load_model(path, compile=False)
    loaded = models.load(path).model
    same_outputs(loaded, model, (16, 16, 3), 255)  # augmentation is the identity at inference
    infos = models.list_layers(loaded)
    assert [i.name for i in infos][:5] == ["prep/resizing", "prep/rescaling", "augment/random_flip",
                                            "augment/random_rotation", "augment/random_zoom"]  # fmt: skip
    assert models.innermost(infos).name == "c2"  # not the dropout after it, nor an augmentation layer


def test_a_fixed_batch_size_is_freed(tutorial, tmp_path):
    model, folder = tutorial
    path = saved.rewrite_archive(folder / "today.keras", tmp_path / "batch32.keras", saved.as_fixed_batch)
    loaded = models.load(path).model
    same_outputs(loaded, model, (16, 16, 3), 255)  # 3 images, not 32


def test_the_model_says_it_takes_raw_pixels(tutorial):
    from featviz.models.inputs import expected_input

    model, _ = tutorial
    expected = expected_input(model)
    assert expected.preprocess.record() == [0.0, 255.0] and "prep/rescaling" in expected.reason


@pytest.mark.parametrize("tf215", [False, True])
def test_teachable_machine_export_loads_with_its_nested_weights(tmp_path, tf215):
    reference = saved.mobilenet_like()
    saved.write_teachable_machine(tmp_path / "keras_model.h5", reference, tf215=tf215)
    loaded = models.load(tmp_path / "keras_model.h5").model
    same_outputs(loaded, reference, (16, 16, 3))
    assert models.innermost(models.list_layers(loaded)).name == "sequential_1/mobilenetish/project"


def test_keras20_functional_with_separable_conv_and_add(tmp_path):
    reference = saved.separable_residual()
    saved.write_keras20_functional(tmp_path / "k20.h5", reference)
    loaded = models.load(tmp_path / "k20.h5").model
    same_outputs(loaded, reference, (12, 12, 3))
    assert models.innermost(models.list_layers(loaded)).name == "sum"


def test_list_style_sequential_from_keras_2_1(tmp_path):
    reference = helpers.tiny_cnn()
    saved.write_list_style_sequential(tmp_path / "k21.h5", reference)
    same_outputs(models.load(tmp_path / "k21.h5").model, reference, (12, 12, 1))


def test_weights_only_h5_with_its_json_architecture(tmp_path, cli):
    reference = saved.separable_residual()
    config = saved.write_keras20_functional(tmp_path / "weights.h5", reference, weights_only=True)
    (tmp_path / "arch.json").write_text(json.dumps(config))
    refused = cli("layers", tmp_path / "weights.h5")
    assert refused.exit_code == 2 and "--architecture" in refused.stderr
    loaded = models.load(tmp_path / "weights.h5", architecture=tmp_path / "arch.json").model
    same_outputs(loaded, reference, (12, 12, 3))
    listed = cli("layers", tmp_path / "weights.h5", "--architecture", tmp_path / "arch.json")
    assert listed.exit_code == 0 and "sep" in listed.stdout


def test_h5_written_by_keras3_with_a_nested_model_and_dtype_policies(tmp_path):
    k = helpers.keras()
    inner = k.Sequential([k.Input((12, 12, 1)), k.layers.Conv2D(3, 3, name="c")], name="inner")
    reference = k.Sequential([k.Input((12, 12, 1)), inner, k.layers.Flatten(), k.layers.Dense(2)], name="outer")
    reference.save(tmp_path / "k3.h5")
    assert "DTypePolicy" in __import__("h5py").File(tmp_path / "k3.h5").attrs["model_config"]
    same_outputs(models.load(tmp_path / "k3.h5").model, reference, (12, 12, 1))


def test_linear_convolutions_of_a_regression_model(tmp_path, cli):
    k = helpers.keras()
    model = k.Sequential(
        [k.Input((12, 12, 1)), k.layers.Conv2D(3, 3, name="lin"), k.layers.GlobalAveragePooling2D(), k.layers.Dense(1)]
    )
    model.save(tmp_path / "regress.keras")
    result = cli("patterns", tmp_path / "regress.keras", "--steps", "4", "--maps", "0-1")
    assert result.exit_code == 0, result.output


def test_subclassed_model_is_refused_with_its_class_name(tmp_path, cli):
    k = helpers.keras()

    @k.saving.register_keras_serializable(package="userpkg")
    class Net(k.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.conv = k.layers.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    net = Net()
    net(np.zeros((1, 8, 8, 1), np.float32))
    net.save(tmp_path / "sub.keras")
    refused = cli("layers", tmp_path / "sub.keras")
    assert refused.exit_code == 2 and "subclassed model, userpkg>Net" in refused.stderr
    assert "--trust-model-code" in refused.stderr


@pytest.mark.parametrize("writer", ["tutorial", "teachable"])
def test_every_command_on_old_files(cli, tmp_path, tutorial, writer):
    if writer == "tutorial":
        path = saved.rewrite_archive(tutorial[1] / "today.keras", tmp_path / "m.keras", saved.as_keras33)
        shape = (16, 16, 3)
    else:
        path = tmp_path / "keras_model.h5"
        saved.write_teachable_machine(path, saved.mobilenet_like())
        shape = (16, 16, 3)
    image = tmp_path / "images" / "cats" / "a.png"
    image.parent.mkdir(parents=True)
    Image.fromarray((np.random.default_rng(1).random((20, 30, 3)) * 255).astype(np.uint8)).save(image)
    assert cli("layers", path).exit_code == 0
    assert cli("activations", path, image).exit_code == 0
    pats = cli("patterns", path, "--steps", "4", "--maps", "0-1", "--dataset", tmp_path / "images")
    assert pats.exit_code == 0, pats.output
    gallery = cli("gallery", path, "--steps", "4", "--seeds", "0", "--images", image, "--dataset", tmp_path / "images")
    assert gallery.exit_code == 0, gallery.output
    assert shape == (16, 16, 3)


def test_an_unreadable_config_is_refused_in_one_line(tmp_path, cli):
    reference = helpers.tiny_cnn()
    saved.write_list_style_sequential(tmp_path / "bad.h5", reference)
    import h5py

    with h5py.File(tmp_path / "bad.h5", "r+") as f:
        f.attrs["model_config"] = json.dumps(
            {"class_name": "Sequential", "config": [{"class_name": "Conv2D"}]}
        ).encode()
    result = cli("layers", tmp_path / "bad.h5")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(FeatvizError):
        models.load(tmp_path / "bad.h5")
