"""What `featviz layers` prints: the input a model expects, and a table of its layers."""

from __future__ import annotations

from dataclasses import dataclass

from ..pixels.display import Described
from .inputs import expected_input
from .layers import LayerInfo, innermost, input_shape, list_layers, shape_text
from .loading import LoadedModel


@dataclass
class Summary(Described):
    """What `featviz layers` prints; in IPython, the same table."""

    loaded: LoadedModel
    layers: list[LayerInfo]

    def lines(self) -> list[str]:
        expected = expected_input(self.loaded.model)
        said = (
            f"{expected.preprocess.describe()}, from {expected.reason}"
            if expected
            else "nothing in the model says (0..1)"
        )
        shape = shape_text(input_shape(self.loaded.model))
        return [
            f"{self.loaded.name}  input {shape}  sha256 {self.loaded.sha256[:12]}",
            f"input preprocessing: {said}",
            *self._table(),
            "* has spatial maps   > the default layer: the innermost that computes features",
        ]

    def _table(self) -> list[str]:
        inner = innermost(self.layers)
        width = max([len(i.name) for i in self.layers] + [4])
        rows = [f"     #  {'name':<{width}}  {'class':<20} {'output':>12} {'maps':>6} {'params':>10}"]
        for i in self.layers:
            mark = ">" if i is inner else ("*" if i.spatial else " ")
            maps = str(i.maps) if i.spatial else "-"
            rows.append(
                f"  {mark} {i.index:>2}  {i.name:<{width}}  {i.class_name:<20} "
                f"{shape_text(i.output_shape):>12} {maps:>6} {i.params:>10,}"
            )
        return rows


def summary(loaded: LoadedModel) -> Summary:
    """The model's expected input and its layers, ready to print (`.lines()`)."""
    return Summary(loaded, list_layers(loaded.model))
