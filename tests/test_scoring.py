"""The figures that a ratio hides: specificity and saturation, from the saved patterns."""

import json

import helpers
import numpy as np

from featviz.evaluation import scoring, self_check


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
    assert scoring.clipped(pattern) == 0.5
    assert scoring.clipped(np.full((4, 4, 1), 0.2)) == 0.0


def test_twin_maps_cannot_both_be_specific(cli, tmp_path):
    model = helpers.tiny_cnn()
    conv = model.get_layer("c2")
    kernel, bias = conv.get_weights()
    kernel[..., 1], bias[1] = kernel[..., 0], bias[0]  # maps 0 and 1 compute the same thing
    conv.set_weights([kernel, bias])
    model.save(tmp_path / "twins.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(), y=np.zeros(16, np.uint8))
    data = tmp_path / "d.npz"
    result = cli("patterns", tmp_path / "twins.keras", "--layer", "c2", "--steps", "16", "--dataset", data)
    assert result.exit_code == 0, result.output
    entries = json.loads(next(tmp_path.glob("gallery/layers/*/seed-0/manifest.json")).read_text())["maps"]
    assert all(isinstance(e["specific"], bool) and 0.0 <= e["clipped"] <= 1.0 for e in entries)
    assert entries[0]["specific"] + entries[1]["specific"] <= 1
    twin = entries[0] if not entries[0]["specific"] else entries[1]
    # every remedy was tried (the ladder's last is recorded); twins cannot be told apart, and the label says so
    assert "collapsed" in twin["flags"] and twin["remedy"] == self_check.REMEDIES["collapsed"][-1]
    assert twin["twin"] == 1 - twin["map"] and "twin" not in entries[1 - twin["map"]]
    assert all("twin" not in e for e in entries[2:])
    assert "specificity " in result.stdout and "clipped " in result.stdout
    assert "still 1 collapsed (1 twin)" in result.stdout


def test_a_signed_map_never_above_zero_is_negative_not_dead():
    best, worst = np.array([2.0, -0.5, 0.0]), np.array([1.0, -3.0, 0.0])
    scores = scoring.score(np.array([4.0, -1.0, 0.5]), [0, 1, 2], best, ["a", "b", "c"], worst)
    expected = [(False, None, 2.0), (False, True, None), (True, None, None)]
    assert [(s.dead, s.negative, s.ratio) for s in scores] == expected
    assert [s.caption() for s in scores] == ["0 ×2.00", "1 negative", "2 dead"]
    summary = scoring.summarize(scores)
    assert (summary.live, summary.dead, summary.negative) == (1, 1, 1)
    assert "negative" not in scores[0].record() and scores[1].record()["negative"] is True


def test_the_negative_objective_drives_a_linear_map_down():
    from featviz.synthesis import objectives, render

    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=2)
    model = k.Sequential([k.Input((12, 12, 1)), k.layers.Conv2D(3, 3, name="lin", kernel_initializer=init)])
    maps = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(objectives.reduce_maps(maps, "negative"), -maps.mean(axis=(1, 2)), rtol=1e-6)
    recipe = render.Recipe(steps=30, relax_steps=0, polish_steps=5)
    objective = objectives.channel("lin", [0, 1], "negative")
    history = render.render(model, objective, render.Batch.of(2, (12, 12)), recipe).history
    assert (history[-5:].mean(axis=0) > history[:5].mean(axis=0)).all()


def test_lowest_values_merge_exactly():
    from featviz.natural.exemplars import LayerStats

    a = LayerStats.empty(2, 1).add(0, np.array([[1.0, -2.0], [3.0, 0.5]]), np.ones((2, 2), bool), 1)
    b = LayerStats.empty(2, 1).add(2, np.array([[-1.0, 4.0]]), np.ones((1, 2), bool), 1)
    assert a.merge(b, 1).worst.tolist() == [-1.0, -2.0] == b.merge(a, 1).worst.tolist()
