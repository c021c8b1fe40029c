"""The colour recipe: a basis measured on the user's images, where RGB patterns start, and how they are filled."""

import dataclasses
import json

import helpers
import numpy as np
import pytest

from featviz import patterns
from featviz.execution.driver import run_job
from featviz.natural import datasets
from featviz.runtime import _tf
from featviz.synthesis import colour, objectives, params, randomness, render, transforms
from featviz.synthesis.colour import ColourBasis


def test_grey_pixels_give_one_colour_direction_of_norm_one():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.uniform(0.2, 0.6, (500, 1)), 3, axis=1)
    basis = ColourBasis.of(grey)
    matrix = np.array(basis.matrix)
    np.testing.assert_allclose(np.abs(matrix[:, 0]), [3**-0.5] * 3, atol=1e-6)
    np.testing.assert_allclose(matrix[:, 1:], 0.0, atol=1e-6)
    np.testing.assert_allclose(basis.mean, [grey.mean()] * 3, atol=1e-6)


def test_independent_channels_keep_their_spread_ratios():
    rng = np.random.default_rng(1)
    pixels = rng.normal(0.5, [0.2, 0.1, 0.05], (20000, 3))
    norms = sorted(np.linalg.norm(np.array(ColourBasis.of(pixels).matrix), axis=0), reverse=True)
    np.testing.assert_allclose(norms, [1.0, 0.5, 0.25], atol=0.02)


def test_a_zero_start_is_the_mean_colour():
    basis = ColourBasis(((0.5, 0.1, 0.0), (0.5, 0.0, 0.2), (0.5, -0.1, 0.0)), (0.25, 0.5, 0.75))
    image = _tf.tf().sigmoid(basis.to_logits(_tf.tf().zeros((1, 2, 2, 3))))
    np.testing.assert_allclose(np.asarray(image), np.broadcast_to([0.25, 0.5, 0.75], (1, 2, 2, 3)), atol=1e-6)


def test_uncovered_pixels_read_the_fill_colour():
    fill = (0.2, 0.4, 0.6)
    images = _tf.tf().constant(np.full((1, 4, 4, 3), 0.9, np.float32))
    shift = transforms.affine(translate=1.0, fill=fill)
    out = np.asarray(shift(images, randomness.StepRandom(_tf.tf().constant([[1.0] * randomness.DRAWS_PER_STEP]))))
    # every draw at its top: shifted right and down by one pixel
    np.testing.assert_allclose(out[0, :, 0], np.broadcast_to(fill, (4, 3)), atol=1e-6)
    np.testing.assert_allclose(out[0, 0, :], np.broadcast_to(fill, (4, 3)), atol=1e-6)
    np.testing.assert_allclose(out[0, 1:, 1:], 0.9, atol=1e-6)


def rgb_model():
    return helpers.tiny_cnn((12, 12, 3))


def test_recipe_for_grey_is_a_gentler_fourier_image_with_no_colour():
    recipe = patterns.recipe_for(helpers.tiny_cnn(), render.Recipe(), None, (12, 12))
    assert (recipe.param, recipe.decay, recipe.colour) == ("fourier", 1.5, None)
    assert "colour" not in patterns.recipe_record(recipe)


def test_recipe_for_colour_measures_the_basis_on_the_dataset():
    x = np.random.default_rng(2).uniform(0, 1, (8, 12, 12, 3)).astype(np.float32)
    data = datasets.Dataset("d", x=x)
    recipe = patterns.recipe_for(rgb_model(), render.Recipe(), data, (12, 12))
    assert recipe.param == "fourier" and recipe.colour == ColourBasis.of(x)
    json.dumps(patterns.recipe_record(recipe))  # the basis is part of the reuse key
    plain = patterns.recipe_for(rgb_model(), render.Recipe(colour=None), data, (12, 12))
    assert plain.colour is None and plain.param == "fourier"


def test_a_colour_model_s_patterns_are_reused_by_the_next_run(tmp_path):
    from featviz import models
    from featviz.files.output import OutputDir

    np.savez(tmp_path / "rgb.npz", x=np.random.default_rng(3).integers(0, 256, (8, 12, 12, 3), dtype=np.uint8))
    rgb_model().save(tmp_path / "rgb.keras")
    short = render.Recipe(steps=8, relax_steps=2, polish_steps=2)
    runs = []
    for _ in range(2):  # as two invocations of featviz patterns would
        loaded = models.load(tmp_path / "rgb.keras")
        request = patterns.PatternRequest(models.resolve_layer(loaded.model, "c2"), (12, 12), recipe=short)
        job = patterns.prepare(loaded, request, [0, 1], tmp_path / "rgb.npz")
        assert job.request.recipe.colour is not None
        with OutputDir(tmp_path / "out") as out:
            runs.append(run_job(job, out))
    assert [(r.rendered, r.reused, r.restarted) for r in runs] == [(2, 0, []), (0, 2, [])]


@pytest.mark.parametrize("param", ["pixels", "fourier", "maco"])
def test_decorrelated_colour_raises_the_objective(param):
    x = np.random.default_rng(3).uniform(0, 1, (8, 12, 12, 3)).astype(np.float32)
    recipe = render.Recipe(steps=40, relax_steps=10, polish_steps=10, param=param, colour=ColourBasis.of(x))
    result = render.render(rgb_model(), objectives.channel("c2", [0, 1]), render.Batch.of(2, (12, 12)), recipe)
    assert (result.history[-5:].mean(axis=0) > result.history[:5].mean(axis=0)).all()
    assert np.isfinite(result.images).all() and result.images.min() >= 0 and result.images.max() <= 1


def test_the_sample_spreads_over_the_dataset():
    x = np.arange(1000, dtype=np.float32).reshape(1000, 1, 1, 1) / 1000
    data = datasets.Dataset("d", x=np.repeat(x, 3, axis=-1))
    picked = data.spread(colour.SAMPLE_IMAGES, (1, 1, 3))
    assert data.spread(colour.SAMPLE_IMAGES, (1, 1, 3)) is picked  # decoded once
    assert len(picked) == colour.SAMPLE_IMAGES and picked[0, 0, 0, 0] == 0 and picked[-1, 0, 0, 0] == x[-1, 0, 0, 0]


def test_the_colour_recipe_scales_to_a_224_pixel_model():
    keras = helpers.keras()
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    x = np.random.default_rng(4).uniform(0, 1, (4, 224, 224, 3)).astype(np.float32)
    short = render.Recipe(steps=24, relax_steps=6, polish_steps=6)
    recipe = patterns.recipe_for(model, short, datasets.Dataset("d", x=x), (224, 224))
    assert recipe.param == "fourier" and isinstance(recipe.colour, ColourBasis)
    # random weights leave some ReLU6 maps at zero everywhere: take two that the data wakes
    from featviz.evaluation import scoring

    awake = np.argsort(-scoring.responses(model, "block_3_expand_relu", range(144), x, "mean").mean(0))[:2]
    objective = objectives.channel("block_3_expand_relu", [int(m) for m in awake])
    result = render.render(model, objective, render.Batch.of(2, (224, 224)), recipe)
    assert result.images.shape == (2, 224, 224, 3)
    assert (result.history[-4:].mean(axis=0) > result.history[:4].mean(axis=0)).all()


def test_maco_keeps_the_datas_amplitude_spectrum_and_optimizes_the_phase():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (16, 12, 12, 3)).astype(np.float32)
    recipe = patterns.recipe_for(rgb_model(), render.Recipe(param="maco"), datasets.Dataset("d", x=x), (12, 12))
    assert isinstance(recipe.spectrum, colour.Spectrum) and recipe.spectrum.amplitude.shape == (3, 12, 7)
    assert patterns.recipe_record(recipe)["spectrum"] == recipe.spectrum.digest
    assert "spectrum" not in patterns.recipe_record(render.Recipe())  # other recipes' reuse keys are unchanged
    short = dataclasses.replace(recipe, steps=40, relax_steps=10, polish_steps=10)
    result = render.render(rgb_model(), objectives.channel("c2", [0, 1]), render.Batch.of(2, (12, 12)), short)
    assert (result.history[-5:].mean(axis=0) > result.history[:5].mean(axis=0)).all()
    # the image's magnitude is the data's, whatever its phase (the first and last columns of a real image's half
    # spectrum are each their own mirror image, so there the phase and magnitude are tied)
    param = params.maco((12, 12, 3), [0, 1], spectrum=recipe.spectrum)  # no colour basis: around grey 0.5
    image = np.asarray(param.image(), np.float64)
    spatial = np.log(image / (1 - image)) * 0.25  # the logit over the sigmoid's gain at 0.5
    got = np.abs(np.fft.rfft2(np.moveaxis(spatial, -1, 1)))[..., 1:-1]  # the columns a real image leaves free
    want = np.broadcast_to(recipe.spectrum.amplitude[..., 1:-1], got.shape)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_the_spectrum_of_a_single_stripe_pattern_sits_at_its_frequency():
    stripes = np.tile((np.arange(8) % 2).astype(np.float32)[None, :, None], (8, 1, 3))[None]  # period 2 across
    amplitude = colour.Spectrum.of(stripes).amplitude
    assert amplitude.shape == (3, 8, 5) and amplitude[0, 0, 4] == pytest.approx(0.5 * 64)
    assert np.count_nonzero(amplitude > 1e-6) == 3  # one frequency per channel; the mean is removed
