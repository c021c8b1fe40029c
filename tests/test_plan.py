"""The plan before a long run: its arithmetic with exact values, the budget's choice, and the device it names."""

import json
import subprocess
import sys

import helpers
import numpy as np
import pytest

from featviz import models
from featviz.errors import FeatvizError
from featviz.evaluation import scoring, self_check
from featviz.execution import calibration, plan
from featviz.execution.budget import bytes_text, duration_text, fit_budget, parse_duration
from featviz.execution.calibration import Calibration, Call, Rate
from featviz.execution.plan import Estimate
from featviz.files.output import OutputDir
from featviz.models import cost
from featviz.patterns import NaturalBest, PatternJob, PatternRequest
from featviz.report import gallery, gallery_plan
from featviz.runtime import _tf, device
from featviz.synthesis import render


@pytest.mark.parametrize(
    "seconds, text",
    [(0.2, "1 s"), (45, "45 s"), (200, "3 min 20 s"), (599.4, "9 min 59 s"), (600, "10 min"), (1234, "20 min 30 s"),
     (3725, "1 h 2 min"), (7200, "2 h"), (93784, "26 h 3 min")],
)  # fmt: skip
def test_durations_read_in_h_min_and_s(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    "text, seconds", [("30m", 1800), ("90s", 90), ("1.5h", 5400), ("1h30m", 5400), ("45", 45), ("2 h", 7200),
                      ("10min", 600), (".5m", 30)],
)  # fmt: skip
def test_budgets_parse_with_s_m_and_h(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "30x", "m", "1h-2m"])
def test_a_budget_that_is_no_duration_is_one_clear_error(text):
    with pytest.raises(FeatvizError, match="is not a duration"):
        parse_duration(text)


def test_sizes_read_in_mb_and_gb():
    assert [bytes_text(n) for n in (2e5, 850e6, 1.26e9, 13.4e9)] == ["1 MB", "850 MB", "1.3 GB", "13.4 GB"]


def test_the_budget_keeps_layers_in_order_while_they_fit_and_costly_ones_give_way():
    costs = [("inner", 10.0), ("middle", 30.0), ("outer", 5.0)]  # most wanted first
    assert fit_budget(costs, fixed=20.0, budget=40.0) == ["inner", "outer"]  # 30, 60 > 40 skipped, 35
    assert fit_budget(costs, fixed=0.0, budget=45.0) == ["inner", "middle", "outer"]
    assert fit_budget(costs, fixed=100.0, budget=40.0) == ["outer"]  # none fits: the cheapest alone


RATE = Rate(per_image=1e-3, per_flop=1e-9, trace=((0, 1.0), (10, 3.0)))


def test_a_call_costs_its_trace_and_its_steps_by_images_and_flops():
    assert RATE.step(100, 1e6) == pytest.approx(100 * 2e-3)
    assert RATE.step(2, 1e6) == pytest.approx(calibration.MIN_IMAGES * 2e-3)  # a small batch costs a floor
    assert [RATE.tracing(d) for d in (0, 5, 10, 20)] == pytest.approx([1.0, 2.0, 3.0, 5.0])
    call = Call("x", 5, 1e6, 100, 256)
    assert RATE.call(call) == pytest.approx(2.0 + 256 * 0.2)
    assert RATE.call(Call("x", 5, 1e6, 100, 512)) - RATE.call(call) == pytest.approx(256 * 0.2)  # steps
    assert RATE.call(Call("x", 5, 3e6, 100, 256)) == pytest.approx(2.0 + 256 * 100 * 4e-3)  # flops


def test_two_calibrated_layers_give_a_cost_per_image_and_per_flop():
    cheap, costly = Call("a", 0, 1e6, 100, 256), Call("b", 10, 11e6, 200, 256)
    rate = calibration.fit([(cheap, 2.2, 0.2), (costly, 7.2, 2.4)])  # 2 ms and 12 ms an image-step
    assert rate.per_flop == pytest.approx(1e-9) and rate.per_image == pytest.approx(1e-3)
    assert [d for d, _ in rate.trace] == [0, 10] and [t for _, t in rate.trace] == pytest.approx([2.0, 4.8])
    one = calibration.fit([(costly, 7.2, 2.4)])  # one layer: the cost scales with its FLOPs alone
    assert (one.per_image, one.per_flop * 11e6) == pytest.approx((0.0, 12e-3))
    flat = calibration.fit([(cheap, 2.2, 0.4), (costly, 7.2, 0.4)])  # the costlier layer steps no slower
    assert (flat.per_image, flat.per_flop) == pytest.approx((0.8 / 300, 0.0))


def test_the_calibration_times_the_costliest_call_and_the_cheapest_layer():
    calls = [Call("a", 0, 1e6, 96, 256), Call("b", 3, 5e6, 192, 256), Call("c", 6, 9e6, 256, 256),
             Call("c", 6, 9e6, 128, 256), Call("a", 0, 1e6, 30, 256)]  # fmt: skip
    assert calibration.pick(calls) == [calls[0], calls[2]]
    assert calibration.pick(calls[2:4]) == [calls[2]]


def test_the_estimate_line_reads_in_h_min_and_s_and_names_the_gpu_memory():
    found = Estimate(125.0, 10.0, 5.0, 60.0, {}, Calibration(RATE, 7.0, int(1.2e9), int(3.4e9)), 702, int(1e8))
    assert found.line() == (
        "estimated 3 min 20 s (patterns 2 min 5 s, self-check repairs 10 s, natural images 5 s, scoring and pages "
        "1 min; calibrated in 7 s); up to 11 min 30 s if the self-check renders every map again; peak memory about "
        "1.3 GB, 3.4 GB of it on the GPU"
    )
    nominal = Estimate(3.0, 0.0, 0.0, 1.0, {}, Calibration(RATE, None, int(9e8)), 12, workers=4)
    assert nominal.line() == (
        "estimated 4 s (patterns 3 s, scoring and pages 1 s; not calibrated: a short run, over 4 workers as fast as "
        "this process); up to 16 s if the self-check renders every map again; peak memory about 900 MB"
    )


def test_flops_count_dense_convolutions_depthwise_and_separable_ones():
    k = helpers.keras()
    tiny = helpers.tiny_cnn()  # 12x12x1: c1 3x3 -> 10x10x4, pool -> 5x5, c2 3x3 -> 3x3x6, dense 54 -> 3
    assert cost.layer_flops(tiny, (12, 12)) == {"c1": 7200.0, "pool": 0.0, "c2": 3888.0, "flat": 0.0, "out": 324.0}
    assert cost.prefix_flops(tiny, "c2", (12, 12)) == 7200.0 + 3888.0
    x = k.Input((6, 6, 2))
    d = k.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(x)  # 4x4x4, a 3x3 window each
    s = k.layers.SeparableConv2D(5, 3, name="sep")(d)  # 2x2: depthwise 2x2x4 x 9, pointwise 4 -> 5
    flops = cost.layer_flops(k.Model(x, s), (6, 6))
    assert (flops["dw"], flops["sep"]) == (2 * 9 * 64, 2 * 9 * 16 + 2 * 4 * 20)


def test_a_pass_counts_the_values_each_layer_reads_and_writes_and_its_largest_tensor():
    k = helpers.keras()
    tiny = helpers.tiny_cnn()  # 12x12x1 (144) -> c1 10x10x4 (400) -> pool 5x5x4 (100) -> c2 3x3x6 (54) -> 54 -> 3
    assert cost.layer_values(tiny, (12, 12)) == {"c1": 544, "pool": 500, "c2": 154, "flat": 108, "out": 57}
    found = cost.pass_to(tiny, (12, 12), ["c2"])
    assert found == cost.Pass(flops=7200.0 + 3888.0, values=544 + 500 + 154, largest=400)
    assert found.intensity == 11088.0 / (4 * 1198)
    # a larger canvas stops at c2 (the dense layer would not fit it): c1 18x18x4, pool 9x9x4, c2 7x7x6
    assert cost.pass_to(tiny, (20, 20), ["c2"]) == cost.Pass(2 * 9 * 1296 + 2 * 36 * 294, 1696 + 1620 + 618, 1296)
    assert cost.pass_to(tiny, (12, 12), []) is None and cost.pass_to(tiny, (20, 20), ["missing"]) is None
    x = k.Input((6, 6, 2))
    c = k.layers.Conv2D(3, 3, name="c")(x)  # 4x4x3
    b = k.layers.BatchNormalization(name="bn")(c)  # taken as fused into c: moves nothing of its own
    r = k.layers.ReLU(name="r")(b)
    assert cost.layer_values(k.Model(x, r), (6, 6)) == {"c": 72 + 48, "bn": 0, "r": 0}


def residual_cnn():
    """c1 -> c2 -> add1 (12x12x4), c3 stride 2 -> c4 -> add2 (6x6x6), then 3 classes."""
    k = helpers.keras()
    init = k.initializers.GlorotUniform(seed=3)
    conv = dict(padding="same", activation="relu", kernel_initializer=init, bias_initializer="ones")
    x = k.Input((12, 12, 1), name="img")
    c1 = k.layers.Conv2D(4, 3, name="c1", **conv)(x)
    a1 = k.layers.Add(name="add1")([c1, k.layers.Conv2D(4, 3, name="c2", **conv)(c1)])
    c3 = k.layers.Conv2D(6, 3, strides=2, name="c3", **conv)(a1)
    a2 = k.layers.Add(name="add2")([c3, k.layers.Conv2D(6, 3, name="c4", **conv)(c3)])
    out = k.layers.Dense(3, name="out", kernel_initializer=init)(k.layers.Flatten(name="flat")(a2))
    return k.Model(x, out, name="residual")


@pytest.fixture(scope="module")
def residual(tmp_path_factory):
    path = tmp_path_factory.mktemp("residual") / "residual.keras"
    residual_cnn().save(path)
    return models.load(path)


def test_block_outputs_are_merges_and_the_last_layer_of_each_map_size(residual):
    assert [i.name for i in models.block_outputs(residual.model)] == ["add1", "add2"]
    assert [i.name for i in models.block_outputs(helpers.tiny_cnn())] == ["c1", "c2"]


def test_the_estimate_scales_with_maps_seeds_and_steps(residual, tmp_path):
    model = residual.model
    info = models.resolve_layer(model, "c4")
    flops = cost.cumulative_flops(model, (12, 12))
    recipe = render.Recipe(steps=100, precision="float32")

    def patterns(maps: int, seeds: int, steps: int = 100) -> float:
        request = PatternRequest(info, (12, 12), recipe=render.Recipe(steps=steps, precision="float32"))
        job = PatternJob(residual, request, list(range(maps)), NaturalBest(None, None))
        jobs = [job.for_seed(s) for s in range(seeds)]
        return plan.estimate(model, jobs, OutputDir(tmp_path), calibration=Calibration(RATE)).patterns

    depth = list(flops).index("c4")
    each = RATE.per_image + RATE.per_flop * flops["c4"]
    # 6 images: the floor
    assert patterns(6, 1) == pytest.approx(RATE.tracing(depth) + 100 * calibration.MIN_IMAGES * each)
    assert patterns(6, 3) == pytest.approx(RATE.tracing(depth) + 100 * 18 * each)  # three seeds, one batch
    assert patterns(6, 3, 200) - patterns(6, 3) == pytest.approx(100 * 18 * each)
    assert recipe.steps == 100


def test_the_repairs_are_two_calls_of_a_tenth_over_every_seed_of_a_layer(residual, tmp_path):
    model = residual.model
    info = models.resolve_layer(model, "c4")
    flops = cost.cumulative_flops(model, (12, 12))

    def repairs(maps: int, seeds: int, repair: bool = True) -> float:
        request = PatternRequest(info, (12, 12), recipe=render.Recipe(steps=100, precision="float32", repair=repair))
        job = PatternJob(residual, request, list(range(maps)), NaturalBest(None, None))
        jobs = [job.for_seed(s) for s in range(seeds)]
        return plan.estimate(model, jobs, OutputDir(tmp_path), calibration=Calibration(RATE)).repairs

    each = RATE.per_image + RATE.per_flop * flops["c4"]
    call = RATE.tracing(list(flops).index("c4"))
    images = [60, 60]  # 600 patterns: two calls of a tenth each
    assert repairs(200, 3) == pytest.approx(sum(call + 100 * max(n, calibration.MIN_IMAGES) * each for n in images))
    assert repairs(6, 1) == pytest.approx(2 * (call + 100 * calibration.MIN_IMAGES * each))  # each call: the floor
    assert repairs(200, 3, repair=False) == 0


def test_when_the_calibration_s_patterns_are_alike_every_map_is_counted_as_repaired():
    layer = Call("x", 5, 1e6, 200, 256)
    assert [c.images for c in Calibration(RATE).repairs(layer)] == [20, 20]  # a tenth of 200, twice
    # alike: the ladders' rungs after two, "longer", "further" and "overtake", render the maps still flagged
    ladders = [self_check.REMEDIES[flag] for flag in (self_check.FAILED, self_check.COLLAPSED)]
    assert max(len(r) for r in ladders) == self_check.LADDER
    assert [r[2:] for r in ladders] == [("longer", "further"), ("overtake",)]
    assert [c.images for c in Calibration(RATE, specific=0.5).repairs(layer)] == [20, 20]
    alike = Calibration(RATE, 8.0, specific=0.03)
    assert alike.alike and [c.images for c in alike.repairs(layer)] == [200, 200, 200, 13]  # the 4th: failed maps
    line = Estimate(125.0, 250.0, 0.0, 5.0, {}, alike, 64).line()
    assert "(3% specific), as with random weights" in line and "up to" not in line


def test_the_share_of_specific_maps_reads_the_first_seed_s_pictures(residual):
    model = residual.model
    batch = render.Batch((0, 1, 2, 0, 1, 2), (12, 12), seeds=(0, 0, 0, 1, 1, 1))
    call = Call("c4", 3, 1e6, 6, 256, (None, None, batch, 0, "mean"))
    same = np.full((6, 12, 12, 1), 0.5, np.float32)
    assert calibration.specific_share(model, call, same) == 0.0  # every map ties with the others: none specific
    rng = np.random.default_rng(0)
    pictures = np.concatenate([rng.uniform(0, 1, (3, 12, 12, 1)), same[:3]]).astype(np.float32)
    inputs = pictures[:3]
    matrix = scoring.responses(model, "c4", [0, 1, 2], inputs, "mean")
    assert calibration.specific_share(model, call, pictures) == pytest.approx(scoring.specific(matrix).mean())


def test_over_budget_the_default_gallery_renders_block_outputs_at_one_seed_innermost_first(residual, tmp_path):
    slow = Calibration(Rate(per_image=2e-3, per_flop=0.0, trace=((0, 1.0),)))  # every layer costs about the same

    def planned(**kw):
        s = gallery.Settings(**{"seeds": (0, 1, 2), "recipe": render.Recipe(steps=256), **kw})
        return gallery_plan.plan(residual, s, OutputDir(tmp_path), calibration=slow)

    whole, one = planned(), planned(seeds=(0,))
    assert whole.settings.layers is None and list(whole.settings.seeds) == [0, 1, 2]
    assert whole.lines()[0].startswith(
        "6 layers (c1, c2, add1, ..., add2) and the class layer out: 33 maps x 3 seeds = 99"
    )
    total, single = whole.plan.estimate.total, one.plan.estimate.total
    assert planned(budget=total + 1).settings.seeds == (0, 1, 2)  # it fits: as asked
    fits_one = planned(budget=(single + 1) / gallery_plan.CUT_FILL)  # a cut fills a share of the budget
    assert (fits_one.settings.layers, list(fits_one.settings.seeds)) == (None, [0])
    page = gallery_plan.LAYER_SECONDS + 4 * plan.PAGE_SECONDS
    costs = {name: seconds + page for name, seconds in one.plan.estimate.layers.items()}
    costs.update({name: costs[name] + 2 * plan.PAGE_SECONDS for name in ("c3", "c4", "add2")})  # 6 maps, not 4
    fixed = single - sum(costs[name] for name in ("c1", "c2", "add1", "c3", "c4", "add2"))
    out = one.plan.estimate.layers["out"] + 3 * plan.PAGE_SECONDS  # the class layer: 3 units, no layer page
    fixed -= out  # the class patterns are kept only when they fit after the block outputs
    aim = fixed + costs["add2"] + 0.5 * min(costs["add1"], out)  # the innermost block alone
    tight = planned(budget=aim / gallery_plan.CUT_FILL)
    assert (tight.settings.layers, list(tight.settings.seeds), tight.settings.classes) == (["add2"], [0], False)
    assert tight.plan.estimate.total == pytest.approx(fixed + costs["add2"])
    assert tight.lines()[0].startswith("1 layers (add2): 6 maps x 1 seed")
    assert tight.lines()[-1].startswith("the whole gallery (6 layers, 3 seeds) is estimated at ")
    assert (
        "renders 1 block outputs at seed 0, innermost first (add2), without the class layer out; --layers all renders"
        in tight.lines()[-1]
    )
    aim = fixed + costs["add2"] + costs["add1"] + out + 0.5 * costs["c1"]
    blocks = planned(budget=aim / gallery_plan.CUT_FILL)
    assert (blocks.settings.layers, blocks.settings.classes) == (["add1", "add2"], True)
    assert blocks.plan.estimate.total <= aim
    exact = fixed + costs["add2"] + costs["add1"] + out  # fills the whole budget: the class layer gives way
    assert out > (1 - gallery_plan.CUT_FILL) * exact
    filled = planned(budget=exact)
    assert (filled.settings.layers, filled.settings.classes) == (["add1", "add2"], False)
    assert filled.plan.estimate.total <= exact * gallery_plan.CUT_FILL
    everything = planned(layers=["all"], budget=1.0)
    assert everything.settings.layers == ["all"] and everything.lines()[0].startswith("6 layers")


GPU_STUB = """
import json, sys
import tensorflow as tf
listed = tf.config.list_physical_devices
gpu = tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")
tf.config.list_physical_devices = lambda kind=None: [gpu] if kind == "GPU" else listed(kind)
tf.config.experimental.get_device_details = lambda d: {"device_name": "NVIDIA A100-SXM4-40GB",
                                                     "compute_capability": tuple(json.loads(sys.argv[1]))}
from featviz.runtime import _tf, chains
from featviz.synthesis.render import Recipe
from featviz.patterns import manifest
_tf.tf()
print(json.dumps([chains.count(), tf.config.threading.get_intra_op_parallelism_threads(), _tf.device().text(),
                  Recipe().resolved_precision, manifest.this_machine("x")["device"]]))
"""


def with_a_stubbed_gpu(capability) -> list:
    """What featviz makes of a GPU that TensorFlow's device list reports, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", GPU_STUB, json.dumps(capability)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_on_a_gpu_featviz_skips_the_cpu_threads_and_auto_means_bfloat16_from_ampere_on():
    name = "NVIDIA A100-SXM4-40GB (GPU, compute capability 8.0)"
    assert with_a_stubbed_gpu([8, 0]) == [1, 0, name, "bfloat16", name]


def test_device_detection_reads_tensorflows_device_list(monkeypatch):
    tf = _tf.tf()
    gpu = tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [gpu, gpu] if kind == "GPU" else [])
    details = {"device_name": "Tesla V100-SXM2-16GB", "compute_capability": (7, 0)}
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda d: details)
    found = device.detect(tf)
    assert (found.gpu, found.auto_precision) == (True, "float32")  # tensor cores of float16 only: float32
    assert found.text() == "Tesla V100-SXM2-16GB (2 GPUs, compute capability 7.0)"
    monkeypatch.setitem(_tf._state, "device", found)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # holds the CPU's oneDNN, not the GPU
    assert render.Recipe(precision="bfloat16").compute_dtype == "bfloat16"
    assert render.Recipe().resolved_precision == "float32"


def test_on_a_cpu_the_plan_names_the_cpu_and_its_cores():
    here = _tf.device()
    if here.gpu:
        pytest.skip("TensorFlow sees a GPU here")
    assert here.text().endswith(f"(CPU, {here.count} core{'s' if here.count > 1 else ''})")
    assert device.peak(_tf.tf(), here) is None and device.process_peak() > 0


def test_plan_prints_the_plan_and_exits_without_writing(cli, tiny_files, tmp_path):
    common = ("--steps", "4", "--dataset", tiny_files / "digits.npz")
    shown = cli("gallery", tiny_files / "tiny.keras", "--seeds", "0", "--plan", *common)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert (
        lines[0] == "2 layers (c1, c2) and the class layer out: 13 maps x 1 seed = 13 patterns of 4 steps, 13 to render"
    )
    assert lines[1].startswith("on ") and "(auto)" in lines[1]
    assert lines[2].startswith("estimated ") and "calibrated in" in lines[2] and "peak memory about" in lines[2]
    one = cli("patterns", tiny_files / "tiny.keras", "--layer", "c2", "--plan", *common)
    assert one.exit_code == 0 and one.stdout.splitlines()[0] == "c2: 6 maps at seed 0, 4 steps, 6 to render"
    assert not (tmp_path / "gallery").exists()
    bad = cli("gallery", tiny_files / "tiny.keras", "--budget", "soon")
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.stderr


def test_a_run_says_its_plan_on_stderr_before_it_starts(cli, tiny_files):
    done = cli("patterns", tiny_files / "tiny.keras", "--layer", "c2", "--steps", "4", "--dataset",
               tiny_files / "digits.npz")  # fmt: skip
    assert done.exit_code == 0, done.output
    planned = [line for line in done.stderr.splitlines() if line.startswith("featviz: plan: ")]
    assert planned[0] == "featviz: plan: c2: 6 maps at seed 0, 4 steps, 6 to render"
    assert planned[2].startswith("featviz: plan: estimated ") and "not calibrated: a short run" in planned[2]
    again = cli("patterns", tiny_files / "tiny.keras", "--layer", "c2", "--steps", "4", "--dataset",
                tiny_files / "digits.npz", "--plan")  # fmt: skip
    assert again.stdout.splitlines()[0] == "c2: 6 maps at seed 0, 4 steps, 0 to render"
