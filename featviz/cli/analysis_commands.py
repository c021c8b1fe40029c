"""Commands that analyse a layer over many natural images: atlas."""

from __future__ import annotations

import click

from .. import defaults
from . import options
from .options import BARS, echo


@click.command()
@click.argument("model", required=False)
@options.layer
@click.option("--dataset", default=None, metavar="PATH",
              help="Natural images whose activations are laid out: .npz with x, or a folder of images "
              "(default: the bundled exemplars, for a model of 28x28x1 or 32x32x3 input).")  # fmt: skip
@click.option("--vectors", type=click.IntRange(min=10), default=defaults.ATLAS_VECTORS, show_default=True,
              help="About this many activation vectors, sampled positions spread over every image.")  # fmt: skip
@click.option("--grid", type=click.IntRange(2, 64), default=defaults.ATLAS_GRID, show_default=True,
              help="Cells per side of the atlas.")  # fmt: skip
@click.option("--layout", type=click.Choice(defaults.ATLAS_LAYOUTS), default=defaults.ATLAS_LAYOUT,
              show_default=True, help="2-D layout: t-SNE after PCA, UMAP (pip install 'featviz[atlas]'), or PCA "
              "alone (fast, coarse).")  # fmt: skip
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Cells holding fewer vectors stay empty.")  # fmt: skip
@click.option("--classes", is_flag=True,
              help="Frame each cell in the colour of the class the model predicts for its images.")  # fmt: skip
@options.steps
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the positions, layout and patterns.")
@options.colour
@options.precision
@options.inputs
@options.output
@options.model
def atlas(model: str | None, **o) -> None:
    """An activation atlas of a layer (Carter et al. 2019): natural images' activation vectors laid out in 2-D,
    binned into a grid, each cell drawn as the pattern of its mean vector.

    Writes atlas.png, atlas.json and a page into OUT/layers/<layer>/atlas/.
    """
    from ..methods.atlas import AtlasOptions
    from ..report import atlas_page
    from ..synthesis.render import Recipe

    loaded = options.load(model, o)
    asked = AtlasOptions(
        layer=o["layer"], dataset=o["dataset"], vectors=o["vectors"], grid=o["grid"], layout=o["layout"],
        min_count=o["min_count"], classes=o["classes"], seed=o["seed"], input=options.asked_input(o),
        recipe=Recipe(steps=o["steps"], colour=options.colour_of(o), precision=o["precision"]),
    )  # fmt: skip
    with options.folder(o) as out:
        echo(atlas_page.run(loaded, asked, out, BARS).lines())
