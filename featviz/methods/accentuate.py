"""Feature accentuation (Hamblin et al. 2024): change a natural image as little as possible until a map responds.

Where a pattern starts from noise, an accentuation starts from a real
image: the one a user asks about, or a map's top exemplar. Each map gets
its own copy, optimized in the Fourier parameterization initialized at the
image, so the changes are smooth (1/f) rather than pixel noise. The
objective is the map's mean activation, relative to the strongest map's on
the seed image, minus `strength` times the mean squared change of the
pixels. No random transforms are applied: the distance is measured on the
very image that is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import models
from ..evaluation import scoring
from ..files.output import OutputDir
from ..patterns import layout, parse_maps
from ..pixels import grids, images
from ..pixels.display import Shown
from ..pixels.preprocess import InputRange, as_preprocess
from ..runtime.progress import SILENT, Reporter
from ..synthesis import objectives, render
from ..synthesis.objectives import Objective
from ..synthesis.render import Recipe
from .activations import prepare_image

STEPS = 128
STRENGTH = 100.0  # weight of the mean squared pixel change; the activation is relative to the seed's strongest map


@dataclass
class Accentuation(Shown):
    maps: list[int]
    seeds: np.ndarray  # (maps, H, W, C) in 0..1: the image each map started from
    images: np.ndarray  # (maps, H, W, C): the accentuated images, as saved (8-bit, read back)
    before: np.ndarray  # (maps,) each map's mean activation on the seed image
    after: np.ndarray  # (maps,) on its accentuated image
    distance: np.ndarray  # (maps,) root-mean-square pixel change, in 0..1 units
    grid: Path | None = None  # grid.png, once saved
    title: str = ""  # the grid's, once saved

    def record(self) -> dict:
        return {"maps": [
            {"map": m, "before": float(b), "after": float(a), "rms_change": float(d)}
            for m, b, a, d in zip(self.maps, self.before, self.after, self.distance)
        ]}  # fmt: skip

    def figure(self, title: str = ""):
        """The original first (or each map's own beside it), then each map's accentuation."""
        shared = bool((self.seeds == self.seeds[:1]).all())
        tiles = np.concatenate([self.seeds[:1], self.images])
        labels = ["original"] + [f"map {m} {b:.3g}→{a:.3g}" for m, b, a in zip(self.maps, self.before, self.after)]
        if not shared:  # each map's own original beside its accentuation
            tiles = np.stack([self.seeds, self.images], axis=1).reshape(-1, *self.images.shape[1:])
            labels = [t for m, b, a in zip(self.maps, self.before, self.after) for t in (f"{m}", f"{b:.3g}→{a:.3g}")]
        grey = tiles[..., 0] if tiles.shape[-1] == 1 else tiles
        return grids.tile_figure(grey, labels, title=title or self.title, scale=grids.GREY_UNIT)

    def save(self, out: OutputDir, folder: str, title: str) -> Path:
        """map-NNNN.png per map, grid.png and accentuation.json into out/folder.

        Returns the grid's path, which `lines` then names.
        """
        self.title = title
        files = {layout.map_file(m): image for m, image in zip(self.maps, self.images)}
        self.grid = grids.write_tile_set(out, folder, files, self.figure(), ("accentuation.json", self.record()))
        return self.grid

    def lines(self) -> list[str]:
        found = [
            f"map {m}: {b:.4g} -> {a:.4g}, RMS change {d:.3f}"
            for m, b, a, d in zip(self.maps, self.before, self.after, self.distance)
        ]
        return found + ([str(self.grid)] if self.grid is not None else [])


def change_penalty(seed: np.ndarray) -> Objective:
    """The mean squared difference of each image from its seed ((H, W, C) for all, or (N, H, W, C)), 0..1 units."""

    def fn(taps, pictures, at):
        from ..runtime import _tf

        tf = _tf.tf()
        wanted = tf.constant(seed, pictures.dtype) if seed.ndim == 3 else objectives.per_image(seed, at, seed.dtype)
        return tf.reduce_mean(tf.square(pictures - tf.cast(wanted, pictures.dtype)), axis=[1, 2, 3])

    return objectives.each_image(fn, name="change from the seed image")


@dataclass(frozen=True)
class Options:
    input_range: InputRange = (0.0, 1.0)  # what the model takes
    strength: float = STRENGTH
    steps: int = STEPS


def accentuate(
    model,
    layer: str,
    maps: Sequence[int],
    seed: np.ndarray,
    options: Options = Options(),
    progress: Callable[[int], None] | None = None,
) -> Accentuation:
    """Accentuate each of `maps` of `layer` in the image `seed`: one (H, W, C) for all, or one per map, in 0..1."""
    maps, (input_range, strength, steps) = list(maps), (options.input_range, options.strength, options.steps)
    to_model = as_preprocess(input_range).to_model
    seeds = np.repeat(seed[None], len(maps), axis=0) if seed.ndim == 3 else np.asarray(seed, np.float32)
    start = scoring.responses(model, layer, maps, to_model(seeds), "mean")
    strongest = max(float(np.abs(start).max()), 1e-6)
    objective = (1.0 / strongest) * objectives.channel(layer, maps) - strength * change_penalty(seeds)
    recipe = Recipe(steps=steps, param="fourier", colour=None, relax_steps=steps // 4, polish_steps=0,
                    transforms=_unchanged)  # fmt: skip
    batch = render.Batch(tuple(maps), seeds.shape[1:3], input_range, seeds)
    found = render.render(model, objective, batch, recipe, progress=progress).images
    saved = images.from_uint8(images.to_uint8(found, (0.0, 1.0)), (0.0, 1.0))
    after = np.diagonal(scoring.responses(model, layer, maps, to_model(saved), "mean"))
    distance = np.sqrt(np.mean((saved - seeds) ** 2, axis=(1, 2, 3)))
    return Accentuation(maps, seeds, saved, np.diagonal(start).copy(), after, distance)


def _unchanged(images, rng):
    return images


@dataclass(frozen=True)
class Asked:
    """What `featviz accentuate` is asked: which image, layer and maps ("0-5,17")."""

    image: str | Path
    layer: str | int | None
    maps: str


def accentuate_image(
    loaded: models.LoadedModel, asked: Asked, options: Options, out: OutputDir, reporter: Reporter = SILENT
) -> Accentuation:
    """Each asked map's accentuation of the image, saved into accentuate-<image>-<layer>/ in `out`."""
    info = models.resolve_layer(loaded.model, asked.layer)
    maps = parse_maps(asked.maps, info.maps)
    seed = prepare_image(loaded.model, asked.image, (0.0, 1.0))
    with reporter.stage(f"{info.name}: accentuating {len(maps)} maps", len(maps) * options.steps) as progress:
        found = accentuate(loaded.model, info.name, maps, seed, options, progress)
    name = Path(asked.image).name
    title = f"{loaded.name} · {info.name}: {name} accentuated (strength {options.strength:g}, {options.steps} steps)"
    found.save(out, layout.accentuation_dir(Path(asked.image), info), title)
    return found
