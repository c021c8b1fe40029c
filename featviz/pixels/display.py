"""Results that show themselves: inline in Jupyter, or as a matplotlib figure elsewhere.

A result class adopts this in one line, by inheriting `Shown`; it has a `figure()` (a matplotlib Figure)
and `lines()` (what its command prints):

    @dataclass
    class Inverted(Shown): ...

Jupyter then draws it inline (`_repr_png_`) with its lines as its text (`_repr_pretty_`), and `show()`
displays it in a notebook or returns the figure elsewhere. A result that reads better as a table adds
`_repr_html_` from `tiles_html` or `table_html`; Jupyter prefers HTML to the PNG.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

import numpy as np

from . import grids, images

TILE_PX = 72  # a tile's width on screen; small tiles are scaled up without smoothing


def png(picture) -> bytes:
    """A matplotlib figure, or pixels (H, W) or (H, W, C) in 0..1, as PNG bytes (NaN drawn white)."""
    if isinstance(picture, np.ndarray):
        return images.png_bytes(images.to_uint8(np.nan_to_num(picture, nan=1.0)))
    return grids.figure_png(picture)


def img(picture: np.ndarray | bytes, px: int = TILE_PX) -> str:
    """An <img> of pixels in 0..1 (or of PNG bytes), inline as a data URI."""
    data = base64.b64encode(picture if isinstance(picture, bytes) else png(picture)).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" width="{px}" style="image-rendering: pixelated" alt="">'


def tiles_html(
    tiles: np.ndarray, captions: Sequence[str], *, marked: Sequence[int] = (), columns: int = 8, title: str = ""
) -> str:
    """Tiles (N, H, W[, C]) in 0..1 as an HTML table, `columns` to a row, each captioned; marked ones in red."""
    red = set(marked)
    cells = [
        f'<td style="text-align:center;{"color:crimson" if i in red else ""}">{img(tile)}<br>'
        f"<small>{html.escape(caption)}</small></td>"
        for i, (tile, caption) in enumerate(zip(tiles, captions))
    ]
    rows = ("".join(cells[i : i + columns]) for i in range(0, len(cells), columns))
    said = f"<p>{html.escape(title)}</p>" if title else ""
    return f"{said}<table>" + "".join(f"<tr>{row}</tr>" for row in rows) + "</table>"


def table_html(head: Sequence[str], rows: Sequence[Sequence], caption: str = "") -> str:
    """Rows as an HTML table: a cell that is an array is drawn as an image, any other as text."""
    cell = lambda v: img(v) if isinstance(v, np.ndarray) else html.escape(str(v))
    top = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    said = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{said}<thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"


class Described:
    """A result whose text, in IPython, is its `lines()`: what the command line prints."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        # IPython takes a class's own __repr__ (a dataclass has one) before an inherited _repr_pretty_
        cls._repr_pretty_ = Described._repr_pretty_

    def lines(self) -> list[str]:
        raise NotImplementedError

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text("\n".join(self.lines()))


class Shown(Described):
    """A result that draws itself: its `figure()`, inline in Jupyter, or from `show()`."""

    def figure(self):
        """The result as a matplotlib Figure."""
        raise NotImplementedError

    def _repr_png_(self) -> bytes:
        return png(self.figure())

    def show(self):
        """In a notebook, display the result inline (and return None); elsewhere, return its figure."""
        if not _in_notebook():
            return self.figure()
        from IPython.display import display

        display(self)
        return None


def _in_notebook() -> bool:
    """Whether this runs in an IPython shell that draws images: a Jupyter kernel, not a terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    formatter = getattr(get_ipython(), "display_formatter", None)
    return "image/png" in getattr(formatter, "active_types", ())
