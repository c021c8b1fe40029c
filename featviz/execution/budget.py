"""Durations and sizes as people write them, and the rule that fits a run into a time budget."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import FeatvizError

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(min|h|m|s)?")


def parse_duration(text: str) -> float:
    """Seconds from '30m', '90s', '1.5h', '1h30m' or '45' (seconds)."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = list(_PART.finditer(cleaned))
    if not cleaned or "".join(p.group(0) for p in parts) != cleaned:
        raise FeatvizError(f"{text!r} is not a duration: use a number with s, m or h, like 30m, 90s or 1.5h")
    return float(sum(float(p.group(1)) * _UNITS[p.group(2) or "s"] for p in parts))


def duration_text(seconds: float) -> str:
    """'45 s', '3 min 20 s', '2 h 5 min': whole seconds below 10 minutes, tens of seconds below an hour, then
    minutes."""
    if seconds < 600:
        whole = max(1, round(seconds))
    elif seconds < 3600:
        whole = 10 * round(seconds / 10)
    else:
        whole = 60 * round(seconds / 60)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n]
    return " ".join(shown) if shown else "0 s"


def bytes_text(n: float) -> str:
    """'850 MB', '1.3 GB' (decimal units)."""
    if n < 1e9:
        return f"{max(1, round(n / 1e6))} MB"
    return f"{n / 1e9:.1f} GB"


def fit_budget(costs: Sequence[tuple[str, float]], fixed: float, budget: float) -> list[str]:
    """The names to keep, in the order given (most wanted first), such that fixed + their costs <= budget.

    Each name is kept if it still fits what the ones before it left, so a costly layer gives way to cheaper
    ones after it. When none fits, the cheapest alone: a run renders something.
    """
    kept, total = [], fixed
    for name, seconds in costs:
        if total + seconds <= budget:
            kept.append(name)
            total += seconds
    if not kept and costs:
        kept = [min(costs, key=lambda c: c[1])[0]]
    return kept
