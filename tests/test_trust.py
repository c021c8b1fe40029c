"""The path check (trust.py): exact rank correlations, and patterns that are exemplars take the exemplars' path."""

import helpers
import numpy as np

from featviz import models
from featviz.evaluation import paths
from featviz.natural import datasets, exemplars
from featviz.natural.exemplars import Exemplars


def test_rank_correlation_exact_values():
    np.testing.assert_allclose(paths.rank_correlation(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])), 1.0)
    np.testing.assert_allclose(paths.rank_correlation(np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0])), -1.0)
    np.testing.assert_allclose(paths.rank_correlation(np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])),
                               0.75**0.5)  # fmt: skip
    assert paths.rank_correlation(np.array([5.0, 5.0, 5.0]), np.array([1.0, 2.0, 3.0])) == 0.0
    rows = paths.rank_correlation(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(rows, [1.0, -1.0])


def test_rank_correlation_pairs_rows_and_broadcasts():
    a = np.array([[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], [[1.0, 3.0, 2.0], [7.0, 7.0, 7.0]]])  # (2 targets, 2 rows, C)
    targets = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 3.0]])[:, None, :]
    np.testing.assert_allclose(paths.rank_correlation(a, targets), [[1.0, -1.0], [-0.5, 0.0]])


def wide_cnn():
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=3)
    return k.Sequential([
        k.Input((12, 12, 1)),
        k.layers.Conv2D(12, 3, activation="relu", name="c1", kernel_initializer=init, bias_initializer="ones"),
        k.layers.MaxPooling2D(2, name="pool"),
        k.layers.Conv2D(6, 3, activation="relu", name="c2", kernel_initializer=init),
    ])  # fmt: skip


def test_earlier_convolutions():
    model = wide_cnn()
    assert paths.earlier_convolutions(model, models.resolve_layer(model, "c2")) == ["c1"]
    assert paths.earlier_convolutions(model, models.resolve_layer(model, "c1")) == []


def test_a_map_s_best_natural_image_takes_its_exemplars_path():
    model = wide_cnn()
    layer = models.resolve_layer(model, "c2")
    data = datasets.Dataset("d", x=helpers.random_digits(120)[..., None].astype(np.float32) / 255)
    stats = exemplars.scan(model, ["c2"], data, options=exemplars.ScanOptions(top_k=paths.PATH_EXEMPLARS))["c2"]
    best = data.take(stats.top[:, 0], (12, 12, 1))
    scores = paths.path_scores(model, layer, best, Exemplars(data, stats))
    assert [s.map for s in scores] == list(range(6))
    assert sum(s.closer for s in scores) >= 5, scores
    assert paths.path_scores(model, models.resolve_layer(model, "c1"), best, Exemplars(data, stats)) is None


def test_trust_prints_a_row_per_map_and_the_layer_line(cli, tmp_path):
    wide_cnn().save(tmp_path / "wide.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(64), y=np.zeros(64, np.uint8))
    result = cli("trust", tmp_path / "wide.keras", "--layer", "c2", "--steps", "12", "--dataset", tmp_path / "d.npz")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["map", "ratio", "specific", "clipped"]
    assert [line.split()[0] for line in lines[1:7]] == ["0", "1", "2", "3", "4", "5"]
    assert lines[-1].startswith("c2: 6 maps;") and "path closer than random for " in lines[-1]


def test_the_observer_picks_the_query_nearer_the_references_and_ties_count_half():
    from featviz.evaluation import two_choice

    references = np.array([[1.0, 0.0], [1.0, 0.0]])
    strong = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    weak = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert two_choice.picks(references, strong, weak) == 0.5  # right, tie, wrong


def test_trust_with_an_observer_reports_the_two_choice_test(cli, tmp_path):
    wide_cnn().save(tmp_path / "wide.keras")
    helpers.tiny_cnn().save(tmp_path / "observer.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(64), y=np.zeros(64, np.uint8))
    result = cli("trust", tmp_path / "wide.keras", "--layer", "c2", "--steps", "8", "--dataset", tmp_path / "d.npz",
                 "--observer", tmp_path / "observer.keras")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "two-choice accuracy (observer.keras observing) with synthetic references " in result.stdout
    assert len(list((tmp_path / "gallery" / "layers").glob("*/seed-[012]"))) == 3  # the references: three seeds
    row = result.stdout.splitlines()[1].split()
    assert row[-3].endswith("%") and row[-1].endswith("%")
