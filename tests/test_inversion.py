"""Feature inversion: the matching objective, layer depths, reconstructions from noise, and the commands."""

import json

import helpers
import numpy as np
import pytest

from featviz.methods import inversion
from featviz.models import depth
from featviz.synthesis import objectives


def test_match_is_minus_the_relative_squared_error():
    target = np.array([[1.0, 2.0], [0.0, 2.0]], np.float32)[None]  # (1, 2, 2): ||T||² = 9
    found = np.stack([target[0], target[0] + 1.0, np.zeros((2, 2), np.float32)])
    value = objectives.match("a", target)({"a": found}, None).numpy()
    np.testing.assert_allclose(value, [0.0, -4 / 9, -1.0], rtol=1e-6)


def test_with_a_sequence_of_layers_image_i_reads_layer_i():
    taps = {"a": np.ones((2, 3), np.float32), "b": np.full((2, 2), 2.0, np.float32)}
    value = objectives.match(["a", "b"], [np.zeros(3) + 2.0, np.zeros(2) + 2.0])(taps, None).numpy()
    np.testing.assert_allclose(value, [-0.25, 0.0], rtol=1e-6)  # a: ||1 - 2||² / ||2||²; b: exact


def residual_cnn():
    k = helpers.keras()
    x = inp = k.Input((8, 8, 1))
    x = k.layers.Conv2D(2, 3, padding="same", name="stem")(x)
    y = k.layers.Conv2D(2, 3, padding="same", name="a")(k.layers.ReLU(name="r")(x))
    y = k.layers.Conv2D(2, 3, padding="same", name="b")(y)
    return k.Model(inp, k.layers.Add(name="sum")([x, y]))


def test_depth_counts_convolutions_on_the_longest_path():
    assert depth.weight_depths(helpers.tiny_cnn()) == {"c1": 1, "pool": 1, "c2": 2, "flat": 2, "out": 3}
    depths = depth.weight_depths(residual_cnn())
    assert (depths["stem"], depths["r"], depths["a"], depths["b"], depths["sum"]) == (1, 1, 2, 3, 3)


def test_default_layers_take_one_per_depth_the_sum_over_its_convolution():
    assert [i.name for i in inversion.default_layers(residual_cnn())] == ["stem", "a", "sum"]
    assert [i.name for i in inversion.default_layers(residual_cnn(), most=2)] == ["stem", "sum"]


def stroke(size=12):
    return helpers.random_digits(1, size=size, seed=5)[0][..., None].astype(np.float32) / 255


def test_inverting_the_first_convolution_rebuilds_the_image_and_the_error_falls_with_steps():
    model, picture = helpers.tiny_cnn(), stroke()
    pictures = np.repeat(picture[None], 2, axis=0)
    target = inversion.activations_of(model, ["c1", "c1"], pictures, (0.0, 1.0))
    errors = []
    for steps in (20, 160):
        options = inversion.Options(steps=steps, precision="float32")
        found = inversion.reconstruct(model, ["c1", "c1"], pictures, (0.0, 1.0), options)
        errors.append(inversion.activation_errors(model, ["c1", "c1"], found, target, (0.0, 1.0)))
    assert np.all(np.array(errors[1]) < np.array(errors[0])), errors
    assert min(inversion.ssim(picture, x) for x in found) > 0.9


def test_ssim_is_one_for_the_same_image_and_reads_colour():
    rgb = np.random.default_rng(0).uniform(size=(16, 16, 3)).astype(np.float32)
    assert inversion.ssim(rgb, rgb) == pytest.approx(1.0)
    assert inversion.ssim(rgb, 1 - rgb) < 0.5


@pytest.fixture()
def stroke_png(tmp_path):
    from PIL import Image

    Image.fromarray(helpers.random_digits(1, size=12, seed=5)[0]).save(tmp_path / "stroke.png")
    return tmp_path / "stroke.png"


def test_the_command_prints_each_layer_and_writes_the_record(cli, tiny_files, tmp_path, stroke_png):
    result = cli("invert", tiny_files / "tiny.keras", stroke_png, "--layers", "c1,c2", "--steps", "10")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("c1: depth 0.50, SSIM ") and lines[1].startswith("c2: depth 1.00, SSIM ")
    folder = next((tmp_path / "gallery").glob("invert-stroke-*"))
    record = json.loads((folder / "invert.json").read_text())
    assert [(r["layer"], sorted(r)) for r in record] == [
        (name, ["activation_error", "depth", "image", "layer", "ssim"]) for name in ("c1", "c2")
    ]
    assert all((folder / r["image"]).is_file() for r in record)
    assert {"invert.png", "original.png"} <= {p.name for p in folder.iterdir()}


def test_compare_invert_writes_both_pictures_and_a_page(cli, tiny_files, tmp_path, stroke_png):
    result = cli("compare", tiny_files / "tiny.keras", tiny_files / "noinput.keras", "--invert", stroke_png,
                 "--steps", "10")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tiny.keras: SSIM by depth 0.50: ") and lines[1].startswith("noinput.keras: ")
    folder = next((tmp_path / "gallery" / "compare").glob("invert-stroke-*"))
    assert {p.name for p in folder.iterdir()} == {"compare.png", "ssim.png", "index.html"}
    assert "invert-stroke-" in (tmp_path / "gallery" / "compare" / "index.html").read_text()


def test_compare_wants_one_of_image_classes_invert(cli, tiny_files, stroke_png):
    result = cli("compare", tiny_files / "tiny.keras", "--image", stroke_png, "--invert", stroke_png)
    assert result.exit_code == 2 and "give one of --image IMAGE, --classes, --invert IMAGE" in result.output
