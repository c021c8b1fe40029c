"""The "built from" section of a convolution's map pages: the maps below it with the largest weights into it.

models/weights.py reads the weights and expands them down to the gallery's
other layers; this module draws the kernel slices and writes the section.
"""

from __future__ import annotations

import numpy as np

from .. import defaults, models
from ..models import weights
from ..patterns import layout
from . import html, thumbs
from .html import esc
from .pictures import write_drawn
from .site import BuiltFrom, LayerResult, Site

SLICE_PX = 48  # the size a kernel slice is drawn at


def attach(model, results: list[LayerResult]) -> None:
    """Each convolution after the first: what its maps are built from, down to the gallery's other layers."""
    first = models.first_convolution(models.list_layers(model))
    shown = {r.info.name: r.info for r in results}
    convs = [
        r
        for r in results
        if first is not None and r.info.name != first.name and weights.reads(models.get_layer(model, r.info.name))
    ]
    found = weights.expand_all(model, [r.info.name for r in convs], shown)
    for r in convs:
        r.built_from = BuiltFrom(found[r.info.name], shown, first.name)


def write_pictures(site: Site) -> None:
    """Every kernel slice that a "built from" section shows, on one diverging scale per map."""
    for r in site.layers:
        if r.built_from is None:
            continue
        for m in range(r.info.maps):
            shown = _inputs(r.built_from, m)
            vmax = _scale(shown)
            for found in shown:
                factor = thumbs.factor_for(found.kernel.shape[0], SLICE_PX)
                pixels = thumbs.upscale(thumbs.colormap(found.kernel, -vmax, vmax, "RdBu_r"), factor)
                write_drawn(site.out, _slice(r, m, found), pixels)


def section(r: LayerResult, m: int, page: str) -> str:
    """The maps this one is built from, positive and negative, each with its pattern, kernel slice and link."""
    if r.built_from is None:
        return ""
    up, down = r.built_from.expanded.top(m, defaults.INPUTS)
    parts = ["<h2>Built from</h2>", f'<p class="muted">{esc(_explained(r.built_from, _scale(up + down)))}</p>']
    for title, found in (("Excited by", up), ("Inhibited by", down)):
        tiles = "".join(_tile(r, m, item, page) for item in found)
        parts.append(f'<h3>{title}</h3><div class="tiles">{tiles}</div>' if tiles else f"<h3>{title}</h3><p>none</p>")
    return "\n".join(parts)


def _inputs(b: BuiltFrom, m: int) -> list[weights.Input]:
    up, down = b.expanded.top(m, defaults.INPUTS)
    return up + down


def _scale(shown: list[weights.Input]) -> float:
    return max((float(np.abs(found.kernel).max()) for found in shown), default=0.0) or 1e-8


def _slice(r: LayerResult, m: int, found: weights.Input) -> str:
    info = r.built_from.layers.get(found.layer)
    return layout.weight_slice(r.info, m, layout.layer_stem(info) if info else weights.INPUT, found.map)


def _tile(r: LayerResult, m: int, found: weights.Input, page: str) -> str:
    """Its pattern and kernel slice, linking to its map page; the model's input has neither pattern nor page."""
    info = r.built_from.layers.get(found.layer)
    what = f"{found.layer} map {found.map}" if info else f"input channel {found.map}"
    picture = html.image_at(page, _slice(r, m, found), f"kernel slice from {what}", cls="slice")
    caption = f"<div>{esc(what)} {found.weight:+.3g}</div>"
    if info is None:
        return f'<div class="tile">{picture}{caption}</div>'
    pattern = html.image_at(page, layout.map_picture(info, "thumb", found.map), f"pattern of {what}", cls="pattern")
    target = layout.link(page, layout.map_page(info, found.map))
    return f'<div class="tile"><a href="{html.href(target)}">{pattern}{picture}{caption}</a></div>'


def _explained(b: BuiltFrom, vmax: float) -> str:
    e = b.expanded
    text = (
        f"The maps of {', '.join(s.layer for s in e.sources) or 'the layers below'} with the largest positive and "
        "negative weights into this map. A weight is the sum of the kernel slice: how far this map's input rises "
        "when that map rises by one everywhere. Under each pattern, its kernel slice in that layer's pixels, all on "
        f"one scale: red up to {vmax:+.3g}, blue down to {-vmax:+.3g}."
    )
    paths: dict[str, list[str]] = {}
    for s in e.sources:
        if s.through:
            paths.setdefault(s.path(), []).append(s.layer)
    text += "".join(f" From {' and '.join(names)}, the weights are expanded through {p}." for p, names in paths.items())
    if any(s.active for s in e.sources):
        text += " A nonlinear layer that keeps maps apart passes each map through as if active (slope 1)."
    if b.first in b.layers and any(s.layer == b.first for s in e.sources):
        text += f" A tile of {b.first}, the first convolution, shows its own kernel left of its pattern."
    if e.stopped:
        text += f" Not shown: {'; '.join(e.stopped)}."
    return text + ' (docs/method.md, "The weights between maps").'
