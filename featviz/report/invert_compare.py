"""Feature inversion through several models side by side: what each keeps of one image, by depth.

Each model's layers (methods/inversion.py's default layers) are inverted
from noise; one PNG holds every model's row of reconstructions, another the
SSIM against the original by relative depth, one line per model. This is
how a plain network and a ResNet are compared on what their layers keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..files.output import OutputDir
from ..methods import inversion
from ..methods.inversion import Inversion
from ..patterns import layout
from ..pixels import grids
from ..runtime.progress import SILENT, Reporter
from . import html
from .compare import write_listing


def depth_plot(inversions: Sequence[Inversion]):
    """SSIM against the original by relative depth (0: the image, 1: the deepest maps), one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    for inv in inversions:
        ax.plot([r.depth for r in inv.layers], [r.ssim for r in inv.layers], marker="o", label=inv.model)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(min(0.0, *(r.ssim for inv in inversions for r in inv.layers)), 1.02)
    ax.set_xlabel("relative depth (convolutions from the input / the deepest maps')")
    ax.set_ylabel("SSIM of the reconstruction")
    ax.set_title(f"{inversions[0].image.name}: what each layer keeps", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write(inversions: Sequence[Inversion], loaded: Sequence[models.LoadedModel], out: OutputDir) -> list[Path]:
    """compare/invert-<image>-<models>/: compare.png, ssim.png and index.html with the table; the listing."""
    name = inversions[0].image.name
    folder = layout.invert_compare_dir(inversions[0].image, [m.sha256 for m in loaded])
    png = out.write(f"{folder}/compare.png", grids.figure_png(inversion.figure(inversions), dpi=90))
    plot = out.write(f"{folder}/ssim.png", grids.figure_png(depth_plot(inversions), dpi=90))
    rows = [
        (inv.model, r.layer.name, f"{r.depth:.2f}", f"{r.ssim:.3f}", f"{r.activation_error:.4f}")
        for inv in inversions
        for r in inv.layers
    ]
    body = (
        f'<p class="muted">{html.esc(name)} rebuilt from noise out of each layer\'s activations, in '
        f"{len(inversions)} models: the SSIM against the original says how much of the image a layer keeps, "
        "the activation error how closely the reconstruction matches the layer.</p>"
        + html.image("compare.png", "reconstructions by depth")
        + html.image("ssim.png", "SSIM by relative depth")
        + html.table(["model", "layer", "relative depth", "SSIM", "activation error"], rows)
    )
    page = f"{folder}/{layout.INDEX}"
    nav = [("gallery", layout.INDEX), ("comparisons", layout.COMPARE_INDEX)]
    page_path = out.write(page, html.page(f"Inversion by depth: {name}", body, page, nav).encode())
    return [png, plot, page_path, write_listing(out)]


@dataclass
class InversionsCompared:
    """What `featviz compare --invert` made: each model's inversion by depth, and the files written."""

    inversions: list[Inversion]
    written: list[Path]

    def lines(self) -> list[str]:
        rows = [
            f"{inv.model}: SSIM by depth " + ", ".join(f"{r.depth:.2f}: {r.ssim:.3f}" for r in inv.layers)
            for inv in self.inversions
        ]
        return rows + [str(p) for p in self.written]


def run(
    loaded: Sequence[models.LoadedModel],
    image: str | Path,
    options: inversion.Options | None = None,
    out: OutputDir | None = None,
    reporter: Reporter = SILENT,
) -> InversionsCompared:
    """Every model's default layers inverted for `image`; with `out`, the PNGs and the page written there."""
    found = [inversion.invert(one, image, None, options or inversion.Options(), reporter) for one in loaded]
    return InversionsCompared(found, write(found, loaded, out) if out is not None else [])
