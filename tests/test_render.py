"""The optimizer raises its objective; dead maps are found; seeds reproduce; manifests hold."""

import dataclasses
import json

import helpers
import numpy as np
import pytest
from PIL import Image

from featviz import models, patterns
from featviz.errors import FeatvizError
from featviz.evaluation import scoring
from featviz.execution import batches
from featviz.execution.driver import run_job
from featviz.files.output import OutputDir
from featviz.methods import accentuate
from featviz.natural import datasets, exemplars
from featviz.pixels import images
from featviz.runtime import _tf, chains
from featviz.synthesis import adam, ascent, objectives, render
from featviz.synthesis.hooks import Hooks

FAST = render.Recipe(steps=40, relax_steps=10, polish_steps=10)


def rise(model, objective, n=3, recipe=FAST):
    history = render.render(model, objective, render.Batch.of(n, (12, 12)), recipe, seed=0).history
    return history[:5].mean(axis=0), history[-5:].mean(axis=0)


@pytest.mark.parametrize("kind", ["mean", "center"])
def test_channel_objective_rises(kind):
    start, end = rise(helpers.tiny_cnn(), objectives.channel("c2", [0, 1, 2], kind))
    assert (end > start).all(), (start, end)


def test_objective_arithmetic_with_a_regularizer_rises():
    objective = objectives.channel("c1", 1) - 0.1 * objectives.total_variation()
    start, end = rise(helpers.tiny_cnn(), objective, n=2)
    assert (end > start).all()


@pytest.mark.parametrize("param", ["pixels", "fourier", "maco"])
@pytest.mark.parametrize("precision", ["float32", pytest.param("bfloat16", marks=helpers.needs_bfloat16)])
def test_every_parameterization_and_precision_rises(param, precision):
    recipe = render.Recipe(steps=30, relax_steps=5, polish_steps=5, param=param, precision=precision)
    start, end = rise(helpers.tiny_cnn(), objectives.channel("c2", [3, 4]), n=2, recipe=recipe)
    assert (end > start).all()


def test_objective_arithmetic_builds_new_objectives():
    a, b = objectives.channel("c1", 0), objectives.channel("c2", 1)
    combined = 2 * a - b + 1
    assert combined.layers == {"c1", "c2"} and a.layers == {"c1"}
    taps = {"c1": np.ones((1, 2, 2, 3), np.float32) * 3, "c2": np.ones((1, 2, 2, 3), np.float32)}
    assert float(np.asarray(combined(taps, None))[0]) == 2 * 3 - 1 + 1


def test_center_objective_reads_the_centre_unit():
    maps = np.zeros((1, 3, 3, 2), np.float32)
    maps[0, 1, 1, 1] = 9.0
    maps[0, 0, 0, 1] = 3.0
    taps = {"l": maps}
    assert float(np.asarray(objectives.channel("l", 1, "center")(taps, None))[0]) == 9.0
    assert float(np.asarray(objectives.channel("l", 1, "mean")(taps, None))[0]) == pytest.approx(12.0 / 9)


def test_relaxed_relu_wakes_a_map_that_starts_at_zero():
    model = helpers.tiny_cnn()
    conv = model.get_layer("c1")
    kernel, bias = conv.get_weights()
    kernel[..., 0] = np.abs(kernel[..., 0])
    bias[0] = -0.9 * kernel[..., 0].sum()  # fires only where a 3x3 window is nearly white
    conv.set_weights([kernel, bias])
    objective = objectives.channel("c1", [0])
    batch = render.Batch.of(1, (12, 12))
    woke = render.render(model, objective, batch, render.Recipe(steps=80, relax_steps=60))
    stuck = render.render(model, objective, batch, render.Recipe(steps=80, relax_steps=0))
    assert stuck.history[-1, 0] == 0.0
    assert woke.history[-1, 0] > 0.0


def relu6_cnn(form: str):
    """A convolution whose map 0 fires only where a 3x3 window is nearly white, then ReLU6 as `form`: a ReLU(6)
    layer, an Activation('relu6') layer, or the convolution's own activation. "r1" is the ReLU6's output."""
    k = helpers.keras()
    own = form == "conv"
    init = k.initializers.GlorotUniform(seed=3)
    conv = k.layers.Conv2D(
        2, 3, name="r1" if own else "c1", activation="relu6" if own else None, kernel_initializer=init
    )
    six = {
        "layer": lambda: [k.layers.ReLU(6.0, name="r1")],
        "activation": lambda: [k.layers.Activation("relu6", name="r1")],
    }
    model = k.Sequential([k.Input((12, 12, 1)), conv, *six.get(form, list)()])
    kernel, bias = conv.get_weights()
    kernel[..., 0] = 100 * np.abs(kernel[..., 0])  # a white window drives it to 10% of this sum: well past 6
    bias[0] = -0.9 * kernel[..., 0].sum()
    conv.set_weights([kernel, bias])
    return model


@pytest.mark.parametrize("form", ["layer", "activation", "conv"])
def test_relaxed_relu_wakes_a_relu6_map_and_keeps_its_ceiling(form):
    model = relu6_cnn(form)
    objective = objectives.channel("r1", [0])
    batch = render.Batch.of(1, (12, 12))
    woke = render.render(model, objective, batch, render.Recipe(steps=80, relax_steps=60))
    stuck = render.render(model, objective, batch, render.Recipe(steps=80, relax_steps=0))
    assert stuck.history[-1, 0] == 0.0
    assert 0.0 < woke.history[-1, 0] <= 6.0
    white = np.ones((1, 12, 12, 1), np.float32)
    assert models.run_graph(model, white, ["r1"], Hooks(relu=ascent.relaxed_relu()[0]))[1]["r1"].numpy().max() == 6.0


@pytest.mark.parametrize("relax", [True, False])
def test_relaxed_relu_passes_extra_gradient_only_in_maps_still_at_zero(relax):
    """An awake map learns through its positive units alone; a map with none gets the relaxed gradient."""
    tf = _tf.tf()
    x = np.full((1, 2, 2, 2), -1.0, np.float32)
    x[0, 0, 0, 0] = 2.0  # channel 0 is awake at one unit; channel 1 is asleep
    relu, state = ascent.relaxed_relu()
    state["relax"] = tf.constant(relax)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = -tf.reduce_sum(relu(x))
    grad = tape.gradient(loss, x).numpy()
    awake = np.zeros((2, 2))
    awake[0, 0] = -1.0
    np.testing.assert_array_equal(grad[0, ..., 0], awake)
    np.testing.assert_array_equal(grad[0, ..., 1], np.full((2, 2), -1.0 if relax else 0.0))


def test_dead_maps_are_detected_from_natural_images():
    model = helpers.with_dead_map(helpers.tiny_cnn(), "c2", 4)
    inputs = helpers.random_digits()[..., None].astype(np.float32) / 255
    stats = exemplars.scan(model, ["c2"], datasets.Dataset("digits", x=inputs), options=exemplars.ScanOptions(top_k=3))[
        "c2"
    ]
    assert stats.dead.tolist() == [i == 4 for i in range(6)]
    assert stats.top.shape == (6, 3) and stats.fires[4] == 0.0


def make_job(tmp_path, model, maps, dataset, seed=1):
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = models.load(path)
    layer = models.resolve_layer(loaded.model, "c2")
    return patterns.prepare(loaded, patterns.PatternRequest(layer, (12, 12), recipe=FAST, seed=seed), maps, dataset)


def run(job, folder):
    with OutputDir(folder) as out:
        return run_job(job, out)


def test_manifest_schema_and_dead_marks(tmp_path, tiny_files):
    model = helpers.with_dead_map(helpers.tiny_cnn(), "c2", 4)
    job = make_job(tmp_path, model, [0, 4, 5], tiny_files / "digits.npz")
    report = run(job, tmp_path / "out")
    manifest = json.loads(report.manifest.read_text())
    settings = manifest["settings"]
    for key in ("model_sha256", "layer", "objective", "seed", "size", "input_range", "recipe"):
        assert key in settings
    assert settings["layer"] == "c2" and settings["recipe"]["steps"] == 40 and settings["size"] == [12, 12]
    assert settings["model_sha256"] == job.loaded.sha256 and settings["seed"] == 1
    assert manifest["dataset"]["name"] == "digits.npz" and manifest["dataset"]["images"] == 16
    assert manifest["summary"]["dead"] == 1 and manifest["summary"]["maps"] == 3
    by_map = {m["map"]: m for m in manifest["maps"]}
    assert set(by_map) == {0, 4, 5}
    for m in by_map.values():
        assert set(m) >= {"map", "image", "value", "best_natural", "ratio", "dead"}
        assert (report.folder / m["image"]).exists()
    assert by_map[4]["dead"] is True and by_map[4]["ratio"] is None
    live = by_map[0]
    assert live["dead"] is False and live["ratio"] == pytest.approx(live["value"] / live["best_natural"])
    # value is what the saved 8-bit PNG really reaches
    pixels = np.asarray(Image.open(report.folder / live["image"]), np.float32)[None, ..., None] / 255
    value = scoring.objective_values(job.loaded.model, "c2", [0], pixels, "mean")[0]
    assert value == pytest.approx(live["value"], rel=1e-6)


def test_same_seed_gives_identical_pngs(tmp_path, tiny_files):
    job = make_job(tmp_path, helpers.tiny_cnn(), [1, 2], tiny_files / "digits.npz", seed=7)
    a, b, c = run(job, tmp_path / "a"), run(job, tmp_path / "b"), run(job.for_seed(8), tmp_path / "c")
    for name in ("map-0001.png", "map-0002.png", "grid.png"):
        assert (a.folder / name).read_bytes() == (b.folder / name).read_bytes()
    assert (a.folder / "map-0001.png").read_bytes() != (c.folder / "map-0001.png").read_bytes()


def test_patterns_stay_inside_the_input_range(tmp_path, tiny_files):
    model = helpers.tiny_cnn()
    layer = models.resolve_layer(model, "c2")
    found = batches.synthesize(
        model, patterns.PatternRequest(layer, (12, 12), input_range=(0, 255), recipe=FAST), [0, 1]
    )
    assert found.min() >= 0.0 and found.max() <= 1.0  # unit images, mapped into 0..255 only at the model


def test_larger_canvas_for_a_convolutional_prefix():
    model = helpers.tiny_cnn()
    layer = models.resolve_layer(model, "c2")
    assert patterns.canvas_for(model, layer, 20) == (20, 20)
    found = batches.synthesize(model, patterns.PatternRequest(layer, (20, 20), recipe=FAST), [0])
    assert found.shape == (1, 20, 20, 1)


@pytest.mark.parametrize("spec,count,expected", [("0-3,7", 8, [0, 1, 2, 3, 7]), ("5", 6, [5]), (None, 3, [0, 1, 2])])
def test_parse_maps(spec, count, expected):
    assert patterns.parse_maps(spec, count) == expected


@pytest.mark.parametrize("spec", ["8", "3-1", "-1", "a"])
def test_parse_maps_rejects(spec):
    with pytest.raises(FeatvizError):
        patterns.parse_maps(spec, 8)


def test_size_errors():
    model = helpers.tiny_cnn()
    layer = models.resolve_layer(model, "c2")
    with pytest.raises(FeatvizError, match="too small for layer 'c2': it needs at least 8"):
        patterns.canvas_for(model, layer, 6)


def test_relaxed_relu_applies_to_the_target_layer_only():
    """Relaxing every ReLU of a deep network drives the image black; only the objective's layer is relaxed."""
    model = helpers.tiny_cnn()
    calls = []

    def counting_relu(x):
        calls.append(x)
        return helpers.keras().activations.relu(x)

    k = helpers.keras()
    models.run_graph(model, k.Input((12, 12, 1)), {"c2"}, Hooks(relu=counting_relu, relu_layers={"c2"}))
    assert len(calls) == 1
    models.run_graph(model, k.Input((12, 12, 1)), {"c2"}, Hooks(relu=counting_relu))
    assert len(calls) == 3  # c1 and c2 both, when no layers are named


def test_patterns_reuse_what_a_manifest_holds_and_add_the_rest(tmp_path, tiny_files):
    job = make_job(tmp_path, helpers.tiny_cnn(), [0, 1, 2], tiny_files / "digits.npz")
    first = run(job, tmp_path / "out")
    png = (first.folder / "map-0001.png").read_bytes()
    wider = dataclasses.replace(job, maps=[1, 2, 3, 4])
    second = run(wider, tmp_path / "out")
    assert (first.rendered, first.reused, second.rendered, second.reused) == (3, 0, 2, 2)
    saved = json.loads(second.manifest.read_text())
    assert [m["map"] for m in saved["maps"]] == [0, 1, 2, 3, 4]
    assert (second.folder / "map-0001.png").read_bytes() == png
    assert [s.map for s in second.scores] == [1, 2, 3, 4]


def test_patterns_are_scored_again_not_rendered_when_the_natural_images_change(tmp_path, tiny_files):
    job = make_job(tmp_path, helpers.tiny_cnn(), [0, 1], tiny_files / "digits.npz")
    first = run(job, tmp_path / "out")
    png = (first.folder / "map-0000.png").read_bytes()
    brighter = np.clip(helpers.random_digits().astype(np.int32) + 40, 0, 255).astype(np.uint8)
    np.savez(tmp_path / "other.npz", x=brighter)
    other = patterns.prepare(job.loaded, job.request, job.maps, tmp_path / "other.npz")
    again = run(other, tmp_path / "out")
    assert (again.rendered, again.reused) == (0, 2)
    assert (again.folder / "map-0000.png").read_bytes() == png
    saved = json.loads(again.manifest.read_text())
    assert saved["dataset"]["name"] == "other.npz"
    for score, best in zip(saved["maps"], other.natural.best[[0, 1]]):
        assert score["best_natural"] == pytest.approx(float(best)) and score["ratio"] == pytest.approx(
            score["value"] / best
        )
    assert saved["maps"][0]["value"] == pytest.approx(first.scores[0].value)


def test_seeds_rendered_together_match_each_seed_alone():
    model = helpers.tiny_cnn()
    request = patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=FAST)
    together = batches.synthesize(model, request, [0, 3], seeds=[0, 1])
    alone = [batches.synthesize(model, dataclasses.replace(request, seed=s), [0, 3]) for s in (0, 1)]
    np.testing.assert_allclose(together, np.concatenate(alone), atol=1e-5)
    assert not np.allclose(alone[0], alone[1])


def test_a_repair_task_renders_each_map_at_its_own_seed():
    from featviz.execution.tasks import Task

    model = helpers.tiny_cnn()
    request = patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=FAST)
    task = Task(request, (0, 3, 3), remedy="uncapped", seed_of=(0, 0, 1))  # map 3 flagged at both seeds
    assert (task.pairs, task.images, task.all_seeds) == ([(0, 0), (0, 3), (1, 3)], 3, (0, 1))
    assert task.key.endswith("/seed-0/0000-0003+seeds-0,1+uncapped")
    alone = [
        batches.synthesize(model, request, [0, 3], remedy="uncapped"),
        batches.synthesize(model, dataclasses.replace(request, seed=1), [3], remedy="uncapped"),
    ]
    np.testing.assert_allclose(task.render(model), np.concatenate(alone), atol=1e-5)


def test_apart_is_the_map_less_how_far_each_other_map_passes_its_ceiling():
    tf = _tf.tf()
    out = np.zeros((2, 2, 2, 3), np.float32)
    out[0] = [1.0, 2.0, 3.0]  # image 0: map means 1, 2, 3
    out[1] = [4.0, 0.5, 1.0]
    limits = np.array([[0.0, 1.5, 2.0], [np.inf, np.inf, 0.0]], np.float32)
    value = objectives.apart("l", [0, 2], limits)({"l": tf.constant(out)}, None).numpy()
    np.testing.assert_allclose(value, [1.0 - (0.5 + 1.0), 1.0 - 0.0])  # image 1's own map 2 is not held down


def test_apart_raises_its_map_and_holds_the_others_down():
    model = helpers.tiny_cnn()
    low = np.zeros((1, 6), np.float32)
    plain = render.render(model, objectives.channel("c2", [0]), render.Batch.of(1, (12, 12)), FAST)
    apart = render.render(model, objectives.apart("c2", [0], low), render.Batch.of(1, (12, 12)), FAST)
    assert apart.history[-5:].mean() > apart.history[:5].mean()
    means = [scoring.responses(model, "c2", range(6), r.images, "mean")[0] for r in (plain, apart)]
    assert means[1][1:].sum() < means[0][1:].sum()


def test_each_remedy_renders_with_its_own_spectrum_colour_and_objective():
    model = helpers.tiny_cnn()
    recipe = dataclasses.replace(FAST, param="fourier", decay=2.0, chroma=0.25)  # resolved, as a job's recipe is
    request = patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=recipe)
    found = {}
    given = batches.Given({0: np.zeros(6, np.float32)})
    remedies = (None, "uncapped", "sharper", "restart", "sharpest", "apart", "vivid", "longer", "further",
                "longer-muted", "finer", "overtake", "yield", "smoother", "paler")  # fmt: skip
    for remedy in remedies:
        objective, r, seeds = batches.remedied(request, [(0, 1)], remedy, given)
        found[remedy] = (r.decay, r.chroma, r.uncapped, "apart" in objective.name, seeds, r.relax_steps)
        going_on = remedy in ("longer", "further", "longer-muted", "finer", "overtake")
        assert r.precision == ("float32" if remedy == "finer" else recipe.precision)
        assert r.learning_rate == recipe.learning_rate * (batches.LONGER_LR if going_on else 1)
    assert found == {
        None: (2.0, 0.25, False, False, (0,), 10),
        "uncapped": (2.0, 0.25, True, False, (0,), 10),
        "sharper": (1.5, 0.25, False, False, (0,), 10),
        "restart": (1.5, 0.25, False, False, (batches.RESTART_SEED,), 20),
        "sharpest": (1.0, 0.25, False, False, (0,), 10),
        "apart": (1.5, 0.25, False, True, (0,), 10),
        "vivid": (1.5, 1.0, False, True, (0,), 10),
        "longer": (1.5, 1.0, False, True, (0,), 0),
        "further": (1.5, 1.0, False, True, (0,), 0),
        "longer-muted": (1.5, 0.25, False, True, (0,), 0),
        "finer": (1.5, 0.25, False, False, (0,), 0),
        "overtake": (1.5, 0.25, False, True, (0,), 0),
        "yield": (1.5, 0.25, False, True, (0,), 10),
        "smoother": (2.5, 0.25, False, False, (0,), 10),
        "paler": (2.0, 0.125, False, False, (0,), 10),
    }
    with pytest.raises(ValueError, match="'vivid' remedy needs the limits of seed 3"):
        batches.remedied(request, [(0, 1), (3, 1)], "vivid", given)


def test_an_apart_task_holds_each_seed_to_its_own_patterns_limits():
    from featviz.execution.tasks import Task

    model = helpers.tiny_cnn()
    resolved = dataclasses.replace(FAST, decay=2.0)  # as a job's recipe is (recipe_for): "apart" makes it sharper
    request = patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=resolved)
    rows = {0: (np.inf, 0.5, 0.5, 0.5, 0.5, 0.5), 1: (0.1,) * 6}
    task = Task(request, (0, 0), remedy="apart", seed_of=(0, 1), limits=tuple(rows.items()))

    def alone(seed, row):
        limits = {seed: np.asarray(row, np.float32)}
        return batches.synthesize_pairs(
            model, dataclasses.replace(request, seed=seed), [(seed, 0)], remedy="apart", given=batches.Given(limits)
        )

    together = np.concatenate([alone(0, rows[0]), alone(1, rows[1])])
    np.testing.assert_allclose(task.render(model), together, atol=1e-5)
    assert not np.allclose(alone(1, rows[0]), together[1:], atol=1e-3)  # seed 1 held to seed 0's limits draws otherwise


def test_a_small_layer_s_seeds_share_one_unit(tmp_path):
    from featviz.execution import driver
    from featviz.files.output import OutputDir
    from featviz.patterns.store import Store

    model = helpers.tiny_cnn()
    request = patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=FAST)
    job = patterns.PatternJob(_loaded(model, tmp_path), request, list(range(6)), patterns.NaturalBest(None, None))
    with OutputDir(tmp_path / "out") as out:
        stores = [Store(job.for_seed(s), out) for s in (0, 1, 2)]
        units, owner, pending = driver.tasks_for(stores, None)
    assert [(u.maps, u.all_seeds) for u in units] == [(tuple(range(6)), (0, 1, 2))]
    assert owner[units[0].key] == [0, 1, 2] and pending == [1, 1, 1]


def test_a_batch_holds_more_images_on_smaller_canvases():
    assert [batches.batch_size(c) for c in [(224, 224), (64, 64), (32, 32), (28, 28), (12, 12)]] == [
        128,
        128,
        256,
        334,
        1820,
    ]


@pytest.mark.parametrize("side, seed_groups", [(32, [(0, 1, 2)]), (64, [(0,), (1,), (2,)])])
def test_an_80_map_layer_s_seeds_share_a_unit_only_on_a_small_canvas(tmp_path, side, seed_groups):
    from featviz.execution import driver
    from featviz.files.output import OutputDir
    from featviz.patterns.store import Store

    k = helpers.keras()
    model = k.Sequential([k.Input((side, side, 3)), k.layers.Conv2D(80, 3, name="wide")])
    request = patterns.PatternRequest(models.resolve_layer(model, "wide"), (side, side), recipe=FAST)
    job = patterns.PatternJob(_loaded(model, tmp_path), request, list(range(80)), patterns.NaturalBest(None, None))
    with OutputDir(tmp_path / "out") as out:
        units, _, _ = driver.tasks_for([Store(job.for_seed(s), out) for s in (0, 1, 2)], None)
    assert [u.all_seeds for u in units] == seed_groups
    assert all(u.maps == tuple(range(80)) for u in units)


def _loaded(model, folder):
    model.save(folder / "tiny.keras")
    return models.load(folder / "tiny.keras")


def test_the_fused_adam_takes_the_steps_keras_adam_takes():
    tf, keras = _tf.tf(), helpers.keras()

    rng = np.random.default_rng(0)
    start = rng.normal(size=(2, 5, 7)).astype(np.float32)
    theirs, ours = tf.Variable(start), tf.Variable(start)
    reference = keras.optimizers.Adam(0.05)
    reference.build([theirs])
    fused = adam.Adam(0.05, [ours])
    for _ in range(20):
        gradient = tf.constant(rng.normal(size=start.shape).astype(np.float32))
        reference.apply_gradients([(gradient, theirs)])
        fused.apply([gradient])
    assert np.abs(ours.numpy() - start).max() > 0.5  # twenty steps of about 0.05 each moved it
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5)


@pytest.mark.parametrize("count", [2, 3])
def test_chains_change_no_pattern(monkeypatch, count):
    """The batch split into independent chains gives each image the same arithmetic as one batch."""
    objective = objectives.channel("c2", [0, 1, 2, 3, 4], "mean")
    batch = render.Batch.of(5, (12, 12))
    monkeypatch.setitem(chains._state, "chains", 1)
    whole = render.render(helpers.tiny_cnn(), objective, batch, FAST, seed=0)
    monkeypatch.setitem(chains._state, "chains", count)
    split = render.render(helpers.tiny_cnn(), objective, batch, FAST, seed=0)
    np.testing.assert_allclose(split.images, whole.images, atol=1e-5)
    np.testing.assert_allclose(split.history, whole.history, rtol=1e-5, atol=1e-6)


def sliced_objectives():
    """One objective of each kind that scores images one by one, for 5 images of tiny_cnn's c2 (6 maps)."""
    limits = np.linspace(0.5, 3.0, 30, dtype=np.float32).reshape(5, 6)
    vectors = np.linspace(-1.0, 1.0, 30, dtype=np.float32).reshape(5, 6)
    return {
        "channel": objectives.channel("c2", [0, 1, 2, 3, 4]),
        "apart": objectives.apart("c2", [5, 4, 3, 2, 1], limits),
        "directions, less a total variation": objectives.directions("c2", vectors) - 0.1 * objectives.total_variation(),
    }


@pytest.mark.parametrize("name", list(sliced_objectives()))
@pytest.mark.parametrize("count", [1, 2])
def test_slices_change_no_pattern(monkeypatch, name, count):
    """A chain's images through the network a few at a time give each image the arithmetic of the whole batch."""
    objective, batch, model = sliced_objectives()[name], render.Batch.of(5, (12, 12)), helpers.tiny_cnn()
    monkeypatch.setitem(chains._state, "chains", count)
    whole = render.render(model, objective, batch, FAST, seed=0)
    monkeypatch.setattr(ascent, "SLICE_VALUES", 800)  # c1's 10x10x4 is the largest tensor: slices of 2 images
    assert ascent.slice_size(model, objective, (12, 12), 3) == 2
    sliced = render.render(model, objective, batch, FAST, seed=0)
    assert (sliced.history[-5:].mean(axis=0) > sliced.history[:5].mean(axis=0)).all()
    np.testing.assert_allclose(sliced.images, whole.images, atol=1e-5)
    np.testing.assert_allclose(sliced.history, whole.history, rtol=1e-5, atol=1e-6)


def test_only_a_memory_bound_pass_of_images_scored_one_by_one_is_sliced(monkeypatch):
    model, channel = helpers.tiny_cnn(), objectives.channel("c2", [0, 1, 2])
    monkeypatch.setattr(ascent, "SLICE_VALUES", 1000)
    assert ascent.slice_size(model, channel, (12, 12), 3) == 2  # 1000 // 400
    assert ascent.slice_size(model, channel, (12, 12), 2) is None  # a slice would hold the whole chain
    custom = objectives.Objective(lambda taps, images: taps["c2"][:, 0, 0, 0], frozenset(["c2"]))
    assert custom.rows is None and (channel + custom).rows is None
    assert ascent.slice_size(model, channel + custom, (12, 12), 3) is None  # its images may depend on each other
    jit = dataclasses.replace(FAST, jit=True)  # XLA needs the slices' shapes fixed
    assert ascent.Ascent(model, channel, render.Batch.of(6, (12, 12)), jit, 0).slice is None
    assert ascent.Ascent(model, channel, render.Batch.of(6, (12, 12)), FAST, 0).slice == 2
    monkeypatch.setattr(ascent, "MEMORY_BOUND", 2.0)  # the pass does 2.3 FLOPs per byte
    assert ascent.slice_size(model, channel, (12, 12), 3) is None


def test_an_objective_scores_some_rows_as_it_scores_them_in_the_whole_batch():
    tf, rng = _tf.tf(), np.random.default_rng(0)
    taps = {"c2": tf.constant(rng.uniform(0, 2, (5, 3, 3, 6)).astype(np.float32))}
    images = tf.constant(rng.uniform(0, 1, (5, 4, 4, 1)).astype(np.float32))
    target = rng.uniform(0, 1, (5, 3, 3, 6)).astype(np.float32)
    seeds, vectors = rng.uniform(0, 1, (5, 4, 4, 1)).astype(np.float32), rng.uniform(-1, 1, (1, 6))
    found = sliced_objectives() | {
        "match": objectives.match("c2", target),
        "match one target": objectives.match("c2", target[:1]),
        "change": accentuate.change_penalty(seeds),
        "change from one seed": accentuate.change_penalty(seeds[:1]),
        "one direction for all": objectives.directions("c2", vectors),
    }
    rows = np.array([3, 1], np.int32)
    for name, objective in found.items():
        whole = objective(taps, images).numpy()
        part = objective.rows(tf.constant(rows))({"c2": tf.gather(taps["c2"], rows)}, tf.gather(images, rows))
        np.testing.assert_array_equal(part.numpy(), whole[rows], err_msg=name)
    assert objectives.match(["c2", "c2"], [target[0], target[1]]).rows is None  # a layer per image


def test_steps_run_in_calls_that_report_progress_and_keep_every_step():
    seen = []
    result = render.render(
        helpers.tiny_cnn(),
        objectives.channel("c2", [0, 1, 2]),
        render.Batch.of(3, (12, 12)),
        FAST,
        progress=seen.append,
    )
    assert result.history.shape == (FAST.steps, 3)
    assert sum(seen) == FAST.steps * 3 and len(seen) < FAST.steps  # several steps per call once it is warm
    assert (result.history[-5:].mean(axis=0) > result.history[:5].mean(axis=0)).all()


def test_steps_per_call_aims_at_a_quarter_second():
    assert render.steps_per_call(seconds=0.5, count=1) == 1  # slow steps: one per call, progress each step
    assert render.steps_per_call(seconds=0.05, count=5) == 25
    assert render.steps_per_call(seconds=0.001, count=10) == render.MAX_STEPS_PER_CALL


def test_bfloat16_where_onednn_cannot_run_it_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert render.Recipe(precision="auto").compute_dtype is None  # auto picks float32 there
    with pytest.raises(FeatvizError, match="bfloat16 cannot run with oneDNN held to AVX2"):
        _ = render.Recipe(precision="bfloat16").compute_dtype


def test_a_render_after_its_calibration_reuses_the_compiled_step_and_gives_the_same_bits():
    model = helpers.tiny_cnn()
    render._WARM.clear()
    objective, batch = objectives.channel("c2", [0, 1, 2]), render.Batch.of(3, (12, 12))
    fresh = render.render(model, objective, batch, FAST, seed=4)
    render.time_steps(model, objectives.channel("c2", (0, 1, 2)), batch, FAST, seed=4)  # the same objective
    kept = render._WARM[-1][0]
    assert kept.optimizer.steps.numpy() == 7  # the calibration's 1 + 3 + 3 steps
    again = render.render(model, objective, batch, FAST, seed=4)
    assert render._WARM == [] and kept.optimizer.steps.numpy() == FAST.steps  # it ran the render, from its start
    assert kept.steps.experimental_get_tracing_count() == 1
    np.testing.assert_array_equal(again.images, fresh.images)
    np.testing.assert_array_equal(again.history, fresh.history)
    render.time_steps(model, objective, batch, FAST, seed=4)
    other = render.render(model, objective, batch, FAST, seed=5)  # another call: its own step, the pool untouched
    assert len(render._WARM) == 1 and not np.array_equal(other.images, fresh.images)


def test_longer_goes_on_from_each_images_saved_pattern_and_needs_one():
    model = helpers.tiny_cnn()
    recipe = dataclasses.replace(FAST, param="fourier", decay=2.0)
    request = patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=recipe)
    rng = np.random.default_rng(0)
    starts = {(0, 1): rng.random((12, 12, 1)), (1, 1): rng.random((12, 12, 1))}
    given = batches.Given({0: np.full(6, np.inf, np.float32), 1: np.full(6, np.inf, np.float32)}, starts)
    ((_, _, batch),) = batches.render_calls(request, [(0, 1), (1, 1)], "longer", given)
    np.testing.assert_array_equal(batch.starts, np.stack([starts[0, 1], starts[1, 1]]).astype(np.float32))
    with pytest.raises(ValueError, match=r"needs the saved pattern of \(seed, map\) \(2, 1\)"):
        batches.render_calls(request, [(2, 1)], "longer", batches.Given({2: np.zeros(6, np.float32)}, starts))
    ((_, _, muted),) = batches.render_calls(request, [(1, 1)], "longer-muted", given)  # in the recipe's colour
    np.testing.assert_array_equal(muted.starts, starts[1, 1][None].astype(np.float32))


def test_finer_goes_on_past_the_last_thousandth_below_tanh_s_ceiling():
    k = helpers.keras()
    model = k.Sequential([k.Input((8, 8, 1)), k.layers.Conv2D(1, 3, activation="tanh", name="t")])
    model.get_layer("t").set_weights([np.full((3, 3, 1, 1), 0.6, np.float32), np.zeros(1, np.float32)])
    recipe = dataclasses.replace(FAST, param="fourier", decay=2.0, chroma=0.25)
    request = patterns.PatternRequest(models.resolve_layer(model, "t"), (8, 8), recipe=recipe)
    start = np.full((8, 8, 1), 0.5, np.float32)  # tanh(9 x 0.6 x 0.5) = 0.991 everywhere
    given = batches.Given({0: np.full(1, np.inf, np.float32)}, {(0, 0): start})
    ((objective, finer, batch),) = batches.render_calls(request, [(0, 0)], "finer", given)
    assert finer.precision == "float32" and objective.name == "mean of t[1 maps]"
    found = render.render(model, objective, batch, finer).images
    before, after = (scoring.responses(model, "t", [0], x, "mean")[0, 0] for x in (start[None], found))
    assert before == pytest.approx(0.991, abs=5e-4) and after > 0.999


def test_a_longer_task_goes_on_from_each_seeds_own_picture():
    from featviz.execution.tasks import Task

    model = helpers.tiny_cnn()
    request = patterns.PatternRequest(
        models.resolve_layer(model, "c2"), (12, 12), recipe=dataclasses.replace(FAST, param="fourier", decay=2.0)
    )
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 256, (12, 12, 1), dtype=np.uint8) for _ in range(2)]
    free = tuple(np.full(6, np.inf, np.float32))
    task = Task(request, (0, 0), remedy="longer", seed_of=(0, 1), limits=((0, free), (1, free)), starts=tuple(pictures))

    def alone(seed, picture):
        given = batches.Given({seed: np.asarray(free)}, {(seed, 0): images.from_uint8(picture)})
        return batches.synthesize_pairs(
            model, dataclasses.replace(request, seed=seed), [(seed, 0)], remedy="longer", given=given
        )

    together = np.concatenate([alone(0, pictures[0]), alone(1, pictures[1])])
    np.testing.assert_allclose(task.render(model), together, atol=1e-5)
    assert not np.allclose(alone(0, pictures[1]), together[:1], atol=1e-3)  # each goes on from its own picture


def test_a_kept_repair_records_the_machine_and_precision_that_computed_it(tmp_path):
    from featviz.execution.tasks import Task
    from featviz.files.output import OutputDir
    from featviz.patterns.store import Store

    model = helpers.tiny_cnn()
    resolved = dataclasses.replace(FAST, param="fourier", decay=2.0, chroma=0.25)  # as a job's recipe is
    request = patterns.PatternRequest(models.resolve_layer(model, "c2"), (12, 12), recipe=resolved)
    assert Task(request, (0,), remedy="finer").precision == "float32"
    half = dataclasses.replace(request, recipe=dataclasses.replace(resolved, precision="bfloat16"))
    assert Task(half, (0,), remedy="finer").precision == "float32" and Task(half, (0,)).precision == "bfloat16"
    job = patterns.PatternJob(_loaded(model, tmp_path), request, list(range(6)), patterns.NaturalBest(None, None))
    grey = np.full((6, 12, 12, 1), 0.5, np.float32)  # every map ties: none specific
    drawn = render.render(model, objectives.channel("c2", [0]), render.Batch.of(1, (12, 12)), FAST).images
    elsewhere, refused = {"precision": "float32", "cpu": "elsewhere"}, {"precision": "float32", "cpu": "refused"}
    with OutputDir(tmp_path / "out") as out:
        store = Store(job, out)
        store.save(range(6), grey)
        store.finish(grid=False)
        store.consider([0], drawn, "finer", elsewhere)  # specific where grey is not: kept
        store.consider([1], grey[:1], "finer", refused)  # the same grey: not better, not kept
        store.finish(grid=False)
    ran = json.loads(next((tmp_path / "out").glob("layers/*/seed-0/manifest.json")).read_text())["ran"]
    assert elsewhere in ran and refused not in ran and len(ran) == 2
