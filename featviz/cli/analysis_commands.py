"""Commands that measure what a model keeps of an image: invert."""

from __future__ import annotations

import click

from .. import defaults
from . import options
from .options import BARS, echo


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
