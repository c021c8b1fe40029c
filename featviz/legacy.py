"""Models that Keras 3's own loader refuses: say what the file holds and why."""

from __future__ import annotations

from typing import Any

from .errors import FeatvizError


def repair_and_load(mf, config: dict[str, Any], error: BaseException, *, trust_code: bool):
    """Called when keras.saving.load_model failed on `mf`."""
    raise FeatvizError(f"{mf.path}: {describe(config)} that Keras cannot load: {first_line(error)}")


def describe(config: dict[str, Any]) -> str:
    cls = config.get("class_name", "an unknown object")
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    count = f" with {len(layers)} layers" if isinstance(layers, list) else ""
    return f"a {cls} model{count}"


def first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    return text[:200] + ("..." if len(text) > 200 else "")
