"""What `featviz patterns --weights` prints: the maps below each chosen map with the largest weights into it.

The same list as the gallery's "built from" section (report/built_from.py),
read from the weights alone (models/weights.py): nothing is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import defaults, models
from ..errors import FeatvizError
from ..models import weights
from ..patterns import parse_maps
from .layer_patterns import PatternOptions


@dataclass
class MapInputs:
    """Each chosen map's inputs of largest positive and negative weight; `.lines()` prints them."""

    expanded: weights.Expanded
    maps: list[int]
    k: int = defaults.INPUTS

    def lines(self) -> list[str]:
        e = self.expanded
        names = ", ".join(s.layer for s in e.sources) or "no layer shown"
        out = [f"{e.target} <- {names}: each map's {self.k} largest positive and negative weights "
               "(a weight is its kernel slice's sum)"]  # fmt: skip
        out += [f"  from {s.layer} through {s.path()}" for s in e.sources if s.through]
        out += [f"  not shown: {stop}" for stop in e.stopped]
        for m in self.maps:
            up, down = e.top(m, self.k)
            out.append(f"map {m:>4}  excited by {self._items(up)}; inhibited by {self._items(down)}")
        return out

    def _items(self, found: list[weights.Input]) -> str:
        one = len(self.expanded.sources) == 1
        return ", ".join(f"{'' if one else f.layer + ' '}{f.map} ({f.weight:+.3g})" for f in found) or "none"


def run(loaded: models.LoadedModel, options: PatternOptions) -> MapInputs:
    """The inputs of the maps `options` choose, expanded down to the layers a default gallery renders."""
    if options.direction or options.diversity:
        raise FeatvizError("--weights reads the weights and renders nothing: drop --direction and --diversity")
    info = models.resolve_layer(loaded.model, options.layer)
    maps = parse_maps(options.maps, info.units)
    stops = {layer.name for layer in models.feature_layers(loaded.model)}
    return MapInputs(weights.expand(loaded.model, info.name, stops), maps)
