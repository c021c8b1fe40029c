"""A static, offline report of a whole model: every layer, every map.

    index.html                    the model, its layers, each layer's patterns (ratio, dead marks)
    layers/<layer>/index.html     all patterns; activation grids of the sample images; first-layer kernels
    layers/<layer>/maps/NNNN.html one map: patterns from several seeds, top natural images, statistics
    explain/<image>.html          the maps a sample image drives hardest, with patterns and exemplars

The slow part, pattern synthesis, runs in units (one layer, seed and chunk
of maps) whose PNGs are the record: a unit listed as done in
.featviz-gallery.json is read back from its files, so an interrupted run
resumes where it stopped, and the result is the same files as an
uninterrupted run. The list is keyed by the model's sha256 and the settings:
changed settings start afresh.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import __version__, activations, bundled, exemplars, images, io, models, pages, patterns, render, thumbs
from .errors import FeatvizError
from .models import LayerInfo

STATE = ".featviz-gallery.json"
CHUNK = 128


@dataclass
class Settings:
    layers: Sequence[str] | None = None  # None: models.feature_layers, the convolutions and merges
    images: Sequence[str | Path] = ()  # () : the bundled sample digits
    dataset: str | Path | None = None
    seeds: Sequence[int] = (0, 1, 2)
    top_k: int = 9
    explain_k: int = 6
    input_range: tuple[float, float] = (0.0, 1.0)
    recipe: render.Recipe = field(default_factory=render.Recipe)


@dataclass
class LayerResult:
    info: LayerInfo
    stem: str
    stats: exemplars.LayerStats
    maps: list[patterns.MapPattern]
    unit_patterns: dict[int, np.ndarray]  # seed -> (maps, H, W, C) in 0..1, as read back from the PNGs


@dataclass
class Report:
    index: Path
    layers: list[LayerResult]
    rendered_units: int
    reused_units: int


def sample_images(specs: Sequence[str | Path]) -> list[Path]:
    """The sample images: files, and the images inside folders; default the bundled digits."""
    if not specs:
        return [bundled.path(f"samples/digit{d}.png") for d in range(10)]
    found: list[Path] = []
    for spec in specs:
        p = bundled.image(spec)
        if p.is_dir():
            found.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in exemplars.IMAGE_SUFFIXES))
        elif p.is_file():
            found.append(p)
        else:
            raise FeatvizError(f"{spec}: no such image file or folder")
    if not found:
        raise FeatvizError("no sample images found")
    return found


def select_layers(model, names: Sequence[str] | None) -> list[LayerInfo]:
    if names is None:
        chosen = models.feature_layers(model)
        if not chosen:
            raise FeatvizError(f"model {model.name!r} has no layer with spatial maps")
        return chosen
    return [models.resolve_layer(model, name) for name in names]


def work_units(layers: Sequence[LayerInfo], seeds: Sequence[int]) -> int:
    return sum(len(seeds) * -(-layer.maps // CHUNK) for layer in layers)


def build(
    loaded: models.LoadedModel,
    out: io.OutputDir,
    settings: Settings = Settings(),
    progress: Callable[[int], None] | None = None,
    on_unit: Callable[[str], None] | None = None,
) -> Report:
    """Write the whole gallery into `out`. `progress` gets optimization steps; `on_unit` each rendered unit."""
    model = loaded.model
    layers = select_layers(model, settings.layers)
    samples = sample_images(settings.images)
    data = exemplars.load_dataset(settings.dataset)
    inputs = exemplars.model_inputs(model, data, settings.input_range)
    stats = exemplars.scan(model, [layer.name for layer in layers], inputs, top_k=settings.top_k)
    state = _State(out, _key(loaded, settings))
    results = []
    for layer in layers:
        stem = io.layer_stem(layer.index, layer.name)
        canvas = patterns.canvas_for(model, layer, None)
        found = {
            seed: _layer_patterns(model, layer, stem, canvas, seed, settings, out, state, progress, on_unit)
            for seed in settings.seeds
        }
        maps = _score(model, layer, stem, found[settings.seeds[0]], stats[layer.name], settings)
        results.append(LayerResult(layer, stem, stats[layer.name], maps, found))
    _write_pages(loaded, out, results, samples, data, inputs, settings)
    return Report(out.root / "index.html", results, state.rendered, state.reused)


# --- resumable pattern units -------------------------------------------------


class _State:
    """Which units are done, saved after each one, under a key of model and settings."""

    def __init__(self, out: io.OutputDir, key: str):
        self.out, self.key, self.rendered, self.reused = out, key, 0, 0
        try:
            saved = json.loads(out.path(STATE).read_text("utf-8"))
        except (OSError, ValueError):
            saved = {}
        self.done = set(saved.get("done", [])) if saved.get("key") == key else set()

    def finish(self, unit: str) -> None:
        self.done.add(unit)
        self.out.write_json(STATE, {"key": self.key, "done": sorted(self.done)})


def _key(loaded: models.LoadedModel, settings: Settings) -> str:
    recipe = patterns.recipe_record(settings.recipe)
    text = json.dumps([loaded.sha256, recipe, list(settings.input_range), __version__], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _pattern_file(stem: str, m: int, seed: int) -> str:
    return f"layers/{stem}/png/map-{m:04d}-s{seed}.png"


def _layer_patterns(model, layer, stem, canvas, seed, settings, out, state, progress, on_unit) -> np.ndarray:
    """All maps of one layer for one seed, in 0..1, read back from their 8-bit PNGs."""
    channels = models.image_channels(model)
    maps = list(range(layer.maps))
    for start in range(0, len(maps), CHUNK):
        part = maps[start : start + CHUNK]
        unit = f"{stem}/s{seed}/c{start}"
        files = [out.path(_pattern_file(stem, m, seed)) for m in part]
        if unit in state.done and all(f.exists() for f in files):
            state.reused += 1
            if progress:
                progress(settings.recipe.steps)
            continue
        found = patterns.synthesize(
            model,
            layer,
            part,
            canvas=canvas,
            recipe=settings.recipe,
            seed=seed + start,
            input_range=settings.input_range,
            chunk=CHUNK,
            progress=progress,
        )
        for m, pattern in zip(part, np.nan_to_num(found)):
            out.write(_pattern_file(stem, m, seed), images.png_bytes(images.to_uint8(pattern, (0.0, 1.0))))
        state.finish(unit)
        state.rendered += 1
        if on_unit:
            on_unit(unit)
    loaded = [images.load_image(out.path(_pattern_file(stem, m, seed)), channels=channels) for m in maps]
    return np.stack(loaded)


def _score(model, layer, stem, unit_patterns, stats, settings) -> list[patterns.MapPattern]:
    """Ratios of the seed-0 patterns (as saved), against the best natural image of each map."""
    maps = list(range(layer.maps))
    values = patterns.score(model, layer, maps, images.to_range(unit_patterns, settings.input_range), "mean")
    out = []
    for m in maps:
        value = float(values[m]) if np.isfinite(values[m]) else None
        dead = not stats.best[m] > 0
        ratio = None if dead or value is None else value / float(stats.best[m])
        error = None if value is not None else "non-finite value"
        out.append(
            patterns.MapPattern(
                m, _pattern_file(stem, m, settings.seeds[0]), value, float(stats.best[m]), ratio, bool(dead), error
            )
        )
    return out


# --- pictures and pages --------------------------------------------------------


def _caption(mp: patterns.MapPattern) -> tuple[str, str]:
    if mp.error:
        return f"{mp.map} failed", "failed"
    if mp.dead:
        return f"{mp.map} dead", "dead"
    return f"{mp.map} ×{mp.ratio:.2f}", ""


def _thumb(out, stem: str, m: int, pattern: np.ndarray) -> str:
    rel = f"layers/{stem}/thumb/map-{m:04d}.png"
    out.write(rel, images.png_bytes(thumbs.upscale(thumbs.to_rgb(pattern), thumbs.factor_for(pattern.shape[0]))))
    return rel


def _write_pages(loaded, out, results: list[LayerResult], samples, data, inputs, settings) -> None:
    out.write("style.css", pages.CSS.encode())
    model = loaded.model
    thumbs_of = {}
    for r in results:
        seed0 = r.unit_patterns[settings.seeds[0]]
        thumbs_of[r.info.name] = [_thumb(out, r.stem, m, seed0[m]) for m in range(r.info.maps)]
    sample_inputs = [activations.prepare_image(model, s, settings.input_range) for s in samples]
    sample_acts, sample_outputs = _sample_activations(model, results, sample_inputs)
    first_conv = _first_conv(model)
    for r in results:
        _exemplar_pictures(model, out, r, data, inputs, settings)
        _layer_page(loaded, out, r, thumbs_of[r.info.name], samples, sample_acts, first_conv)
        for mp in r.maps:
            _map_page(loaded, out, r, mp, settings)
    explained = _explain_pages(out, results, samples, sample_inputs, sample_acts, sample_outputs, thumbs_of, settings)
    _index_page(loaded, out, results, thumbs_of, explained, settings)


def _sample_activations(model, results, sample_inputs) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({layer: (images, h, w, maps)}, model outputs) for the sample images, in one pass."""
    names = [r.info.name for r in results]
    outs = models.extractor(model, names, with_output=True)(np.stack(sample_inputs), training=False)
    return {name: np.asarray(o) for name, o in zip(names, outs)}, np.asarray(outs[-1])


def _first_conv(model) -> str | None:
    for info in models.list_layers(model):
        if info.class_name == "Conv2D":
            return info.name
    return None


def _exemplar_pictures(model, out, r: LayerResult, data, inputs, settings) -> None:
    """Per map: a 3x3 mosaic of its top natural images with the map's activation overlaid."""
    top = r.stats.top
    wanted = sorted(set(top.ravel().tolist()))
    net = models.extractor(model, [r.info.name])
    acts = np.asarray(net(inputs[wanted], training=False))
    row_of = {idx: i for i, idx in enumerate(wanted)}
    factor = thumbs.factor_for(data.x.shape[1], 72)
    for m in range(r.info.maps):
        picked = top[m]
        vmax = max(float(max(acts[row_of[i], ..., m].max() for i in picked)), 1e-8)
        tiles = [thumbs.upscale(thumbs.overlay(data.x[i], acts[row_of[i], ..., m], vmax), factor) for i in picked]
        out.write(f"layers/{r.stem}/top/map-{m:04d}.png", images.png_bytes(thumbs.mosaic(tiles, 3)))


NAV = [("index", "index.html")]


def _layer_page(loaded, out, r: LayerResult, thumb_files, samples, sample_acts, first_conv) -> None:
    model = loaded.model
    root = "../../"
    tiles = []
    for mp, thumb in zip(r.maps, thumb_files):
        caption, state = _caption(mp)
        tiles.append(
            pages.tile(
                root + thumb, caption, link=f"maps/{mp.map:04d}.html", state=state, alt=f"pattern of map {mp.map}"
            )
        )
    body = [
        f'<p class="muted">{pages.esc(r.info.class_name)}, output {pages.esc(_shape(r.info.output_shape))}. '
        "Each tile: the map's pattern; ×ratio = the pattern's activation over the best natural image's. "
        "Dead maps (no natural image drives them above zero) are marked in red.</p>",
        f'<h2>Patterns</h2><div class="tiles">{"".join(tiles)}</div>',
    ]
    acts = sample_acts[r.info.name]
    vmax = max(float(acts.max()), 1e-8)
    body.append(
        f'<h2>Activations of the sample images</h2><p class="muted">One shared colour scale, 0 to '
        f"{vmax:.3g} (viridis). Map i is the i-th tile, row by row.</p>"
    )
    for sample, a in zip(samples, acts):
        rel = f"layers/{r.stem}/acts/{io.slug(sample.stem)}-{_content_hash(sample)}.png"
        out.write(rel, images.png_bytes(thumbs.activation_grid(a, vmax)))
        body.append(
            f'<div class="card"><h3>{pages.esc(sample.name)}</h3>{pages.image(root + rel, f"maps for {sample.name}")}</div>'
        )
    if first_conv == r.info.name:
        weights = models.get_layer(model, r.info.name).get_weights()[0]
        rel = f"layers/{r.stem}/kernels.png"
        out.write(rel, images.png_bytes(thumbs.kernels(weights)))
        body.append(
            f'<h2>Kernels</h2><p class="muted">The {weights.shape[-1]} filters of this first convolution, '
            f"{weights.shape[0]}x{weights.shape[1]}; red positive, blue negative.</p>"
            + pages.image(root + rel, "kernels")
        )
    html = pages.page(f"Layer {r.info.name}", "\n".join(body), root=root, nav=NAV)
    out.write(f"layers/{r.stem}/index.html", html.encode())


def _shape(shape) -> str:
    return "x".join("?" if s is None else str(s) for s in shape)


def _map_page(loaded, out, r: LayerResult, mp: patterns.MapPattern, settings) -> None:
    root = "../../../"
    seeds = []
    for seed in settings.seeds:
        pattern = r.unit_patterns[seed][mp.map]
        seeds.append(thumbs.upscale(thumbs.to_rgb(pattern), thumbs.factor_for(pattern.shape[0], 112)))
    rel = f"layers/{r.stem}/seeds/map-{mp.map:04d}.png"
    out.write(rel, images.png_bytes(thumbs.mosaic(seeds, len(seeds))))
    s = r.stats
    ratio = "n/a (dead map)" if mp.dead else ("failed: " + mp.error if mp.error else f"{mp.ratio:.3f}")
    rows = [
        ("best natural (max of the map mean)", f"{s.best[mp.map]:.4g}"),
        ("mean over the dataset", f"{s.mean[mp.map]:.4g}"),
        ("fires (any unit > 0) on", f"{s.fires[mp.map]:.1%} of images"),
        ("pattern's value", "n/a" if mp.value is None else f"{mp.value:.4g}"),
        ("ratio", ratio),
    ]
    body = (
        f'<p class="muted">Layer <a href="../index.html">{pages.esc(r.info.name)}</a>, map {mp.map}.'
        f"{' <strong>Dead:</strong> no natural image drives it above zero.' if mp.dead else ''}</p>"
        f"<h2>Pattern, seeds {', '.join(map(str, settings.seeds))}</h2>"
        + pages.image(root + rel, f"patterns of map {mp.map}")
        + f'<h2>Top {s.top.shape[1]} natural images</h2><p class="muted">Best first, the map\'s activation '
        "overlaid (inferno).</p>"
        + pages.image(root + f"layers/{r.stem}/top/map-{mp.map:04d}.png", f"top natural images of map {mp.map}")
        + "<h2>Statistics</h2>"
        + pages.table(["statistic", "value"], rows)
    )
    html = pages.page(
        f"{r.info.name} · map {mp.map}", body, root=root, nav=NAV + [("layer", f"layers/{r.stem}/index.html")]
    )
    out.write(f"layers/{r.stem}/maps/{mp.map:04d}.html", html.encode())


def _explain_pages(
    out, results, samples, inputs, sample_acts, outputs, thumbs_of, settings
) -> list[tuple[str, str, str]]:
    """Per sample: the maps of the innermost chosen layer it drives hardest. Returns (name, link, prediction)."""
    r = results[-1]
    made = []
    for sample, x, maps, output in zip(samples, inputs, sample_acts[r.info.name], outputs):
        acts = activations.Activations(r.info, x, maps, output if output.ndim == 1 else None)
        prediction = activations.describe_predictions(acts.predictions(2)) or "no class output"
        rows = []
        for m, mean in acts.top(settings.explain_k):
            link = f"../layers/{r.stem}/maps/{m:04d}.html"
            rows.append(
                f'<div class="card row"><div><a href="{pages.href(link)}">map {m}</a><br>'
                f'<span class="muted">mean {mean:.3f}</span></div>'
                + pages.image("../" + thumbs_of[r.info.name][m], f"pattern of map {m}", cls="thumb", width=112)
                + pages.image(
                    f"../layers/{r.stem}/top/map-{m:04d}.png", f"top images of map {m}", cls="thumb", width=232
                )
                + "</div>"
            )
        rel = f"explain/{io.slug(sample.stem)}-{_content_hash(sample)}"
        picture = f"{rel}.png"
        shown = thumbs.to_rgb(_unit(acts.image, settings))
        out.write(picture, images.png_bytes(thumbs.upscale(shown, thumbs.factor_for(shown.shape[0], 112))))
        body = (
            f'<div class="row"><div>{pages.image("../" + picture, sample.name, cls="thumb", width=112)}</div>'
            f'<div><p>The model {pages.esc(prediction)}.</p><p class="muted">The {settings.explain_k} maps of '
            f"{pages.esc(r.info.name)} this image drives hardest (mean activation), each with its pattern and the "
            "natural images that drive it hardest.</p></div></div>" + "".join(rows)
        )
        out.write(f"{rel}.html", pages.page(f"Why {sample.name}?", body, root="../", nav=NAV).encode())
        made.append((sample.name, f"{rel}.html", prediction))
    return made


def _content_hash(path: Path) -> str:
    """Names sample pages by the image's bytes, so the same image gets the same page wherever it lies."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:6]


def _unit(x: np.ndarray, settings) -> np.ndarray:
    lo, hi = settings.input_range
    return np.clip((x - lo) / (hi - lo), 0, 1)


def _index_page(loaded, out, results, thumbs_of, explained, settings) -> None:
    model = loaded.model
    infos = models.list_layers(model)
    rows = [
        (i.index, i.name, i.class_name, _shape(i.output_shape), i.maps if i.spatial else "-", f"{i.params:,}")
        for i in infos
    ]
    lo, hi = settings.input_range
    body = [
        f"<p><strong>{pages.esc(loaded.name)}</strong> · sha256 <code>{pages.esc(loaded.sha256)}</code><br>"
        f"input {pages.esc(_shape(models.input_shape(model)))}, pixels in {lo:g}..{hi:g} · "
        f"{pages.esc(f'{model.count_params():,}')} parameters</p>",
        pages.table(["#", "layer", "class", "output", "maps", "params"], rows, numeric=(0, 4, 5)),
        "<p class=\"muted\">Ratio = the activation a map's pattern reaches over the best natural image's "
        "(the map's mean, at the model's input range). Dead maps: no natural image drives them above zero.</p>",
    ]
    if explained:
        links = "".join(
            f'<li><a href="{pages.href(link)}">{pages.esc(name)}</a>: {pages.esc(pred)}</li>'
            for name, link, pred in explained
        )
        body.append(f"<h2>Why does it see that?</h2><ul>{links}</ul>")
    if out.path("compare/index.html").exists():
        body.append('<p><a href="compare/index.html">Comparisons with other models</a></p>')
    for r in results:
        live = [mp for mp in r.maps if not mp.dead and not mp.error]
        good = sum(1 for mp in live if mp.ratio is not None and mp.ratio >= 1)
        tiles = []
        for mp, thumb in zip(r.maps, thumbs_of[r.info.name]):
            caption, state = _caption(mp)
            tiles.append(
                pages.tile(
                    thumb,
                    caption,
                    link=f"layers/{r.stem}/maps/{mp.map:04d}.html",
                    state=state,
                    alt=f"pattern of map {mp.map}",
                )
            )
        body.append(
            f'<h2><a href="{pages.href(f"layers/{r.stem}/index.html")}">{pages.esc(r.info.name)}</a></h2>'
            f'<p class="muted">{r.info.maps} maps, {pages.esc(_shape(r.info.output_shape))}; '
            f"{len(r.maps) - len(live)} dead or failed; {good} of {len(live)} live maps at ratio ≥ 1.</p>"
            f'<div class="tiles">{"".join(tiles)}</div>'
        )
    body.append(
        f'<p class="muted">{settings.recipe.steps} steps per pattern, seeds '
        f"{', '.join(map(str, settings.seeds))}; featviz {pages.esc(__version__)}.</p>"
    )
    out.write(
        "index.html", pages.page(f"featviz · {loaded.name}", "\n".join(body), nav=[("index", "index.html")]).encode()
    )
