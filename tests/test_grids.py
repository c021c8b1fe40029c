"""Grids: tile counts, label texts and positions, and the shared colour scale."""

import numpy as np
import pytest

from featviz import models
from featviz.methods import activations
from featviz.pixels import grids
from featviz.report import thumbs


@pytest.mark.parametrize("n,shape", [(1, (1, 2)), (32, (4, 8)), (64, (6, 12)), (128, (8, 16))])
def test_grid_shape(n, shape):
    rows, cols = grids.grid_shape(n)
    assert (rows, cols) == shape and rows * cols >= n


def test_mosaic_places_every_tile_with_room_for_its_label():
    tiles = np.arange(5 * 3 * 3, dtype=np.float32).reshape(5, 3, 3)
    canvas, corners = grids.mosaic(tiles, cols=2)
    assert len(corners) == 5
    for tile, (x, y) in zip(tiles, corners):
        np.testing.assert_array_equal(canvas[y : y + 3, x : x + 3], tile)
        assert y >= 1  # a label band above every tile
    assert np.isnan(canvas).sum() == canvas.size - 5 * 9


def test_activation_figure_has_one_label_per_map_and_the_predictions():
    model = models.load().model
    acts = activations.extract(model, "digit6.png")
    fig = activations.figure(acts, model_name="mnist_cnn.keras")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == [str(i) for i in range(128)]
    assert "predicts 6" in fig.get_suptitle()
    image = ax.images[0]
    assert image.get_interpolation() == "nearest"
    assert image.get_clim() == (0.0, pytest.approx(float(acts.maps.max())))  # one shared scale
    assert len(fig.axes) == 2  # the colour bar


def test_per_map_scale_normalizes_each_tile():
    maps = np.stack([np.full((2, 2), 1.0), np.array([[0.0, 2.0], [4.0, 8.0]])])
    scaled = grids.per_map_scaled(maps)
    np.testing.assert_array_equal(scaled[0], 0.0)
    np.testing.assert_allclose(scaled[1], [[0.0, 0.25], [0.5, 1.0]])


def test_marked_tiles_get_red_labels():
    fig = grids.tile_figure(np.zeros((3, 4, 4)), ["0", "1 dead", "2"], marked=[1], scale=grids.GREY_UNIT)
    colours = [t.get_color() for t in fig.axes[0].texts]
    assert colours == ["black", "crimson", "black"]


@pytest.mark.parametrize(
    "name", ["m.keras", "a_very_long_model_name_as_people_save_them_mnist_plain_deep_v3_final.keras"]
)
def test_titles_fit_the_figure_whatever_the_model_name(name):
    """A long title wraps instead of losing its ends past the figure's edges."""
    tiles = np.zeros((16, 3, 3))
    title = f"{name} · post_relu: 16 maps of 3x3 · predicts 6 (99.9%), 5 (0.1%)"
    fig = grids.tile_figure(tiles, [str(i) for i in range(16)], title=title)
    fig.canvas.draw()
    box = fig.texts[0].get_window_extent()
    width, height = fig.bbox.width, fig.bbox.height
    assert box.x0 >= 0 and box.x1 <= width and box.y1 <= height
    assert fig.texts[0].get_text().replace("\n", " ") == title
    top_of_tiles = fig.axes[0].get_window_extent().y1
    assert box.y0 > top_of_tiles - 8  # above the first row of tiles and their labels


@pytest.mark.parametrize(
    "n,labels",
    [
        (10, ["airplane: 2/2", "automobile: 2/2", "bird: 2/2"] + [f"class {i}: 2/2" for i in range(7)]),
        (64, [f"{i} negative" for i in range(64)]),
    ],
)
def test_tile_labels_do_not_overlap_their_neighbours(n, labels):
    """The figure widens when labels are longer than a tile is wide (CIFAR class names did overlap)."""
    fig = grids.tile_figure(np.zeros((n, 8, 8, 3)), labels, columns=min(n, 12))
    fig.canvas.draw()
    texts = fig.axes[0].texts
    for left, right in zip(texts, texts[1:]):
        a, b = left.get_window_extent(), right.get_window_extent()
        if abs(a.y0 - b.y0) < 1:  # same row
            assert a.x1 <= b.x0, (left.get_text(), right.get_text())


def test_thumbnails_upscale_with_nearest_neighbour():
    pixels = np.array([[0, 255], [255, 0]], np.uint8)
    big = thumbs.upscale(pixels, 3)
    assert big.shape == (6, 6)
    np.testing.assert_array_equal(big[:3, :3], 0)
    np.testing.assert_array_equal(big[:3, 3:], 255)
    assert thumbs.factor_for(28) == 3 and thumbs.factor_for(3, 48) == 16


def test_a_top_image_drawn_from_activations_a_last_bit_apart_keeps_its_bytes(tmp_path):
    from featviz.files.output import OutputDir
    from featviz.report import pictures

    rng = np.random.default_rng(0)
    image = rng.random((12, 12, 1))
    acts = rng.random((9, 4, 4)).astype(np.float32)
    acts[:, 0, 0] = 100 / 256  # on a boundary of the 256-entry colour map: the last bit below moves it a step

    def draw(a):
        return thumbs.mosaic([thumbs.upscale(thumbs.overlay(image, a[i], 1.0), 3) for i in range(9)], 3)

    perturbed = np.nextafter(acts, np.float32(-np.inf))
    assert not np.array_equal(draw(perturbed), draw(acts))  # the drawing itself moves
    with OutputDir(tmp_path) as out:
        pictures.write_drawn(out, "top.png", draw(acts))
    saved = (tmp_path / "top.png").read_bytes()
    with OutputDir(tmp_path) as out:
        pictures.write_drawn(out, "top.png", draw(perturbed))
    assert (tmp_path / "top.png").read_bytes() == saved
    with OutputDir(tmp_path) as out:  # another picture is written
        pictures.write_drawn(out, "top.png", draw(acts * 0.5))
    assert (tmp_path / "top.png").read_bytes() != saved


def test_a_drawn_picture_someone_edited_is_not_kept(tmp_path):
    from featviz.files.output import OutputDir
    from featviz.report import pictures

    pixels = np.zeros((4, 4, 3), np.uint8)
    with OutputDir(tmp_path) as out:
        pictures.write_drawn(out, "grid.png", pixels)
    edited = pixels.copy()
    edited[0, 0] = 1
    from featviz.pixels import images

    (tmp_path / "grid.png").write_bytes(images.png_bytes(edited))
    with OutputDir(tmp_path, force=True) as out:
        pictures.write_drawn(out, "grid.png", pixels)
    assert (tmp_path / "grid.png").read_bytes() == images.png_bytes(pixels)


@pytest.mark.parametrize("name", ["viridis", "inferno", "RdBu_r"])
def test_thumbnail_colours_are_matplotlib_s_own_at_the_ends_outside_and_for_nan(name):
    import matplotlib

    values = np.random.default_rng(0).normal(size=(40, 5, 5))
    values[0, 0, :4] = [np.nan, 3.0, -3.0, 1.0]  # NaN, over, under, exactly vmax
    for vmin, vmax in ((-1.0, 1.0), (0.0, 1.0), (0.5, 0.5)):
        span = vmax - vmin if vmax > vmin else 1.0
        expected = matplotlib.colormaps[name](np.clip((values - vmin) / span, 0, 1))[..., :3] * 255 + 0.5
        np.testing.assert_array_equal(thumbs.colormap(values, vmin, vmax, name), expected.astype(np.uint8))
