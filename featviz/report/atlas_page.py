"""The activation atlas's page: `featviz atlas` writes it beside atlas.png, and `featviz gallery --atlas` links it
from the index for the innermost layer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import models
from ..files.output import OutputDir
from ..methods import atlas
from ..methods.atlas import Atlas, AtlasOptions
from ..models import LayerInfo, head
from ..natural import datasets
from ..patterns import layout
from ..runtime.progress import SILENT, Reporter
from . import html
from .html import esc
from .site import Settings

HOME = ("index", layout.INDEX)


def run(
    loaded: models.LoadedModel, options: AtlasOptions, out: OutputDir, reporter: Reporter = SILENT,
    home: bool | None = None,
) -> Atlas:  # fmt: skip
    """`featviz atlas`: the atlas (methods/atlas.py), its PNG, record and page; the result says where.

    The page links the gallery's index when `home` says so (None: when the folder has one).
    """
    found = atlas.make(loaded, options, out, reporter)
    info = models.resolve_layer(loaded.model, found.layer)
    page = layout.atlas_page(info)
    out.write(layout.STYLE, html.CSS.encode())
    nav = [HOME] if (out.path(layout.INDEX).exists() if home is None else home) else []
    body = _body(loaded.name, found, info, page)
    written = out.write(page, html.page(f"Activation atlas of {found.layer}", body, page, nav).encode())
    return replace(found, page=written)


def for_gallery(
    loaded: models.LoadedModel, layer: LayerInfo, settings: Settings, out: OutputDir, reporter: Reporter
) -> Atlas | None:  # fmt: skip
    """`featviz gallery --atlas`: the atlas of the gallery's innermost layer, with the gallery's images and recipe,
    cells framed by class when the model has a class output; None, with a note, without natural images."""
    if datasets.for_model(models.input_shape(loaded.model), settings.dataset) is None:
        reporter.note("no activation atlas: it needs natural images; pass --dataset")
        return None
    options = AtlasOptions(layer=layer.name, dataset=settings.dataset, classes=True, recipe=settings.recipe,
                           input=settings.input_range)  # fmt: skip
    if head.class_layer(loaded.model) is None:
        options = replace(options, classes=False)
    return run(loaded, options, out, reporter, home=True)


def _body(model_name: str, found: Atlas, info: LayerInfo, page: str) -> str:
    v, c = found.vectors, found.cells
    counts = c.kept_counts
    parts = [
        f'<p class="muted">{esc(model_name)} · {esc(info.name)}: {len(v.values):,} activation vectors, one per '
        f"sampled position ({v.per_image} per image) of {v.scanned:,} images of {esc(found.dataset)}, laid out in "
        f"2-D by {esc(found.layout_name)} and binned into a {c.grid}x{c.grid} grid (Carter et al. 2019). Each of the "
        f"{len(c.index)} non-empty cells shows the pattern of its mean activation vector: the image whose "
        "activations point furthest along it. A cell's opacity grows with the number of vectors in it "
        f"(from 1 to {counts.max()}, median {np.median(counts):g}); faint cells rest on few.</p>",
        html.image_at(page, f"{layout.atlas_dir(info)}/atlas.png", f"activation atlas of {info.name}"),
    ]
    if c.classes is not None:
        parts.append(_class_table(found))
    json_link = html.link_to(page, f"{layout.atlas_dir(info)}/atlas.json", "atlas.json")
    parts.append(f'<p class="muted">Every cell\'s position, count and objective value: {json_link}.</p>')
    return "\n".join(parts)


def _class_table(found: Atlas) -> str:
    """Cells and vectors per predicted class, with the median purity of its cells."""
    c = found.cells
    counts = c.kept_counts
    rows = []
    for k in np.unique(c.classes):
        mine = c.classes == k
        rows.append([found.name(int(k)), int(mine.sum()), int(counts[mine].sum()), f"{np.median(c.purity[mine]):.0%}"])
    note = (
        '<p class="muted">Each cell is framed in the colour of the class the model predicts most often for the '
        "images its vectors come from; purity is the share of its vectors whose image has that class.</p>"
    )
    return note + html.table(["class", "cells", "vectors in its cells", "median purity"], rows, numeric=(1, 2, 3))
