"""A map's page in the gallery: its pattern at every seed, its top natural images, what it feeds, its statistics."""

from __future__ import annotations

import numpy as np

from ..evaluation import scoring, self_check
from ..methods import diversity
from ..patterns import layout
from ..runtime import stable
from . import built_from, html
from .html import esc
from .site import LayerResult


def body(r: LayerResult, m: int, page: str) -> str:
    parts = [
        _steps(r, m, page),
        f'<p class="muted">Layer {esc(r.info.name)}, map {m}.{_status(r.scores[m])}</p>',
        f"<h2>Pattern, seeds {esc(', '.join(map(str, r.patterns)))}</h2>",
        html.image_at(page, layout.map_picture(r.info, "seeds", m), f"patterns of map {m}"),
        _negative(r, m, page),
        _diverse(r, m, page),
        _accentuated(r, m, page),
    ]
    if r.stats is not None:
        parts += [
            f'<h2>Top {r.stats.top.shape[1]} natural images</h2><p class="muted">Best first, the map\'s activation '
            "overlaid (inferno).</p>",
            html.image_at(page, layout.map_picture(r.info, "top", m), f"top natural images of map {m}"),
        ]
    parts += [built_from.section(r, m, page), _feeds(r.feeds[m]) if r.feeds is not None else ""]
    parts += ["<h2>Statistics</h2>", _statistics(r, m)]
    return "\n".join(part for part in parts if part)


def _status(score: scoring.MapScore) -> str:
    if score.flags or score.remedy:
        return _check(score)
    if score.negative:
        return (" <strong>Negative only:</strong> no natural image drives it above zero, but some drive it below: "
                "a signed map whose signal is negative. <code>featviz patterns --objective negative</code> shows "
                "what drives it lowest.")  # fmt: skip
    return " <strong>Dead:</strong> no natural image drives it above zero." if score.dead else ""


CHECKS = {
    "collapsed": "another map's pattern drives it at least as hard as its own does",
    "failed": "its pattern reaches less than the best natural image does, or is a flat picture",
    "capped": "its pattern sits at its activation's ceiling, where the gradient stops",
    "noisy": "its pattern has more than 3 times natural images' fine detail: some of it may be noise",
    "garish": "its pattern's colours are more than 1.5 times as saturated as natural images'",
}


def _check(score: scoring.MapScore) -> str:
    """What the self-check found, and what its remedy did (evaluation/self_check.py)."""
    found = "; ".join(f"<strong>{flag}</strong>: {_found(score, flag)}" for flag in score.flags or [])
    text = f" Self-check: {found}." if found else " Self-check: nothing left to flag."
    if score.remedy == self_check.YIELD:
        gave_way = "its new pattern replaced the one before and freed that map"
        outcome = gave_way if score.repaired else "the pattern before stayed: giving way freed no map, or cost too much"
        return text + (f" Remedy tried: <code>{self_check.YIELD}</code>, rendered again to give way to a map whose own "
                       f"pattern this one tied or beat; {outcome}.")  # fmt: skip
    if score.remedy:  # the last rung of the map's ladder: an earlier one may have replaced the first pattern
        outcome = "its pattern replaced the one before" if score.repaired else "the pattern before it stayed, as better"
        text += f" Last remedy tried: <code>{esc(score.remedy)}</code>; {outcome}."
    return text


def _found(score: scoring.MapScore, flag: str) -> str:
    if flag != "collapsed" or score.twin is None:
        return CHECKS[flag]
    return (f"map {score.twin}'s pattern drives it at least as hard as its own does, and the two are twins: "
            f"natural images drive them alike (r &ge; {self_check.TWIN_R}), so no image tells them apart by "
            "much")  # fmt: skip


def _negative(r: LayerResult, m: int, page: str) -> str:
    if r.negative is None:
        return ""
    return (
        f'<h2>Negative pattern</h2><p class="muted">What drives the map lowest (seed {r.negative_seed}); '
        f"ratio to the natural image that drives it lowest: {esc(ratio_text(r.negative.scores[m]))}.</p>"
        + html.image_at(page, layout.map_picture(r.info, "negative", m), f"negative pattern of map {m}")
    )


def _diverse(r: LayerResult, m: int, page: str) -> str:
    if r.diverse is None:
        return ""
    d, i = r.diverse, r.diverse.maps.index(m)
    ratios = ", ".join("n/a" if s.ratio is None else f"{s.ratio:.2f}" for s in d.scores[i])
    natural = d.natural_dissimilarity
    aim = "lucid's diversity term"
    if natural is not None:
        aim += f", aimed at {diversity.MARGIN:g} times the spread of the map's top {d.k} natural images"
    natural = "" if natural is None else f" (its top {d.k} natural images: {natural[i]:.3f})"
    return (
        f'<h2>{d.k} diverse patterns</h2><p class="muted">Optimized together with a penalty on the similarity '
        f"of their styles ({aim}). Ratios {esc(ratios)}; mean pairwise dissimilarity "
        f"{d.dissimilarity[i]:.3f}{esc(natural)}.</p>"
        + html.image_at(page, layout.map_picture(r.info, "diverse", m), f"{d.k} diverse patterns of map {m}")
    )


def _accentuated(r: LayerResult, m: int, page: str) -> str:
    if r.accentuated is None:
        return ""
    a = r.accentuated
    return (
        f'<h2>Its top natural image, accentuated</h2><p class="muted">Changed as little as possible until the '
        f"map responds strongly (feature accentuation): its activation went from {a.before[m]:.4g} to "
        f"{a.after[m]:.4g}, with a root-mean-square pixel change of {a.distance[m]:.3f} (0..1 units).</p>"
        + html.image_at(
            page, layout.map_picture(r.info, "accentuated", m), f"top natural image of map {m}, accentuated"
        )
    )


def _statistics(r: LayerResult, m: int) -> str:
    score, stats = r.scores[m], r.stats
    rows = [("pattern's value", "n/a" if score.value is None else f"{score.value:.4g}"), ("ratio", ratio_text(score))]
    if score.specific is not None:
        rows.append(("specific (its own pattern drives it hardest)", "yes" if score.specific else "no"))
    if score.clipped is not None:
        rows.append(("clipped (pixels with a channel at 0 or 255)", f"{score.clipped:.1%}"))
    if r.two_choice is not None:
        t = r.two_choice
        rows.append((f"two-choice accuracy ({t.observer} observing), synthetic / natural references",
                     f"{t.synthetic[m]:.0%} / {t.natural[m]:.0%}"))  # fmt: skip
    if r.paths is not None:
        path = r.paths[m]
        verdict = "closer than random images" if path.closer else "no closer than random images"
        rows.append(("path: rank correlation with the top 9, pattern / random images",
                     f"{path.pattern:+.2f} / {path.random:+.2f}: {verdict}"))  # fmt: skip
    if stats is not None:
        rows[:0] = [
            ("best natural (max of the map mean)", f"{stats.best[m]:.4g}"),
            ("mean over the dataset", f"{stats.mean[m]:.4g}"),
            ("fires (any unit > 0) on", f"{stats.fires[m]:.1%} of images"),
        ]
    return html.table(["statistic", "value"], rows)


def ratio_text(score: scoring.MapScore) -> str:
    if score.error:
        return f"failed: {score.error}"
    if score.dead is None:
        return "not scored (no natural images for this model)"
    if score.negative:
        return "n/a (negative only: its signal is below zero; see its negative pattern)"
    return "n/a (dead map)" if score.dead else f"{score.ratio:.2f}"


def _steps(r: LayerResult, m: int, page: str) -> str:
    """Links to the previous map, back to this map's tile on the layer page, and to the next map."""
    links = [html.link_to(page, layout.map_page(r.info, m - 1), f"← map {m - 1}")] if m > 0 else []
    links.append(html.link_to(page, layout.layer_page(r.info), f"↑ all maps of {r.info.name}", f"#map-{m}"))
    if m + 1 < r.info.maps:
        links.append(html.link_to(page, layout.map_page(r.info, m + 1), f"map {m + 1} →"))
    return f'<nav class="steps">{"".join(links)}</nav>'


def _feeds(weights: np.ndarray, k: int = 3) -> str:
    """Which classes this map pushes up and down most, from the head's weights."""
    order = stable.descending(weights)
    up = ", ".join(f"{c} ({weights[c]:+.3g})" for c in order[:k] if weights[c] > 0) or "none"
    down = ", ".join(f"{c} ({weights[c]:+.3g})" for c in order[::-1][:k] if weights[c] < 0) or "none"
    return (
        f"<h2>What this map feeds</h2><p>Pushes up class {esc(up)}; pushes down class {esc(down)}.</p>"
        '<p class="muted">The change in each class\'s logit when every unit of this map rises by one, '
        "read from the weights of the model's dense head.</p>"
    )
