"""Which input does a model expect? Its top prediction for one image under each common convention."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..models import card
from ..models.inputs import Expected, expected_input
from ..pixels.display import Described
from ..pixels.preprocess import PRESETS, Preprocess
from .activations import describe_predictions, predict

ADVICE = (
    "The convention the model was trained with gives the right class. Confidence alone misleads: "
    "a ReLU network fed 255x its range often saturates at 100%."
)


@dataclass
class ConventionCheck(Described):
    model: str
    image: str
    expected: Expected | None  # what the model's own preprocessing layers say
    rows: list[tuple[str, str]]  # (the option that gives the convention, what the model predicts under it)

    def lines(self) -> list[str]:
        said = self.expected
        head = [f"  the model says: {said.preprocess.describe()}, from {said.reason}"] if said is not None else []
        return [f"{self.model} on {self.image}", *head, *(f"  {o:<20} -> {p}" for o, p in self.rows), ADVICE]


def conventions() -> dict[str, Preprocess]:
    """The common input conventions, by the option that asks for each."""
    found = {"--input-range 0,1": Preprocess(), "--input-range 0,255": Preprocess.range(0, 255)}
    return found | {f"--preprocess {name}": preset for name, preset in PRESETS.items()}


def check(loaded: models.LoadedModel, image: str | Path) -> ConventionCheck:
    """The model's top two predictions for `image` under every convention that fits its channels."""
    channels, names = models.image_channels(loaded.model), card.names(loaded.path)
    rows = [
        (label, describe_predictions(predict(loaded.model, image, convention)[:2], names))
        for label, convention in conventions().items()
        if convention.fits(channels)
    ]
    return ConventionCheck(loaded.name, Path(image).name, expected_input(loaded.model), rows)
