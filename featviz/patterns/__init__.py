"""A layer's patterns: the request, the job, the folder they are saved in, its manifest, and the file layout.

request.py   PatternRequest: layer, canvas, objective, recipe and seed; the manifest's reuse key
job.py       PatternJob: a checked request with the natural images it is scored against
store.py     one layer's folder for one seed: what it holds, what a run adds
manifest.py  manifest.json, the record of a folder
layout.py    where every output file goes, and how pages link
"""

from .job import NaturalBest, PatternJob, prepare
from .request import PatternRequest, canvas_for, parse_maps, recipe_for, recipe_record
from .store import PatternSet

__all__ = [
    "NaturalBest",
    "PatternJob",
    "PatternRequest",
    "PatternSet",
    "canvas_for",
    "parse_maps",
    "prepare",
    "recipe_for",
    "recipe_record",
]
