"""The one-call API (featviz.patterns(model, layer) and the rest) on tiny real models, and results that show
themselves: PNG bytes, HTML tables of tiles, a figure from show() outside a notebook."""

import io
import subprocess
import sys
import tempfile
from html import escape
from pathlib import Path

import helpers
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from test_realworld import write_image

import featviz
from featviz.errors import FeatvizError
from featviz.pixels import display

PNG = b"\x89PNG\r\n\x1a\n"
FAST = dict(steps=8, relax_steps=2, polish_steps=2)


def named(model, name: str):
    return helpers.keras().Model(model.inputs[0], model.outputs[0], name=name)


@pytest.fixture(scope="module")
def stroke(tmp_path_factory):
    return write_image(tmp_path_factory.mktemp("images") / "stroke.png")


def test_import_featviz_is_instant_and_its_patterns_are_a_package_and_a_function():
    code = (
        "import sys, featviz\n"
        "assert not {'tensorflow', 'keras', 'numpy'} & set(sys.modules), 'import featviz imported a heavy module'\n"
        "import featviz.patterns.store\n"  # the package imported first, as featviz's own modules do
        "assert callable(featviz.patterns) and featviz.patterns.PatternSet is featviz.patterns.store.PatternSet\n"
        "from featviz import patterns\n"
        "assert patterns is featviz.patterns and 'patterns' in dir(featviz)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_keras_model_is_taken_as_it_is_and_its_key_follows_its_weights():
    model = helpers.tiny_cnn()
    loaded = featviz.load(model)
    assert loaded.model is model and loaded.name == "tiny" and featviz.load(loaded) is loaded
    assert featviz.load(model).sha256 == loaded.sha256
    helpers.with_dead_map(model)
    assert featviz.load(model).sha256 != loaded.sha256
    with pytest.raises(FeatvizError, match="not int"):
        featviz.load(3)


def test_layers_check_and_activations_in_one_call_show_themselves(stroke):
    from IPython.lib.pretty import pretty

    model = helpers.tiny_cnn()
    layers = featviz.layers(model)
    assert all(f" {name} " in pretty(layers) for name in ("c1", "pool", "c2", "flat", "out"))
    assert pretty(layers) == "\n".join(layers.lines())  # in IPython, what the command prints
    assert featviz.check(model, stroke).lines()[0] == "tiny on stroke.png"
    x = np.random.default_rng(0).random((12, 12, 1), dtype=np.float32)
    acts = featviz.activations(model, x, "c1")
    kernel, bias = model.get_layer("c1").get_weights()
    expected = np.maximum(np.einsum("ijc,ijcm->m", x[:3, :3], kernel) + bias, 0)
    np.testing.assert_allclose(acts.maps[0, 0], expected, rtol=1e-5, atol=1e-6)
    assert acts._repr_png_().startswith(PNG)
    figure = acts.show()  # outside a notebook: the figure, to save or show
    assert isinstance(figure, Figure) and figure.get_suptitle().startswith("tiny · c1: 4 maps of 10x10")


def test_drawing_leaves_a_notebook_s_matplotlib_backend_as_it_was():
    import matplotlib

    from featviz.report import compare

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # standing in for Jupyter's inline backend
    try:
        acts = featviz.activations(helpers.tiny_cnn(), np.zeros((12, 12, 1), np.float32))
        compare.figure([compare.ModelView("tiny", acts, acts.top(2), np.zeros((2, 12, 12, 1)))])
        assert acts.figure() is not None and matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_patterns_in_one_call_drive_their_maps_and_are_reused(tmp_path, tiny_files):
    asked = dict(maps=[1, 2], out=tmp_path, dataset=tiny_files / "digits.npz", **FAST)
    found = featviz.patterns(tiny_files / "tiny.keras", "c2", **asked)
    assert found.done.images.shape == (2, 12, 12, 1) and found.done.grid.is_file()
    grey = featviz.activations(tiny_files / "tiny.keras", np.full((12, 12, 1), 0.5, np.float32), "c2")
    assert all(s.value > grey.maps[..., s.map].mean() for s in found.done.scores)
    html = found._repr_html_()
    assert html.count("<img") == 2 and "c2: 2 maps" in html
    assert found._repr_png_().startswith(PNG)
    again = featviz.patterns(tiny_files / "tiny.keras", "c2", **asked)
    assert (again.done.reused, again.done.rendered) == (2, 0)
    np.testing.assert_array_equal(again.done.images, found.done.images)


def test_without_out_the_files_go_to_a_temporary_folder_per_model():
    model = helpers.tiny_cnn()
    found = featviz.patterns(model, "c1", maps="0", **FAST)
    folder = Path(tempfile.gettempdir())
    assert folder in found.done.grid.parents
    assert f"tiny-{featviz.load(model).sha256[:8]}" in found.done.grid.parts


def test_trust_is_a_table_with_each_map_s_pattern(tmp_path, tiny_files):
    found = featviz.trust(tiny_files / "tiny.keras", "c2", observer=False, out=tmp_path,
                          dataset=tiny_files / "digits.npz", **FAST)  # fmt: skip
    html = found._repr_html_()
    assert html.count("<tr>") == 1 + 6 and html.count("<img") == 6 and escape(found.line()) in html
    assert found.lines()[-1] == found.line()


def test_compare_and_accentuate_in_one_call(tmp_path, stroke):
    twins = [named(helpers.tiny_cnn(seed=seed), f"twin{seed}") for seed in (1, 2)]
    compared = featviz.compare(twins, stroke, top_k=2, out=tmp_path, **FAST)
    assert len(compared.views) == 2 and all(p.is_file() for p in compared.written)
    assert compared._repr_png_().startswith(PNG)
    classes = featviz.compare(twins, classes=True, out=tmp_path, **FAST)
    assert classes.figure().get_suptitle().startswith("Class patterns")
    with pytest.raises(FeatvizError, match="an image, or classes=True"):
        featviz.compare(twins, out=tmp_path)
    with pytest.raises(FeatvizError, match="two models named twin1"):
        featviz.compare([twins[0], twins[0]], stroke, out=tmp_path)
    found = featviz.accentuate(twins[0], stroke, [0, 1], layer="c2", steps=16, out=tmp_path)
    assert (found.after > found.before).all() and found._repr_png_().startswith(PNG)


def test_a_gallery_in_one_call(tmp_path, tiny_files, stroke):
    report = featviz.gallery(tiny_files / "tiny.keras", out=tmp_path, layers=["c2"], seeds=[0], images=[stroke],
                             dataset=tiny_files / "digits.npz", **FAST)  # fmt: skip
    assert report.index == tmp_path / "index.html" and report.index.is_file()
    assert report.lines()[0].startswith("1 layers, 6 maps, 3 classes")


def test_pixels_become_exact_png_and_tiles_an_html_table():
    pixels = np.array([[0.0, 0.5], [1.0, np.nan]], np.float32)
    assert np.asarray(Image.open(io.BytesIO(display.png(pixels)))).tolist() == [[0, 128], [255, 255]]
    tiles = display.tiles_html(np.zeros((3, 2, 2, 1)), ["a", "b<", "c"], marked=[1], columns=2, title="t")
    assert tiles.count("<tr>") == 2 and tiles.count("<img") == 3 and "b&lt;" in tiles and tiles.count("crimson") == 1
    table = display.table_html(["n", "pattern"], [["1 & 2", np.zeros((2, 2, 1))]], caption="c")
    assert "1 &amp; 2" in table and table.count("<img") == 1 and "<caption>c</caption>" in table
