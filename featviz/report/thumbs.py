"""Small RGB pictures for the gallery, made with NumPy and Pillow (no figures).

Everything is upscaled with nearest neighbour by whole factors, so a 3x3 map
stays nine crisp squares in any browser.
"""

from __future__ import annotations

import functools
import math

import numpy as np

GAP = 2
ONE_STEP = 6  # levels: more than one entry of a 256-colour map moves any channel (inferno: 4.2), plus rounding
MAP_PX = 112  # the size a map's pattern is shown at on map and explain pages
WHITE = 255


def upscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of (H, W[, C]) by a whole factor."""
    factor = max(1, int(factor))
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


def factor_for(size: int, target: int = 96) -> int:
    """The whole factor that brings `size` pixels closest to `target` (at least 1)."""
    return max(1, round(target / max(size, 1)))


def colormap(values: np.ndarray, vmin: float, vmax: float, name: str = "viridis") -> np.ndarray:
    """float (...) -> uint8 RGB (..., 3) through a matplotlib colormap, without a figure."""
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((np.asarray(values, np.float64) - vmin) / span, 0.0, 1.0)
    return (_colormap(name)(scaled)[..., :3] * 255 + 0.5).astype(np.uint8)


@functools.cache
def _colormap(name: str):
    """The named colormap, fetched once: matplotlib's registry hands out a copy that builds its table anew at its
    first call, 0.06 ms, against 0.006 ms for a call on the kept one (a gallery draws thousands of pictures)."""
    import matplotlib

    return matplotlib.colormaps[name]


def to_rgb(pictures: np.ndarray) -> np.ndarray:
    """(H, W, 1 or 3) in 0..1 -> uint8 RGB."""
    pixels = np.clip(np.round(np.asarray(pictures, np.float64) * 255), 0, 255).astype(np.uint8)
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels[..., :3]


def mosaic(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    """Equal-sized uint8 RGB tiles on white, `cols` per row, GAP pixels apart."""
    h, w = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / cols)
    out = np.full((rows * (h + GAP) - GAP, cols * (w + GAP) - GAP, 3), WHITE, np.uint8)
    for i, tile in enumerate(tiles):
        y, x = (i // cols) * (h + GAP), (i % cols) * (w + GAP)
        out[y : y + h, x : x + w] = tile
    return out


def activation_grid(maps: np.ndarray, vmax: float, target: int = 48) -> np.ndarray:
    """Every map of (h, w, C) on one shared scale 0..vmax, as one RGB mosaic."""
    h = maps.shape[0]
    tiles = [upscale(colormap(maps[..., c], 0.0, vmax), factor_for(h, target)) for c in range(maps.shape[-1])]
    return mosaic(tiles, max(1, math.ceil(math.sqrt(2 * len(tiles)))))


def overlay(image_unit: np.ndarray, act: np.ndarray, vmax: float, alpha: float = 0.65) -> np.ndarray:
    """An RGB picture of the image with one activation map laid over it (nearest, 'inferno')."""
    from PIL import Image

    base = to_rgb(image_unit).astype(np.float64)
    h, w = base.shape[:2]
    big = np.asarray(Image.fromarray(np.asarray(act, np.float32)).resize((w, h), Image.NEAREST))
    strength = np.clip(big / vmax, 0.0, 1.0)[..., None] if vmax > 0 else np.zeros((h, w, 1))
    heat = colormap(strength[..., 0], 0.0, 1.0, "inferno").astype(np.float64)
    mixed = base * (1 - alpha * strength) + heat * alpha * strength
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def kernel_tiles(weights: np.ndarray) -> list[np.ndarray]:
    """First-layer filters (kh, kw, cin, cout) as uint8 RGB tiles: diverging colours for grey input, RGB for colour."""
    cin, cout = weights.shape[2], weights.shape[3]
    if cin == 3:
        return [
            to_rgb(0.5 + 0.5 * weights[..., c] / max(float(np.abs(weights[..., c]).max()), 1e-8)) for c in range(cout)
        ]
    lim = max(float(np.abs(weights).max()), 1e-8)
    return [colormap(weights[:, :, :, c].mean(axis=2), -lim, lim, "RdBu_r") for c in range(cout)]


def kernels(weights: np.ndarray, target: int = 48) -> np.ndarray:
    """All first-layer filters as one mosaic, 16 to a row."""
    tiles = [upscale(t, factor_for(weights.shape[0], target)) for t in kernel_tiles(weights)]
    return mosaic(tiles, min(len(tiles), 16))


def pad_to(tile: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An RGB tile centred on white, `shape` (height, width) at least."""
    h, w = max(shape[0], tile.shape[0]), max(shape[1], tile.shape[1])
    out = np.full((h, w, 3), WHITE, np.uint8)
    y, x = (h - tile.shape[0]) // 2, (w - tile.shape[1]) // 2
    out[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return out


def one_step_apart(png: bytes, pixels: np.ndarray) -> bool:
    """Whether a saved PNG shows `pixels` up to one colour step in any pixel: what a last float bit can change."""
    import io

    from PIL import Image

    try:
        saved = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.int16)
    except (OSError, ValueError):
        return False
    return saved.shape == pixels.shape and int(np.abs(saved - pixels).max(initial=0)) <= ONE_STEP
