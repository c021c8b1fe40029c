"""Feature accentuation: the map's activation rises, and the image stays near its seed."""

import helpers
import numpy as np
import pytest

from featviz.methods import accentuate
from featviz.synthesis import params


@pytest.mark.parametrize("param", [params.pixels, params.fourier])
@pytest.mark.parametrize("width", [6, 7, 96])  # 96: above params.FFT_ABOVE, tf.signal.irfft2d
def test_a_start_image_is_where_the_parameterization_begins(param, width):
    start = np.random.default_rng(0).uniform(0.05, 0.95, (2, 5, width, 3)).astype(np.float32)
    image = np.asarray(param((5, width, 3), (0, 1), start=start).image())
    np.testing.assert_allclose(image, start, atol=1e-5)


def seed_digit():
    return helpers.random_digits(1, size=12, seed=5)[0][..., None].astype(np.float32) / 255


def test_accentuation_raises_each_map_and_stays_close():
    options = accentuate.Options(strength=10.0, steps=40)
    found = accentuate.accentuate(helpers.tiny_cnn(), "c2", [0, 1, 2], seed_digit(), options)
    assert (found.after > found.before).all(), found.lines()
    assert found.images.shape == (3, 12, 12, 1)
    assert (found.distance < 0.25).all() and (found.distance > 0).all()


def test_a_stronger_penalty_changes_the_image_less():
    model, seed = helpers.tiny_cnn(), seed_digit()
    loose = accentuate.accentuate(model, "c2", [3, 4], seed, accentuate.Options(strength=1.0, steps=40))
    tight = accentuate.accentuate(model, "c2", [3, 4], seed, accentuate.Options(strength=100.0, steps=40))
    assert (tight.distance < loose.distance).all()
    assert (loose.after >= tight.after).all()


def test_the_command_writes_each_map_the_grid_and_a_record(cli, tiny_files, tmp_path):
    from PIL import Image

    Image.fromarray(helpers.random_digits(1, size=12, seed=5)[0]).save(tmp_path / "seed.png")
    result = cli("accentuate", tiny_files / "tiny.keras", tmp_path / "seed.png", "--layer", "c2", "--maps", "1,3",
                 "--steps", "20")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("map 1: ") and lines[1].startswith("map 3: ") and "RMS change" in lines[0]
    folder = next((tmp_path / "gallery").glob("accentuate-seed-*"))
    assert sorted(p.name for p in folder.iterdir()) == ["accentuation.json", "grid.png", "map-0001.png", "map-0003.png"]
