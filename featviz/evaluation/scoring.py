"""How good is a pattern? The one rule for the ratio, dead maps, and their captions.

A pattern's `value` is its objective on the saved 8-bit PNG, read back the
way a user's image is read. Its `ratio` is that value over the best value
any natural image reaches. A map no natural image drives above zero is
`dead`: it is marked, never hidden. Without natural images that fit the
model there is nothing to compare with: then value is measured, and ratio
and dead are None, "not scored".

Two figures catch what a ratio hides, both read from the saved PNGs too. A
map is `specific` when its own pattern drives it harder than the pattern of
any other map in the folder does: many maps that share one degenerate image
(a saturated colour field) are not. `clipped` is the share of a pattern's
pixels with a channel at 0 or 255. self_check.py names what went wrong with
a map (`flags`) and which remedy was tried.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..models import forward
from ..synthesis.objectives import reduce_maps

# What self_check.py can find wrong with a map, in its order
FLAGS = ("collapsed", "failed", "capped", "noisy", "garish")
LOOKS = FLAGS[3:]  # how a pattern looks, not what it shows: flagged only when nothing else is wrong


@dataclass
class MapScore:
    map: int
    image: str | None  # the PNG's file name, beside the manifest; None when nothing could be saved
    value: float | None
    best_natural: float | None  # None: not scored
    ratio: float | None
    dead: bool | None  # None: not scored
    error: str | None = None
    verdict: list | None = None  # for a class unit: [the class the model predicts for the saved PNG, its probability]
    specific: bool | None = None  # None: not measured (no saved pattern, or a folder saved before 0.4)
    clipped: float | None = None  # the share of the pattern's pixels with a channel at 0 or 255
    # True: no natural image drives the map above zero, but some drive it below: a signed map whose signal is
    # negative. It has no ratio; its negative pattern (--objective negative) shows it. None otherwise.
    negative: bool | None = None
    flags: list[str] | None = None  # what went wrong (self_check.py): of FLAGS; None: nothing
    remedy: str | None = None  # the remedy tried on a flagged map (self_check.REMEDIES)
    repaired: bool | None = None  # whether the (last) remedy's pattern replaced the one before it
    # A collapsed map's twin: the map whose pattern beats its own and that natural images drive alike with it
    # (self_check.TWIN_R). No image tells two twins apart by much, so no remedy can.
    twin: int | None = None

    def caption(self) -> str:
        """The tile label everywhere: '17 ×2.49', '17 ×0.31 failed', '17 ×0.98 twin of 12' (collapsed onto its
        twin), '17 dead', '17 error', or '17' (not scored)."""
        if self.error:
            return f"{self.map} error"
        if self.dead:
            return f"{self.map} dead"
        if self.negative:
            return f"{self.map} negative"
        shown = f"{self.map}" if self.ratio is None else f"{self.map} ×{self.ratio:.2f}"
        twin = f"twin of {self.twin}"
        return " ".join([shown, *(twin if f == "collapsed" and self.twin is not None else f for f in self.flags or [])])

    @property
    def marked(self) -> bool:
        """Shown in red: dead, or no pattern at all."""
        return bool(self.dead) or self.error is not None

    @property
    def flagged(self) -> bool:
        """Shown in red too: a flag that says the pattern may mislead. "noisy" and "garish" only say it is busier
        or more colourful than a photograph, and stay on the map's page, in the summary and in the manifest."""
        return any(flag not in LOOKS for flag in self.flags or [])

    def record(self) -> dict:
        """As JSON: non-finite numbers become null; no verdict key unless the map is a class."""
        entry = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}
        return {k: v for k, v in entry.items() if v is not None or k not in OPTIONAL_KEYS}


OPTIONAL_KEYS = ("verdict", "specific", "clipped", "negative", "flags", "remedy", "repaired", "twin")


def from_record(entry: dict) -> MapScore:
    """A MapScore from its manifest entry; manifests before 0.7 called `clipped` saturation."""
    entry = dict(entry)
    if "saturation" in entry:
        entry["clipped"] = entry.pop("saturation")
    return MapScore(**entry)


def objective_values(model, layer: str, maps: Sequence[int], inputs: np.ndarray, kind: str) -> np.ndarray:
    """The objective of map maps[i] on inputs[i] (in the model's input range), at the inputs' own size."""
    return np.diagonal(responses(model, layer, maps, inputs, kind)).copy()


def responses(model, layer: str, maps: Sequence[int], inputs: np.ndarray, kind: str) -> np.ndarray:
    """(inputs, maps): the objective of every map in `maps` on every input, in one forward pass."""
    found = forward.outputs(model, np.asarray(inputs, np.float32), {layer}, logits=True)[layer]
    return reduce_maps(found, kind)[:, list(maps)]


def specific(matrix: np.ndarray) -> np.ndarray:
    """From responses of maps[j] to the pattern of maps[i] at [i, j]: is each map's own pattern its strongest?

    Strictly: a pattern that ties with another map's is not specific. NaN (no pattern) never wins.
    """
    matrix = np.nan_to_num(np.asarray(matrix, np.float64), nan=-np.inf)
    others = np.where(np.eye(len(matrix), dtype=bool), -np.inf, matrix).max(axis=0, initial=-np.inf)
    own = np.diagonal(matrix)
    return np.isfinite(own) & (own > others)


def clipped(pattern: np.ndarray) -> float:
    """The share of pixels of an 8-bit pattern (H, W, C), read as 0..1, with a channel at 0 or 1."""
    extreme = (pattern <= 0.0) | (pattern >= 1.0)
    return float(extreme.any(axis=-1).mean())


def score(
    values: np.ndarray,
    maps: Sequence[int],
    best: np.ndarray | None,
    files: Sequence[str | None],
    worst: np.ndarray | None = None,
) -> list[MapScore]:
    """MapScores from the read-back values; a map whose file is None failed before it was saved.

    `best` holds each map's best natural value; None leaves the maps not scored. `worst`, each map's
    lowest: a map never above zero but sometimes below is `negative`, not dead.
    """
    scores = []
    for value, m, file in zip(values, maps, files):
        finite = file is not None and bool(np.isfinite(value))
        error = (
            None if finite else ("NaN or Inf in the pattern" if file is None else "the saved pattern gives NaN or Inf")
        )
        natural = None if best is None else float(best[m])
        dead = None if natural is None else not natural > 0
        negative = True if dead and worst is not None and worst[m] < 0 else None
        dead = False if negative else dead
        ratio = float(value) / natural if finite and dead is False and not negative else None
        scores.append(
            MapScore(int(m), file, float(value) if finite else None, natural, ratio, dead, error, negative=negative)
        )
    return scores


@dataclass
class Summary:
    maps: int
    dead: int
    errors: int  # maps with no pattern (NaN or Inf, or their task failed)
    live: int
    at_least_one: int
    median_ratio: float | None
    scored: bool = True
    specificity: float | None = None  # the share of live maps that are specific; None: not measured
    clipped: float | None = None  # the median share of clipped pixels in live maps' patterns
    negative: int = 0  # signed maps whose natural signal is only negative: neither live nor dead
    flagged: dict[str, int] = field(default_factory=dict)  # self-check flag -> maps that still carry it
    repaired: int = 0  # maps whose last remedy's pattern was kept
    twins: int = 0  # collapsed maps that are a twin of another map

    def line(self, layer: str) -> str:
        if not self.scored:
            return (
                f"{layer}: {self.maps} maps, {self.errors} in error; not scored (no natural images for this model)"
                f"{self.trust_text()}{self.check_text()}"
            )
        median = "n/a" if self.median_ratio is None else f"{self.median_ratio:.2f}"
        return (
            f"{layer}: {self.maps} maps; {self.live} live, {self.dead} dead, {self.errors} in error"
            f"{f', {self.negative} negative only' if self.negative else ''}; "
            f"{self.at_least_one}/{self.live} live maps at ratio >= 1 (median {median}){self.trust_text()}"
            f"{self.check_text()}"
        )

    def trust_text(self) -> str:
        """'; specificity 0.98, clipped 3%', or '' when not measured."""
        parts = []
        if self.specificity is not None:
            parts.append(f"specificity {self.specificity:.2f}")
        if self.clipped is not None:
            parts.append(f"clipped {self.clipped:.0%}")
        return "; " + ", ".join(parts) if parts else ""

    def check_text(self) -> str:
        """'; 2 repaired; still 3 collapsed (2 twins), 1 capped', or '' when the self-check found nothing."""
        twins = f" ({self.twins} twin{'s' if self.twins > 1 else ''})" if self.twins else ""
        still = ", ".join(f"{n} {flag}{twins if flag == 'collapsed' else ''}" for flag, n in self.flagged.items() if n)
        parts = ([f"{self.repaired} repaired"] if self.repaired else []) + ([f"still {still}"] if still else [])
        return "; " + "; ".join(parts) if parts else ""


def summarize(scores: Sequence[MapScore]) -> Summary:
    ratios = [s.ratio for s in scores if s.ratio is not None]
    live = [s for s in scores if not s.marked and not s.negative]
    specifics = [s.specific for s in live if s.specific is not None]
    shares = [s.clipped for s in live if s.clipped is not None]
    flagged = {flag: sum(flag in (s.flags or []) for s in scores) for flag in FLAGS}
    return Summary(
        len(scores),
        sum(bool(s.dead) for s in scores),
        sum(s.error is not None for s in scores),
        len(live),
        sum(1 for r in ratios if r >= 1.0),
        float(np.median(ratios)) if ratios else None,
        all(s.best_natural is not None for s in scores),
        float(np.mean(specifics)) if specifics else None,
        float(np.median(shares)) if shares else None,
        sum(bool(s.negative) for s in scores),
        flagged,
        sum(bool(s.repaired) for s in scores),
        sum(s.twin is not None for s in scores),
    )
