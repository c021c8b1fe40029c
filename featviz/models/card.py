"""The model card beside a model file (<model>.json): its class names, or a --labels file's."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import FeatvizError


def names(model_path: Path, labels: str | Path | None = None) -> list[str] | None:
    """Class names: from a --labels file (one per line, or a JSON list), else the model card beside the model."""
    if labels is not None:
        return _read_labels(Path(labels))
    classes = _field(model_path, "classes")
    return [str(c) for c in classes] if isinstance(classes, list) else None


def data(model_path: Path) -> str | None:
    """The data the model was trained on, as its card names it ("mnist-10k.npz (10,000 digits)"); None without."""
    return _field(model_path, "data")


def _field(model_path: Path, key: str):
    card = model_path.with_suffix(".json")
    try:
        return json.loads(card.read_text("utf-8")).get(key) if card.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None


def _read_labels(p: Path) -> list[str]:
    try:
        text = p.read_text("utf-8")
    except OSError as e:
        raise FeatvizError(f"{p}: cannot read the labels ({e.strerror})") from None
    if text.lstrip().startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except ValueError:
            raise FeatvizError(f"{p}: the labels are not a JSON list") from None
    return [line.strip() for line in text.splitlines() if line.strip()]
