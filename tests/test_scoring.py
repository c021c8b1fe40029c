"""The figures that a ratio hides: specificity and saturation, from the saved patterns."""

import json

import numpy as np

import helpers
from featviz import scoring


def test_specific_needs_the_own_pattern_to_win_strictly():
    # matrix[i, j]: map j's response to the pattern of map i
    matrix = np.array([[5.0, 1.0, 0.0], [4.0, 2.0, 9.0], [0.0, 0.0, 0.0]])
    assert scoring.specific(matrix).tolist() == [True, True, False]
    assert scoring.specific(np.ones((2, 2))).tolist() == [False, False]


def test_a_missing_pattern_is_never_specific_and_never_wins():
    matrix = np.array([[np.nan, np.nan], [1.0, 2.0]])
    assert scoring.specific(matrix).tolist() == [False, True]
    assert scoring.specific(np.array([[3.0]])).tolist() == [True]


def test_saturation_counts_pixels_with_any_channel_at_an_end():
    pattern = np.full((2, 2, 3), 0.5)
    pattern[0, 0, 0] = 0.0
    pattern[1, 1, 2] = 1.0
    assert scoring.saturation(pattern) == 0.5
    assert scoring.saturation(np.full((4, 4, 1), 0.2)) == 0.0


def test_twin_maps_cannot_both_be_specific(cli, tmp_path):
    model = helpers.tiny_cnn()
    conv = model.get_layer("c2")
    kernel, bias = conv.get_weights()
    kernel[..., 1], bias[1] = kernel[..., 0], bias[0]  # maps 0 and 1 compute the same thing
    conv.set_weights([kernel, bias])
    model.save(tmp_path / "twins.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(), y=np.zeros(16, np.uint8))
    result = cli("patterns", tmp_path / "twins.keras", "--layer", "c2", "--steps", "16", "--dataset", tmp_path / "d.npz")
    assert result.exit_code == 0, result.output
    entries = json.loads(next(tmp_path.glob("gallery/layers/*/seed-0/manifest.json")).read_text())["maps"]
    assert all(isinstance(e["specific"], bool) and 0.0 <= e["saturation"] <= 1.0 for e in entries)
    assert entries[0]["specific"] + entries[1]["specific"] <= 1
    assert "specificity " in result.stdout and "saturation " in result.stdout
