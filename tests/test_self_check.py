"""The self-check: flags by exact rules, remedies in order, the ceiling of real layers, and repairs on disk."""

import json

import helpers
import numpy as np
import pytest
from PIL import Image

from featviz import models
from featviz.evaluation import naturalness, scoring, self_check
from featviz.evaluation.scoring import MapScore
from featviz.execution import tasks
from featviz.models import bounds
from featviz.pixels import images
from featviz.report import map_page
from featviz.runtime import _tf
from featviz.synthesis.hooks import Hooks

TEXTURE = np.random.default_rng(0).random((8, 8, 1))
FLAT = np.full((8, 8, 1), 0.5)


def score(value, ratio=1.5, **kw):
    return MapScore(0, "map-0000.png", value, None if ratio is None else value / ratio, ratio, False, **kw)


def test_flags_name_what_went_wrong_by_exact_rules():
    assert self_check.flags(score(2.0), True, TEXTURE, None) == []
    assert self_check.flags(score(2.0), False, TEXTURE, None) == ["collapsed"]
    assert self_check.flags(score(0.99, ratio=0.99), True, TEXTURE, None) == ["failed"]  # a natural image beats it
    assert self_check.flags(score(1.0, ratio=1.0), True, TEXTURE, None) == []
    assert self_check.flags(score(-0.1, ratio=None), True, TEXTURE, None) == ["failed"]  # not scored, still <= 0
    assert self_check.flags(score(2.0), True, FLAT, None) == ["failed"]
    assert self_check.flags(score(5.7), True, TEXTURE, 6.0) == ["capped"]  # 95% of ReLU6's ceiling
    assert self_check.flags(score(5.6), True, TEXTURE, 6.0) == []
    assert self_check.flags(score(6.0), False, FLAT, 6.0) == ["collapsed", "failed", "capped"]


def test_a_pattern_with_three_times_natural_images_fine_detail_is_noisy_when_nothing_else_is_wrong():
    share, smooth = naturalness.high_frequency_share(TEXTURE), np.linspace(0, 1, 64).reshape(8, 8, 1)

    def natural(times):  # natural images with 1/times of TEXTURE's fine detail, and grey
        return naturalness.Naturalness(share / times, 0.0)

    assert self_check.flags(score(2.0), True, TEXTURE, None, natural(3 / 1.01)) == []  # 2.97x natural images'
    assert self_check.flags(score(2.0), True, TEXTURE, None, natural(3 / 0.99)) == ["noisy"]  # 3.03x
    assert self_check.flags(score(2.0), False, TEXTURE, None, natural(10)) == ["collapsed"]  # its own remedy first
    assert self_check.flags(score(2.0), True, TEXTURE, None, None) == []  # no natural images: not measured
    assert not score(2.0, flags=["noisy"]).flagged and score(2.0, flags=["collapsed"]).flagged  # red: misleading
    busy, calm = [TEXTURE, TEXTURE, smooth], [TEXTURE, smooth, smooth]  # the smoother remedy: for a busy layer only
    assert self_check.busy(np.stack(busy), natural(3 / 0.99)) and not self_check.busy(np.stack(calm), natural(3 / 0.99))
    assert not self_check.busy(np.stack(busy), None)
    assert self_check.calmer("smoother", smooth, TEXTURE) and not self_check.calmer("smoother", TEXTURE, smooth)
    assert self_check.calmer("sharper", TEXTURE, smooth)  # only a smoother candidate must be calmer


def test_a_pattern_one_and_a_half_times_as_saturated_as_natural_images_is_garish_when_nothing_else_is_wrong():
    pink = np.broadcast_to([0.8, 0.4, 0.4], (8, 8, 3))  # saturation (0.8 - 0.4) / 0.8 = 0.5
    paler = np.broadcast_to([0.8, 0.6, 0.6], (8, 8, 3))  # 0.25
    assert naturalness.saturation(pink) == 0.5 and naturalness.saturation(paler) == pytest.approx(0.25)

    def natural(times, detail=1.0):  # natural images 1/times as saturated as pink, and busier than anything
        return naturalness.Naturalness(detail, 0.5 / times)

    assert self_check.flags(score(2.0), True, pink, None, natural(1.5 / 1.01)) == []  # 1.49x natural images'
    assert self_check.flags(score(2.0), True, pink, None, natural(1.5 / 0.99)) == ["garish"]  # 1.52x
    assert self_check.flags(score(2.0), False, pink, None, natural(10)) == ["collapsed"]  # its own remedy first
    assert self_check.flags(score(2.0), True, pink, None, naturalness.Naturalness(1.0, 0.0)) == []  # grey data
    colourful_noise = np.concatenate([TEXTURE, np.zeros((8, 8, 2))], axis=-1)  # red speckle on black
    detail = naturalness.high_frequency_share(colourful_noise) / 4
    assert self_check.flags(score(2.0), True, colourful_noise, None, natural(4, detail)) == ["noisy", "garish"]
    assert not score(2.0, flags=["garish"]).flagged  # not red: it says how it looks, not that it misleads
    loud, calm = [pink, pink, paler], [pink, paler, paler]  # the paler remedy: for a garish layer only
    at = natural(1.5 / 0.99)
    assert self_check.garish_layer(np.stack(loud), at) and not self_check.garish_layer(np.stack(calm), at)
    assert not self_check.garish_layer(np.stack(loud), None)
    assert self_check.calmer("paler", paler, pink) and not self_check.calmer("paler", pink, paler)
    red, grey_speckle = np.broadcast_to([1.0, 0.0, 0.0], (8, 8, 3)), np.repeat(TEXTURE, 3, axis=-1)
    assert self_check.calmer("smoother", red, grey_speckle)  # smoother asks for less detail, not less colour


def test_dead_negative_and_broken_maps_carry_no_flag():
    dead = MapScore(0, "m.png", 0.0, 0.0, None, True)
    negative = MapScore(0, "m.png", 0.5, 0.0, None, False, negative=True)
    broken = MapScore(0, None, None, 1.0, None, False, error="NaN or Inf in the pattern")
    assert [self_check.flags(s, False, FLAT, 6.0) for s in (dead, negative, broken)] == [[], [], []]


def test_remedies_come_one_rung_at_a_time_and_the_first_flag_decides():
    assert self_check.remedy_for(["collapsed"]) == "sharper"
    assert self_check.remedy_for(["collapsed"], "sharper") == "apart"
    assert self_check.remedy_for(["collapsed"], "apart") == "overtake"
    assert self_check.remedy_for(["collapsed"], "overtake") is None
    assert self_check.remedy_for(["failed"], "restart") == "vivid"
    assert self_check.remedy_for(["failed"], "vivid") == "longer"
    assert self_check.remedy_for(["failed"], "longer") == "further"
    assert self_check.remedy_for(["failed"], "further") is None
    assert self_check.remedy_for(["collapsed", "capped"]) == "uncapped"
    assert self_check.remedy_for(["capped"], "uncapped") is None
    # after "uncapped", a map also failed gets a new start, then goes on in its own colour; one also collapsed
    # climbs the collapsed ladder; capped or not by then
    assert self_check.remedy_for(["failed", "capped"], "uncapped") == "restart"
    assert self_check.remedy_for(["failed"], "uncapped") == "restart"
    assert self_check.remedy_for(["failed", "capped"], "restart") == "longer-muted"
    assert self_check.remedy_for(["failed"], "longer-muted") == "finer"
    assert self_check.remedy_for(["failed", "capped"], "finer") is None
    assert self_check.remedy_for(["failed"], "finer") is None
    assert self_check.remedy_for(["failed"], "restart") == "vivid"  # never capped: the failed ladder
    assert self_check.remedy_for(["collapsed", "capped"], "uncapped") == "sharper"
    assert self_check.remedy_for(["collapsed", "capped"], "apart") == "overtake"
    assert self_check.remedy_for(["collapsed", "capped"], "overtake") is None
    assert self_check.remedy_for(["failed"]) == "restart" and self_check.remedy_for([]) is None
    assert self_check.remedy_for(["noisy"]) == "smoother" and self_check.remedy_for(["noisy"], "smoother") is None
    assert self_check.remedy_for(["noisy"], "sharper") is None  # a repaired map is not smoothed back
    # how a pattern looks: one ladder, each rung for its own flag, after nothing else
    assert self_check.remedy_for(["garish"]) == "paler" and self_check.remedy_for(["garish"], "paler") is None
    assert self_check.remedy_for(["noisy", "garish"]) == "smoother"
    assert self_check.remedy_for(["noisy", "garish"], "smoother") == "paler"
    assert self_check.remedy_for(["garish"], "smoother") == "paler"  # smoother kept: the map is still garish
    assert self_check.remedy_for(["noisy"], "paler") is None
    assert self_check.remedy_for(["garish"], "vivid") is None  # a repaired map is not paled back


def test_apart_holds_each_specific_map_a_tenth_below_its_own_value_and_leaves_the_rest_free():
    scores = {0: score(2.0, specific=True), 1: score(3.0, specific=False), 3: score(-1.0, ratio=None, specific=True)}
    scores[4] = MapScore(4, None, None, 1.0, None, False, error="NaN or Inf in the pattern", specific=True)
    assert self_check.limits(scores, 6) == (1.8, np.inf, np.inf, -1.1, np.inf, np.inf)
    # A rival that yields is held below the collapsed maps' own values too
    scores[1].flags, scores[5] = ["collapsed"], score(1.0, specific=False)
    assert self_check.limits(scores, 6, "yield") == (1.8, 2.7, np.inf, -1.1, np.inf, np.inf)
    assert self_check.limits(scores, 6, "apart") == (1.8, np.inf, np.inf, -1.1, np.inf, np.inf)


def test_a_better_pattern_is_specific_first_then_stronger():
    assert self_check.better((True, 0.5), (False, 3.0))
    assert not self_check.better((False, 3.0), (True, 0.5))
    assert self_check.better((True, 1.2), (True, 1.1)) and not self_check.better((True, 1.1), (True, 1.1))


@pytest.mark.parametrize(
    "make, top",
    [
        (lambda k: k.layers.ReLU(max_value=6.0, name="x"), 6.0),
        (lambda k: k.layers.Activation("relu6", name="x"), 6.0),
        (lambda k: k.layers.Conv2D(2, 3, activation="tanh", name="x"), 1.0),
        (lambda k: k.layers.Conv2D(2, 3, activation="sigmoid", name="x"), 1.0),
        (lambda k: k.layers.Conv2D(2, 3, activation="relu", name="x"), None),
        (lambda k: k.layers.ReLU(name="x"), None),
    ],
)
def test_the_ceiling_of_real_layers(make, top):
    k = helpers.keras()
    model = k.Sequential([k.Input((6, 6, 2)), make(k)])
    assert bounds.ceiling(model, "x") == top


def test_an_uncapped_layer_gives_what_feeds_its_ceiling():
    k = helpers.keras()
    model = k.Sequential([k.Input((4, 4, 1)), k.layers.Conv2D(1, 1, use_bias=False, name="c"),
                          k.layers.ReLU(max_value=6.0, name="r6")])  # fmt: skip
    model.get_layer("c").set_weights([np.full((1, 1, 1, 1), 10.0, np.float32)])
    x = _tf.tf().ones((1, 4, 4, 1))
    capped = models.run_graph(model, x, {"r6"}, Hooks())[1]["r6"]
    uncapped = models.run_graph(model, x, {"r6"}, Hooks(uncapped={"r6"}))[1]["r6"]
    np.testing.assert_allclose(capped.numpy(), 6.0)
    np.testing.assert_allclose(uncapped.numpy(), 10.0)


def test_capped_maps_are_flagged_and_their_remedy_is_recorded(cli, tmp_path):
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=2)
    model = k.Sequential([k.Input((12, 12, 1)), k.layers.Conv2D(4, 3, name="c1", kernel_initializer=init),
                          k.layers.ReLU(max_value=6.0, name="r6")], name="capped")  # fmt: skip
    model.get_layer("c1").set_weights([model.get_layer("c1").get_weights()[0] * 40, np.full(4, 2.0, np.float32)])
    model.save(tmp_path / "capped.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(), y=np.zeros(16, np.uint8))
    result = cli(
        "patterns", tmp_path / "capped.keras", "--layer", "r6", "--steps", "24", "--dataset", tmp_path / "d.npz"
    )
    assert result.exit_code == 0, result.output
    maps = json.loads(next(tmp_path.glob("gallery/layers/*/seed-0/manifest.json")).read_text())["maps"]
    capped = [m for m in maps if "capped" in (m.get("flags") or [])]
    assert capped and all(m["value"] >= 0.95 * 6.0 for m in capped)
    # "uncapped" first; a map also collapsed then climbs the collapsed ladder, to "overtake"
    assert all(m["remedy"] == ("uncapped" if m["specific"] else "overtake") for m in capped)
    tasks = json.loads((tmp_path / "gallery" / ".featviz-tasks.json").read_text())
    assert any(t.endswith("+uncapped") for t in tasks)
    assert "capped" in result.stdout  # the summary line names what is still flagged
    # --no-repair flags the same maps and renders no remedy
    args = ("patterns", tmp_path / "capped.keras", "--layer", "r6", "--steps", "24", "--dataset", tmp_path / "d.npz")
    bare = cli(*args, "--no-repair", "--out", "bare")
    assert bare.exit_code == 0 and "capped" in bare.stdout, bare.output
    first = json.loads(next(tmp_path.glob("bare/layers/*/seed-0/manifest.json")).read_text())["maps"]
    assert [m for m in first if "capped" in (m.get("flags") or [])] and not any(m.get("remedy") for m in first)
    remedies = tuple(f"+{r}" for r in self_check.EVERY_REMEDY)
    assert not any(t.endswith(remedies) for t in json.loads((tmp_path / "bare" / ".featviz-tasks.json").read_text()))


def test_a_collapsed_map_whose_own_remedies_are_done_has_its_rival_yield(cli, tmp_path, monkeypatch):
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=2)
    model = k.Sequential([k.Input((12, 12, 1)), k.layers.Conv2D(4, 3, name="c1", kernel_initializer=init),
                          k.layers.ReLU(max_value=6.0, name="r6")], name="twins")  # fmt: skip
    kernel = model.get_layer("c1").get_weights()[0] * 10
    kernel[..., 1] = kernel[..., 0]  # maps 0 and 1 are one map twice: one of them is collapsed onto the other
    model.get_layer("c1").set_weights([kernel, np.full(4, 0.5, np.float32)])
    model.save(tmp_path / "twins.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(), y=np.zeros(16, np.uint8))
    overtaking, render_pairs = {}, tasks.synthesize_pairs

    def spy(model, request, pairs, progress, remedy, given):  # the real render, its starts noted
        if remedy == "overtake":
            overtaking.update(given.starts)
        return render_pairs(model, request, pairs, progress, remedy, given)

    monkeypatch.setattr(tasks, "synthesize_pairs", spy)
    result = cli("patterns", tmp_path / "twins.keras", "--steps", "24", "--dataset", tmp_path / "d.npz")
    assert result.exit_code == 0, result.output
    maps = json.loads(next(tmp_path.glob("gallery/layers/*/seed-0/manifest.json")).read_text())["maps"]
    keys = sorted(json.loads((tmp_path / "gallery" / ".featviz-tasks.json").read_text()))
    remedies = [t.rsplit("/", 1)[1] for t in keys if "+" in t]
    (victim,) = [m["map"] for m in maps if "collapsed" in (m.get("flags") or [])]
    rival = 1 - victim
    assert maps[victim]["twin"] == rival
    # the collapsed map's own ladder first, then its rival is rendered again holding it down, once
    ladder = {f"{victim:04d}-{victim:04d}+{remedy}" for remedy in ("sharper", "apart", "overtake")}
    assert ladder <= set(remedies)
    # "overtake" starts from the rival's pattern as saved
    (start,) = overtaking.values()
    folder = next(tmp_path.glob("gallery/layers/*/seed-0"))
    saved = np.asarray(Image.open(folder / maps[rival]["image"]))
    np.testing.assert_array_equal(images.to_uint8(start).reshape(saved.shape), saved)
    # a folder made before "overtake" (the ladder ended at "apart"), run again (edited: --force): from the rival too
    manifest = folder / "manifest.json"
    record = json.loads(manifest.read_text())
    record["maps"][victim]["remedy"] = "apart"
    manifest.write_text(json.dumps(record))
    overtaking.clear()
    again = cli("patterns", tmp_path / "twins.keras", "--steps", "24", "--dataset", tmp_path / "d.npz", "--force")
    assert again.exit_code == 0, again.output
    (start,) = overtaking.values()
    np.testing.assert_array_equal(images.to_uint8(start).reshape(saved.shape), saved)
    # a finished run, run again, finds nothing left to render or repair
    ledger = tmp_path / "gallery" / ".featviz-tasks.json"
    before = json.loads(ledger.read_text())
    last = cli("patterns", tmp_path / "twins.keras", "--steps", "24", "--dataset", tmp_path / "d.npz")
    assert last.exit_code == 0 and "0 rendered, 4 reused in" in last.stdout, last.output
    assert json.loads(ledger.read_text()) == before
    assert [r for r in remedies if r.endswith("+yield")] == [f"{rival:04d}-{rival:04d}+yield"]
    # no pattern of one map can drive it harder than the same map's: the judge refuses, and the record says so
    assert (maps[rival]["remedy"], maps[rival]["repaired"], maps[rival]["specific"]) == ("yield", False, True)
    page = map_page._check(scoring.from_record(maps[rival]))
    assert "<code>yield</code>, rendered again to give way" in page and "the pattern before stayed" in page


def test_a_map_still_failed_after_its_new_starts_goes_on_from_its_pattern_and_climbs(cli, tmp_path, monkeypatch):
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=3)
    model = k.Sequential([k.Input((12, 12, 1)), k.layers.Conv2D(3, 3, name="c1", kernel_initializer=init),
                          k.layers.Activation("tanh", name="t")], name="saturating")  # fmt: skip
    model.save(tmp_path / "tanh.keras")
    np.savez(tmp_path / "d.npz", x=helpers.random_digits(), y=np.zeros(16, np.uint8))

    def maps(out, *ladder, steps="6"):
        monkeypatch.setitem(self_check.REMEDIES, self_check.FAILED, ladder)
        args = ("patterns", tmp_path / "tanh.keras", "--steps", steps, "--dataset", tmp_path / "d.npz", "--out", out)
        assert cli(*args).exit_code == 0
        manifest = next((tmp_path / out).glob("layers/*/seed-0/manifest.json"))
        return json.loads(manifest.read_text())["maps"]

    before = maps("short", "restart", "vivid")
    after = maps("longer", "restart", "vivid", "longer")
    went_on = [m for m in after if m.get("remedy") == "longer" and m.get("repaired")]
    assert went_on, after
    assert all(m["value"] > before[m["map"]]["value"] for m in went_on)
    # A MACO image cannot start from a picture: its failed maps stop at "vivid"
    args = ("patterns", tmp_path / "tanh.keras", "--steps", "6", "--dataset", tmp_path / "d.npz", "--param", "maco")
    assert cli(*args, "--out", "maco").exit_code == 0
    manifest = next((tmp_path / "maco").glob("layers/*/seed-0/manifest.json"))
    remedies = {m.get("remedy") for m in json.loads(manifest.read_text())["maps"]}
    assert "vivid" in remedies and "longer" not in remedies
    # "further" goes on from where a kept "longer" left a map still failed, and climbs again (2 steps a rung)
    short = maps("short2", "longer", steps="2")
    further = maps("further2", "longer", "further", steps="2")
    again = [m for m in further if m.get("remedy") == "further" and m.get("repaired")]
    assert again, further
    assert all(m["value"] > short[m["map"]]["value"] for m in again)


def test_a_checkerboard_detector_s_pattern_is_flagged_noisy_and_rendered_smoother(cli, tmp_path, monkeypatch):
    k = helpers.keras()
    model = k.Sequential([k.Input((24, 24, 1)), k.layers.Conv2D(1, 3, name="c1"), k.layers.ReLU(name="r")])
    checkerboard = np.indices((3, 3)).sum(axis=0) % 2 * 2.0 - 1.0
    model.get_layer("c1").set_weights([checkerboard[:, :, None, None].astype(np.float32), np.array([0.05], np.float32)])
    model.save(tmp_path / "checks.keras")
    ramps = np.linspace(0, 255, 24)[None, None, :] * np.linspace(0.2, 1, 16)[:, None, None]  # smooth pictures
    np.savez(tmp_path / "d.npz", x=np.repeat(ramps, 24, axis=1).astype(np.uint8), y=np.zeros(16, np.uint8))
    monkeypatch.setattr(self_check, "NOISY_DETAIL", 2.0)  # the checkerboard's pattern has 2.6x the ramps' detail
    result = cli("patterns", tmp_path / "checks.keras", "--steps", "64", "--dataset", tmp_path / "d.npz")
    assert result.exit_code == 0, result.output
    folder = next(tmp_path.glob("gallery/layers/*/seed-0"))
    (checks,) = json.loads((folder / "manifest.json").read_text())["maps"]
    assert checks["flags"] == ["noisy"]
    share = naturalness.high_frequency_share(images.load_image(folder / checks["image"], channels=1))
    assert share > 2.0 * naturalness.Naturalness.of(ramps.repeat(24, axis=1)[..., None] / 255).high_frequency
    # Smoother, the checkerboard fades to under a tenth of its value: the first pattern stays, flagged, and says so.
    assert checks["remedy"] == "smoother" and checks["repaired"] is False
    assert "still 1 noisy" in result.stdout


def test_naturalness_figures_are_exact_on_pictures_with_known_spectra():
    stripes = np.zeros((16, 16, 3))
    stripes[:, ::2] = 1.0  # all power at the Nyquist frequency
    wave = np.repeat(0.5 + 0.5 * np.cos(2 * np.pi * np.arange(16) / 16)[None, :, None], 16, axis=0)
    wave = np.repeat(wave, 3, axis=-1)  # all power at radius 1
    assert naturalness.high_frequency_share(stripes) == pytest.approx(1.0)
    assert naturalness.high_frequency_share(wave) == pytest.approx(0.0, abs=1e-12)
    red = np.zeros((4, 4, 3))
    red[..., 0] = 0.8
    assert naturalness.saturation(red) == 1.0 and naturalness.saturation(np.full((4, 4, 3), 0.3)) == 0.0
    both = naturalness.Naturalness.of(np.stack([stripes, wave, np.full((16, 16, 3), np.nan)]))
    assert both == naturalness.Naturalness(0.5, pytest.approx(0.0))


def test_the_judge_keeps_a_better_candidate_only_when_no_other_map_loses_its_specificity():
    rows = np.array([[2.0, 1.0, 0.0], [2.5, 1.5, 0.0], [0.0, 0.0, 1.0]])  # map 0 collapsed: map 1's pattern wins
    judge = self_check.Judge(rows)
    assert judge.specific().tolist() == [False, True, True]
    assert not judge.offer(0, np.array([3.0, 1.6, 0.0]), 1.0)  # specific for 0, but beats map 1's own pattern
    assert judge.specific().tolist() == [False, True, True]
    assert judge.offer(0, np.array([3.0, 1.2, 0.5]), 1.0)  # specific for 0, harmless
    assert judge.specific().tolist() == [True, True, True]
    assert not judge.offer(2, np.array([0.0, 0.0, 0.9]), 1.0)  # weaker, and already specific
    assert judge.offer(2, np.array([0.0, 0.0, 1.0]), 1.0, "ties")  # an equal uncapped candidate wins the tie


def test_a_smoother_candidate_wins_when_the_map_stays_specific_and_at_ratio_one():
    rows = np.array([[2.0, 0.0, 0.0], [0.0, 1.5, 0.0], [0.0, 0.0, 3.0]])
    judge = self_check.Judge(rows)
    assert not judge.offer(0, np.array([1.9, 0.0, 0.0]), 2.0, "better")  # weaker: "better" refuses it
    assert not judge.offer(0, np.array([1.9, 0.0, 0.0]), 2.0, "holds")  # ratio 0.95: now a natural image beats it
    assert not judge.offer(0, np.array([2.1, 1.6, 0.0]), 2.0, "holds")  # map 1's own pattern loses to it
    assert not judge.offer(2, np.array([3.1, 0.0, 2.5]), 2.0, "holds")  # not specific for map 2
    assert judge.offer(0, np.array([2.0, 0.0, 0.0]), 2.0, "holds") and judge.rows[0, 0] == 2.0  # ratio 1: kept
    assert judge.offer(2, np.array([0.0, 0.0, 2.2]), 2.0, "holds")  # weaker than 3.0, still ratio 1.1 and specific
    assert not judge.offer(2, np.array([0.0, 0.0, 1.0]), 0.5, "holds")  # ratio 2, but under half of 2.2
    weak = self_check.Judge(np.array([[0.5, 0.0], [0.0, 1.0]]))  # map 0 below its natural best (ratio 0.5)
    assert weak.offer(0, np.array([0.5, 0.0]), 1.0, "holds") and not weak.offer(0, np.array([0.4, 0.0]), 1.0, "holds")


def test_a_rival_that_yields_is_kept_only_when_it_frees_a_map_and_holds_its_own():
    # Map 0 sits at ReLU6's ceiling, and map 1's pattern drives it there too: a tie, so map 0 is collapsed.
    rows = np.array([[6.0, 1.0, 0.0], [6.0, 5.0, 0.0], [0.0, 0.0, 2.0]])
    judge = self_check.Judge(rows)
    assert judge.specific().tolist() == [False, True, True]
    assert not judge.offer(1, np.array([6.0, 5.5, 0.0]), 2.0, "frees")  # stronger, but map 0 is still tied
    assert not judge.offer(1, np.array([5.0, 2.4, 0.0]), 2.0, "frees")  # frees map 0, keeps under half its value
    assert not judge.offer(1, np.array([5.0, 3.0, 2.5]), 2.0, "frees")  # frees map 0, beats map 2's own pattern
    assert not judge.offer(1, np.array([5.0, 1.0, 0.0]), 2.0, "frees")  # frees map 0, no longer specific itself
    assert not judge.offer(1, np.array([5.0, 3.0, 0.0]), 2.0, "better")  # weaker: only "frees" takes it
    np.testing.assert_array_equal(judge.rows, rows)  # every refusal left the responses as they were
    assert judge.offer(1, np.array([5.0, 3.0, 0.0]), 2.0, "frees")
    assert judge.specific().tolist() == [True, True, True] and judge.rows[1, 1] == 3.0


def test_a_collapsed_map_is_a_twin_when_natural_images_drive_it_and_its_rival_alike():
    # matrix[i, j]: map j's response to map i's pattern. Map 0's pattern beats map 1's own, and map 2's.
    matrix = np.array([[3.0, 2.5, 1.5], [1.0, 2.0, 0.1], [0.2, 0.5, 0.9]])
    correlation = np.eye(4)
    correlation[[0, 1], [1, 0]] = 0.97  # maps 0 and 1 respond alike to natural images; 0 and 2 do not
    correlation[[0, 2], [2, 0]] = 0.5
    assert self_check.rivals(matrix, [0, 1, 2]) == {1: 0, 2: 0}
    assert self_check.rivals(matrix[:1, :1], [0]) == {}
    assert self_check.twins(self_check.rivals(matrix, [0, 1, 2]), correlation) == {1: 0}
    assert self_check.twins({1: 0, 2: 0}, None) == {}
    twin = MapScore(1, "x.png", 2.0, 1.0, 2.0, False, specific=False, flags=["collapsed", "failed"], twin=0)
    assert twin.caption() == "1 ×2.00 twin of 0 failed"
    line = scoring.summarize([twin, score(3.0)]).line("c2")
    assert line.endswith("still 1 collapsed (1 twin), 1 failed")


def _redness(tmp_path, spatial: np.ndarray) -> None:
    """red.keras: one map, the redness R - (G + B) / 2 weighted by `spatial` (k x k); d.npz: its natural images,
    64 smooth ramps in random tints, never red."""
    k = helpers.keras()
    size = spatial.shape[0]
    model = k.Sequential([k.Input((16, 16, 3)), k.layers.Conv2D(1, size, name="red"), k.layers.ReLU(name="r")])
    kernel = spatial[:, :, None, None] * np.array([1.0, -0.5, -0.5])[None, None, :, None]
    model.get_layer("red").set_weights([kernel.astype(np.float32), np.zeros(1, np.float32)])
    model.save(tmp_path / "red.keras")
    tints = np.random.default_rng(0).uniform(0.5, 1.0, (64, 3))
    tints[:, 0] = np.minimum(tints[:, 0], tints[:, 1:].mean(axis=1) + 0.05)
    ramps = np.linspace(60, 250, 16)[None, None, :, None] * tints[:, None, None, :]
    np.savez(tmp_path / "d.npz", x=np.repeat(ramps, 16, axis=1).astype(np.uint8), y=np.zeros(64, np.uint8))


def test_a_redness_detector_s_pattern_is_flagged_garish_and_rendered_paler(cli, tmp_path, monkeypatch):
    from featviz.execution import local

    _redness(tmp_path, np.ones((1, 1)))
    render = local.LocalExecutor.render

    def elsewhere(self, tasks, progress=None):  # the repairs as a worker on another machine would return them
        for done in render(self, tasks, progress):
            done.ran = {**done.ran, "cpu": "another machine"} if done.task.remedy else done.ran
            yield done

    monkeypatch.setattr(local.LocalExecutor, "render", elsewhere)
    folders = {}
    for repair in ("--no-repair", "--repair"):
        result = cli("patterns", tmp_path / "red.keras", "--steps", "256", "--dataset", tmp_path / "d.npz",
                     repair, "--out", tmp_path / repair)  # fmt: skip
        assert result.exit_code == 0, result.output
        folders[repair] = next((tmp_path / repair).glob("layers/*/seed-0"))
    (first,), (checks,) = (json.loads((f / "manifest.json").read_text())["maps"] for f in folders.values())
    assert first["flags"] == ["garish"] and "remedy" not in first
    # Paler, the red keeps more than the best natural image's value, with less colour: it replaces the first.
    assert checks["remedy"] == "paler" and checks["repaired"] is True and checks["ratio"] >= 1
    before, after = (images.load_image(f / m["image"], channels=3) for f, m in zip(folders.values(), (first, checks)))
    assert naturalness.saturation(after) < naturalness.saturation(before)
    ran = [json.loads((f / "manifest.json").read_text())["ran"] for f in folders.values()]
    assert [[r["cpu"] == "another machine" for r in machines] for machines in ran] == [[False], [False, True]]


def test_a_looks_remedy_the_layer_does_not_need_is_passed_over_for_the_next(cli, tmp_path, monkeypatch):
    _redness(tmp_path, np.indices((3, 3)).sum(axis=0) % 2 * 2.0 - 1.0)  # a red and cyan checkerboard detector
    monkeypatch.setattr(self_check, "GARISH_COLOUR", 0.1)  # any colour is garish
    # Pixels: "smoother" (a steeper Fourier spectrum) is not for them, so the noisy and garish map goes to "paler"
    args = ("patterns", tmp_path / "red.keras", "--steps", "64", "--dataset", tmp_path / "d.npz", "--param", "pixels")
    first = cli(*args, "--no-repair", "--out", "first")
    assert first.exit_code == 0, first.output
    (flagged,) = json.loads(next(tmp_path.glob("first/layers/*/seed-0/manifest.json")).read_text())["maps"]
    assert flagged["flags"] == ["noisy", "garish"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    (checks,) = json.loads(next(tmp_path.glob("gallery/layers/*/seed-0/manifest.json")).read_text())["maps"]
    assert checks["remedy"] == "paler", checks
    tasks = json.loads((tmp_path / "gallery" / ".featviz-tasks.json").read_text())
    assert not any(t.endswith("+smoother") for t in tasks)
