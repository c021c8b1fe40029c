"""How an image becomes what the model takes: per channel, model input = unit * scale + offset.

featviz keeps every image, natural or synthesized, in 0..1 (grey or RGB),
and maps it into the model's input space only at the model. A plain range
(`--input-range 0,255`) is one case; the keras.applications conventions
(`--preprocess caffe|tf|torch`) and per-channel `--mean/--std` are others.
A model that rescales its own input (a Rescaling or Normalization layer at
the start) says which range it takes: see models/inputs.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ..errors import FeatvizError

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, in 0..1
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # in 0..255


@dataclass(frozen=True)
class Preprocess:
    scale: tuple[float, ...] = (1.0,)  # one per channel, or one for all
    offset: tuple[float, ...] = (0.0,)
    bgr: bool = False  # reverse RGB to BGR before scaling (caffe)
    name: str = ""  # a preset's name; "" for a plain range or --mean/--std

    @classmethod
    def range(cls, lo: float, hi: float) -> Preprocess:
        return cls((float(hi - lo),), (float(lo),))

    @property
    def plain(self) -> bool:
        """A plain value range, the same for every channel."""
        return len(self.scale) == 1 and not self.bgr and not self.name

    def fits(self, channels: int) -> bool:
        """True when this preprocessing applies to images of `channels` channels."""
        return len(self.scale) in (1, channels) and (not self.bgr or channels == 3)

    def to_model(self, unit):
        """Images (..., C) in 0..1 -> model inputs; works on NumPy arrays and tensors alike."""
        x = unit[..., ::-1] if self.bgr else unit
        return x * np.asarray(self.scale, np.float32) + np.asarray(self.offset, np.float32)

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Model inputs -> images in 0..1 (clipped), the inverse of to_model."""
        unit = (np.asarray(x, np.float32) - np.asarray(self.offset, np.float32)) / np.asarray(self.scale, np.float32)
        return np.clip(unit[..., ::-1] if self.bgr else unit, 0.0, 1.0)

    def record(self) -> Any:
        """As JSON: [lo, hi] for a plain range, else its name, scales, offsets and channel order."""
        if self.plain:
            return [self.offset[0], self.offset[0] + self.scale[0]]
        return {
            "name": self.name or "mean/std",
            "scale": list(self.scale),
            "offset": list(self.offset),
            "bgr": self.bgr,
        }

    def describe(self) -> str:
        if self.plain:
            return f"pixels in {self.offset[0]:g}..{self.offset[0] + self.scale[0]:g}"
        order = "BGR, " if self.bgr else ""
        return f"{self.name or 'per-channel mean/std'} ({order}{_channels(self)})"


def _channels(p: Preprocess) -> str:
    return ", ".join(f"x*{s:.4g}{o:+.4g}" for s, o in zip(p.scale, p.offset))


PRESETS = {
    "tf": Preprocess((2.0,), (-1.0,), name="tf"),  # -1..1
    "torch": Preprocess(
        tuple(1 / s for s in IMAGENET_STD), tuple(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)), name="torch"
    ),
    "caffe": Preprocess((255.0,) * 3, tuple(-m for m in CAFFE_MEAN_BGR), bgr=True, name="caffe"),
}


def mean_std(mean: Sequence[float], std: Sequence[float]) -> Preprocess:
    """(pixel - mean) / std per channel. Means all at most 1 are in 0..1 units; otherwise in 0..255 units."""
    if len(mean) != len(std) or not mean or any(s <= 0 for s in std):
        raise FeatvizError("--mean and --std need the same number of values (one per channel), and std > 0")
    unit = 1.0 if max(mean) <= 1.0 else 255.0
    return Preprocess(tuple(unit / s for s in std), tuple(-m / s for m, s in zip(mean, std)))


InputRange = Union["Preprocess", tuple[float, float]]


def as_preprocess(value: InputRange | None) -> Preprocess:
    """A Preprocess from itself, a (lo, hi) range, or None (0..1)."""
    if isinstance(value, Preprocess):
        return value
    return Preprocess.range(*value) if value is not None else Preprocess()


def parse_range(text: str) -> tuple[float, float]:
    """'0,255' -> (0.0, 255.0)."""
    try:
        lo, hi = (float(part) for part in text.split(","))
    except ValueError:
        raise FeatvizError(f"input range {text!r} is not LO,HI (for example 0,1 or 0,255)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise FeatvizError(f"input range {text!r}: HI must be larger than LO")
    return lo, hi


def parse_floats(text: str, option: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise FeatvizError(f"{option} {text!r}: use numbers separated by commas, like 0.5,0.5,0.5") from None
    if not all(np.isfinite(values)):
        raise FeatvizError(f"{option} {text!r}: the values must be finite")
    return values


def from_options(input_range: str | None, preset: str | None, mean: str | None, std: str | None) -> Preprocess | None:
    """The preprocessing the command line asks for, or None when it asks for none (then the model decides)."""
    asked = [
        name
        for name, value in (("--input-range", input_range), ("--preprocess", preset), ("--mean/--std", mean or std))
        if value
    ]
    if len(asked) > 1:
        raise FeatvizError(f"{' and '.join(asked)} both describe the input; give one of them")
    if input_range:
        return Preprocess.range(*parse_range(input_range))
    if preset:
        return PRESETS[preset]
    if mean or std:
        if not (mean and std):
            raise FeatvizError("--mean and --std go together")
        return mean_std(parse_floats(mean, "--mean"), parse_floats(std, "--std"))
    return None
