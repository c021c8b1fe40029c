"""Class patterns: logits not probabilities, ranked among their own class, read by the model and by others."""

import json

import helpers
import numpy as np
import pytest

from featviz import models, patterns
from featviz.evaluation import transfer
from featviz.execution.driver import run_job
from featviz.files.output import OutputDir
from featviz.models import card, head
from featviz.natural import datasets, exemplars
from featviz.synthesis import objectives, render

FAST = render.Recipe(steps=30, relax_steps=5, polish_steps=5)


def test_a_softmax_layer_gives_its_logits_to_objectives_and_scores():
    model = helpers.tiny_cnn()
    x = np.random.default_rng(0).random((2, 12, 12, 1)).astype(np.float32)
    flat = np.asarray(models.extractor(model, ["flat"])(x))
    kernel, bias = model.get_layer("out").get_weights()
    tf = helpers.keras().ops
    _, taps = models.run_graph(model, tf.convert_to_tensor(x), {"out"}, models.graph.logits_of({"out"}), stop=True)
    np.testing.assert_allclose(np.asarray(taps["out"]), flat @ kernel + bias, rtol=1e-5, atol=1e-5)
    probabilities = np.asarray(model(x))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)  # the model itself is untouched


def test_a_class_logit_rises_under_ascent():
    model = helpers.tiny_cnn()
    history = render.render(model, objectives.channel("out", [0, 1, 2]), render.Batch.of(3, (12, 12)), FAST).history
    assert (history[-5:].mean(axis=0) > history[:5].mean(axis=0)).all()


def test_class_logits_are_ranked_among_images_of_their_own_class():
    model = helpers.tiny_cnn()
    x = helpers.random_digits()[..., None].astype(np.float32) / 255
    labels = np.arange(16) % 3
    stats = exemplars.scan(
        model, ["out"], datasets.Dataset("d", x=x, labels=labels), options=exemplars.ScanOptions(top_k=2)
    )["out"]
    _, taps = models.run_graph(
        model, helpers.keras().ops.convert_to_tensor(x), {"out"}, models.graph.logits_of({"out"}), stop=True
    )
    logits = np.asarray(taps["out"])
    for c in range(3):
        np.testing.assert_allclose(stats.best[c], logits[labels == c, c].max(), rtol=1e-6)
        assert set(labels[stats.top[c]]) == {c}


def test_the_class_layer_and_names():
    model = helpers.tiny_cnn()
    assert head.class_layer(model).name == "out"
    assert head.class_layer(
        helpers.keras().Sequential([helpers.keras().Input((4,)), helpers.keras().layers.Dense(2)])
    ).name
    assert patterns.parse_maps("b,0", 3, ["a", "b", "c"]) == [1, 0]


def test_labels_come_from_a_file_or_the_model_card(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"classes": ["cat", "dog"]}))
    assert card.names(tmp_path / "m.keras") == ["cat", "dog"]
    (tmp_path / "labels.txt").write_text("zero\none\n\n")
    assert card.names(tmp_path / "m.keras", tmp_path / "labels.txt") == ["zero", "one"]


def test_saved_class_patterns_carry_the_models_verdict(tmp_path, tiny_files):
    loaded = models.load(tiny_files / "tiny.keras")
    layer = models.resolve_layer(loaded.model, "out", flat=True)
    job = patterns.prepare(
        loaded, patterns.PatternRequest(layer, (12, 12), recipe=FAST), [0, 1, 2], tiny_files / "digits.npz"
    )
    with OutputDir(tmp_path) as out:
        done = run_job(job, out)
    saved = json.loads(done.manifest.read_text())
    for entry, pattern in zip(saved["maps"], done.images):
        verdict = transfer.verdicts(loaded.model, pattern[None], (0.0, 1.0))[0]
        assert entry["verdict"] == [verdict.predicted, round(verdict.probability, 4)]
    conv = patterns.PatternRequest(models.resolve_layer(loaded.model, "c2"), (12, 12), recipe=FAST)
    with OutputDir(tmp_path) as out:
        maps = run_job(patterns.prepare(loaded, conv, [0], tiny_files / "digits.npz"), out)
    assert "verdict" not in json.loads(maps.manifest.read_text())["maps"][0]


def test_patterns_command_on_the_class_layer_reports_verdict_and_transfer(cli, tmp_path, tiny_files):
    other = helpers.tiny_cnn(seed=9)
    other.save(tmp_path / "other.keras")
    args = [
        "--layer",
        "out",
        "--steps",
        "20",
        "--transfer",
        tmp_path / "other.keras",
        "--dataset",
        tiny_files / "digits.npz",
    ]
    result = cli("patterns", tiny_files / "tiny.keras", *args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("the model itself reads ") and line.endswith("/3 class patterns as their class")
        for line in lines
    )
    assert any(line.startswith("other.keras reads ") for line in lines)


def test_compare_classes_writes_the_transfer_table(cli, tmp_path, tiny_files):
    helpers.tiny_cnn(seed=9).save(tmp_path / "other.keras")
    result = cli("compare", tiny_files / "tiny.keras", tmp_path / "other.keras", "--classes", "--steps", "10")
    assert result.exit_code == 0, result.output
    assert "tiny.keras's class patterns, read as their class by: tiny.keras" in result.stdout
    page = next((tmp_path / "gallery" / "compare").glob("classes-*/index.html")).read_text()
    assert "read by other.keras" in page
    bad = cli("compare", tiny_files / "tiny.keras")
    assert bad.exit_code == 2


def test_bundled_mnist_models_are_each_others_transfer_judges(monkeypatch):
    loaded, load, opened = models.load(), models.load, []
    monkeypatch.setattr(models, "load", lambda path: opened.append(path.name) or load(path))
    assert loaded.bundled
    assert sorted(other.name for other in transfer.siblings(loaded)) == [
        "mnist_plain_deep.keras",
        "mnist_resnet_v2.keras",
    ]
    assert sorted(opened) == ["mnist_plain_deep.keras", "mnist_resnet_v2.keras"]  # the CIFAR-10 cards name other data


def test_bundled_cifar_pair_reads_raw_pixels_and_judges_each_other():
    from PIL import Image

    from featviz.files import bundled

    resnet = models.load("cifar10_resnet_v2.keras")
    (twin,) = transfer.siblings(resnet)
    assert twin.name == "cifar10_plain_deep.keras"
    assert [other.name for other in transfer.siblings(twin)] == ["cifar10_resnet_v2.keras"]
    samples = bundled.samples((32, 32, 3))
    pixels = np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32) for p in samples])  # raw 0..255
    truth = [card.names(resnet.path).index(p.name.split("-")[1]) for p in samples]
    # The samples were picked among the ResNet's hits; the twin, at 87% on the test set, may miss a few.
    for model, least in ((resnet.model, len(samples)), (twin.model, len(samples) - 4)):
        assert (np.asarray(model(pixels)).argmax(1) == truth).sum() >= least


@pytest.mark.parametrize("kind,expected", [("at:1,2", (1, 2)), ("mean", None)])
def test_unit_positions(kind, expected):
    assert objectives.parse_kind(kind) == expected
    maps = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    if expected:
        np.testing.assert_array_equal(objectives.reduce_maps(maps, kind), maps[:, 1, 2, :])


def test_a_unit_position_and_a_direction_each_get_their_own_pattern(cli, tmp_path, tiny_files):
    at = cli("patterns", tiny_files / "tiny.keras", "--layer", "c1", "--at", "2,3", "--maps", "0", "--steps", "10")
    assert at.exit_code == 0, at.output
    assert list((tmp_path / "gallery" / "layers").glob("*/seed-0-at-2-3/manifest.json"))
    outside = cli("patterns", tiny_files / "tiny.keras", "--layer", "c1", "--at", "20,3", "--steps", "10")
    assert outside.exit_code == 2 and "no unit there" in outside.stderr
    vector = np.zeros(6, np.float32)
    vector[[1, 4]] = [1.0, -0.5]
    np.save(tmp_path / "probe.npy", vector)
    args = [
        "--layer",
        "c2",
        "--direction",
        tmp_path / "probe.npy",
        "--steps",
        "20",
        "--dataset",
        tiny_files / "digits.npz",
    ]
    along = cli("patterns", tiny_files / "tiny.keras", *args)
    assert along.exit_code == 0, along.output
    record = json.loads(next((tmp_path / "gallery" / "layers").glob("*/direction-*/direction.json")).read_text())
    loaded = models.load(tiny_files / "tiny.keras")
    from PIL import Image

    png = np.asarray(Image.open(next((tmp_path / "gallery" / "layers").glob("*/direction-*/pattern.png"))), np.float32)
    maps = np.asarray(models.extractor(loaded.model, ["c2"])(png[None, ..., None] / 255))
    assert record["value"] == pytest.approx(float((maps @ vector).mean()), rel=1e-5)
    wrong = np.zeros(5, np.float32)
    np.save(tmp_path / "wrong.npy", wrong)
    refused = cli("patterns", tiny_files / "tiny.keras", "--layer", "c2", "--direction", tmp_path / "wrong.npy")
    assert refused.exit_code == 2 and "6 finite values" in refused.stderr


def test_check_names_the_classes_from_the_model_card(cli, tmp_path, samples):
    import shutil

    shutil.copy(models.load().path, tmp_path / "digits.keras")
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    (tmp_path / "digits.json").write_text(json.dumps({"classes": names}))
    result = cli("check", tmp_path / "digits.keras", samples / "digit6.png")
    assert result.exit_code == 0 and "--input-range 0,1" in result.stdout and "predicts six (" in result.stdout


def test_compare_renders_with_the_recipe_featviz_patterns_uses():
    """A 32x32x3 model's patterns in `compare` are Fourier images at the colour models' decay, in the colour basis
    of the bundled CIFAR-10 exemplars, as `featviz patterns` makes them; before, compare rendered plain RGB at 1/f."""
    from featviz import defaults
    from featviz.report.compare import Comparison
    from featviz.synthesis.colour import ColourBasis

    model = helpers.tiny_cnn((32, 32, 3))
    for name in ("c2", "out"):
        recipe = Comparison().recipe_for(model, (32, 32), models.resolve_layer(model, name, flat=True))
        assert (recipe.param, recipe.decay) == ("fourier", defaults.DECAY_FOR_COLOUR)
        assert isinstance(recipe.colour, ColourBasis) and recipe.chroma == defaults.CHROMA
