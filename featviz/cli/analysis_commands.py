"""Commands that analyse what a layer sees over many images, or keeps of one: atlas, invert."""

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


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="[MODEL] IMAGE")
@click.option("--layers", "layer_list", default=None, metavar="A,B,...",
              help="Layers to invert (default: up to 8 convolutions and merges spread by depth).")  # fmt: skip
@click.option("--steps", type=click.IntRange(min=1), default=defaults.INVERT_STEPS, show_default=True,
              help="Gradient-descent steps per reconstruction (the last fifth on the pixels).")  # fmt: skip
@click.option("--tv", type=click.FloatRange(min=0), default=defaults.INVERT_TV, show_default=True,
              help="Weight of the total-variation term.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the starting noise.")
@options.precision
@options.inputs
@options.output
@options.model
def invert(paths: tuple[str, ...], layer_list: str | None, **o) -> None:
    """Rebuild IMAGE from each layer's activations, starting from noise (feature inversion).

    Prints, per layer, its relative depth, the SSIM of the reconstruction
    against IMAGE and the relative activation error, and writes
    invert-<image>-<model>/ with a PNG per layer, a figure and invert.json.
    """
    from ..methods import inversion

    model_path, image_path = options.split_model_image(paths)
    loaded = options.load(model_path, o)
    layers = layer_list.split(",") if layer_list else None
    with options.folder(o) as out:
        echo(inversion.invert_image(loaded, image_path, layers, options.inversion_options(o), out, BARS).lines())
