"""Deterministic transforms give exact outputs; random ones stay within their bounds."""

import numpy as np
import pytest

from featviz.runtime import _tf
from featviz.synthesis import params, randomness, transforms


def tf():
    return _tf.tf()


def image(h=5, w=5):
    return np.arange(h * w, dtype=np.float32).reshape(1, h, w, 1) + 1.0


def matrices(angle=0.0, scale=1.0, tx=0.0, ty=0.0, h=5, w=5):
    t = tf()
    c = lambda v: t.constant([v], t.float32)
    return transforms.affine_matrices(h, w, c(angle), c(scale), c(tx), c(ty))


def warp(img, m):
    return np.asarray(transforms.warp(tf().constant(img), m))


def test_identity_warp_is_exact():
    img = image()
    np.testing.assert_array_equal(warp(img, matrices()), img)


def test_whole_pixel_shift_moves_pixels_and_fills_zero():
    img = image()
    out = warp(img, matrices(tx=1.0, ty=-2.0))[0, ..., 0]
    expected = np.zeros((5, 5), np.float32)
    expected[:3, 1:] = img[0, 2:, :4, 0]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("h,w", [(5, 5), (4, 4)])
def test_quarter_turn_matches_rot90(h, w):
    img = image(h, w)
    out = warp(img, matrices(angle=np.pi / 2, h=h, w=w))[0, ..., 0]
    np.testing.assert_allclose(out, np.rot90(img[0, ..., 0], k=-1), atol=1e-4)  # clockwise as shown


def test_scale_two_about_the_centre_reads_the_centre():
    img = image()
    out = warp(img, matrices(scale=2.0))[0, ..., 0]
    assert out[2, 2] == img[0, 2, 2, 0]  # the centre stays put
    assert out[2, 0] == img[0, 2, 1, 0]  # two pixels out reads one pixel out
    assert out[2, 1] == (img[0, 2, 1, 0] + img[0, 2, 2, 0]) / 2  # one pixel out reads half-way


def test_invert_undoes_a_matrix():
    m = matrices(angle=0.3, scale=1.1, tx=1.0, ty=-1.0)
    img = image(9, 9)
    there_and_back = warp(warp(img, m), transforms.invert(m))
    centre = slice(3, 6)
    np.testing.assert_allclose(there_and_back[0, centre, centre], img[0, centre, centre], rtol=0.05)


def test_gradient_of_a_shift_is_the_reverse_shift():
    t = tf()
    x = t.Variable(image())
    weights = t.constant(np.random.default_rng(0).random((1, 5, 5, 1), dtype=np.float32))
    with t.GradientTape() as tape:
        loss = t.reduce_sum(transforms.warp(x, matrices(tx=1.0)) * weights)
    grad = np.asarray(tape.gradient(loss, x))[0, ..., 0]
    expected = np.zeros((5, 5), np.float32)
    expected[:, :4] = np.asarray(weights)[0, :, 1:, 0]
    np.testing.assert_allclose(grad, expected, atol=1e-6)


def test_jitter_shifts_by_whole_pixels_within_bounds():
    img = np.zeros((64, 9, 9, 1), np.float32)
    img[:, 4, 4] = 1.0
    out = np.asarray(transforms.jitter(2)(tf().constant(img), randomness.seeded(3, 7, 64)))
    positions = [np.argwhere(o[..., 0] == 1.0) for o in out]
    assert all(len(p) == 1 for p in positions)  # a whole-pixel shift keeps the dot sharp
    offsets = np.array([p[0] - 4 for p in positions])
    assert np.abs(offsets).max() <= 2 and len({tuple(o) for o in offsets}) > 5


def test_same_seed_and_step_give_the_same_draw():
    t = tf()
    img = t.constant(np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32))
    f = transforms.default_for(8)
    a, b = f(img, randomness.seeded(1, 5, 4)), f(img, randomness.seeded(1, 5, 4))
    c = f(img, randomness.seeded(1, 6, 4))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_compose_applies_in_order():
    t = tf()
    shift_right = transforms.affine(translate=0)  # identity
    double = lambda x, rng: x * 2
    plus_one = lambda x, rng: x + 1
    out = transforms.compose([shift_right, double, plus_one])(t.constant(image()), randomness.seeded(0, 0, 1))
    np.testing.assert_array_equal(np.asarray(out), image() * 2 + 1)


def test_fourier_basis_is_the_inverse_real_fft():
    rng = np.random.default_rng(0)
    for h, w in [(28, 28), (9, 12), (7, 5)]:
        re, im = rng.normal(size=(2, 3, 1, h, w // 2 + 1)).astype(np.float32)
        basis = [tf().constant(b) for b in params.irfft2_basis(h, w)]
        got = np.asarray(params.irfft2(tf().constant(re), tf().constant(im), basis))
        np.testing.assert_allclose(got, np.fft.irfft2(re + 1j * im, s=(h, w)), atol=1e-5)


@pytest.mark.parametrize("name", ["pixels", "fourier"])
def test_params_stay_inside_0_1_and_follow_the_seed(name):
    a = np.asarray(params.PARAMS[name]((6, 6, 1), [0, 1], seed=3).image())
    b = np.asarray(params.PARAMS[name]((6, 6, 1), [0, 1], seed=3).image())
    c = np.asarray(params.PARAMS[name]((6, 6, 1), [0, 1], seed=4).image())
    assert a.shape == (2, 6, 6, 1) and a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", ["pixels", "fourier"])
def test_an_images_start_depends_on_its_key_not_its_batch(name):
    batch = params.PARAMS[name]((6, 6, 1), [4, 17, 9], seed=2)
    alone = params.PARAMS[name]((6, 6, 1), [17], seed=2)
    for together, single in zip(batch.variables, alone.variables):  # pixels, or the spectrum's two parts
        np.testing.assert_array_equal(np.asarray(together)[1], np.asarray(single)[0])
    # The image computed from it is the same up to float rounding, which depends on the batch's layout.
    np.testing.assert_allclose(np.asarray(batch.image())[1], np.asarray(alone.image())[0], rtol=1e-6, atol=1e-7)
    assert not np.array_equal(np.asarray(batch.image())[0], np.asarray(batch.image())[1])


def test_an_images_transforms_depend_on_its_key_not_its_batch():
    table = randomness.transform_table([4, 17, 9], seed=2, steps=5)
    alone = randomness.transform_table([17], seed=2, steps=5)
    assert table.shape == (5, 3, randomness.DRAWS_PER_STEP)
    np.testing.assert_array_equal(table[:, 1], alone[:, 0])
    assert (table >= 0).all() and (table < 1).all()


def test_a_step_hands_out_its_draws_in_order_and_refuses_too_many():
    draws = tf().constant(np.arange(2 * randomness.DRAWS_PER_STEP, dtype=np.float32).reshape(2, -1) / 100)
    rng = randomness.StepRandom(draws)
    np.testing.assert_allclose(np.asarray(rng.uniform([2], 0.0, 10.0)), [0.0, 10 * 0.08], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(rng.uniform([2], -1.0, 1.0)), [-1 + 2 * 0.01, -1 + 2 * 0.09], rtol=1e-6)
    for _ in range(randomness.DRAWS_PER_STEP - 2):
        rng.uniform([2], 0.0, 1.0)
    with pytest.raises(ValueError, match="at most"):
        rng.uniform([2], 0.0, 1.0)
