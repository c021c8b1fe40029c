"""Natural images, as people store them: an npz of arrays, or a folder tree with one folder per class.

A dataset never needs to fit in memory. `batches` decodes and fits images
to the model's input a batch at a time, and `take` fetches the few images a
page shows. Each image is fitted by an aspect-preserving centre crop, then
resized. Pixels come out in 0..1; preprocess.py maps them into the model.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import FeatvizError
from ..files import bundled
from ..pixels import images

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
MNIST_SHAPE = (28, 28, 1)


@dataclass
class Dataset:
    """Images from an array (N, H, W, C) in 0..1, or from files."""

    source: str
    x: np.ndarray | None = None
    files: list[Path] = field(default_factory=list)
    labels: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)  # encoded image files, for a slice sent to another machine
    _spread: dict = field(default_factory=dict, repr=False, compare=False)  # spread()'s images, decoded once

    def __len__(self) -> int:
        return len(self.x) if self.x is not None else len(self.files) or len(self.blobs)

    @property
    def class_count(self) -> int:
        """How many classes the labels name (0 without labels)."""
        if self.classes:
            return len(self.classes)
        return 0 if self.labels is None or len(self.labels) == 0 else int(np.max(self.labels)) + 1

    def slice(self, start: int, stop: int) -> Dataset:
        """Images start..stop-1, carrying their pixels or file bytes, so no shared disk is needed to read them."""
        labels = None if self.labels is None else self.labels[start:stop]
        names = self.classes or [str(c) for c in range(self.class_count)]
        if self.x is not None:
            return Dataset(self.source, x=self.x[start:stop], labels=labels, classes=names)
        blobs = [f.read_bytes() for f in self.files[start:stop]]
        return Dataset(self.source, labels=labels, classes=names, blobs=blobs)

    def spread(self, count: int, shape: tuple[int, int, int]) -> np.ndarray:
        """Up to `count` images spread evenly over the dataset, fitted to shape, in 0..1 (decoded once)."""
        key = (count, tuple(shape))
        if key not in self._spread:
            indices = np.unique(np.linspace(0, len(self) - 1, min(count, len(self))).round().astype(int))
            self._spread[key] = self.take(indices, shape)
        return self._spread[key]

    def take(self, indices: Sequence[int], shape: tuple[int, int, int]) -> np.ndarray:
        """The images at `indices`, fitted to shape (height, width, channels), in 0..1."""
        if self.x is not None and self.x.shape[1:] == tuple(shape):
            return self.x[np.asarray(list(indices), dtype=np.int64)]
        if self.x is not None:
            return np.stack([fit(self.x[i], shape) for i in indices])
        return np.stack([fit(images.to_float(self._decode(i)), shape) for i in indices])

    def _decode(self, i: int):
        if self.blobs:
            return images.decode(io.BytesIO(self.blobs[i]), f"{self.source}[{i}]")
        return images.open_image(self.files[i])

    def batches(self, shape: tuple[int, int, int], size: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first index, images fitted to shape in 0..1), `size` at a time."""
        for start in range(0, len(self), size):
            yield start, self.take(range(start, min(start + size, len(self))), shape)

    def record(self) -> dict:
        """Which images these are, for a manifest: name, count and a sha256 of their bytes."""
        digest = hashlib.sha256()
        if self.x is not None:
            digest.update(np.ascontiguousarray(self.x).tobytes())
        for f in self.files:
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
        return {"name": self.source, "images": len(self), "sha256": digest.hexdigest()}


def fit(image: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """An image (H, W, c) in 0..1 fitted to shape: its channels matched, the centre cropped to the aspect, resized."""
    image = images.match_channels(image, shape[2])
    h, w = image.shape[:2]
    want = shape[1] / shape[0]
    if w / h > want + 1e-6:
        keep = max(1, round(h * want))
        image = image[:, (w - keep) // 2 : (w - keep) // 2 + keep]
    elif w / h < want - 1e-6:
        keep = max(1, round(w / want))
        image = image[(h - keep) // 2 : (h - keep) // 2 + keep]
    return images.resize(image, shape[:2])


def load(path: str | Path | None, shape: tuple[int, int, int] = MNIST_SHAPE) -> Dataset:
    """An npz with `x` (and maybe `y`), a folder tree of images, or (None) the bundled exemplars for `shape`."""
    if path is None:
        file, name = bundled.EXEMPLARS[tuple(shape)]
        return replace(load(bundled.path(file)), source=name)
    p = Path(path)
    if p.is_dir():
        return _folder(p)
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
    return Dataset(p.name, x=_to_unit_range(x, p), labels=y)


def for_model(input_shape: tuple, path: str | Path | None) -> Dataset | None:
    """The dataset at path; without one, the bundled exemplars of the models' data (MNIST digits for 28x28x1,
    CIFAR-10 for 32x32x3), for a model that takes that input; else None."""
    if path is not None:
        return load(path)
    shape = tuple(input_shape)
    return load(None, shape) if shape in bundled.EXEMPLARS else None


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


def _folder(p: Path) -> Dataset:
    """Every image below p; images in a sub-folder are labelled by that first-level folder, as classes."""
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        raise FeatvizError(f"{p}: the folder holds no images")
    tops = [f.relative_to(p).parts[0] if len(f.relative_to(p).parts) > 1 else "" for f in files]
    classes = sorted(set(tops) - {""})
    labels = np.array([classes.index(t) if t else -1 for t in tops]) if classes else None
    return Dataset(p.name, files=files, labels=labels, classes=classes)
