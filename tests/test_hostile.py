"""Broken and hostile model files: one clear line, status 2, and no code ever runs."""

import helpers
import hostile
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from featviz import models
from featviz.errors import FeatvizError
from featviz.pixels import images

EXPECTED = {
    "empty.h5": "the file is empty",
    "empty.keras": "the file is empty",
    "truncated.h5": "corrupt or truncated HDF5 file",
    "lfs-pointer.h5": "Git LFS pointer",
    "error-page.keras": "looks like an HTML page",
    "bad-config.keras": "config.json is not valid JSON",
    "outside-module.keras": "os.function",
    "lambda.keras": "Lambda layer 'evil'",
    "lambda.h5": "Lambda layer 'evil'",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_files):
    folder = tmp_path_factory.mktemp("corpus")
    marker = folder / "MARKER"
    return hostile.build_corpus(folder, tiny_files / "tiny.keras", tiny_files / "tiny.h5", marker), marker


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("command", ["layers", "activations", "patterns"])
def test_every_command_refuses_every_corpus_file(cli, corpus, samples, name, command):
    files, marker = corpus
    args = {
        "layers": [files[name]],
        "activations": [files[name], samples / "digit1.png"],
        "patterns": [files[name], "--steps", "1"],
    }[command]
    result = cli(command, *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("featviz: error: ") and EXPECTED[name] in lines[0]
    assert "Traceback" not in result.output
    assert not marker.exists()


@pytest.mark.parametrize("name", ["lambda.keras", "lambda.h5"])
def test_code_runs_only_with_the_explicit_flag(cli, corpus, name):
    files, marker = corpus
    assert "--trust-model-code" in cli("layers", files[name]).stderr
    assert not marker.exists()
    result = cli("layers", files[name], "--trust-model-code")  # proves the file really carries code
    assert result.exit_code == 0
    assert "running code from" in result.stderr and models.checks.sha256_of(files[name]) in result.stderr
    assert marker.exists()
    marker.unlink()


def test_urls_and_folders_are_refused(tmp_path):
    for target, message in [
        ("https://example.com/m.keras", "only local model files"),
        (tmp_path, "not a regular file"),
    ]:
        with pytest.raises(FeatvizError, match=message):
            models.load(target)


def test_weights_only_h5_says_what_it_holds(tmp_path):
    path = tmp_path / "w.weights.h5"
    helpers.tiny_cnn().save_weights(path)
    renamed = path.rename(tmp_path / "weights.h5")
    with pytest.raises(FeatvizError, match="holds only weights"):
        models.load(renamed)


def test_numeric_fault_in_one_map_is_reported_and_the_rest_finish(cli, tmp_path, tiny_files):
    model = helpers.tiny_cnn()
    conv = model.get_layer("c2")
    kernel, bias = conv.get_weights()
    kernel[..., 3] = 3e38  # overflows to Inf in the activation
    conv.set_weights([kernel, bias])
    model.save(tmp_path / "huge.keras")
    result = cli(
        "patterns", tmp_path / "huge.keras", "--layer", "c2", "--steps", "8", "--dataset", tiny_files / "digits.npz"
    )
    assert result.exit_code == 0, result.output
    import json

    manifest = json.loads(next(tmp_path.rglob("manifest.json")).read_text())
    errors = {m["map"]: m["error"] for m in manifest["maps"]}
    assert errors[3] is not None and all(errors[i] is None for i in errors if i != 3)
    assert all(m["value"] is not None for m in manifest["maps"] if m["map"] != 3)
    assert "1 in error" in result.stdout


FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".keras", ".h5"]))
def test_fuzz_random_bytes_only_reach_the_clean_error(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    with pytest.raises(FeatvizError):
        models.load(path)


@FUZZ
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), min_size=1, max_size=8),
    name=st.sampled_from(["tiny.keras", "tiny.h5"]),
)
def test_fuzz_mutated_models_load_or_fail_cleanly(tmp_path, tiny_files, flips, name):
    data = bytearray((tiny_files / name).read_bytes())
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp_path / name
    path.write_bytes(bytes(data))
    try:
        loaded = models.load(path)
    except FeatvizError:
        return
    assert models.list_layers(loaded.model)


@pytest.fixture(scope="module")
def png_bytes():
    return images.png_bytes(np.arange(64, dtype=np.uint8).reshape(8, 8))


@FUZZ
@given(data=st.binary(max_size=1024))
def test_fuzz_random_image_bytes(tmp_path, data):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    with pytest.raises(FeatvizError):
        images.load_image(path, channels=1, size=(28, 28))


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6))
def test_fuzz_mutated_images_load_or_fail_cleanly(tmp_path, png_bytes, flips):
    data = bytearray(png_bytes)
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp_path / "mutated.png"
    path.write_bytes(bytes(data))
    try:
        arr = images.load_image(path, channels=1, size=(28, 28))
    except FeatvizError:
        return
    assert arr.shape == (28, 28, 1) and np.isfinite(arr).all()


def test_output_never_overwrites_a_foreign_file_without_force(cli, samples, tmp_path):
    first = cli("activations", samples / "digit1.png")
    target = tmp_path / first.stdout.strip()
    assert cli("activations", samples / "digit1.png").exit_code == 0  # its own earlier output: fine
    target.write_bytes(b"a user's own file")
    refused = cli("activations", samples / "digit1.png")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert target.read_bytes() == b"a user's own file"
    assert cli("activations", samples / "digit1.png", "--force").exit_code == 0
    assert Image.open(target).size[0] > 100


def test_nothing_is_written_outside_the_output_folder(tmp_path):
    from featviz.files import output
    from featviz.patterns import layout

    out = output.OutputDir(tmp_path / "out")
    for bad in ["../escape.png", "/etc/passwd", "a/../../b.png"]:
        with pytest.raises(FeatvizError, match="outside"):
            out.write(bad, b"x")
    assert not (tmp_path / "escape.png").exists()
    assert layout.layer_stem(models.LayerInfo(3, "<img src=x onerror=alert(1)>", "Conv2D", (), 0)).startswith(
        "03-img-src-x-onerror-alert-1-"
    )
    assert layout.layer_stem(models.LayerInfo(0, "..", "Conv2D", (), 0)).startswith("00-x-")


def test_written_files_are_readable_like_any_other(tmp_path):
    import os

    from featviz.files import output

    path = output.write_bytes(tmp_path / "a.png", b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary file left behind
