"""Commands that look at a model and one image: layers, check, activations."""

from __future__ import annotations

import click

from . import options
from .options import echo


@click.command()
@click.argument("model", required=False)
@options.model
def layers(model: str | None, **o) -> None:
    """List the layers of MODEL: class, output shape, maps and parameters."""
    from ..models.summary import summary

    echo(summary(options.load(model, o)).lines())


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="[MODEL] IMAGE")
@options.model
def check(paths: tuple[str, ...], **o) -> None:
    """Which input does MODEL expect? Its top prediction for IMAGE under each common convention."""
    from ..methods import conventions

    model_path, image_path = options.split_model_image(paths)
    echo(conventions.check(options.load(model_path, o), image_path).lines())


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="[MODEL] IMAGE")
@options.layer
@options.inputs
@click.option("--scale", type=click.Choice(["shared", "per-map"]), default="shared", show_default=True,
              help="One colour scale for all maps, or one per map.")  # fmt: skip
@click.option("--top", "top_k", type=click.IntRange(min=1), default=None, help="Also print the K most active maps.")
@options.output
@options.model
def activations(paths: tuple[str, ...], layer: str | None, scale: str, top_k: int | None, **o) -> None:
    """Show every map of a layer for one IMAGE, as a grid PNG."""
    from ..methods.activations import write_grid

    model_path, image_path = options.split_model_image(paths)
    loaded = options.load(model_path, o)
    with options.folder(o) as out:
        grid = write_grid(loaded, image_path, layer, options.resolved_input(loaded, o), out, scale)
    echo(grid.lines(top_k))
