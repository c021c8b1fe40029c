"""Read any common image into what a model expects, and pattern arrays back to PNG.

The conversion is deliberate at each step: EXIF orientation applied, 16-bit
scaled by its real range, transparency composited onto a background, the
channel count matched, the size matched with anti-aliasing, and the pixel
values mapped into the model's input range.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import FeatvizError
from .preprocess import InputRange, as_preprocess

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
MAX_16BIT = 65535.0
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


def open_image(path: str | Path) -> Image.Image:
    """Open and decode an image of a common format, refusing decompression bombs."""
    from ..files import bundled

    p = bundled.image(path)
    if not p.is_file():
        raise FeatvizError(f"{Path(path)}: no such image file")
    return decode(p, p)


def decode(source: Path | io.BytesIO, name: object) -> Image.Image:
    """Decode an image from a path or a file object; `name` is what an error calls it."""
    p = name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=FORMATS) as img:
                img.load()
                return ImageOps.exif_transpose(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FeatvizError(
            f"{p}: the image is too large to decode safely (over {Image.MAX_IMAGE_PIXELS:,} pixels)"
        ) from None
    except UnidentifiedImageError:
        raise FeatvizError(f"{p}: not an image featviz can read ({', '.join(FORMATS)})") from None
    except Exception as e:  # a decoder fed hostile bytes may fail in any way; all mean "unreadable"
        raise FeatvizError(f"{p}: unreadable image ({_short(e)})") from None


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:160] or type(e).__name__


def to_float(img: Image.Image, background: float = 0.0) -> np.ndarray:
    """The image as float32 (H, W, 1 or 3) in 0..1, transparency composited."""
    img = _palette_to_rgba(img)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _scaled_single_channel(img)[..., None]
    if mode == "1":
        img = img.convert("L")
    elif mode == "CMYK" or mode == "YCbCr" or mode == "LAB" or mode == "HSV":
        img = img.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA")
    arr = np.asarray(img, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    if img.mode in ("LA", "RGBA"):
        colour, alpha = arr[..., :-1], arr[..., -1:]
        arr = colour * alpha + background * (1.0 - alpha)
    return arr


def _palette_to_rgba(img: Image.Image) -> Image.Image:
    if img.mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("L", "RGB") and "transparency" in img.info:
        return img.convert("LA" if img.mode == "L" else "RGBA")
    return img


def _scaled_single_channel(img: Image.Image) -> np.ndarray:
    arr = np.asarray(img).astype(np.float32)
    if img.mode == "F":
        lo, hi = float(arr.min()), float(arr.max())
        return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    # 16-bit data (Pillow may open it as "I"): scale by 65535, never clip at 255.
    top = MAX_16BIT if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
    return np.clip(arr / top, 0.0, 1.0)


def match_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, c) in 0..1 -> (H, W, channels): luminance or replicated grey."""
    have = arr.shape[-1]
    if have == channels:
        return arr
    if channels == 1:
        return (arr[..., :3] @ LUMA)[..., None]
    grey = arr if have == 1 else (arr[..., :3] @ LUMA)[..., None]
    return np.repeat(grey, channels, axis=-1)


def resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W, C) to size=(height, width), anti-aliased when shrinking."""
    if arr.shape[:2] == tuple(size):
        return arr
    from skimage.transform import resize as sk_resize

    shrinking = arr.shape[0] > size[0] or arr.shape[1] > size[1]
    out = sk_resize(arr, (*size, arr.shape[-1]), order=1, anti_aliasing=shrinking, preserve_range=True)
    return out.astype(np.float32)


def to_range(arr: np.ndarray, input_range: InputRange) -> np.ndarray:
    """Images in 0..1 -> the model's input space (a (lo, hi) range, or any Preprocess)."""
    return np.asarray(as_preprocess(input_range).to_model(np.asarray(arr, np.float32)), np.float32)


def to_unit(arr: np.ndarray, input_range: InputRange) -> np.ndarray:
    """The inverse of to_range, clipped to 0..1."""
    return as_preprocess(input_range).to_unit(arr)


def load_image(
    path: str | Path,
    *,
    channels: int,
    size: tuple[int | None, int | None] | None = None,
    input_range: InputRange = (0.0, 1.0),
    background: float = 0.0,
) -> np.ndarray:
    """Read an image file as a model input: float32 (H, W, channels) in input_range."""
    arr = match_channels(to_float(open_image(path), background), channels)
    if size is not None and None not in size:
        arr = resize(arr, (int(size[0]), int(size[1])))
    return to_range(arr, input_range)


def to_uint8(images: np.ndarray, input_range: InputRange = (0.0, 1.0)) -> np.ndarray:
    """Model inputs (or images in 0..1, the default) -> uint8, rounding to the nearest of 256 levels."""
    unit = np.asarray(images, np.float64) if input_range == (0.0, 1.0) else to_unit(images, input_range)
    return np.clip(np.round(np.asarray(unit, np.float64) * 255.0), 0, 255).astype(np.uint8)


def from_uint8(images: np.ndarray, input_range: InputRange = (0.0, 1.0)) -> np.ndarray:
    return to_range(images.astype(np.float32) / 255.0, input_range)


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 (H, W), (H, W, 1) or (H, W, 3) -> PNG bytes, grey or RGB."""
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()
