"""The gallery's HTML pages: the index, a page per layer, per map and per sample image.

Each body is built knowing the path of its own page, so every link is made
relative by layout.link and no page counts "../" by hand.
"""

from __future__ import annotations

import numpy as np

from .. import models
from ..evaluation import scoring
from ..methods import activations
from ..models import inputs
from ..patterns import layout
from ..pixels.preprocess import as_preprocess
from ..version import __version__
from . import html, map_page, thumbs
from .html import esc
from .pictures import sample_vmax
from .site import LayerResult, Sample, Site

RATIO_NOTE = (
    "×ratio = the activation the map's pattern reaches (its saved PNG, read back) over the best natural "
    "image's, both the map's mean at the model's input range. Dead maps (no natural image drives them "
    "above zero) are marked in red. Specificity = the share of live maps whose own pattern drives them harder "
    "than any other map's pattern; clipped = the median share of a pattern's pixels with a channel at 0 or 255; "
    "path = whether a pattern's activations in the layers before follow its top natural images' more closely than "
    'random images\' do (docs/method.md, "Can you trust a pattern?").'
)
HOME = ("index", layout.INDEX)
ATLAS_NOTE = (
    "Thousands of activation vectors of natural images laid out in 2-D and binned into a grid; each cell shows "
    "the pattern of its mean vector, so neighbouring cells show what the layer sees as alike (Carter et al. 2019)."
)


def write_all(site: Site) -> None:
    site.out.write(layout.STYLE, html.CSS.encode())
    for r in site.layers:
        page = layout.layer_page(r.info)
        _write(site, page, f"Layer {r.info.name}", _layer_body(site, r, page), [HOME])
        for m in range(r.info.maps):
            page = layout.map_page(r.info, m)
            _write(
                site,
                page,
                f"{r.info.name} · map {m}",
                map_page.body(r, m, page),
                [HOME, ("layer", layout.layer_page(r.info))],
            )
    for sample in site.samples:
        page = layout.explain(sample.path, "html")
        _write(site, page, f"Why {sample.path.name}?", _explain_body(site, sample, page), [HOME])
    if site.classes is not None:
        _write(site, layout.CLASSES, f"Classes of {site.loaded.name}", _classes_body(site, layout.CLASSES), [HOME])
    _write(site, layout.INDEX, f"featviz · {site.loaded.name}", _index_body(site, layout.INDEX), [HOME])


def _write(site: Site, page: str, title: str, body: str, nav: list[tuple[str, str]]) -> None:
    site.out.write(page, html.page(title, body, page, nav).encode())


def _tiles(r: LayerResult, page: str, anchors: bool = False) -> str:
    tiles = [
        html.tile(
            layout.link(page, layout.map_picture(r.info, "thumb", s.map)),
            s.caption(),
            target=layout.link(page, layout.map_page(r.info, s.map)),
            marked=s.marked or s.flagged,
            anchor=f"map-{s.map}" if anchors else "",
        )
        for s in r.scores
    ]
    return f'<div class="tiles">{"".join(tiles)}</div>'


NOT_SCORED = (
    "Not scored: featviz has no natural images for this model's input, so there is no ratio and no dead mark. "
    "Pass --dataset with images like the ones the model was trained on to score them."
)


def _class_tiles(site: Site, page: str) -> str:
    c = site.classes
    tiles = [
        html.tile(
            layout.link(page, layout.map_picture(c.layer.info, "thumb", s.map)),
            f"{c.name(s.map)} {s.caption().partition(' ')[2]}".strip(),
            target=layout.link(page, layout.CLASSES) + f"#class-{s.map}",
            marked=s.marked or s.flagged,
        )
        for s in c.layer.scores
    ]
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _layer_line(r: LayerResult) -> str:
    summary = scoring.summarize(r.scores)
    trust = esc(summary.trust_text().removeprefix("; "))
    trust = f" {trust[0].upper()}{trust[1:]}." if trust else ""
    live_maps = [s.map for s in r.scores if not s.marked and not s.negative]
    if r.paths is not None:
        closer = sum(r.paths[m].closer for m in live_maps)
        trust += f" Path closer to the exemplars' than random images' for {closer} of {len(live_maps)}."
    if r.two_choice is not None and live_maps:
        t = r.two_choice
        trust += (f" Two-choice accuracy ({esc(t.observer)} observing): {np.mean(t.synthetic[live_maps]):.0%} with "
                  f"synthetic references, {np.mean(t.natural[live_maps]):.0%} with natural ones.")  # fmt: skip
    if r.diverse is not None:
        d = r.diverse
        every = sum(all(s.ratio is not None and s.ratio >= 1 for s in row) for row in d.scores)
        trust += f" Diversity: all {d.k} patterns at ratio ≥ 1 for {every} of {len(d.maps)} maps."
    if not summary.scored:
        return f"{r.info.maps} maps, {esc(models.shape_text(r.info.output_shape))}; {NOT_SCORED}{trust}"
    return (
        f"{r.info.maps} maps, {esc(models.shape_text(r.info.output_shape))}; "
        f"{summary.dead + summary.errors} dead or in error; "
        f"{summary.at_least_one} of {summary.live} live maps at ratio ≥ 1.{trust}{_checked(summary)}"
    )


def _checked(summary: scoring.Summary) -> str:
    """' Self-check: 3 repaired; still flagged: 1 collapsed.' (evaluation/self_check.py), or ''."""
    text = esc(summary.check_text().removeprefix("; "))
    return f" Self-check: {text}." if text else ""


def _layer_body(site: Site, r: LayerResult, page: str) -> str:
    kernels = site.out.path(layout.kernels(r.info)).exists()
    kernel_note = (
        " Each tile of this first convolution shows its kernel (red positive, blue negative) left of the pattern."
    )
    parts = [
        f'<p class="muted">{esc(r.info.class_name)}; {_layer_line(r)} {RATIO_NOTE}{kernel_note if kernels else ""}</p>',
        "<h2>Patterns</h2>",
        _tiles(r, page, anchors=True),
        f'<h2>Activations of the sample images</h2><p class="muted">One shared colour scale, 0 to '
        f"{sample_vmax(site, r):.3g} (viridis). Map i is the i-th tile, row by row.</p>",
    ]
    for sample in site.samples:
        picture = html.image_at(page, layout.sample_activations(r.info, sample.path), f"maps for {sample.path.name}")
        parts.append(f'<div class="card"><h3>{esc(sample.path.name)}</h3>{picture}</div>')
    if kernels:
        parts += ["<h2>Kernels</h2>", html.image_at(page, layout.kernels(r.info), "kernels")]
    return "\n".join(parts)


def _explain_body(site: Site, sample: Sample, page: str) -> str:
    r = site.innermost
    acts = activations.Activations(r.info, sample.input, sample.maps[r.info.name], sample.output)
    parts = [
        '<div class="row"><div>'
        + html.image_at(page, layout.explain(sample.path, "png"), sample.path.name, cls="thumb", width=thumbs.MAP_PX)
        + f'</div><div><p>The model {esc(_prediction(sample))}.</p><p class="muted">The {site.settings.explain_k} '
        f"maps of {esc(r.info.name)} this image drives hardest (mean activation), each with its pattern and the "
        "natural images that drive it hardest.</p></div></div>"
    ]
    for m, mean in acts.top(site.settings.explain_k):
        parts.append(
            f'<div class="card row"><div>{html.link_to(page, layout.map_page(r.info, m), f"map {m}")}<br>'
            f'<span class="muted">mean {mean:.3f}</span></div>'
            + html.image_at(
                page, layout.map_picture(r.info, "thumb", m), f"pattern of map {m}", cls="thumb", width=thumbs.MAP_PX
            )
            + (
                html.image_at(
                    page, layout.map_picture(r.info, "top", m), f"top images of map {m}", cls="thumb", width=232
                )
                if r.stats is not None
                else ""
            )
            + "</div>"
        )
    return "".join(parts)


def _prediction(sample: Sample) -> str:
    return activations.describe_predictions(activations.top_outputs(sample.output, 2))


def _index_body(site: Site, page: str) -> str:
    samples = "".join(
        f"<li>{html.link_to(page, layout.explain(s.path, 'html'), s.path.name)}: {esc(_prediction(s))}</li>"
        for s in site.samples
    )
    parts = [
        _model_facts(site),
        f'<p class="muted">{RATIO_NOTE}</p>',
        f"<h2>Why does it see that?</h2><ul>{samples}</ul>",
    ]
    if site.classes is not None:
        parts.append(f"<h2>{html.link_to(page, layout.CLASSES, 'Classes')}</h2>")
        name = esc(site.classes.layer.info.name)
        what = f"One pattern per class of the layer {name}: the input its logit rises most for."
        parts += [f'<p class="muted">{what}</p>', _class_tiles(site, page)]
    if site.out.path(layout.COMPARE_INDEX).exists():
        parts.append(f"<p>{html.link_to(page, layout.COMPARE_INDEX, 'Comparisons with other models')}</p>")
    atlas = layout.atlas_page(site.innermost.info) if site.layers else None
    if atlas is not None and site.out.path(atlas).exists():
        name = site.innermost.info.name
        parts.append(f"<h2>{html.link_to(page, atlas, f'Activation atlas of {name}')}</h2>")
        parts.append(f'<p class="muted">{ATLAS_NOTE}</p>')
    for r in site.layers:
        parts.append(f"<h2>{html.link_to(page, layout.layer_page(r.info), r.info.name)}</h2>")
        parts += [f'<p class="muted">{_layer_line(r)}</p>', _tiles(r, page)]
    seeds = ", ".join(map(str, site.settings.seeds))
    recipe = f"{site.settings.recipe.steps} steps per pattern, seeds {esc(seeds)}; featviz {esc(__version__)}."
    parts.append(f'<p class="muted">{recipe}</p>')
    return "\n".join(parts)


def _model_facts(site: Site) -> str:
    """The model's file, hash, input, size, and its table of layers."""
    model = site.loaded.model
    rows = [
        (
            i.index,
            i.name,
            i.class_name,
            models.shape_text(i.output_shape),
            i.maps if i.spatial else "-",
            f"{i.params:,}",
        )
        for i in models.list_layers(model)
    ]
    return (
        f"<p><strong>{esc(site.loaded.name)}</strong> · sha256 <code>{esc(site.loaded.sha256)}</code><br>"
        f"input {esc(models.shape_text(models.input_shape(model)))}, {esc(_input_text(site))} · "
        f"{esc(f'{model.count_params():,}')} parameters</p>"
        + html.table(["#", "layer", "class", "output", "maps", "params"], rows, numeric=(0, 4, 5))
    )


def _input_text(site: Site) -> str:
    """'pixels in 0..255 (read from the model's own Rescaling layer ...)', or as given."""
    text = as_preprocess(site.settings.input_range).describe()
    expected = inputs.expected_input(site.loaded.model)
    if expected is not None and expected.preprocess == site.settings.input_range:
        return f"{text} (read from {expected.reason})"
    return text


def _classes_body(site: Site, page: str) -> str:
    """Each class: its pattern from every seed, its top natural images, the figures, and other models' verdicts."""
    c = site.classes
    r = c.layer
    head = ["class", "ratio", "the model reads its pattern as"] + [f"{t.model} reads it as" for t in c.transfer]
    rows, cards = [], []
    for s in r.scores:
        verdict = f"{c.name(s.verdict[0])} ({s.verdict[1]:.1%})" if s.verdict else "n/a"
        others = [f"{c.name(t.verdicts[s.map].predicted)} ({t.verdicts[s.map].probability:.1%})" for t in c.transfer]
        rows.append([c.name(s.map), map_page.ratio_text(s), verdict, *others])
        top = html.image_at(
            page, layout.map_picture(r.info, "top", s.map), f"top images of class {s.map}", cls="thumb", width=232
        )
        seeds = html.image_at(
            page, layout.map_picture(r.info, "seeds", s.map), f"patterns of class {s.map}", cls="thumb"
        )
        label = f'<div><strong>{esc(c.name(s.map))}</strong><br><span class="muted">{esc(s.caption())}</span></div>'
        shown = top if r.stats is not None else ""
        cards.append(f'<div class="card row" id="class-{s.map}">{label}{seeds}{shown}</div>')
    shares = "; ".join(f"{t.model}: {t.share([s.map for s in r.scores]):.0%}" for t in c.transfer) or "no other models"
    return "\n".join(
        [
            f'<p class="muted">One pattern per class of {esc(r.info.name)}, maximizing its logit (the input to the '
            "softmax), from every seed; beside it the natural images of that class with the highest logit. Ratio = "
            "the logit the saved pattern reaches over the best natural image of its class. A class pattern that only "
            "its own model reads as its class is an adversarial image, not a picture of the class: the other "
            f"models trained on the same data read them as their class this often: {esc(shares)}.</p>",
            html.table(head, rows),
            *cards,
        ]
    )
