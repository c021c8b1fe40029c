"""What went wrong with a map's pattern, by name, and which remedy to try (issue #30).

After every render, each map whose pattern could mislead is flagged:

- **collapsed**: another map's pattern drives it at least as hard as its own
  pattern does (it is not specific): many maps drawing one shared image;
- **failed**: a live map whose pattern reaches nothing: a value at or below
  zero, a flat picture, or less than FAILED_RATIO of the best natural image;
- **capped**: the map's value sits at its bounded activation's ceiling
  (ReLU6's 6, tanh's 1), where the mean objective has no gradient left.

Dead and negative maps carry no flag: no natural image drives them above
zero, so there is nothing for a pattern to reach. Each flag has a remedy
(REMEDIES), tried once on the flagged maps alone; a candidate replaces the
pattern when it is better by one rule (`better`): specific first, then the
higher ratio (or value, when there is nothing to score against).
"""

from __future__ import annotations

import numpy as np

from .scoring import MapScore

COLLAPSED, FAILED, CAPPED = "collapsed", "failed", "capped"
FLAGS = (COLLAPSED, FAILED, CAPPED)
FAILED_RATIO = 0.5  # a live map's pattern below half the best natural image's value reaches nothing
CAP_SHARE = 0.95  # a value within 5% of the activation's ceiling sits at it
FLAT = 1.0 / 255  # a pattern whose pixels vary by less than one 8-bit level is a flat picture
# The remedy of each flag, tried in this order when a map has several.
REMEDIES = {CAPPED: "uncapped", FAILED: "restart", COLLAPSED: "specific"}


def flags(score: MapScore, specific: bool, pattern: np.ndarray, ceiling: float | None) -> list[str]:
    """The flags of one map's pattern (in 0..1, as saved), given whether it is specific and the activation's ceiling."""
    if score.error or score.dead or score.negative or score.value is None:
        return []
    found = []
    if not specific:
        found.append(COLLAPSED)
    weak = score.ratio is not None and score.ratio < FAILED_RATIO
    if score.value <= 0 or weak or float(np.nanstd(pattern)) < FLAT:
        found.append(FAILED)
    if ceiling is not None and score.value >= CAP_SHARE * ceiling:
        found.append(CAPPED)
    return found


def remedy_for(found: list[str]) -> str | None:
    """The one remedy to try for a map with these flags: the first of REMEDIES that applies."""
    return next((REMEDIES[f] for f in REMEDIES if f in found), None)


def better(candidate: tuple[bool, float], current: tuple[bool, float]) -> bool:
    """Whether (specific, ratio or value) of a candidate beats the current pattern's: specific first, then higher."""
    return (candidate[0], candidate[1]) > (current[0], current[1])
