"""Feature inversion: what a layer keeps of an image, layer by layer down a model.

For each chosen layer, an image starts from noise and is changed by
gradient descent until the layer's activations on it match those of the
original (the relative squared error ||A(x) - A(x0)||² / ||A(x0)||², with a
small total-variation term). Every layer is inverted in the same batch:
image i reads layer i. A first stage moves a Fourier spectrum (the default decay), a
second the pixels, without transforms (docs/method.md, "Feature
inversion"; the figures are in docs/results.md, "What a layer keeps"). The SSIM of the
reconstruction against the original, both as 8-bit PNGs, says how much of
the image the layer keeps; the activation error on the saved PNG says how
closely the optimizer matched the layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import defaults, models
from ..errors import FeatvizError
from ..files.output import OutputDir
from ..models import LayerInfo, depth, forward
from ..models.inputs import resolve_input
from ..patterns import layout
from ..pixels import grids, images
from ..pixels.preprocess import InputRange, as_preprocess
from ..runtime.progress import SILENT, Reporter
from ..synthesis import objectives, render
from ..synthesis.render import Recipe
from .activations import prepare_image

STEPS = defaults.INVERT_STEPS  # in all; the last PIXEL_SHARE move the pixels
PIXEL_SHARE = 0.2
TV = defaults.INVERT_TV  # weight of the total variation (mean absolute difference of neighbours, 0..1 units)
FOURIER_LR, PIXELS_LR = 0.05, 0.1
MAX_LAYERS = 8  # the default layers: at most this many, spread by depth


@dataclass(frozen=True)
class Options:
    input_range: InputRange | None = None  # None: what each model's own layers say, else 0..1
    steps: int = STEPS
    tv: float = TV
    precision: str = "auto"
    seed: int = 0


@dataclass
class Reconstruction:
    layer: LayerInfo
    depth: float  # relative depth: 0 the image, 1 the model's deepest maps (models/depth.py)
    image: np.ndarray  # (H, W, C) in 0..1, as saved (8-bit)
    ssim: float  # against the original, both 8-bit
    activation_error: float  # ||A(x) - A(x0)||² / ||A(x0)||² on the saved image, in float32


@dataclass
class Inversion:
    """One image inverted from several layers of one model."""

    model: str
    image: Path
    original: np.ndarray  # (H, W, C) in 0..1, as the model sees it (8-bit)
    layers: list[Reconstruction]
    written: list[Path] = field(default_factory=list)

    def record(self) -> list[dict]:
        return [
            {"layer": r.layer.name, "depth": round(r.depth, 4), "ssim": r.ssim,
             "activation_error": r.activation_error, "image": reconstruction_file(r.layer)}
            for r in self.layers
        ]  # fmt: skip

    def save(self, out: OutputDir, folder: str) -> list[Path]:
        """original.png, one PNG per layer, invert.png (the figure) and invert.json into out/folder."""
        write = lambda name, picture: out.write(f"{folder}/{name}", images.png_bytes(images.to_uint8(picture)))
        write("original.png", self.original)
        for r in self.layers:
            write(reconstruction_file(r.layer), r.image)
        png = out.write(f"{folder}/invert.png", grids.figure_png(figure([self]), dpi=90))
        self.written = [png, out.write_json(f"{folder}/invert.json", self.record())]
        return self.written

    def lines(self) -> list[str]:
        rows = [
            f"{r.layer.name}: depth {r.depth:.2f}, SSIM {r.ssim:.3f}, activation error {r.activation_error:.4f}"
            for r in self.layers
        ]
        return rows + [str(p) for p in self.written]


def reconstruction_file(layer: LayerInfo) -> str:
    return f"{layout.layer_stem(layer)}.png"


def default_layers(model, most: int = MAX_LAYERS) -> list[LayerInfo]:
    """The convolutions and merges by increasing depth, one per depth (the last to run: a residual sum over the
    convolution it adds), at most `most` of them spread evenly from the shallowest to the deepest."""
    depths = depth.weight_depths(model)
    by_depth = {depths.get(info.name, 0): info for info in models.feature_layers(model)}
    chosen = [by_depth[d] for d in sorted(by_depth)]
    if len(chosen) <= most:
        return chosen
    return [chosen[i] for i in sorted({round(i) for i in np.linspace(0, len(chosen) - 1, most)})]


def choose_layers(model, names: Sequence[str] | None) -> list[LayerInfo]:
    """The named layers (by name or index), or the default ones."""
    if not names:
        return default_layers(model)
    chosen = [models.resolve_layer(model, int(n) if n.strip().isdigit() else n.strip()) for n in names]
    if len({info.name for info in chosen}) < len(chosen):
        raise FeatvizError("--layers names a layer twice")
    return chosen


def reconstruct(
    model,
    layers: Sequence[str],
    pictures: np.ndarray,
    input_range: InputRange = (0.0, 1.0),
    options: Options = Options(),
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Image i rebuilt from noise out of the activations of layers[i] on pictures[i] ((N, H, W, C) in 0..1).

    Returns the reconstructions, (N, H, W, C) in 0..1.
    """
    targets = activations_of(model, layers, pictures, input_range)
    objective = objectives.match(layers, targets) - options.tv * objectives.total_variation()
    batch = render.Batch(tuple(range(len(layers))), pictures.shape[1:3], input_range)
    fine = round(options.steps * PIXEL_SHARE) if options.steps > 1 else 0
    recipe = Recipe(steps=options.steps - fine, param="fourier", colour=None, lr=FOURIER_LR, relax_steps=0,
                    polish_steps=0, transforms=_unchanged, precision=options.precision)  # fmt: skip
    found = render.render(model, objective, batch, recipe, seed=options.seed, progress=progress).images
    if fine == 0:
        return found
    recipe = replace(recipe, steps=fine, param="pixels", lr=PIXELS_LR)
    return render.render(model, objective, replace(batch, starts=found), recipe, progress=progress).images


def _unchanged(images, rng):
    return images


def activations_of(model, layers: Sequence[str], pictures: np.ndarray, input_range: InputRange) -> list[np.ndarray]:
    """The activations of layers[i] on pictures[i], in float32."""
    taps = forward.outputs(model, as_preprocess(input_range).to_model(pictures), set(layers))
    return [taps[name][i] for i, name in enumerate(layers)]


def activation_errors(model, layers: Sequence[str], found: np.ndarray, targets, input_range) -> list[float]:
    """||A(x) - T||² / ||T||² for each image x of `found` and its layer's target."""
    now = activations_of(model, layers, found, input_range)
    return [float(np.sum((a - t) ** 2) / max(float(np.sum(t**2)), 1e-12)) for a, t in zip(now, targets)]


def ssim(original: np.ndarray, found: np.ndarray) -> float:
    """Structural similarity of two images in 0..1 as 8-bit pictures (grey, or RGB over the channel axis)."""
    from skimage.metrics import structural_similarity

    a, b = images.to_uint8(original), images.to_uint8(found)
    if a.shape[-1] == 1:
        return float(structural_similarity(a[..., 0], b[..., 0], data_range=255))
    return float(structural_similarity(a, b, channel_axis=-1, data_range=255))


def invert(
    loaded: models.LoadedModel,
    image: str | Path,
    layers: Sequence[str] | None = None,
    options: Options = Options(),
    reporter: Reporter = SILENT,
) -> Inversion:
    """IMAGE rebuilt from each layer's activations (default: default_layers), with SSIM and activation error."""
    model = loaded.model
    chosen = choose_layers(model, layers)
    input_range = resolve_input(model, options.input_range)
    original = images.from_uint8(images.to_uint8(prepare_image(model, image, (0.0, 1.0))))
    names = [info.name for info in chosen]
    pictures = np.repeat(original[None], len(names), axis=0)
    label = f"{loaded.name}: inverting {len(names)} layers"
    with reporter.stage(label, len(names) * options.steps) as progress:
        found = reconstruct(model, names, pictures, input_range, options, progress)
    saved = images.from_uint8(images.to_uint8(found))
    errors = activation_errors(model, names, saved, activations_of(model, names, pictures, input_range), input_range)
    found_at = zip(chosen, depth.relative_depths(model, chosen), saved, errors)
    rows = [Reconstruction(info, d, x, ssim(original, x), e) for info, d, x, e in found_at]
    return Inversion(loaded.name, Path(image), original, rows)


def invert_image(
    loaded: models.LoadedModel,
    image: str | Path,
    layers: Sequence[str] | None,
    options: Options,
    out: OutputDir,
    reporter: Reporter = SILENT,
) -> Inversion:
    """`invert`, saved into invert-<image>-<model>/ in `out` (layout.inversion_dir)."""
    found = invert(loaded, image, layers, options, reporter)
    found.save(out, layout.inversion_dir(Path(image), loaded.sha256))
    return found


TILE_INCHES = 1.25


def figure(inversions: Sequence[Inversion]):
    """One row per inversion: the original, then the reconstruction from each layer by depth, with its SSIM and
    activation error under it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    cols = 1 + max(len(inv.layers) for inv in inversions)
    fig = Figure(figsize=(TILE_INCHES * cols, (TILE_INCHES + 0.75) * len(inversions)), dpi=100, layout="constrained")
    axes = fig.subplots(len(inversions), cols, squeeze=False)
    for row, inv in zip(axes, inversions):
        _tile(row[0], inv.original, "original", inv.image.name)
        row[0].set_ylabel(inv.model, fontsize=8)
        for ax, r in zip(row[1:], inv.layers):
            _tile(ax, r.image, f"{r.layer.name}\ndepth {r.depth:.2f}",
                  f"SSIM {r.ssim:.2f}\nerror {r.activation_error:.3f}")  # fmt: skip
        for ax in row[1 + len(inv.layers) :]:
            ax.set_axis_off()
    return fig


def _tile(ax, picture: np.ndarray, title: str, caption: str) -> None:
    shown = picture[..., 0] if picture.shape[-1] == 1 else picture
    ax.imshow(shown, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.set_xlabel(caption, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
