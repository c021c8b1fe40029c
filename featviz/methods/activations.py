"""Feed one image through a model and take the maps of one layer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import defaults, models
from ..files.output import OutputDir
from ..models import LayerInfo
from ..patterns import layout
from ..pixels import grids, images
from ..pixels.display import Shown
from ..pixels.preprocess import InputRange
from ..runtime import stable


@dataclass
class Activations(Shown):
    layer: LayerInfo
    image: np.ndarray  # the model input (H, W, C), in the input range
    maps: np.ndarray  # (h, w, maps)
    output: np.ndarray | None  # the model's output vector, when it has one
    model_name: str = ""  # shown in the figure's title

    def figure(self, scale: str = "shared"):
        """The grid of every map (module function `figure`)."""
        return figure(self, scale=scale, model_name=self.model_name)

    def lines(self) -> list[str]:
        h, w, n = self.maps.shape
        return [f"{self.layer.name}: {n} maps of {h}x{w}; {describe_predictions(self.predictions())}"]

    def top(self, k: int | None) -> list[tuple[int, float]]:
        """The k maps with the highest mean activation (all, for None): [(map, mean), ...]."""
        means = self.maps.mean(axis=(0, 1))
        order = stable.descending(means)[:k]
        return [(int(i), float(means[i])) for i in order]

    def predictions(self, k: int = 3) -> list[tuple[int, float]]:
        return top_outputs(self.output, k)


def top_outputs(output: np.ndarray | None, k: int) -> list[tuple[int, float]]:
    """The k largest entries of an output vector: [(class, value), ...]; [] if it is not a vector."""
    if output is None or output.ndim != 1:
        return []
    order = stable.descending(output)[:k]
    return [(int(i), float(output[i])) for i in order]


def prepare_image(model, image: str | Path | np.ndarray, input_range: InputRange = (0.0, 1.0)) -> np.ndarray:
    """A path is read and converted for the model; an array is used as it is."""
    if isinstance(image, np.ndarray):
        return image.astype(np.float32)
    shape = models.input_shape(model)
    return images.load_image(image, channels=models.image_channels(model), size=shape[:2], input_range=input_range)


def extract(
    model, image: str | Path | np.ndarray, layer: str | int | None = None, input_range: InputRange = (0.0, 1.0)
) -> Activations:
    """The maps of `layer` (default: the innermost with spatial maps) for one image."""
    info = models.resolve_layer(model, layer)
    x = prepare_image(model, image, input_range)
    net = models.extractor(model, [info.name], with_output=True)
    maps, output = net(x[None], training=False)
    output = np.asarray(output)[0]
    return Activations(info, x, np.asarray(maps)[0], output if output.ndim == 1 else None)


def predict(
    model, image: str | Path | np.ndarray, input_range: InputRange = (0.0, 1.0), k: int = 3
) -> list[tuple[int, float]]:
    """The model's top-k outputs for one image: [(class, value), ...]; [] if the output is not a vector."""
    x = prepare_image(model, image, input_range)
    return top_outputs(np.asarray(model(x[None], training=False))[0], k)


def describe_predictions(preds: list[tuple[int, float]], names: list[str] | None = None) -> str:
    """'predicts 6 (99.1%), 8 (0.5%)' (or 'cat (99.1%)' with class names), or 'has no class output'."""
    if not preds:
        return defaults.NO_CLASS_OUTPUT
    probabilities = all(0.0 <= p <= 1.0 for _, p in preds)
    label = lambda c: names[c] if names and c < len(names) else str(c)
    parts = [f"{label(c)} ({p:.1%})" if probabilities else f"{label(c)} ({p:.3g})" for c, p in preds]
    return "predicts " + ", ".join(parts)


def figure(acts: Activations, *, scale: str = "shared", model_name: str = ""):
    """The grid of every map, one shared colour scale (or per map), predictions in the title."""
    tiles = np.moveaxis(acts.maps, -1, 0)
    h, w, n = acts.maps.shape
    head = f"{model_name} · " if model_name else ""
    title = f"{head}{acts.layer.name}: {n} maps of {h}x{w}"
    preds = acts.predictions()
    if preds:
        title += f" · {describe_predictions(preds)}"
    labels = [str(i) for i in range(n)]
    if scale == "per-map":
        per_map = grids.Scale(vmin=0.0, vmax=1.0, colorbar="each map scaled to its own min..max")
        return grids.tile_figure(grids.per_map_scaled(tiles), labels, title=title, scale=per_map)
    vmax = float(tiles.max()) if tiles.size and tiles.max() > tiles.min() else float(tiles.min()) + 1.0
    shared = grids.Scale(vmin=float(min(0.0, tiles.min())), vmax=vmax, colorbar="activation")
    return grids.tile_figure(tiles, labels, title=title, scale=shared)


@dataclass
class ActivationsGrid(Shown):
    """What `featviz activations` made: the maps, and the grid PNG written."""

    acts: Activations
    path: Path
    scale: str = "shared"

    def figure(self):
        return self.acts.figure(self.scale)

    def lines(self, top_k: int | None = None) -> list[str]:
        ranked = [f"{rank:>3}. map {m:<5} mean {mean:.4f}" for rank, (m, mean) in enumerate(self.acts.top(top_k), 1)]
        return (ranked if top_k else []) + [str(self.path)]


def write_grid(
    loaded: models.LoadedModel, image: str | Path, layer: str | int | None, input_range: InputRange, out: OutputDir,
    scale: str = "shared",
) -> ActivationsGrid:  # fmt: skip
    """Every map of `layer` for one image, as a grid PNG in `out` (one colour scale, or one per map)."""
    acts = replace(extract(loaded.model, image, layer, input_range), model_name=loaded.name)
    png = grids.figure_png(acts.figure(scale))
    return ActivationsGrid(acts, out.write(layout.activations(Path(image), acts.layer), png), scale)
