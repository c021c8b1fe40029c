"""Every command through click's CliRunner: outputs, and one-line errors with status 2."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def test_help_does_not_import_tensorflow():
    code = "import sys, featviz.cli; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_help_and_version(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("layers", "activations", "patterns"):
        assert command in result.output
        assert cli(command, "--help").exit_code == 0
    assert "featviz, version" in cli("--version").output


def parse_layer_table(output: str) -> dict[str, tuple[str, str]]:
    """{name: (mark, whole line)} from the `featviz layers` table."""
    rows = {}
    for line in output.splitlines():
        tokens = line.split()
        if len(tokens) > 2 and tokens[0] in ("*", ">") and tokens[1].isdigit():
            rows[tokens[2]] = (tokens[0], line)
        elif len(tokens) > 1 and tokens[0].isdigit():
            rows[tokens[1]] = ("", line)
    return rows


def test_layers_marks_spatial_and_innermost(cli):
    result = cli("layers")
    assert result.exit_code == 0
    rows = parse_layer_table(result.output)
    assert list(rows) == ["conv1", "pool1", "conv2", "pool2", "conv3", "flatten", "dropout", "predictions"]
    assert [mark for mark, _ in rows.values()] == ["*", "*", "*", "*", ">", "", "", ""]
    assert "3x3x128" in rows["conv3"][1] and "73,856" in rows["conv3"][1]


def test_activations_on_the_bundled_model(cli, samples, tmp_path):
    result = cli("activations", samples / "digit6.png", "--top", "3")
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert len(out) == 4 and out[0].startswith("  1. map")
    from featviz import models
    from featviz.methods import activations

    acts = activations.extract(models.load().model, samples / "digit6.png")
    assert acts.maps.shape == (3, 3, 128)
    assert [int(line.split()[2]) for line in out[:3]] == [i for i, _ in acts.top(3)]
    png = tmp_path / out[-1]
    assert png.parent == tmp_path / "gallery" and png.exists()
    assert Image.open(png).size[0] > 600


def test_activations_with_model_h5_and_options(cli, samples, tmp_path, repo=None):
    from conftest import REPO

    result = cli(
        "activations",
        REPO / "models" / "mnist_cnn.h5",
        samples / "digit6.png",
        "--layer",
        "conv1",
        "--scale",
        "per-map",
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 0, result.output
    assert "conv1" in result.output.strip() and (tmp_path / "o").is_dir()


@pytest.mark.parametrize(
    "args,message",
    [
        (["activations", "missing.png"], "missing.png: no such image file"),
        (["activations", "nomodel.keras", "x.png"], "nomodel.keras: no such model file"),
        (
            ["activations", "DIGIT", "--layer", "nope"],
            "unknown layer 'nope'; layers with maps: conv1, pool1, conv2, pool2, conv3",
        ),
        (["activations", "DIGIT", "--layer", "predictions"], "'predictions' has no spatial maps"),
        (["activations", "DIGIT", "--input-range", "1,0"], "HI must be larger than LO"),
        (["layers", "notamodel.txt"], "not a model file"),
        (["layers", "broken.keras"], "not a .keras model"),
        (["layers", "empty.h5"], "the file is empty"),
        (["activations", "garbage.png"], "garbage.png: not an image featviz can read"),
        (["patterns", "--maps", "0-200"], "map indices must lie in 0..127"),
        (["patterns", "--size", "8"], "--size 8 is too small for layer 'conv3': it needs at least 18"),
        (["patterns", "--layer", "conv1", "--maps", "x"], "use indices and ranges"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(cli, samples, tmp_path, args, message):
    (tmp_path / "notamodel.txt").write_text("hello")
    (tmp_path / "broken.keras").write_text("<html>404</html>")
    (tmp_path / "empty.h5").write_bytes(b"")
    (tmp_path / "garbage.png").write_bytes(b"garbage")
    args = [str(samples / "digit6.png") if a == "DIGIT" else a for a in args]
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("featviz: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "gallery").exists() or not any((tmp_path / "gallery").rglob("*.png"))


def test_size_with_a_dense_prefix_is_refused(cli, tiny_files):
    import helpers

    k = helpers.keras()
    model = k.Sequential(
        [
            k.Input((6, 6, 1)),
            k.layers.Flatten(),
            k.layers.Dense(36),
            k.layers.Reshape((6, 6, 1)),
            k.layers.Conv2D(2, 3, name="late"),
        ]
    )
    path = tiny_files / "dense_first.keras"
    model.save(path)
    result = cli("patterns", path, "--size", "12", "--steps", "2")
    assert result.exit_code == 2
    assert "need the model's own input size 6x6" in result.stderr


def test_patterns_writes_grid_pngs_and_manifest(cli, tiny_files, tmp_path):
    result = cli(
        "patterns",
        tiny_files / "tiny.keras",
        "--layer",
        "c2",
        "--maps",
        "0-2,5",
        "--steps",
        "12",
        "--dataset",
        tiny_files / "digits.npz",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("c2: 4 maps; ")
    # at 12 steps, whether a map needs a repair depends on the CPU's rounding
    assert re.search(r"; 4 rendered, 0 reused(, \d repaired)? in ", result.stdout.splitlines()[0])
    manifest_path = next((tmp_path / "gallery" / "layers").glob("*/seed-0/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    assert [m["map"] for m in manifest["maps"]] == [0, 1, 2, 5]
    for entry in manifest["maps"]:
        pixels = np.asarray(Image.open(manifest_path.parent / entry["image"]))
        assert pixels.shape == (12, 12) and pixels.dtype == np.uint8
    assert (manifest_path.parent / manifest["grid"]).exists()
