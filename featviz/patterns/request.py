"""What a layer's patterns are asked for: the layer, canvas, objective, recipe and seed, checked against the model.

A `PatternRequest` with the model file's sha256 gives the settings that
decide every pixel (`settings`): the key under which a folder's manifest
is reused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from .. import defaults, models
from ..errors import FeatvizError
from ..models import LayerInfo
from ..models.head import is_class_layer
from ..natural.datasets import Dataset
from ..pixels.preprocess import InputRange, as_preprocess
from ..synthesis import colour, render
from ..synthesis.objectives import parse_kind
from ..synthesis.render import Recipe


@dataclass(frozen=True)
class PatternRequest:
    """Which layer, on what canvas, with which objective, recipe and seed."""

    layer: LayerInfo
    canvas: tuple[int, int]
    kind: str = defaults.OBJECTIVE
    input_range: InputRange = (0.0, 1.0)
    recipe: Recipe = Recipe()
    seed: int = 0

    def settings(self, model_sha256: str) -> dict:
        """Everything that decides the pixels, as requested: the manifest's reuse key.

        In the form JSON reads back (lists, not tuples), so that it equals the saved manifest's.
        """
        settings = {
            "numerics": render.NUMERICS,
            "model_sha256": model_sha256,
            "layer": self.layer.name,
            "objective": self.kind,
            "size": list(self.canvas),
            "input_range": as_preprocess(self.input_range).record(),
            "seed": self.seed,
            "recipe": recipe_record(self.recipe),
        }
        return json.loads(json.dumps(settings))


def recipe_record(recipe: Recipe) -> dict:
    """The recipe as JSON, as requested ("auto" stays "auto"; lr is resolved; no colour key for grey images)."""
    record = {k: v for k, v in asdict(recipe).items() if k != "transforms"}
    record["lr"] = recipe.learning_rate
    record["transforms"] = "default" if recipe.transforms is None else "custom"
    if record["colour"] is None:
        del record["colour"]
    record["spectrum"] = recipe.spectrum.digest if recipe.spectrum is not None else None
    if record["spectrum"] is None:
        del record["spectrum"]
    return record


def recipe_for(
    model, recipe: Recipe, dataset: Dataset | None, canvas: tuple[int, int], layer: LayerInfo | None = None
) -> Recipe:
    """The recipe as this model's images need it.

    - A class layer's patterns use defaults.CLASS_PARAM (Fourier: its class patterns transfer better), unless
      a parameterization was asked for;
    - otherwise the parameterization is chosen by the image's channels;
    - for an RGB model asked for colour="dataset", the colour basis is measured on `dataset` (plain RGB
      without one); for "maco", the dataset's amplitude spectrum (1/f without one).
    """
    channels = models.image_channels(model)
    if layer is not None and recipe.param is None and is_class_layer(model, layer):
        recipe = replace(recipe, param=defaults.CLASS_PARAM)
    recipe = recipe.for_channels(channels)
    needed = recipe.param == "maco" or recipe.colour == "dataset"
    images = dataset.spread(colour.SAMPLE_IMAGES, (*canvas, channels)) if needed and dataset is not None else None
    if recipe.param == "maco" and images is not None:
        recipe = replace(recipe, spectrum=colour.Spectrum.of(images))
    if recipe.colour != "dataset":
        return recipe
    return replace(recipe, colour=None if images is None else colour.ColourBasis.of(images))


def parse_maps(spec: str | None, count: int, labels: Sequence[str] | None = None) -> list[int]:
    """'0-5,17' -> [0, 1, 2, 3, 4, 5, 17]; None -> every map; with labels, 'cat,dog' -> their indices."""
    if spec is None:
        return list(range(count))
    chosen: list[int] = []
    for part in spec.split(","):
        if labels and part.strip() in labels:
            chosen.append(list(labels).index(part.strip()))
            continue
        lo, _, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise FeatvizError(f"--maps {spec!r}: use indices and ranges like 0-5,17") from None
        if not (0 <= first <= last < count):
            raise FeatvizError(f"--maps {spec!r}: map indices must lie in 0..{count - 1}")
        chosen.extend(i for i in range(first, last + 1) if i not in chosen)
    return chosen


def unit_kind(at: str, layer: LayerInfo) -> str:
    """The objective "at:Y,X" for the unit at Y,X of each map, checked against the layer's maps."""
    try:
        y, x = parse_kind(f"at:{at}")
    except ValueError:
        raise FeatvizError(f"--at {at!r}: use a position Y,X like 1,2") from None
    if not layer.spatial or y >= layer.output_shape[0] or x >= layer.output_shape[1]:
        raise FeatvizError(f"--at {at!r}: layer {layer.name!r} has maps of {layer.output_shape[:2]}, no unit there")
    return f"at:{y},{x}"


def canvas_for(model, layer: LayerInfo, size: int | None) -> tuple[int, int]:
    """The canvas (height, width): the model's input size, or size x size when the prefix allows it."""
    native = models.input_shape(model)[:2]
    if size is None:
        if None in native:
            raise FeatvizError("the model accepts any image size; choose one with --size")
        return tuple(native)
    if (size, size) == tuple(native) or _fits(model, layer, size):
        return size, size
    bigger = max(2 * size, *(n or 0 for n in native))
    if not _fits(model, layer, bigger):
        raise FeatvizError(
            f"--size {size}: the layers before {layer.name!r} need the model's own input size "
            f"{'x'.join(map(str, native))}; only a convolutional prefix accepts other sizes"
        )
    raise FeatvizError(
        f"--size {size} is too small for layer {layer.name!r}: "
        f"it needs at least {_smallest(model, layer, size, bigger)}"
    )


def _fits(model, layer: LayerInfo, size: int) -> bool:
    try:
        net = models.extractor(model, [layer.name], canvas=(size, size))
    except (FeatvizError, ValueError):
        return False
    return all(d is not None and d >= 1 for d in net.outputs[0].shape[1:3])


def _smallest(model, layer: LayerInfo, lo: int, hi: int) -> int:
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _fits(model, layer, mid) else (mid, hi)
    return hi
