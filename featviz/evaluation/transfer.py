"""Class patterns read by models: what a model predicts for an image, and whether other models agree.

A class pattern that only its own model reads as a "6" is an adversarial
image, not a picture of a 6 (Fel et al. 2023). Transfer asks other models
trained on the same data what they see in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import models
from ..files import bundled
from ..models import card
from ..pixels import images
from ..pixels.preprocess import InputRange


@dataclass(frozen=True)
class Verdict:
    predicted: int
    probability: float  # of the predicted class, after softmax when the output is not one already

    def record(self) -> list:
        return [self.predicted, round(self.probability, 4)]


def verdicts(model, pictures: np.ndarray, input_range: InputRange) -> list[Verdict]:
    """What `model` predicts for each image (in 0..1), with the probability it gives that class."""
    out = np.asarray(model(images.to_range(pictures, input_range), training=False), np.float64)
    if not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)):
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return [Verdict(int(row.argmax()), float(row.max())) for row in out]


def siblings(loaded: models.LoadedModel) -> list[models.LoadedModel]:
    """The other bundled models trained on the same data: same input and the same number of classes.

    A model whose card names other data is not loaded (the MNIST gallery loaded both CIFAR-10 models, 1.4 s).
    """
    own = (models.input_shape(loaded.model), tuple(loaded.model.outputs[0].shape[1:]))
    data = card.data(loaded.path)
    found = []
    for path in bundled.models():
        if path.name == loaded.name or (data and card.data(path) not in (None, data)):
            continue
        other = models.load(path)
        if (models.input_shape(other.model), tuple(other.model.outputs[0].shape[1:])) == own:
            found.append(other)
    return found


def readers(loaded: models.LoadedModel, paths: Sequence[str | Path] | None = None) -> list:
    """The other models that read a model's class patterns (and observe the two-choice test).

    `paths` when given; else the other bundled models trained on the same data; none for a model of one's own.
    """
    if paths:
        return [Path(p) for p in paths]
    return siblings(loaded) if loaded.bundled else []


@dataclass
class Transfer:
    model: str
    verdicts: list[Verdict]

    def share(self, targets: Sequence[int]) -> float:
        """The share of patterns this model reads as their own target class."""
        hits = sum(v.predicted == t for v, t in zip(self.verdicts, targets))
        return hits / max(len(targets), 1)


def transfer(
    others: Sequence[models.LoadedModel | Path], pictures: np.ndarray, input_range: InputRange | None
) -> list[Transfer]:
    """Each other model's verdicts on the same images, at the input that model expects (or `input_range`)."""
    from ..models.inputs import resolve_input

    results = []
    for other in others:
        other = other if isinstance(other, models.LoadedModel) else models.load(other)
        results.append(Transfer(other.name, verdicts(other.model, pictures, resolve_input(other.model, input_range))))
    return results


def verdict_line(scores) -> str:
    """'the model reads 10/10 class patterns as their class'."""
    judged = [s for s in scores if s.verdict is not None]
    hits = sum(s.verdict[0] == s.map for s in judged)
    return f"the model itself reads {hits}/{len(judged)} class patterns as their class"


def transfer_lines(results: Sequence[Transfer], targets: Sequence[int]) -> list[str]:
    return [f"{t.model} reads {round(t.share(targets) * len(targets))}/{len(targets)} as their class" for t in results]
