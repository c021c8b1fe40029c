"""The static gallery: resumable, escaped, confined to its folder, and sound in a real browser."""

import dataclasses
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import helpers
import numpy as np
import pytest
from conftest import REPO

from featviz import models
from featviz.files.output import OutputDir
from featviz.patterns import layout, manifest
from featviz.report import gallery
from featviz.runtime import cpu
from featviz.synthesis import render

TINY = dict(seeds=(0, 1), recipe=render.Recipe(steps=6, relax_steps=2, polish_steps=2))
MAPS = 4 + 6 + 3  # c1 and c2 of the tiny CNN, and its 3 classes


def settings(tiny_files, **kw):
    base = dict(dataset=tiny_files / "digits.npz", images=[tiny_files / "stroke.png"], **TINY)
    return gallery.Settings(**{**base, **kw})


def pages(tiny_files, **kw):
    """Settings for a test of the pages alone: without the self-check's repairs, which at 6 steps render nearly
    every map of the tiny model four times more (the tests that use `settings` and test_self_check.py cover them)."""
    return settings(tiny_files, recipe=dataclasses.replace(TINY["recipe"], repair=False), **kw)


@pytest.fixture(scope="module")
def tiny_model(tiny_files):
    from test_realworld import write_image

    write_image(tiny_files / "stroke.png")
    return models.load(tiny_files / "tiny.keras")


def build(loaded, folder, s, **kw):
    with OutputDir(folder) as out:
        return gallery.build(loaded, out, s, **kw)


def all_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def layer(loaded, name):
    return models.resolve_layer(loaded.model, name)


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path, tiny_files, tiny_model):
    s = settings(tiny_files)
    whole = build(tiny_model, tmp_path / "whole", s)
    assert (whole.rendered, whole.reused) == (2 * MAPS, 0)
    stepped = []

    def stop_in_the_second_unit(n):
        stepped.append(n)
        if sum(stepped) > 4 * 2 * 6:  # past the first unit: c1's 4 maps x 2 seeds (rendered together) x 6 steps
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(tiny_model, tmp_path / "resumed", s, progress=stop_in_the_second_unit)
    assert not (tmp_path / "resumed" / "index.html").exists()
    resumed = build(tiny_model, tmp_path / "resumed", s)
    assert (resumed.rendered, resumed.reused) == (2 * MAPS - 8, 8)
    assert all_files(tmp_path / "resumed") == all_files(tmp_path / "whole")
    again = build(tiny_model, tmp_path / "resumed", s)
    assert (again.rendered, again.reused, again.restarted) == (0, 2 * MAPS, [])


def test_changed_settings_start_afresh_and_say_why(tmp_path, tiny_files, tiny_model):
    build(tiny_model, tmp_path, pages(tiny_files))
    seven = render.Recipe(steps=7, relax_steps=2, polish_steps=2, repair=False)
    changed = build(tiny_model, tmp_path, settings(tiny_files, recipe=seven))
    assert changed.reused == 0 and changed.rendered == 2 * MAPS
    assert changed.restarted == ["recipe.steps: 6 -> 7"]


@helpers.needs_bfloat16
def test_a_gallery_made_at_one_precision_is_reused_where_auto_means_another(
    tmp_path, tiny_files, tiny_model, monkeypatch
):
    """The key holds the precision asked for ("auto"); the manifest records the one that ran."""
    monkeypatch.setattr(cpu, "native_bfloat16", lambda: True)
    build(tiny_model, tmp_path, pages(tiny_files))  # without repairs: bfloat16 is slow where it is emulated
    before = all_files(tmp_path)
    saved = manifest.read(tmp_path / layout.pattern_dir(layer(tiny_model, "c2"), 0) / layout.MANIFEST)
    assert saved.settings["recipe"]["precision"] == "auto" and saved.ran == [manifest.this_machine("bfloat16")]
    monkeypatch.setattr(cpu, "native_bfloat16", lambda: False)
    again = build(tiny_model, tmp_path, pages(tiny_files))
    assert (again.rendered, again.reused) == (0, 2 * MAPS)
    assert all_files(tmp_path) == before  # nothing rewritten: a clean `git status` on any CPU
    float32 = render.Recipe(6, relax_steps=2, polish_steps=2, precision="float32", repair=False)
    asked = build(tiny_model, tmp_path, settings(tiny_files, recipe=float32))
    assert asked.rendered == 2 * MAPS and asked.restarted == ['recipe.precision: "auto" -> "float32"']


def test_a_layer_rendered_by_featviz_patterns_is_a_gallery_unit_already_done(cli, tmp_path, tiny_files, tiny_model):
    result = cli(
        "patterns", tiny_files / "tiny.keras", "--layer", "c2", "--steps", "6", "--dataset", tiny_files / "digits.npz"
    )
    assert result.exit_code == 0, result.output
    with OutputDir(tmp_path / "gallery") as out:
        report = gallery.build(tiny_model, out, settings(tiny_files, seeds=(0,), recipe=render.Recipe(steps=6)))
    assert (report.rendered, report.reused) == (4 + 3, 6)  # c1 and the classes rendered; c2 reused


def test_pages_and_files(tmp_path, tiny_files, tiny_model):
    report = build(tiny_model, tmp_path, pages(tiny_files))
    c1, c2 = layer(tiny_model, "c1"), layer(tiny_model, "c2")
    assert [r.info.name for r in report.layers] == ["c1", "c2"]  # convolutions; the pooling layer is left out
    layer_pages = sorted(p.parent.name for p in tmp_path.glob("layers/*/index.html"))
    assert layer_pages == [layout.layer_stem(c1), layout.layer_stem(c2)]
    assert len(list(tmp_path.glob("layers/*/maps/*.html"))) == MAPS - 3  # no map pages for classes
    assert len(list(tmp_path.glob("explain/*.html"))) == 1
    assert "Kernels" in (tmp_path / layout.layer_page(c1)).read_text()
    assert "Kernels" not in (tmp_path / layout.layer_page(c2)).read_text()
    map_page = (tmp_path / layout.map_page(c2, 3)).read_text()
    for text in ("seeds 0, 1", "Top 9 natural images", "fires", "ratio", "What this map feeds"):
        assert text in map_page
    assert_built_from(tmp_path, c1, c2)
    classes_page = (tmp_path / layout.CLASSES).read_text()
    assert "One pattern per class of out" in classes_page and 'id="class-2"' in classes_page
    assert "classes/index.html#class-0" in (tmp_path / layout.INDEX).read_text()


def assert_built_from(folder: Path, c1, c2) -> None:
    """Every map page of c2 shows the maps of c1 it is built from: pattern, kernel slice and link, all there."""
    assert "Built from" not in (folder / layout.map_page(c1, 0)).read_text()  # the first convolution
    for m in range(c2.maps):
        page = folder / layout.map_page(c2, m)
        assert "<h2>Built from</h2>" in page.read_text()
        links = Links.of(page)
        into_c1 = [t for t in links if t.startswith(f"../../{layout.layer_stem(c1)}/maps/")]
        patterns = [t for t in links if t.startswith(f"../../{layout.layer_stem(c1)}/thumb/")]
        slices = [t for t in links if t.startswith(f"../weights/map-{m:04d}-from-{layout.layer_stem(c1)}-")]
        assert 0 < len(into_c1) == len(patterns) == len(slices) <= 8
        assert all((page.parent / t).is_file() for t in into_c1 + patterns + slices)
    assert broken_links(folder) == []


def test_a_residual_sum_the_gallery_skips_is_expanded_to_both_of_its_branches(tmp_path, tiny_files, tiny_model):
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=5)
    x = k.Input((12, 12, 1))
    stem = k.layers.Conv2D(3, 3, padding="same", name="stem", kernel_initializer=init)(x)
    pre = k.layers.ReLU(name="r1")(k.layers.BatchNormalization(name="bn1")(stem))
    add = k.layers.Add(name="add")(
        [stem, k.layers.Conv2D(3, 3, padding="same", name="c1", kernel_initializer=init)(pre)]
    )
    pre = k.layers.ReLU(name="r2")(k.layers.BatchNormalization(name="bn2")(add))
    top = k.layers.Conv2D(2, 3, activation="relu", name="c2", kernel_initializer=init)(pre)
    k.Model(x, k.layers.Dense(3, name="out")(k.layers.Flatten()(top))).save(tmp_path / "res.keras")
    loaded = models.load(tmp_path / "res.keras")
    report = build(loaded, tmp_path / "out", pages(tiny_files, seeds=(0,), layers=["stem", "c1", "c2"]))
    stem, c1, c2 = (r.info for r in report.layers)
    assert_built_from(tmp_path / "out", stem, c1)
    page = (tmp_path / "out" / layout.map_page(c2, 0)).read_text()
    assert (
        "From c1 and stem, the weights are expanded through r2 (ReLU, as if active), bn2 (BatchNormalization), "
        "add (Add)." in page
    )
    for m in range(c2.maps):  # through the sum, to both of its branches
        linked = {t.split("/")[2] for t in Links.of(tmp_path / "out" / layout.map_page(c2, m)) if "/maps/" in t}
        assert linked == {layout.layer_stem(stem), layout.layer_stem(c1)}


def test_map_pages_step_to_their_neighbours_and_back_to_their_tile(tmp_path, tiny_files, tiny_model):
    build(tiny_model, tmp_path, pages(tiny_files))
    c2 = layer(tiny_model, "c2")
    first, middle, last = (Links.of(tmp_path / layout.map_page(c2, m)) for m in (0, 3, 5))
    assert "0002.html" in middle and "0004.html" in middle and "../index.html#map-3" in middle
    assert not any(t.endswith("-001.html") for t in first) and "0001.html" in first
    assert "0006.html" not in last and "0004.html" in last
    assert 'id="map-3"' in (tmp_path / layout.layer_page(c2)).read_text()


def test_first_convolution_tiles_show_the_kernel_beside_the_pattern(tmp_path, tiny_files, tiny_model):
    from PIL import Image

    build(tiny_model, tmp_path, pages(tiny_files))
    c1, c2 = layer(tiny_model, "c1"), layer(tiny_model, "c2")
    kernel_and_pattern = Image.open(tmp_path / layout.map_picture(c1, "thumb", 0)).size
    pattern_only = Image.open(tmp_path / layout.map_picture(c2, "thumb", 0)).size
    assert kernel_and_pattern[1] == pattern_only[1] and kernel_and_pattern[0] > 2 * pattern_only[0]


def hostile_model(path: Path) -> Path:
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=3)
    model = k.Sequential(
        [
            k.Input((12, 12, 1)),
            k.layers.Conv2D(3, 3, name="<img src=x onerror=alert(1)>", kernel_initializer=init),
            k.layers.Conv2D(2, 3, name="..", kernel_initializer=init),
            k.layers.Flatten(),
            k.layers.Dense(2),
        ]
    )
    model.save(path)
    return path


def test_hostile_layer_names_are_escaped_and_confined(tmp_path, tiny_files, tiny_model):
    loaded = models.load(hostile_model(tmp_path / "hostile.keras"))
    out = tmp_path / "out"
    build(loaded, out, pages(tiny_files))
    for page in out.rglob("*.html"):
        text = page.read_text()
        assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in (out / "index.html").read_text()
    written = [p.resolve() for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.is_relative_to(out.resolve()) or p.name == "hostile.keras" for p in written)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", part) for p in out.rglob("*") for part in p.relative_to(out).parts)


def test_gallery_command(cli, tiny_files, tmp_path, tiny_model):
    result = cli(
        "gallery",
        tiny_files / "tiny.keras",
        "--layers",
        "c2",
        "--steps",
        "4",
        "--seeds",
        "0",
        "--dataset",
        tiny_files / "digits.npz",
        "--images",
        tiny_files / "stroke.png",
    )
    assert result.exit_code == 0, result.output
    # then perhaps ", N repaired by the self-check", which depends on the CPU's rounding at 4 steps
    assert result.stdout.splitlines()[0].startswith("1 layers, 6 maps, 3 classes; 9 patterns rendered, 0 reused")
    assert "atlas" not in (tmp_path / "gallery" / "index.html").read_text()  # the atlas is opt-in (--atlas)
    assert len(result.stdout.splitlines()) == 2 and not list((tmp_path / "gallery").rglob("atlas*"))
    bad = cli("gallery", tiny_files / "tiny.keras", "--seeds", "a")
    assert bad.exit_code == 2 and "--seeds" in bad.stderr


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets = []

    @classmethod
    def of(cls, page: Path) -> list[str]:
        parser = cls()
        parser.feed(page.read_text())
        return parser.targets

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("href", "src"):
            if attrs.get(key):
                self.targets.append(attrs[key])


def broken_links(folder: Path) -> list[str]:
    broken = []
    for page in folder.rglob("*.html"):
        parser = Links()
        parser.feed(page.read_text())
        for target in parser.targets:
            assert not re.match(r"^[a-z]+:", target) and not target.startswith("//"), f"external {target} in {page}"
            if not (page.parent / unquote(target.split("#")[0])).exists():
                broken.append(f"{page.relative_to(folder)} -> {target}")
    return broken


CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def check_in_browser(driver, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    driver.get_log("browser")  # entries before this page
    driver.refresh()
    driver.execute_script("document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    driver.execute_async_script(
        "const done = arguments[0];"
        "Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })))"
        ".then(() => done(0));"
    )
    unloaded = driver.execute_script("return [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.src)")
    assert unloaded == [], f"{page}: images that did not load: {unloaded[:5]}"
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], f"{page}: console errors: {errors[:3]}"


def key_pages(folder: Path) -> list[Path]:
    picks = [
        folder / "index.html",
        *sorted(folder.glob("layers/*/index.html"))[:2],
        *sorted(folder.glob("layers/*/maps/*.html"))[:2],
        *sorted(folder.glob("explain/*.html"))[:1],
        *sorted(folder.glob("compare/*/index.html"))[:1],
    ]
    return [p for p in picks if p.exists()]


def test_generated_gallery_in_a_real_browser(browser, tmp_path, tiny_files, tiny_model):
    loaded = models.load(hostile_model(tmp_path / "hostile.keras"))
    build(loaded, tmp_path / "out", settings(tiny_files))
    assert broken_links(tmp_path / "out") == []
    from selenium.common.exceptions import NoAlertPresentException

    for page in key_pages(tmp_path / "out"):
        check_in_browser(browser, page)
        with pytest.raises(NoAlertPresentException):  # the layer named <img src=x onerror=alert(1)> stays text
            browser.switch_to.alert  # noqa: B018 (reading the property raises when there is no alert)


@pytest.mark.skipif(not (REPO / "gallery" / "index.html").exists(), reason="no committed gallery")
def test_committed_gallery_in_a_real_browser(browser):
    folder = REPO / "gallery"
    assert broken_links(folder) == []
    for page in key_pages(folder):
        check_in_browser(browser, page)
    browser.get((folder / "index.html").resolve().as_uri())
    browser.set_window_size(1280, 1400)
    shot = Path(os.environ.get("FEATVIZ_SCREENSHOT", str(REPO / "tests" / ".last-gallery-screenshot.png")))
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_negative_patterns_of_a_signed_layer_join_its_map_pages(tmp_path, tiny_files, tiny_model):
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=4)
    model = k.Sequential([k.Input((12, 12, 1)), k.layers.Conv2D(4, 3, name="lin", kernel_initializer=init),
                          k.layers.Conv2D(3, 3, activation="relu", name="c2", kernel_initializer=init)])  # fmt: skip
    model.save(tmp_path / "signed.keras")
    loaded = models.load(tmp_path / "signed.keras")
    report = build(loaded, tmp_path / "out", pages(tiny_files, seeds=(0,), negative=True))
    signed, relu = report.layers
    assert signed.negative is not None and relu.negative is None  # a ReLU layer is never below zero
    assert signed.negative.folder.name == "seed-0-negative" and report.rendered == 4 + 3 + 4
    page = (tmp_path / "out" / layout.map_page(signed.info, 1)).read_text()
    assert "Negative pattern" in page and (tmp_path / "out" / layout.map_picture(signed.info, "negative", 1)).exists()


def test_accentuated_top_images_join_the_map_pages(tmp_path, tiny_files, tiny_model):
    report = build(tiny_model, tmp_path / "out", pages(tiny_files, seeds=(0,), accentuate=True))
    c2 = report.layers[-1]
    assert c2.accentuated is not None and c2.accentuated.images.shape == (6, 12, 12, 1)
    page = (tmp_path / "out" / layout.map_page(c2.info, 2)).read_text()
    assert "Its top natural image, accentuated" in page and "root-mean-square pixel change" in page
    assert (tmp_path / "out" / layout.map_picture(c2.info, "accentuated", 2)).exists()


def test_diversity_and_the_two_choice_test_join_the_pages(tmp_path, tiny_files, tiny_model):
    from featviz.evaluation import two_choice

    helpers.tiny_cnn(seed=7).save(tmp_path / "observer.keras")
    observer = two_choice.Observer(models.load(tmp_path / "observer.keras"))
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(40), y=np.zeros(40, np.uint8))  # enough for 10 query pairs
    s = pages(tiny_files, dataset=tmp_path / "d.npz", diversity=2, observer=observer)
    report = build(tiny_model, tmp_path / "out", s)
    c1, c2 = report.layers
    assert c1.diverse is None and c2.diverse.images.shape[:2] == (6, 2)  # c1 has nothing below it
    assert c2.two_choice.synthetic.shape == (6,)
    page = (tmp_path / "out" / layout.map_page(c2.info, 0)).read_text()
    assert "2 diverse patterns" in page and "two-choice accuracy (observer.keras observing)" in page
    index = (tmp_path / "out" / "index.html").read_text()
    assert "Two-choice accuracy (observer.keras observing)" in index and "Diversity: all 2 patterns" in index


def test_layers_takes_the_class_layer_as_the_default_gallery_shows_it(cli, tmp_path, tiny_files):
    from test_realworld import write_image

    write_image(tmp_path / "stroke.png")
    common = [tiny_files / "tiny.keras", "--dataset", tiny_files / "digits.npz", "--images", tmp_path / "stroke.png"]
    result = cli("gallery", *common, "--layers", "out", "--seeds", "0")
    assert result.exit_code == 0, result.output
    assert "0 layers, 0 maps, 3 classes; 3 patterns rendered" in result.stdout
    assert (tmp_path / "gallery" / layout.CLASSES).is_file() and (tmp_path / "gallery" / layout.INDEX).is_file()
    refused = cli("gallery", *common, "--layers", "flat")
    assert refused.exit_code == 2
    assert "the gallery takes layers with maps (c1, pool, c2) and the class layer 'out'" in refused.stderr


def test_a_gallery_without_its_class_patterns_renders_and_links_none(tmp_path, tiny_files, tiny_model):
    # what a gallery cut to its budget does when the class patterns do not fit (report/gallery_plan.py)
    report = build(tiny_model, tmp_path, settings(tiny_files, seeds=(0,), layers=["c2"], classes=False))
    assert report.classes == 0 and not (tmp_path / layout.CLASSES).exists()
    assert not list(tmp_path.glob("layers/*-out-*")) and list(tmp_path.glob("layers/*-c2-*/seed-0/map-0000.png"))
    assert "classes/index.html" not in (tmp_path / layout.INDEX).read_text()
