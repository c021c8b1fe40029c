"""Where every file of an output folder goes, and the relative links between them.

    index.html, style.css                       the gallery's front page
    activations-<image>-<layer>.png             `featviz activations`
    layers/<layer>/seed-<S>/map-NNNN.png        one layer's patterns for one seed,
    layers/<layer>/seed-<S>/manifest.json       with their scores (manifest.py)
    layers/<layer>/seed-<S>/grid.png            and a grid of them all (seed-<S>-<objective> for
                                                --objective center or --at Y,X)
    layers/<layer>/index.html                   the layer page
    layers/<layer>/maps/NNNN.html               a map page
    layers/<layer>/{thumb,top,seeds}/map-NNNN.png, acts/<image>.png, kernels.png
    layers/<layer>/weights/map-NNNN-from-<layer>-MMMM.png   a kernel slice into map NNNN
    layers/<layer>/atlas/{atlas.png,atlas.json,index.html}   `featviz atlas`, the layer's activation atlas
    explain/<image>.html, explain/<image>.png   what a sample image drives
    compare/index.html, compare/<image>-<models>/{index.html,compare.png}
    invert-<image>-<model>/{original.png,<layer>.png,invert.png,invert.json}    `featviz invert`
    compare/invert-<image>-<models>/{index.html,compare.png,ssim.png}           `featviz compare --invert`

Layer and image names are user data: a folder is named by an index, a slug
and a short hash (`04-conv3-dee0c6`), never by the raw name. Paths here are
POSIX paths relative to the output folder.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence
from pathlib import Path

from ..files.output import short_hash, slug
from ..models import LayerInfo

INDEX = "index.html"
STYLE = "style.css"
MANIFEST = "manifest.json"
GRID = "grid.png"
COMPARE_INDEX = "compare/index.html"
CLASSES = "classes/index.html"


def layer_stem(layer: LayerInfo) -> str:
    """`04-conv3-dee0c6`: the layer's index, a slug and a hash of its name."""
    return f"{layer.index:02d}-{slug(layer.name)}-{short_hash(layer.name)}"


def layer_dir(layer: LayerInfo) -> str:
    return f"layers/{layer_stem(layer)}"


def map_file(m: int) -> str:
    return f"map-{m:04d}.png"


def pattern_dir(layer: LayerInfo, seed: int, kind: str = "mean") -> str:
    """seed-S for the default objective (the map's mean); seed-S-<objective> for the others."""
    return f"{layer_dir(layer)}/seed-{seed}" + ("" if kind == "mean" else f"-{slug(kind)}")


def atlas_dir(layer: LayerInfo) -> str:
    """The layer's activation atlas: atlas.png, atlas.json and its page, index.html."""
    return f"{layer_dir(layer)}/atlas"


def atlas_page(layer: LayerInfo) -> str:
    return f"{atlas_dir(layer)}/{INDEX}"


def layer_page(layer: LayerInfo) -> str:
    return f"{layer_dir(layer)}/{INDEX}"


def map_page(layer: LayerInfo, m: int) -> str:
    return f"{layer_dir(layer)}/maps/{m:04d}.html"


def map_picture(layer: LayerInfo, kind: str, m: int) -> str:
    """A per-map picture: kind is 'thumb' (the pattern), 'top' (exemplars), 'seeds', 'negative', 'accentuated'
    or 'diverse'."""
    return f"{layer_dir(layer)}/{kind}/{map_file(m)}"


def weight_slice(layer: LayerInfo, m: int, source: str, i: int) -> str:
    """The kernel slice from map i of the layer whose stem is `source` into map m (report/built_from.py)."""
    return f"{layer_dir(layer)}/weights/map-{m:04d}-from-{source}-{i:04d}.png"


def kernels(layer: LayerInfo) -> str:
    return f"{layer_dir(layer)}/kernels.png"


def image_stem(image: Path) -> str:
    """A sample image's name in the site: its slug and a hash of its bytes, the same wherever it lies."""
    return f"{slug(image.stem)}-{hashlib.sha256(image.read_bytes()).hexdigest()[:6]}"


def sample_activations(layer: LayerInfo, image: Path) -> str:
    return f"{layer_dir(layer)}/acts/{image_stem(image)}.png"


def explain(image: Path, suffix: str) -> str:
    """explain/<image>.html or .png."""
    return f"explain/{image_stem(image)}.{suffix}"


def activations(image: Path, layer: LayerInfo) -> str:
    return f"activations-{slug(image.stem)}-{layer_stem(layer)}.png"


def accentuation_dir(image: Path, layer: LayerInfo) -> str:
    """accentuate-<image>-<layer>/: map-NNNN.png per map, grid.png and accentuation.json."""
    return f"accentuate-{slug(image.stem)}-{layer_stem(layer)}"


def compare_dir(image: Path, model_hashes: Sequence[str]) -> str:
    return f"compare/{slug(image.stem)}-{short_hash('|'.join(model_hashes))}"


def invert_compare_dir(image: Path, model_hashes: Sequence[str]) -> str:
    return f"compare/invert-{slug(image.stem)}-{short_hash('|'.join(model_hashes))}"


def link(page: str, target: str) -> str:
    """The relative link from the file `page` to the file `target`."""
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


def inversion_dir(image: Path, model_sha256: str) -> str:
    """invert-<image>-<model>/: original.png, a PNG per layer, invert.png and invert.json."""
    return f"invert-{slug(image.stem)}-{model_sha256[:6]}"
