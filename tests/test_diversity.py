"""The diversity term: K patterns per map that differ, each scored on its own."""

import json

import helpers
import numpy as np

from featviz import models, patterns
from featviz.methods import diversity
from featviz.natural import datasets, exemplars
from featviz.synthesis import render


def test_identical_images_have_no_dissimilarity():
    model = helpers.tiny_cnn()
    x = np.random.default_rng(0).uniform(0, 1, (1, 12, 12, 1)).astype(np.float32)
    same = np.repeat(x[None], 3, axis=1)  # (1 map, 3 images)
    np.testing.assert_allclose(diversity.dissimilarity(model, "c1", same), [0.0], atol=1e-6)
    other = np.concatenate([x, 1 - x, x[:, ::-1]])[None]
    assert diversity.dissimilarity(model, "c1", other)[0] > 0.0


def request(model, steps=40):
    recipe = render.Recipe(steps=steps, relax_steps=10, polish_steps=5)
    return patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=recipe)


def test_the_diversity_term_spreads_the_patterns(monkeypatch):
    model = helpers.tiny_cnn()
    spread = diversity.diverse(model, request(model), [0, 1], 3).dissimilarity
    monkeypatch.setattr(diversity, "WEIGHT", 0.0)
    plain = diversity.diverse(model, request(model), [0, 1], 3).dissimilarity
    assert (spread > plain).all(), (spread, plain)


def test_each_map_is_scaled_by_its_own_best_natural_value():
    best = np.array([2.0, 0.0, 4.0, -1.0], np.float32)  # maps 1 and 3: no natural image drives them above zero
    np.testing.assert_allclose(diversity.map_scales(best, [0, 1, 2, 3]), [0.5, 1 / 3, 0.25, 1 / 3])
    np.testing.assert_array_equal(diversity.map_scales(None, [5, 6]), [1.0, 1.0])


def test_the_penalty_with_a_target_counts_only_the_similarity_above_it():
    model = helpers.tiny_cnn()
    x = np.random.default_rng(0).uniform(0, 1, (2, 12, 12, 1)).astype(np.float32)
    _, taps = models.run_graph(model, x[[0, 0, 0, 1]], {"c1"}, stop=True)  # map A: two equal images; map B: not
    similar = diversity.similarity_penalty("c1", 2)(taps, None).numpy()
    np.testing.assert_allclose(similar[[0, 2]], similar[[1, 3]], rtol=1e-6)  # a pair shares its similarity
    assert similar[0] > 0.999 and similar[2] < similar[0]
    allowed = np.array([0.5, 0.5, 1.0, 1.0], np.float32)
    hinge = diversity.similarity_penalty("c1", 2, allowed)(taps, None).numpy()
    np.testing.assert_allclose(hinge, [similar[0] - 0.5, similar[1] - 0.5, 0.0, 0.0], atol=1e-6)


def natural_for(model, layer: str, k: int):
    noise = np.random.default_rng(1).uniform(0, 1, (16, 12, 12, 1)).astype(np.float32)
    images = datasets.Dataset("noise", x=noise)
    stats = exemplars.scan(model, [layer], images, (0.0, 1.0), exemplars.ScanOptions(top_k=k))
    return exemplars.Exemplars(images, stats[layer])


def test_with_natural_images_the_term_pushes_towards_their_spread(monkeypatch):
    model = helpers.tiny_cnn()
    natural = natural_for(model, "c2", 3)
    monkeypatch.setattr(diversity, "MARGIN", 50.0)  # a target out of reach: the hinge acts at every step
    spread = diversity.diverse(model, request(model), [0, 1], 3, natural)
    monkeypatch.setattr(diversity, "TARGET_WEIGHT", 0.0)
    plain = diversity.diverse(model, request(model), [0, 1], 3, natural)
    assert (spread.dissimilarity > plain.dissimilarity).all(), (spread.dissimilarity, plain.dissimilarity)
    assert (spread.natural_dissimilarity > 0).all()


def test_patterns_diversity_writes_k_patterns_per_map(cli, tiny_files, tmp_path):
    result = cli("patterns", tiny_files / "tiny.keras", "--layer", "c2", "--maps", "0,4", "--diversity", "3",
                 "--steps", "12", "--dataset", tiny_files / "digits.npz")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("map 0: ratios ") and "top 3 natural images" in result.stdout
    folder = next((tmp_path / "gallery" / "layers").glob("*/seed-0-diverse-3"))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["diversity.json", "grid.png"] + [f"map-{m:04d}-{j}.png" for m in (0, 4) for j in range(3)]
    record = json.loads((folder / "diversity.json").read_text())
    assert record["k"] == 3 and [len(m["ratios"]) for m in record["maps"]] == [3, 3]
