"""An activation atlas as a picture: one tile per grid cell, faded by how few vectors fell there, framed by class.

`compose` lays the tiles on a white sheet; `figure` adds a title and, when
cells carry classes, a legend of the frame colours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_TILE_PX = 48  # tiles are scaled up by a whole factor to at least this size
FRAME_PX = 2  # the class frame around each tile
FAINTEST = 0.2  # the opacity of a cell holding one vector; the densest cell is opaque


def opacity(counts: np.ndarray) -> np.ndarray:
    """Each cell's opacity from its count: FAINTEST for 1 vector, 1 for the densest cell, logarithmic between."""
    counts = np.asarray(counts, np.float64)
    top = max(float(counts.max(initial=1)), 2.0)
    return FAINTEST + (1 - FAINTEST) * np.log(np.maximum(counts, 1)) / np.log(top)


def palette(count: int) -> np.ndarray:
    """(count, 3) distinct frame colours in 0..1: matplotlib's tab10 or tab20, else evenly spaced hues."""
    from matplotlib import colormaps
    from matplotlib.colors import hsv_to_rgb

    if count <= 20:
        cmap = colormaps["tab10" if count <= 10 else "tab20"]
        return np.array([cmap(i)[:3] for i in range(count)])
    return hsv_to_rgb(np.stack([np.arange(count) / count, np.full(count, 0.65), np.full(count, 0.85)], axis=1))


def compose(
    tiles: np.ndarray, cells: Sequence[tuple[int, int]], counts: Sequence[int], grid: int, frames: np.ndarray | None
) -> np.ndarray:
    """(grid * slot, grid * slot, 3) in 0..1: tile i at cell (row, col) = cells[i], blended with white by its
    count's opacity, inside a frame of colour frames[i] (no frames: None)."""
    tiles = np.asarray(tiles, np.float32)
    if tiles.shape[-1] == 1:
        tiles = np.repeat(tiles, 3, axis=-1)
    scale = max(1, math.ceil(MIN_TILE_PX / max(tiles.shape[1:3])))
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = tiles.shape[1:3]
    slot_h, slot_w = h + 2 * FRAME_PX, w + 2 * FRAME_PX
    sheet = np.ones((grid * slot_h, grid * slot_w, 3), np.float32)
    for i, ((row, col), alpha) in enumerate(zip(cells, opacity(np.asarray(counts)))):
        y, x = row * slot_h, col * slot_w
        if frames is not None:
            sheet[y : y + slot_h, x : x + slot_w] = frames[i]
        sheet[y + FRAME_PX : y + FRAME_PX + h, x + FRAME_PX : x + FRAME_PX + w] = alpha * tiles[i] + (1 - alpha)
    return sheet


def figure(sheet: np.ndarray, title: str, legend: Sequence[tuple[str, np.ndarray]] = ()):
    """A matplotlib Figure of the sheet at one pixel per pixel, the title above and the legend below."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    dpi, height, width = 100, *sheet.shape[:2]
    top, bottom = 0.5, (0.3 * math.ceil(len(legend) / 5) + 0.2 if legend else 0.1)
    fig = Figure(figsize=(width / dpi, height / dpi + top + bottom), dpi=dpi)
    total = height / dpi + top + bottom
    ax = fig.add_axes((0, bottom / total, 1, height / dpi / total))
    ax.imshow(sheet, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(title, fontsize=10, y=1 - 0.1 / total, va="top")
    if legend:
        handles = [Patch(facecolor=colour, edgecolor="none", label=name) for name, colour in legend]
        fig.legend(handles=handles, loc="lower center", ncol=min(5, len(handles)), fontsize=8, frameon=False)
    return fig
