"""A layer's patterns: the request, the job, the folder they are saved in, its manifest, and the file layout.

The modules are mapped in docs/architecture.md.
"""

from .job import NaturalBest, PatternJob, natural_looks, prepare
from .request import PatternRequest, canvas_for, parse_maps, recipe_for, recipe_record
from .store import PatternSet

__all__ = [
    "NaturalBest",
    "PatternJob",
    "PatternRequest",
    "PatternSet",
    "canvas_for",
    "natural_looks",
    "parse_maps",
    "prepare",
    "recipe_for",
    "recipe_record",
]
