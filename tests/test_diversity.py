"""The diversity term: K patterns per map that differ, each scored on its own."""

import json

import helpers
import numpy as np

from featviz import diversity, models, patterns
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
