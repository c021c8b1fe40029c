"""A pattern for a direction in a layer's channel space (lucid's "direction" objective).

A linear probe's weights, or the difference of two classes' mean
activations, saved as a .npy vector with one value per map: the pattern is
the image whose activations point furthest along it. Its ratio is measured
against the natural images, exactly as a map's.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import models
from ..errors import FeatvizError
from ..files.output import OutputDir
from ..natural.datasets import Dataset
from ..patterns import layout
from ..patterns.request import PatternRequest
from ..pixels import display, images
from ..runtime import _tf
from ..synthesis import objectives, render


@dataclass
class DirectionPattern(display.Described):
    layer: str
    direction: str  # the file it came from
    png: Path
    record: Path
    value: float
    best_natural: float | None
    ratio: float | None

    def lines(self) -> list[str]:
        ratio = "not scored" if self.ratio is None else f"ratio {self.ratio:.2f}"
        return [
            f"{self.layer} along {self.direction}: value {self.value:.4g}; {ratio}",
            str(self.png),
            str(self.record),
        ]

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.lines()[0])}</p>{display.img(self.png.read_bytes(), 4 * display.TILE_PX)}"


def load_vector(path: str | Path, maps: int) -> np.ndarray:
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise FeatvizError(f"{path}: not a readable .npy vector ({e})") from None
    vector = np.asarray(vector, np.float32).ravel()
    if vector.shape != (maps,) or not np.isfinite(vector).all():
        raise FeatvizError(f"{path}: a direction needs {maps} finite values, one per map; it has {vector.size}")
    return vector


def render_direction(
    loaded: models.LoadedModel, request: PatternRequest, vector: np.ndarray, out: OutputDir, dataset: Dataset | None
) -> DirectionPattern:
    """Synthesize, save, read back and score the pattern of one direction."""
    objective = objectives.direction(request.layer.name, vector, request.kind)
    batch = render.Batch((0,), request.canvas, request.input_range)
    found = render.render(loaded.model, objective, batch, request.recipe, seed=request.seed).images[0]
    digest = hashlib.sha256(vector.tobytes()).hexdigest()[:8]
    folder = f"{layout.layer_dir(request.layer)}/direction-{digest}-seed-{request.seed}"
    png = out.write(f"{folder}/pattern.png", images.png_bytes(images.to_uint8(found)))
    read = images.load_image(png, channels=found.shape[-1])
    value = float(_values(loaded.model, objective, images.to_range(read[None], request.input_range))[0])
    best = None if dataset is None else _best(loaded.model, objective, dataset, request)
    ratio = value / best if best is not None and best > 0 else None
    record = {
        "layer": request.layer.name,
        "direction_sha256": hashlib.sha256(vector.tobytes()).hexdigest(),
        "settings": request.settings(loaded.sha256),
        "value": value,
        "best_natural": best,
        "ratio": ratio,
    }
    path = out.write_json(f"{folder}/direction.json", record)
    return DirectionPattern(request.layer.name, "a vector", png, path, value, best, ratio)


def render_file(
    loaded: models.LoadedModel, request: PatternRequest, path: str | Path, out: OutputDir, dataset: Dataset | None
) -> DirectionPattern:
    """The pattern along the direction saved in `path` (.npy, one weight per map)."""
    found = render_direction(loaded, request, load_vector(path, request.layer.units), out, dataset)
    return replace(found, direction=Path(path).name)


def _values(model, objective, inputs: np.ndarray) -> np.ndarray:
    _, taps = models.run_graph(
        model, _tf.tf().constant(inputs), objective.layers, models.graph.logits_of(objective.layers), stop=True
    )
    return np.asarray(objective(taps, None))


def _best(model, objective, dataset: Dataset, request: PatternRequest) -> float:
    best = -np.inf
    for _, batch in dataset.batches(models.input_shape(model), 64):
        best = max(best, float(_values(model, objective, images.to_range(batch, request.input_range)).max()))
    return best
