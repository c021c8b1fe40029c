"""Natural images: load a dataset, and scan it once for every map's statistics.

The scan is one batched pass that collects the statistics of all requested
layers at once: per map the best objective value (behind the ratio), the
mean, how often the map fires, and its top-k images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import bundled, defaults, images, models
from .errors import FeatvizError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Dataset:
    x: np.ndarray  # (N, H, W, C) in 0..1
    y: np.ndarray | None
    source: str

    def record(self) -> dict:
        """Which images these are, for a manifest: name, count and a sha256 of the pixels."""
        digest = hashlib.sha256(np.ascontiguousarray(self.x).tobytes()).hexdigest()
        return {"name": self.source, "images": len(self.x), "sha256": digest}


@dataclass
class LayerStats:
    best: np.ndarray  # (maps,) highest objective over the dataset
    mean: np.ndarray  # (maps,) mean objective
    fires: np.ndarray  # (maps,) fraction of images where any unit of the map is > 0
    top: np.ndarray  # (maps, k) dataset indices, best first
    top_values: np.ndarray  # (maps, k)

    @property
    def dead(self) -> np.ndarray:
        """Maps that no natural image drives above zero."""
        return ~(self.best > 0)


def load_dataset(path: str | Path | None = None) -> Dataset:
    """An npz with `x` (and maybe `y`), a folder of images, or the bundled exemplars."""
    p = bundled.path(bundled.EXEMPLARS) if path is None else Path(path)
    if p.is_dir():
        return _load_folder(p)
    if not p.is_file():
        raise FeatvizError(f"{p}: no such dataset (an .npz with x, or a folder of images)")
    try:
        with np.load(p, allow_pickle=False) as f:
            if "x" not in f:
                raise FeatvizError(f"{p}: the npz has no array named x (it has {', '.join(f.files) or 'none'})")
            x, y = f["x"], (f["y"] if "y" in f else None)
    except FeatvizError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise FeatvizError(f"{p}: not a readable .npz dataset ({e})") from None
    return Dataset(_to_unit_range(x, p), y, p.name if path is not None else "bundled MNIST exemplars")


def _to_unit_range(x: np.ndarray, p: Path) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or len(x) == 0:
        raise FeatvizError(f"{p}: x must be images (N, H, W[, C]), not shape {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if x.dtype == np.uint16:
        return x.astype(np.float32) / images.MAX_16BIT
    x = x.astype(np.float32)
    return x / 255.0 if x.max() > 1.0 else x


def _load_folder(p: Path) -> Dataset:
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        raise FeatvizError(f"{p}: the folder holds no images")
    arrays = [images.to_float(images.open_image(f)) for f in files]
    shape = arrays[0].shape[:2]
    arrays = [images.resize(a, shape) for a in arrays]
    channels = max(a.shape[-1] for a in arrays)
    return Dataset(np.stack([images.match_channels(a, channels) for a in arrays]), None, p.name)


def model_inputs(model, dataset: Dataset, input_range=(0.0, 1.0)) -> np.ndarray:
    """The dataset converted to the model's channels, size and input range."""
    shape = models.input_shape(model)
    channels = models.image_channels(model)
    x = dataset.x
    if x.shape[-1] != channels:
        x = np.stack([images.match_channels(a, channels) for a in x])
    if None not in shape[:2] and x.shape[1:3] != tuple(shape[:2]):
        x = np.stack([images.resize(a, shape[:2]) for a in x])
    return images.to_range(x, input_range)


def reduce_maps(maps: np.ndarray, kind: str) -> np.ndarray:
    """(N, h, w, C) -> (N, C): each map's mean, or its centre unit."""
    if kind == "mean":
        return maps.mean(axis=(1, 2))
    return maps[:, maps.shape[1] // 2, maps.shape[2] // 2, :]


def scan(
    model,
    layers: Sequence[str],
    inputs: np.ndarray,
    *,
    kind: str = defaults.OBJECTIVE,
    top_k: int = defaults.TOP_K,
    batch: int = 256,
) -> dict[str, LayerStats]:
    """One pass over inputs for all layers: per-map best, mean, firing rate and top-k."""
    net = models.extractor(model, list(layers))
    values: dict[str, list] = {name: [] for name in layers}
    fires: dict[str, list] = {name: [] for name in layers}
    for start in range(0, len(inputs), batch):
        outs = net(inputs[start : start + batch], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for name, out in zip(layers, outs):
            maps = np.asarray(out)
            values[name].append(reduce_maps(maps, kind))
            fires[name].append(maps.max(axis=(1, 2)) > 0)
    return {name: _stats(np.concatenate(values[name]), np.concatenate(fires[name]), top_k) for name in layers}


def _stats(values: np.ndarray, fires: np.ndarray, top_k: int) -> LayerStats:
    k = min(top_k, len(values))
    top = np.argsort(-values, axis=0, kind="stable")[:k].T
    return LayerStats(
        values.max(axis=0), values.mean(axis=0), fires.mean(axis=0), top, np.take_along_axis(values.T, top, axis=1)
    )
