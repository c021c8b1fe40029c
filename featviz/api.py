"""The one-call API: each command of the command line as one function that returns its result.

    import featviz
    featviz.layers("mnist_cnn.keras")  # the layer table
    featviz.activations("mnist_cnn.keras", "digit6.png")  # every map of the innermost layer
    featviz.patterns("mnist_cnn.keras", "conv3", maps="0-7", steps=64).show()

`model` is a model file, a bundled model's file name, a LoadedModel or a keras.Model; None is the bundled
MNIST CNN. Each result has `.lines()`, what the command prints; the ones that draw have `.figure()` and
`.show()`, and draw themselves in Jupyter (pixels/display.py). Functions that write files write into
`out`: by default a temporary folder for this session, one per model, so a second call with the same
settings reuses its patterns; `gallery` writes into gallery/, as the command line does.

TensorFlow is imported inside the functions, so `import featviz` stays instant. The package
`featviz.patterns` is also the function `featviz.patterns(model, layer)`: see `Face`.
"""

from __future__ import annotations

import os
import tempfile
import types
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import FeatvizError
from .runtime.progress import SILENT, Reporter

if TYPE_CHECKING:
    import keras

    from .files.output import OutputDir
    from .methods.accentuate import Accentuation
    from .methods.activations import Activations
    from .methods.conventions import ConventionCheck
    from .methods.directions import DirectionPattern
    from .methods.diversity import DiversePatterns
    from .methods.layer_patterns import LayerPatterns
    from .methods.trust import LayerTrust
    from .models import LoadedModel
    from .models.summary import Summary
    from .pixels.preprocess import InputRange
    from .report.class_compare import ClassesCompared
    from .report.compare import Compared
    from .report.gallery import Report
    from .synthesis.render import Recipe

    ModelLike = str | os.PathLike | LoadedModel | keras.Model | None


def load(model: ModelLike = None, *, trust_code: bool = False, architecture: str | Path | None = None) -> LoadedModel:
    """The model as featviz holds it. A file is loaded safely (models.load: `trust_code` and `architecture`
    are --trust-model-code and --architecture); a keras.Model is taken as it is (models.wrap)."""
    from . import models

    if isinstance(model, models.LoadedModel):
        return model
    if model is None or isinstance(model, (str, os.PathLike)):
        return models.load(model, trust_code=trust_code, architecture=architecture)
    return models.wrap(model)


def layers(model: ModelLike = None) -> Summary:
    """`featviz layers`: the input the model expects, and its layers (class, output shape, maps, parameters)."""
    from .models.summary import summary

    return summary(load(model))


def check(model: ModelLike, image: str | Path) -> ConventionCheck:
    """`featviz check`: the model's top prediction for `image` under each common input convention."""
    from .methods import conventions

    return conventions.check(load(model), image)


def activations(
    model: ModelLike, image: Any, layer: str | int | None = None, *, input: InputRange | None = None
) -> Activations:
    """`featviz activations`, without the file: the maps of `layer` (default: the innermost with spatial maps)
    for one image, a file or a bundled sample's name (or an array in the model's input range, used as it is).

    `input` is the input convention, as (lo, hi) or a Preprocess (default: what the model's own layers say).
    Returns Activations: `.maps` is (h, w, maps); `.figure()` the grid; `.top(k)` the most active maps.
    """
    from dataclasses import replace

    from .methods.activations import extract
    from .models.inputs import resolve_input

    loaded = load(model)
    found = extract(loaded.model, image, layer, resolve_input(loaded.model, input))
    return replace(found, model_name=loaded.name)


def patterns(
    model: ModelLike = None, layer: str | int | None = None, maps: str | Sequence[int] | None = None, *,
    out: str | Path | None = None, reporter: Reporter = SILENT, **settings: Any,
) -> LayerPatterns | DirectionPattern | DiversePatterns:  # fmt: skip
    """`featviz patterns`: the pattern each map of `layer` responds to most, saved into `out`, scored, returned.

    maps: "0-5,17", class names, or map indices (default: every map). settings: `steps` and the other Recipe
    fields (precision, param, colour, ...), and the PatternOptions fields (seed, size, kind, at, labels,
    input, dataset, transfer, direction, diversity). Returns LayerPatterns: `.done.images` holds the patterns,
    (maps, H, W, C) in 0..1, and `.done.scores` their ratios; with `direction` or `diversity`, what that makes.
    """
    from .methods import layer_patterns

    loaded = load(model)
    asked = layer_patterns.PatternOptions(layer=layer, maps=_maps(maps), recipe=_recipe(settings), **settings)
    with _folder(out, [loaded], reporter) as folder:
        return layer_patterns.run(loaded, asked, folder, None, reporter)


def trust(
    model: ModelLike = None, layer: str | int | None = None, *, observer: ModelLike | bool = True,
    out: str | Path | None = None, reporter: Reporter = SILENT, **settings: Any,
) -> LayerTrust:  # fmt: skip
    """`featviz trust`: a layer's patterns rendered (or reused), then ratio, specificity, clipping, path and
    two-choice test per map. `observer` judges the two-choice test: a model, True for another bundled model
    of the same data if there is one (as the command line), False for no test. settings: steps (and the
    other Recipe fields), seed, input, dataset."""
    from .methods import trust as trust_api
    from .methods.layer_patterns import PatternOptions

    loaded = load(model)
    asked = PatternOptions(layer=layer, recipe=_recipe(settings), **settings)
    judge = _observer(loaded, observer)
    with _folder(out, [loaded], reporter) as folder:
        return trust_api.run(loaded, asked, folder, judge, reporter)


def accentuate(
    model: ModelLike, image: str | Path, maps: str | Sequence[int], *, out: str | Path | None = None,
    reporter: Reporter = SILENT, **settings: Any,
) -> Accentuation:  # fmt: skip
    """`featviz accentuate`: `image` changed as little as possible until each of `maps` responds strongly.
    settings: layer (default: the innermost with maps), strength (100), steps (128), input."""
    from .methods import accentuate as accentuate_api
    from .models.inputs import resolve_input

    loaded = load(model)
    asked = accentuate_api.Asked(image, settings.pop("layer", None), _maps(maps))
    options = accentuate_api.Options(resolve_input(loaded.model, settings.pop("input", None)), **settings)
    with _folder(out, [loaded], reporter) as folder:
        return accentuate_api.accentuate_image(loaded, asked, options, folder, reporter)


def compare(
    models: Sequence[ModelLike], image: str | Path | None = None, *, classes: bool = False,
    out: str | Path | None = None, reporter: Reporter = SILENT, **settings: Any,
) -> Compared | ClassesCompared:  # fmt: skip
    """`featviz compare`: the same image through each model side by side (innermost maps, prediction, the
    patterns of the most active maps), or with classes=True each model's class patterns and how the others
    read them. settings: top_k (8), seed, input, steps (and the other Recipe fields)."""
    from .report import class_compare
    from .report import compare as compare_api

    if (image is None) == (not classes):
        raise FeatvizError("compare takes an image, or classes=True")
    loaded = [load(m) for m in models]
    names = [one.name for one in loaded]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise FeatvizError(f"compare: two models named {twice[0]}; models are told apart by name")
    asked = settings.pop("input", None)
    comparison = compare_api.Comparison(input_range=asked, recipe=_recipe(settings), **settings)
    with _folder(out, loaded, reporter) as folder:
        if classes:
            return class_compare.run(loaded, comparison, folder, reporter)
        return compare_api.run(loaded, image, comparison, folder, reporter)


def gallery(
    model: ModelLike = None, *, out: str | Path = "gallery", reporter: Reporter = SILENT, **settings: Any
) -> Report:
    """`featviz gallery`: the browsable static report of the whole model, written into `out`; open
    `.index`. settings: the gallery's Settings fields (layers, images, dataset, seeds, negative, accentuate,
    diversity), input, observer (a model, or True: the two-choice test as in `trust`), and steps (and the
    other Recipe fields)."""
    from .report import gallery as gallery_api

    loaded = load(model)
    recipe, asked = _recipe(settings), settings.pop("input", None)
    judge = _observer(loaded, settings.pop("observer", False))
    chosen = gallery_api.Settings(input_range=asked, recipe=recipe, observer=judge, **settings)
    with _folder(out, [loaded], reporter) as folder:
        return gallery_api.run(loaded, chosen, folder, None, reporter)


def _recipe(settings: dict[str, Any]) -> Recipe:
    """A Recipe of the settings that are its fields (steps, precision, ...), taken out of `settings`."""
    from .synthesis.render import Recipe

    return Recipe(**{f.name: settings.pop(f.name) for f in fields(Recipe) if f.name in settings})


def _maps(maps: str | Sequence[int] | None) -> str | None:
    """Maps as the command line's --maps text: "0-5,17" stays, [0, 1, 5] becomes "0,1,5"."""
    if maps is None or isinstance(maps, str):
        return maps
    return ",".join(str(int(m)) for m in maps)


def _observer(loaded: LoadedModel, observer: ModelLike | bool):
    """The two-choice test's observer: a model's, True for another bundled model of the same data, or None."""
    from .evaluation.two_choice import Observer, observer_for

    if observer is False or observer is None:
        return None
    return observer_for(loaded) if observer is True else Observer(load(observer))


_session: list[tempfile.TemporaryDirectory] = []  # the temporary folder of this session, once made


def _folder(out: str | Path | None, loaded: Sequence[LoadedModel], reporter: Reporter) -> OutputDir:
    """The output folder: `out`, else this session's temporary folder (a sub-folder per model)."""
    from .files.output import OutputDir, slug

    if out is None:
        if not _session:
            _session.append(tempfile.TemporaryDirectory(prefix="featviz-"))
        out = Path(_session[0].name)
        if len(loaded) == 1:
            out = out / f"{slug(loaded[0].path.stem)}-{loaded[0].sha256[:8]}"
    return OutputDir(out, waiting=reporter.note)


class PatternsPackage(types.ModuleType):
    """The package featviz.patterns, also callable as the one-call function featviz.patterns(model, layer)."""

    def __call__(self, *args: Any, **kwargs: Any) -> LayerPatterns:
        return patterns(*args, **kwargs)

    __call__.__doc__ = patterns.__doc__


class Face(types.ModuleType):
    """The module featviz. Importing a subpackage sets it as an attribute of its parent, which would hide
    the function featviz.patterns behind the package of that name: so the package is made callable as well."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "patterns" and type(value) is types.ModuleType:
            value.__class__ = PatternsPackage
        super().__setattr__(name, value)
