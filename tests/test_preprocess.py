"""How pixels become model inputs: presets with exact values, the model's own layers, and the options."""

import helpers
import numpy as np
import pytest

from featviz import defaults
from featviz.errors import FeatvizError
from featviz.models.inputs import expected_input, resolve_input
from featviz.pixels import preprocess
from featviz.pixels.preprocess import PRESETS, Preprocess

RED = np.array([[[1.0, 0.0, 0.0]]], np.float32)  # one RGB pixel in 0..1


def test_presets_match_keras_applications_conventions():
    np.testing.assert_allclose(PRESETS["tf"].to_model(RED), [[[1.0, -1.0, -1.0]]])
    # caffe: BGR order, 0..255, ImageNet means (B, G, R) subtracted
    np.testing.assert_allclose(PRESETS["caffe"].to_model(RED), [[[-103.939, -116.779, 255 - 123.68]]], rtol=1e-6)
    # torch: (x - mean) / std per RGB channel, x in 0..1
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225]
    np.testing.assert_allclose(PRESETS["torch"].to_model(RED), [[expected]], rtol=1e-6)
    assert set(PRESETS) == set(defaults.PREPROCESS_PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_to_unit_undoes_to_model(name):
    pixels = np.random.default_rng(0).random((2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(PRESETS[name].to_unit(PRESETS[name].to_model(pixels)), pixels, atol=1e-5)


def test_mean_std_reads_its_units_from_the_values():
    unit = preprocess.mean_std((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    raw = preprocess.mean_std((127.5, 127.5, 127.5), (63.75, 63.75, 63.75))
    np.testing.assert_allclose(unit.to_model(RED), [[[2.0, -2.0, -2.0]]])
    np.testing.assert_allclose(raw.to_model(RED), unit.to_model(RED), rtol=1e-6)


def test_a_plain_range_records_as_lo_hi_and_others_in_full():
    assert Preprocess.range(0, 255).record() == [0.0, 255.0]
    assert PRESETS["caffe"].record()["bgr"] is True and PRESETS["caffe"].record()["name"] == "caffe"


@pytest.mark.parametrize(
    "args,message",
    [
        (("0,255", "tf", None, None), "give one of them"),
        ((None, None, "0.5,0.5,0.5", None), "go together"),
        ((None, None, "0.5,0.5", "1,1,1"), "same number of values"),
        (("1,0", None, None, None), "HI must be larger than LO"),
    ],
)
def test_conflicting_or_broken_options_are_refused(args, message):
    with pytest.raises(FeatvizError, match=message):
        preprocess.from_options(*args)


def rescaled(scale, offset=0.0):
    k = helpers.keras()
    inp = k.Input((8, 8, 3))
    x = k.layers.Rescaling(scale, offset, name="rescale")(k.layers.RandomFlip(name="flip")(inp))
    return k.Model(inp, k.layers.Conv2D(2, 3, name="conv")(x))


@pytest.mark.parametrize(
    "scale,offset,expected", [(1 / 255, 0.0, [0.0, 255.0]), (1 / 127.5, -1.0, [0.0, 255.0]), (255.0, 0.0, [0.0, 1.0])]
)
def test_a_rescaling_layer_at_the_input_says_the_raw_range(scale, offset, expected):
    found = expected_input(rescaled(scale, offset))
    assert found.preprocess.record() == expected and "'rescale'" in found.reason


def test_a_normalization_adapted_to_raw_pixels_says_0_255_and_a_plain_model_says_nothing():
    k = helpers.keras()
    inp = k.Input((8, 8, 3))
    norm = k.layers.Normalization(mean=[120.0, 115.0, 100.0], variance=[3600.0] * 3, name="norm")
    model = k.Model(inp, k.layers.Conv2D(2, 3)(norm(inp)))
    assert expected_input(model).preprocess.record() == [0.0, 255.0]
    assert expected_input(helpers.tiny_cnn()) is None
    assert resolve_input(helpers.tiny_cnn(), None).record() == [0.0, 1.0]


def test_what_the_user_asks_wins_and_must_fit_the_channels():
    assert resolve_input(rescaled(1 / 255), (0.0, 1.0)).record() == [0.0, 1.0]
    with pytest.raises(FeatvizError, match="RGB"):
        resolve_input(helpers.tiny_cnn(), PRESETS["torch"])


def test_the_cli_uses_the_models_own_range_by_default(cli, tmp_path):
    from PIL import Image

    model = rescaled(1 / 255)
    model.save(tmp_path / "raw.keras")
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(tmp_path / "grey.png")
    listed = cli("layers", tmp_path / "raw.keras")
    assert "input preprocessing: pixels in 0..255, from the model's own Rescaling layer 'rescale'" in listed.stdout
    checked = cli("check", tmp_path / "raw.keras", tmp_path / "grey.png")
    assert checked.exit_code == 0 and "--preprocess caffe" in checked.stdout and "the model says" in checked.stdout


def test_an_avx2_limit_on_onednn_makes_auto_pick_float32(monkeypatch):
    from featviz.runtime import cpu
    from featviz.synthesis import render

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert not cpu.native_bfloat16()
    assert render.Recipe().resolved_precision == "float32"
