"""Grids of maps or patterns as matplotlib figures, and figures as PNG bytes.

All tiles are laid into one mosaic and drawn with a single nearest-neighbour
imshow, so a 3x3 map is a crisp 3x3 block and 512 tiles draw in well under a
second. Each tile carries its map index above it.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LABEL_BAND = 0.45  # label space above each tile, as a fraction of the tile height
GAP = 0.12


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, cols) for n tiles, about twice as wide as tall: 128 -> (8, 16)."""
    cols = max(1, math.ceil(math.sqrt(2 * n)))
    return math.ceil(n / cols), cols


def mosaic(tiles: np.ndarray, cols: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Lay (N, h, w[, 3]) tiles on a NaN background with room for labels.

    Returns the mosaic and, per tile, the (x, y) of its top-left corner.
    """
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / cols)
    band, gap = max(1, round(LABEL_BAND * h)), max(1, round(GAP * w))
    pitch_y, pitch_x = h + band + gap, w + gap
    canvas = np.full((rows * pitch_y, cols * pitch_x - gap, *tiles.shape[3:]), np.nan, dtype=np.float32)
    corners = []
    for i, tile in enumerate(tiles):
        y, x = (i // cols) * pitch_y + band, (i % cols) * pitch_x
        canvas[y : y + h, x : x + w] = tile
        corners.append((x, y))
    return canvas, corners


def per_map_scaled(maps: np.ndarray) -> np.ndarray:
    """Scale each (h, w) tile of (N, h, w) to 0..1 by its own min and max."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0.0)


@dataclass(frozen=True)
class Scale:
    """How tile values map to colours: a colormap over [vmin, vmax], and an optional colour bar label."""

    cmap: str = "viridis"
    vmin: float | None = None
    vmax: float | None = None
    colorbar: str | None = None


GREY_UNIT = Scale("gray", 0.0, 1.0)
TILE_INCHES = 0.55
TITLE_POINTS = 10


def tile_figure(
    tiles: np.ndarray, labels: Sequence[str], *, title: str = "", scale: Scale = Scale(), marked=(), columns=None
):
    """A figure of tiles (N, h, w) or (N, h, w, 3), one label each; the title wraps to the figure's width.

    Tiles whose index is in `marked` get a red label and a red frame.
    """
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot, so no backend: a notebook's stays as it was

    tiles = np.asarray(tiles, dtype=np.float32)
    cols = columns or grid_shape(len(tiles))[1]
    canvas, corners = mosaic(tiles, cols)
    font = label_points(cols)
    widest = max((text_inches(label, font) for label in labels), default=0.0)
    axes_w = max(cols * TILE_INCHES, 7.0, cols * widest)
    axes_h = axes_w * canvas.shape[0] / canvas.shape[1]
    lines = wrap_title(title, axes_w + 0.4)
    top, bottom, right = 0.15 + 0.2 * len(lines), 0.1, (1.1 if scale.colorbar else 0.2)
    width, height = axes_w + 0.2 + right, axes_h + top + bottom
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_axes((0.2 / width, bottom / height, axes_w / width, axes_h / height))
    colormap = matplotlib.colormaps[scale.cmap].with_extremes(bad="white")
    if canvas.ndim == 3:
        canvas = np.where(np.isnan(canvas), 1.0, canvas)
    image = ax.imshow(canvas, cmap=colormap, vmin=scale.vmin, vmax=scale.vmax, interpolation="nearest", aspect="equal")
    ax.set_axis_off()
    _label_tiles(ax, corners, labels, set(marked), tiles.shape[1:3], font)
    if lines:
        fig.suptitle("\n".join(lines), fontsize=TITLE_POINTS, y=1 - 0.1 / height, va="top")
    if scale.colorbar:
        cax = fig.add_axes((1 - 0.85 / width, bottom / height, 0.15 / width, axes_h / height))
        fig.colorbar(image, cax=cax).set_label(scale.colorbar, fontsize=8)
    return fig


def wrap_title(title: str, inches: float) -> list[str]:
    """The title in lines that fit `inches` at TITLE_POINTS (an average glyph is about 0.6 em wide)."""
    if not title:
        return []
    return textwrap.wrap(title, max(20, int(inches * 72 / (0.6 * TITLE_POINTS))))


def text_inches(text: str, points: float) -> float:
    """About how wide `text` is set at `points`, with glyphs 0.6 em wide on average."""
    return len(text) * 0.6 * points / 72


def label_points(cols: int) -> float:
    """The tile labels' font size: smaller as the columns grow."""
    return max(5.5, min(8.0, 100.0 / cols))


def _label_tiles(ax, corners, labels, marked: set, tile_shape, font: float) -> None:
    from matplotlib.patches import Rectangle

    h, w = tile_shape
    for i, ((x, y), label) in enumerate(zip(corners, labels)):
        colour = "crimson" if i in marked else "black"
        ax.text(x - 0.5, y - 0.6, label, fontsize=font, color=colour, va="bottom", ha="left", clip_on=False)
        if i in marked:
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="crimson", linewidth=1.2))


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, without timestamps, so equal figures give equal bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def write_tile_set(out, folder: str, files: dict[str, np.ndarray], figure, record: tuple[str, dict]):
    """A set of images saved together: one 8-bit PNG per file name, a record (name, JSON) and grid.png.

    `out` is a files.output.OutputDir; `files` maps names to images in 0..1. Returns grid.png's path.
    """
    from . import images

    for name, image in files.items():
        out.write(f"{folder}/{name}", images.png_bytes(images.to_uint8(image, (0.0, 1.0))))
    out.write_json(f"{folder}/{record[0]}", record[1])
    return out.write(f"{folder}/grid.png", figure_png(figure))
