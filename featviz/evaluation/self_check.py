"""What went wrong with a map's pattern, by name, and which remedy to try (issue #30).

After every render, each map whose pattern could mislead is flagged:

- **collapsed**: another map's pattern drives it at least as hard as its own
  pattern does (it is not specific): many maps drawing one shared image;
- **failed**: a live map whose pattern does not reach what natural images
  do: a value at or below zero, a flat picture, or a ratio below FAILED_RATIO;
- **capped**: the map's value sits at its bounded activation's ceiling
  (ReLU6's 6, tanh's 1), where the mean objective has no gradient left;
- **noisy**: a pattern with nothing else wrong whose fine detail is more
  than NOISY_DETAIL times natural images' (evaluation/naturalness.py):
  speckle over the feature. On a layer whose median is over that too
  (`busy`), its remedy, "smoother", renders it again with a steeper
  spectrum and keeps that only where the map loses nothing the
  other flags guard (still specific, still at ratio >= 1) and keeps at
  least half its value (the "holds" rule).
- **garish**: a pattern with nothing else wrong whose colour is more than
  GARISH_COLOUR times as saturated as natural images': colours no
  photograph has. On a layer whose median is over that too (`garish_layer`),
  its remedy, "paler", renders it again with the colour directions at
  PALER_CHROMA of the recipe's, kept by the same "holds" rule. On
  c10_bn_after_flat's relu2 it kept 8 of 17 candidates, and the layer went
  from 1.56x natural images' saturation to 1.33x, every map still specific
  and at ratio >= 1.

Dead and negative maps carry no flag: no natural image drives them above
zero, so there is nothing for a pattern to reach. Each flag has a ladder
of remedies (REMEDIES), tried in turn on the flagged maps alone while the
flag stays; a candidate replaces the pattern when it is better by one rule
(`better`): specific first, then the higher ratio (or value, when there is
nothing to score against).

Measured on the zoo (docs/results.md): a collapsed map is almost always one
the smooth default recipe cannot tell apart from its neighbours; with a
less steep spectrum ("sharper": decay 1.5) 29 of 30 collapsed maps of a
Conv-ReLU-BN model became specific, with decay 1 all 30. A new start alone
fixed 5 of 30, and an objective relative to the layer's mean (Olah et al.'s
"specific" objectives) none. But on that model's innermost layer the judge
kept 1 of 31 sharper patterns: each also drove some specific map harder
than that map's own pattern. "apart" (objectives.apart) optimizes against
exactly that, holding every specific map below its own pattern's value,
at sharper's spectrum: the judge kept 27 of 27, and the layer's
specificity went 0.72 -> 0.99 (benchmarks/bench_remedies.py). At
lucid's 1/f it kept as many, but drew them as black and white stripes
with 2.4 times the fine detail. A failed
map of a colour model often needs the colour the default holds back
(chroma 0.25); in full colour its candidate drives its neighbours too, and
the judge refused nearly all. "vivid" is "apart" in full colour: the
judge kept 64 of 64 such candidates on four middle layers, 35 of them at
ratio >= 1. A map still failed after both was often still climbing when
its steps ran out (tanh's gradient fades as it saturates): "longer" goes
on from its saved pattern, at twice the rate, and on tanh's middle layer
the maps at ratio >= 1 went from 37 to 56 of 64.
"further" goes on once more from where "longer" stopped: on the zoo's
38 layers the failed maps left went from 19 to 9.

A map still collapsed after "apart" has a rival (`rivals`): the map whose
pattern drives it at least as hard as its own. "overtake" is "apart" going
on from that rival's pattern, where the collapsed map already responds as
much as it ever did, while the limits push the rival down: over the zoo's
38 layers the maps left collapsed went from 19 to 12 (docs/method.md).

A collapsed map whose own ladder is done can be stuck for good: at a
bounded activation's ceiling (ReLU6's 6) its own pattern cannot go
higher, and the map whose pattern ties or beats it (its `rival`) is
specific, so nothing renders that one again. Then the rival yields
("yield"): it is rendered again as "apart" does, holding the collapsed
maps below their own patterns' values as well as the specific ones, and
kept when it stays specific, holds its value ("holds") and frees at
least one map (the "frees" rule). Twins too: natural images drive them
alike, but a pattern can still tell them apart.

A capped map that is also failed or collapsed goes on after "uncapped"
(`remedy_for`); one still failed ends with "finer", in float32: on tanh's
innermost layer its maps at ratio >= 1 went from 59 to 61 of 64.
"""

from __future__ import annotations

import numpy as np

from . import scoring
from .naturalness import Naturalness, high_frequency_share, saturation
from .scoring import MapScore

FLAGS, LOOKS = scoring.FLAGS, scoring.LOOKS
COLLAPSED, FAILED, CAPPED, NOISY, GARISH = FLAGS
FAILED_RATIO = 1.0  # a pattern that a natural image beats has not found what the map responds to most
CAP_SHARE = 0.95  # a value within 5% of the activation's ceiling sits at it
FLAT = 1.0 / 255  # a pattern whose pixels vary by less than one 8-bit level is a flat picture
NOISY_DETAIL = 3.0  # times natural images' median high-frequency share: issue #30's goal for a layer, per map
GARISH_COLOUR = 1.5  # times natural images' median saturation: issue #30's goal for a layer, per map
PALER_CHROMA = 0.5  # "paler" renders the colour directions at this share of the recipe's
TWIN_R = 0.95  # two maps whose values over natural images correlate this much are twins (`twins`)
HOLDS_KEEPS = 0.5  # under the "holds" rule a candidate keeps at least half the value of the pattern it replaces
APART, VIVID, LONGER, YIELD = "apart", "vivid", "longer", "yield"
OVERTAKE = "overtake"  # "apart", going on from the rival's pattern: a collapsed map's last rung
FURTHER = "further"  # "longer" once more, from where it stopped: a failed map's last rung
MUTED = "longer-muted"  # "longer" in the recipe's own colour: what a capped map still failed goes on with
FINER = "finer"  # "longer-muted" once more, in float32, on the map's value alone: a capped map's last rung
# remedies that go on from a saved pattern: the map's own, or its rival's
GOING_ON = (LONGER, MUTED, OVERTAKE, FURTHER, FINER)
# remedies that hold the layer's other maps below their own patterns' values (`limits`)
HOLDING = (APART, VIVID, LONGER, MUTED, YIELD, OVERTAKE, FURTHER)
APART_MARGIN = 0.1  # 10% below those values: render's transforms blur the bound
# Each flag's remedies, tried one per round while the flag stays; a map's first flag in this order decides.
SMOOTHER, PALER = "smoother", "paler"
REMEDIES = {
    CAPPED: ("uncapped",),
    FAILED: ("restart", VIVID, LONGER, FURTHER),
    COLLAPSED: ("sharper", APART, OVERTAKE),
    NOISY: (SMOOTHER,),
    GARISH: (PALER,),
}
LOOKS_REMEDIES = (SMOOTHER, PALER)  # the remedies of LOOKS, in the order a map that has both flags gets them
# Every remedy a repair task can carry: the ladders', a capped map's after "uncapped", and a rival's
EVERY_REMEDY = (*dict.fromkeys(r for ladder in REMEDIES.values() for r in ladder), MUTED, FINER, YIELD)
# How a remedy's candidate is judged (Judge.offer): "better" by default; "ties" also wins a tie (its objective went
# past the ceiling where the first one stopped); "holds" wins when the map keeps its specificity, ratio >= 1
# and half its value; "frees" when it holds and one more map of the layer is specific with it.
RULES = {"uncapped": "ties", SMOOTHER: "holds", PALER: "holds", YIELD: "frees"}
LADDER = 4  # the flags' longest ladders: the rounds that can render every flagged map (execution/calibration.py)
# Rounds of repairs at most; a run stops at the first round with nothing to render. A failed map, and a capped map
# also failed or collapsed, have four rungs; then a rival yields, and the patterns of the last rungs can make a layer
# busy whose noisy maps are then rendered "smoother", then garish ones "paler": all in this run, so that the same
# run again finds nothing left.
ROUNDS = 8


def flags(
    score: MapScore, specific: bool, pattern: np.ndarray, ceiling: float | None, natural: Naturalness | None = None
) -> list[str]:
    """The flags of one map's pattern (in 0..1, as saved), given whether it is specific, the activation's ceiling
    and natural images' medians (None: not measured, so never noisy or garish)."""
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
    if not found and natural is not None:
        found = [flag for flag in LOOKS if _past(flag, _measure(flag, pattern), natural)]
    return found


def _measure(flag: str, pattern: np.ndarray) -> float:
    return {NOISY: high_frequency_share, GARISH: saturation}[flag](pattern)


def _past(flag: str, value: float, natural: Naturalness) -> bool:
    """Whether a pattern's (or a layer's median) fine detail or saturation is past its goal, as a multiple of
    natural images' median; never where that median is 0 or unmeasured (a grey model's saturation)."""
    limit = {NOISY: NOISY_DETAIL * natural.high_frequency, GARISH: GARISH_COLOUR * natural.saturation}[flag]
    return bool(limit > 0 and value > limit)


def rivals(matrix: np.ndarray, maps: list[int]) -> dict[int, int]:
    """Each collapsed map of `maps` and its rival: {map: rival}.

    matrix[i, j] is map maps[j]'s response to the pattern of maps[i]; a map's rival is the map whose pattern
    drives it hardest, at least as hard as its own.
    """
    if len(maps) < 2:
        return {}
    values = np.nan_to_num(np.asarray(matrix, np.float64), nan=-np.inf)
    others = np.where(np.eye(len(values), dtype=bool), -np.inf, values)
    found = {}
    for j, own in enumerate(maps):
        i = int(np.argmax(others[:, j]))
        if np.isfinite(others[i, j]) and others[i, j] >= values[j, j]:
            found[own] = maps[i]
    return found


def twins(found: dict[int, int], correlation: np.ndarray | None) -> dict[int, int]:
    """The collapsed maps of `found` (their `rivals`) whose rival is their twin: natural images drive the two
    alike, `correlation` (one row and column per map of the layer) at least TWIN_R."""
    if correlation is None:
        return {}
    return {m: rival for m, rival in found.items() if correlation[m, rival] >= TWIN_R}


def remedy_for(found: list[str], tried: str | None = None) -> str | None:
    """The next remedy for a map with these flags, after `tried` (the last one tried on it); None when done.
    FURTHER follows LONGER kept or not: after a refused LONGER it is the same render under the other maps'
    limits as they stand a round later, and on tanh's middle layer one such candidate was kept.

    A capped map's own remedy comes first. One that is also (or still) failed then goes on from its pattern
    in its own colour (MUTED): on tanh's innermost layer, maps that natural images drive to 1.0 sat at 0.96
    to 0.98 after `uncapped` alone, and what they lack is the last of the ceiling, not colour. Then once
    more in float32, on its own value alone (FINER): in bfloat16 tanh's steps below 1 are 2^-8, and its
    gradient 1 - y^2 is 0 once y rounds to 1, short of the last few thousandths that natural images reach;
    holding the other maps down costs it too. One that is also collapsed climbs the collapsed ladder.
    """
    flags = [f for f in REMEDIES if f in found]
    if flags and flags[0] in LOOKS:
        return _looks_remedy(flags, tried)
    ladder = REMEDIES[flags[0]] if flags else ()
    if CAPPED in flags or tried in (*REMEDIES[CAPPED], MUTED):
        then = {FAILED: ("restart", MUTED, FINER), COLLAPSED: REMEDIES[COLLAPSED]}
        ladder = REMEDIES[CAPPED] + next((then[f] for f in flags if f in then), ())
    if tried is None:
        return ladder[0] if ladder else None
    later = ladder[ladder.index(tried) + 1 :] if tried in ladder else ()
    return later[0] if later else None


def _looks_remedy(flags: list[str], tried: str | None) -> str | None:
    """The flags of how a pattern looks share one ladder, "smoother" then "paler", each rung for its own flag;
    a map that another remedy was tried on is not rendered again for its looks. A rung the map's layer skips
    (Store.repairs: not busy, not garish) is passed over, and not tried later once a later rung was."""
    rungs = [(flag, remedy) for flag in LOOKS for remedy in REMEDIES[flag]]  # LOOKS_REMEDIES, with their flags
    names = [remedy for _, remedy in rungs]
    if tried is not None and tried not in names:
        return None
    later = rungs[names.index(tried) + 1 :] if tried is not None else rungs
    return next((remedy for flag, remedy in later if flag in flags), None)


def limits(scores: dict[int, MapScore], units: int, remedy: str | None = None) -> tuple[float, ...]:
    """Per map of a layer of `units`: the bound the HOLDING remedies hold it under, APART_MARGIN below its own pattern's
    value where that pattern is specific, inf where there is no specificity to keep (self_check.Judge's rule).
    For YIELD, a collapsed map is held below its own pattern's value too: the rival gives way to it."""
    bound = [np.inf] * units
    for m, s in scores.items():
        held = s.specific or (remedy == YIELD and COLLAPSED in (s.flags or []))
        if held and s.value is not None:
            bound[m] = s.value - APART_MARGIN * abs(s.value)
    return tuple(bound)


def busy(pictures: np.ndarray, natural: Naturalness | None) -> bool:
    """Whether a layer's patterns (N, H, W, C) are busier than issue #30's goal: their median high-frequency
    share over NOISY_DETAIL times natural images'. Only such a layer's noisy maps are rendered
    "smoother": on a layer within the goal the few busy maps stay, flagged, and cost no render."""
    return _layer_past(NOISY, pictures, natural)


def garish_layer(pictures: np.ndarray, natural: Naturalness | None) -> bool:
    """Whether a layer's patterns are more saturated than issue #30's goal, at their median: GARISH_COLOUR times
    natural images'. Only such a layer's garish maps are rendered "paler"."""
    return _layer_past(GARISH, pictures, natural)


def _layer_past(flag: str, pictures: np.ndarray, natural: Naturalness | None) -> bool:
    values = [_measure(flag, p) for p in pictures if np.isfinite(p).all()]
    return bool(natural is not None and values and _past(flag, float(np.median(values)), natural))


def calmer(remedy: str, candidate: np.ndarray, current: np.ndarray) -> bool:
    """Whether a remedy's candidate picture may be offered at all: a "smoother" one only with less fine detail,
    a "paler" one only with less saturation."""
    flag = {SMOOTHER: NOISY, PALER: GARISH}.get(remedy)
    return flag is None or _measure(flag, candidate) < _measure(flag, current)


def better(candidate: tuple[bool, float], current: tuple[bool, float]) -> bool:
    """Whether (specific, ratio or value) of a candidate beats the current pattern's: specific first, then higher."""
    return (candidate[0], candidate[1]) > (current[0], current[1])


def _wins(offered: tuple[bool, float], kept: tuple[bool, float], rule: str) -> bool:
    if rule in ("holds", "frees"):
        return offered[0] and offered[1] >= max(min(FAILED_RATIO, kept[1]), HOLDS_KEEPS * kept[1])
    return better(offered, kept) or (rule == "ties" and offered >= kept)


class Judge:
    """Which remedy candidates replace a folder's patterns, one at a time.

    A candidate replaces its map's pattern when it is `better` for that map and takes no other map's
    specificity away: a sharper pattern can drive its neighbours harder than their own patterns do, and
    kept blindly, repairs cascade into collapse. The judge keeps the folder's responses current as it
    accepts: `rows[i, j]` is map j's response to the pattern of map i (scoring.responses' layout).
    """

    def __init__(self, rows: np.ndarray):
        self.rows = np.nan_to_num(np.asarray(rows, np.float64), nan=-np.inf)

    def specific(self) -> np.ndarray:
        diagonal = np.diagonal(self.rows)
        others = np.where(np.eye(len(self.rows), dtype=bool), -np.inf, self.rows).max(axis=0, initial=-np.inf)
        return np.isfinite(diagonal) & (diagonal > others)

    def offer(self, column: int, candidate: np.ndarray, scale: float, rule: str = "better") -> bool:
        """Accept `candidate` (every map's response to it) as map `column`'s pattern? `scale`: its best natural value.

        `rule` (RULES): "better", "ties" (an equal candidate wins too), "holds" (a specific candidate wins at
        ratio >= FAILED_RATIO, or the kept pattern's ratio where that is lower, and HOLDS_KEEPS of its value)
        or "frees" (holds, and more maps of the layer are specific with it than without).
        """
        now, own = self.specific(), float(candidate[column])
        others = np.delete(self.rows[:, column], column).max(initial=-np.inf)
        offered, kept = (bool(own > others), own / scale), (bool(now[column]), self.rows[column, column] / scale)
        if not _wins(offered, kept, rule):
            return False
        harmed = now & (candidate >= np.diagonal(self.rows))
        harmed[column] = False
        if harmed.any():
            return False
        kept_row, self.rows[column] = self.rows[column].copy(), candidate
        if rule == "frees" and self.specific().sum() <= now.sum():
            self.rows[column] = kept_row
            return False
        return True
