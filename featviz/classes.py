"""Class outputs: their names, what a model predicts for an image, and whether other models agree.

A class pattern that only its own model reads as a "6" is an adversarial
image, not a picture of a 6 (Fel et al. 2023). Transfer asks other models
trained on the same data what they see in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import bundled, images, models
from .errors import FeatvizError
from .models import LayerInfo
from .preprocess import InputRange


def names(model_path: Path, labels: str | Path | None = None) -> list[str] | None:
    """Class names: from a --labels file (one per line, or a JSON list), else the model card beside the model."""
    if labels is not None:
        return _read_labels(Path(labels))
    card = model_path.with_suffix(".json")
    try:
        classes = json.loads(card.read_text("utf-8")).get("classes") if card.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return [str(c) for c in classes] if isinstance(classes, list) else None


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


def is_class_layer(model, layer: LayerInfo) -> bool:
    """A flat layer whose units are the model's output classes (the output layer itself, or its logits)."""
    out = tuple(model.outputs[0].shape[1:]) if getattr(model, "outputs", None) else ()
    return not layer.spatial and len(out) == 1 and layer.output_shape == out


@dataclass(frozen=True)
class Verdict:
    predicted: int
    probability: float  # of the predicted class, after softmax when the output is not one already

    def record(self) -> list:
        return [self.predicted, round(self.probability, 4)]


def verdicts(model, unit_images: np.ndarray, input_range: InputRange) -> list[Verdict]:
    """What `model` predicts for each image (in 0..1), with the probability it gives that class."""
    out = np.asarray(model(images.to_range(unit_images, input_range), training=False), np.float64)
    if not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)):
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return [Verdict(int(row.argmax()), float(row.max())) for row in out]


def siblings(loaded: models.LoadedModel) -> list[models.LoadedModel]:
    """The other bundled models trained on the same data: same input and the same number of classes."""
    own = (models.input_shape(loaded.model), tuple(loaded.model.outputs[0].shape[1:]))
    found = []
    for path in bundled.models():
        if path.name == loaded.name:
            continue
        other = models.load(path)
        if (models.input_shape(other.model), tuple(other.model.outputs[0].shape[1:])) == own:
            found.append(other)
    return found


@dataclass
class Transfer:
    model: str
    verdicts: list[Verdict]

    def share(self, targets: Sequence[int]) -> float:
        """The share of patterns this model reads as their own target class."""
        hits = sum(v.predicted == t for v, t in zip(self.verdicts, targets))
        return hits / max(len(targets), 1)


def transfer(
    others: Sequence["models.LoadedModel | Path"], unit_images: np.ndarray, input_range: InputRange | None
) -> list[Transfer]:
    """Each other model's verdicts on the same images, at the input that model expects (or `input_range`)."""
    from .models.inputs import resolve_input

    results = []
    for other in others:
        other = other if isinstance(other, models.LoadedModel) else models.load(other)
        results.append(
            Transfer(other.name, verdicts(other.model, unit_images, resolve_input(other.model, input_range)))
        )
    return results


def verdict_line(scores) -> str:
    """'the model reads 10/10 class patterns as their class'."""
    judged = [s for s in scores if s.verdict is not None]
    hits = sum(s.verdict[0] == s.map for s in judged)
    return f"the model itself reads {hits}/{len(judged)} class patterns as their class"


def transfer_lines(results: Sequence[Transfer], targets: Sequence[int]) -> list[str]:
    return [f"{t.model} reads {round(t.share(targets) * len(targets))}/{len(targets)} as their class" for t in results]


def class_layer(model) -> LayerInfo | None:
    """The layer whose units are the model's classes: the last Dense layer, when it gives the model's output."""
    layers = models.list_layers(model)
    dense = [info for info in layers if info.class_name == "Dense" and is_class_layer(model, info)]
    return dense[-1] if dense else None
