"""How natural a picture looks, from its pixels alone: its share of fine detail, and how colourful it is.

- **High-frequency share**: the grey image (mean of R, G and B in 0..1), its
  mean removed; its power |FFT2|^2 averaged over rings of equal radius; the
  power above half the Nyquist radius over the power from radius 1 up to
  the Nyquist radius (both summed over the rings' averages). Photographs
  keep most of their power in low frequencies: about 1% at 32 pixels.
- **Saturation**: the mean over pixels of HSV saturation, (max - min) / max
  of R, G and B. Photographs: about 0.22 to 0.29.

Patterns are compared with natural images at the same size: a layer's
figure is the median over its patterns divided by the median over the
natural images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NATURAL_IMAGES = 300  # natural images measured, spread over the dataset


def high_frequency_share(image: np.ndarray) -> float:
    """The share of a picture's (H, W, C) spectral power above half the Nyquist radius."""
    grey = np.asarray(image, np.float64).mean(axis=-1)
    grey = grey - grey.mean()
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey))) ** 2
    h, w = grey.shape
    yy, xx = np.indices(power.shape)
    radius = np.hypot(yy - h // 2, xx - w // 2).astype(int)
    rings = np.bincount(radius.ravel(), power.ravel()) / np.maximum(np.bincount(radius.ravel()), 1)
    nyquist = min(h, w) // 2
    return float(rings[nyquist // 2 + 1 : nyquist + 1].sum() / max(rings[1 : nyquist + 1].sum(), 1e-12))


def saturation(image: np.ndarray) -> float:
    """The mean HSV saturation of a picture (H, W, C) in 0..1; 0 for a grey one."""
    pixels = np.asarray(image, np.float64)
    if pixels.shape[-1] == 1:
        return 0.0
    top, bottom = pixels.max(axis=-1), pixels.min(axis=-1)
    return float(np.where(top > 0, (top - bottom) / np.maximum(top, 1e-9), 0.0).mean())


@dataclass(frozen=True)
class Naturalness:
    """Medians over a set of pictures."""

    high_frequency: float
    saturation: float

    @classmethod
    def of(cls, pictures: np.ndarray) -> Naturalness:
        """The medians over pictures (N, H, W, C) in 0..1; NaN pictures (maps with no pattern) are left out."""
        kept = [p for p in pictures if np.isfinite(p).all()]
        if not kept:
            return cls(float("nan"), float("nan"))
        return cls(float(np.median([high_frequency_share(p) for p in kept])),
                   float(np.median([saturation(p) for p in kept])))  # fmt: skip

    def relative_to(self, natural: Naturalness) -> Naturalness:
        """These medians as multiples of natural images' (NaN where the natural median is 0)."""
        return Naturalness(_ratio(self.high_frequency, natural.high_frequency),
                           _ratio(self.saturation, natural.saturation))  # fmt: skip


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")
