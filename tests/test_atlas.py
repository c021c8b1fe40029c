"""The activation atlas: vectors streamed from natural images, laid out, binned, and each cell rendered."""

import json
import sys

import helpers
import numpy as np
import pytest

from featviz import models
from featviz.errors import FeatvizError
from featviz.methods import atlas
from featviz.natural import datasets, vectors
from featviz.patterns import PatternRequest
from featviz.runtime import _tf
from featviz.synthesis import objectives, render


def test_cells_count_and_average_their_vectors_exactly():
    unit = np.array([[0.0, 0.0], [0.2, 0.1], [0.99, 0.0], [1.0, 1.0], [0.5, 0.5], [0.75, 0.5]])
    cell = atlas.cell_index(unit, 4)
    # (x, y) -> row from y, column from x; 1.0 lies in the last cell, 0.5 * 4 = 2 in the third
    assert cell.tolist() == [0, 0, 3, 15, 10, 11]
    values = np.array([[1, 0], [3, 2], [5, 5], [7, 1], [2, 2], [4, 0]], np.float32)
    predicted = np.array([2, 2, 0, 1, 1, 1])
    cells = atlas.bin_cells(cell, values, 4, predicted=predicted)
    assert cells.counts.tolist() == [[2, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]]
    assert cells.index.tolist() == [0, 3, 10, 11, 15]
    assert cells.where == [(0, 0), (0, 3), (2, 2), (2, 3), (3, 3)]
    assert cells.means.tolist() == [[2, 1], [5, 5], [2, 2], [4, 0], [7, 1]]
    assert cells.kept_counts.tolist() == [2, 1, 1, 1, 1]
    assert cells.classes.tolist() == [2, 0, 1, 1, 1] and cells.purity.tolist() == [1, 1, 1, 1, 1]
    dense = atlas.bin_cells(cell, values, 4, min_count=2, predicted=np.array([2, 1, 0, 1, 1, 1]))
    assert dense.index.tolist() == [0] and dense.means.tolist() == [[2, 1]]
    assert dense.classes.tolist() == [1] and dense.purity.tolist() == [0.5]  # a tie goes to the lower class
    with pytest.raises(FeatvizError, match="--min-count"):
        atlas.bin_cells(cell, values, 4, min_count=3)


def test_normalize_fills_the_unit_square_and_clips_outliers():
    points = np.stack([np.arange(101.0), 2 * np.arange(101.0)], axis=1)
    assert np.allclose(atlas.normalize(points), points / points.max(axis=0))
    far = np.concatenate([points, [[1e6, -1e6]]])
    unit = atlas.normalize(far)
    assert unit.min() == 0 and unit.max() == 1
    assert unit[-1].tolist() == [1.0, 0.0]  # the outlier is clipped to the edge, not stretching the rest
    assert 0.8 < unit[100, 0] < 0.95


def test_opacity_grows_with_the_count():
    from featviz.pixels import atlas_figure

    alpha = atlas_figure.opacity(np.array([1, 10, 100]))
    assert alpha[0] == atlas_figure.FAINTEST and alpha[2] == 1.0 and alpha[0] < alpha[1] < alpha[2]
    assert alpha[1] == pytest.approx(atlas_figure.FAINTEST + (1 - atlas_figure.FAINTEST) * 0.5)


def test_positions_per_image():
    assert vectors.positions_per_image(4000, 1500, 9) == 3
    assert vectors.positions_per_image(4000, 1000, 64) == 4
    assert vectors.positions_per_image(100, 10, 4) == 4  # never more than every position
    assert vectors.positions_per_image(5, 100, 9) == 1


@pytest.fixture(scope="module")
def tiny():
    model = helpers.tiny_cnn()
    return model, models.resolve_layer(model, "c2")


def test_vectors_are_positions_of_each_image_s_maps(tiny):
    model, c2 = tiny
    data = datasets.Dataset("digits", x=helpers.random_digits(70)[..., None] / 255.0)
    sampling = vectors.Sampling(200, class_layer=models.resolve_layer(model, "out", flat=True))
    found = vectors.collect(model, c2, data, (0.0, 1.0), sampling)
    assert found.per_image == 3 and found.scanned == 70
    assert len(found.values) + found.dropped == 210 and found.values.shape[1] == 6
    assert np.all(np.any(found.values != 0, axis=1))
    maps = models.extractor(model, ["c2", "out"])(data.x, training=False)
    flat = np.asarray(maps[0]).reshape(70, 9, 6)
    predicted = np.asarray(maps[1]).argmax(axis=1)
    for v, i, k in zip(found.values, found.images, found.predicted):
        assert np.any(np.all(flat[i] == v, axis=1))  # exactly one of image i's positions
        assert k == predicted[i]
    assert np.all(np.diff(found.images) >= 0) and set(found.images) <= set(range(70))


def test_batched_directions_match_one_direction_each():
    tf = _tf.tf()
    rng = np.random.default_rng(0)
    out = tf.constant(rng.normal(size=(3, 2, 2, 5)), tf.float32)
    vecs = rng.normal(size=(3, 5)).astype(np.float32)
    batched = objectives.directions("L", vecs)({"L": out}, None).numpy()
    single = [objectives.direction("L", v)({"L": out}, None).numpy()[i] for i, v in enumerate(vecs)]
    assert np.allclose(batched, single, atol=1e-6)
    weighted = objectives.directions("L", vecs, cossim_power=1.0)({"L": out}, None).numpy()
    a, v = out.numpy(), vecs[:, None, None, :]
    dot = (a * v).sum(-1)
    cos = np.maximum(dot / (np.linalg.norm(a, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-6), 0.1)
    assert np.allclose(weighted, (dot * cos).mean(axis=(1, 2)), atol=1e-5)


def test_each_cell_s_pattern_raises_its_direction(tiny):
    model, c2 = tiny
    rng = np.random.default_rng(1)
    means = rng.uniform(0, 1, size=(5, 6)).astype(np.float32)
    cells = atlas.Cells(3, np.ones((3, 3), np.int64), np.array([0, 2, 4, 6, 8]), means)
    recipe = render.Recipe(steps=24, relax_steps=4, polish_steps=4)
    request = PatternRequest(c2, (12, 12), recipe=recipe)
    images, last, rose = atlas.render_cells(model, request, cells)
    assert images.shape == (5, 12, 12, 1) and rose.all()
    objective = objectives.directions("c2", means, cossim_power=atlas.COSSIM_POWER)

    def value(x):
        return objective(models.run_graph(model, tf_constant(x), ["c2"], stop=True)[1], None).numpy()

    grey = value(np.full_like(images, 0.5))
    assert np.all(value(images) > grey)
    assert np.allclose(value(images), last, rtol=0.2)  # the last step's value is the pattern's


def tf_constant(x):
    return _tf.tf().constant(x, _tf.tf().float32)


def test_umap_without_umap_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap then fails, as where umap-learn is missing
    with pytest.raises(FeatvizError, match=r"featviz\[atlas\]"):
        atlas.lay_out(np.random.default_rng(0).uniform(size=(20, 4)), "umap")
    with pytest.raises(FeatvizError, match="at least"):
        atlas.lay_out(np.ones((3, 4)), "pca")


def test_atlas_command_end_to_end(cli, tiny_files, tmp_path):
    np.savez(tmp_path / "many.npz", x=helpers.random_digits(48, seed=3))
    args = ["atlas", tiny_files / "tiny.keras", "--layer", "c2", "--dataset", tmp_path / "many.npz"]
    result = cli(*args, "--vectors", "300", "--grid", "5", "--steps", "8", "--classes")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("c2: ") and "from 48 images of many.npz (7 positions each" in lines[0]
    assert "laid out by t-SNE" in lines[0] and lines[2].startswith("cells by class (framed): ")
    assert " 0%" not in lines[2]  # only classes that frame a cell
    folder = tmp_path / "gallery" / "layers"
    png, record, page = (tmp_path / line for line in lines[-3:])
    assert png.name == "atlas.png" and png.exists() and page.name == "index.html"
    saved = json.loads(record.read_text())
    cells = saved["cells"]
    assert sum(c["count"] for c in cells) == saved["vectors"]["count"] == 336 - saved["vectors"]["dropped"]
    assert len({(c["row"], c["col"]) for c in cells}) == len(cells) and all(c["class"] in "012" for c in cells)
    assert f"{len(cells)} cells rendered" in lines[1]
    assert "atlas.png" in page.read_text() and png.parent.parent.parent == folder
    assert "index.html" not in page.read_text()  # no gallery in the folder: no link to its index
    flat = cli(*args, "--layer", "out")
    assert flat.exit_code == 2 and "has no spatial maps" in flat.stderr


def test_classes_need_a_class_output(tmp_path):
    k = helpers.keras()
    model = k.Sequential([k.Input((12, 12, 1)), k.layers.Conv2D(3, 3, name="c")])
    model.save(tmp_path / "bare.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(12))
    options = atlas.AtlasOptions(dataset=tmp_path / "d.npz", classes=True)
    with pytest.raises(FeatvizError, match="--classes: .* has no class output"):
        atlas._Asked(models.load(tmp_path / "bare.keras"), options)
    with pytest.raises(FeatvizError, match="pass --dataset"):
        atlas._Asked(models.load(tmp_path / "bare.keras"), atlas.AtlasOptions())


def test_gallery_atlas_links_the_innermost_layer_s_atlas(cli, tiny_files, tmp_path):
    from test_realworld import write_image

    write_image(tiny_files / "stroke.png")
    args = ["gallery", tiny_files / "tiny.keras", "--layers", "c1,c2", "--steps", "4", "--seeds", "0", "--no-repair"]
    result = cli(*args, "--dataset", tiny_files / "digits.npz", "--images", tiny_files / "stroke.png", "--atlas")
    assert result.exit_code == 0, result.output
    page = tmp_path / result.stdout.splitlines()[-1].removeprefix("activation atlas: ")
    assert page.exists() and "-c2-" in page.parent.parent.name  # the innermost of the gallery's layers
    index = (tmp_path / "gallery" / "index.html").read_text()
    assert "Activation atlas of c2" in index and "atlas/index.html" in index
    assert 'href="../../../index.html"' in page.read_text()
    assert "median purity" in page.read_text()  # the tiny CNN has a class output: cells are framed by class
