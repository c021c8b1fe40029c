"""Fuzzed loaders (#33): real configs, mutated, either load or raise FeatvizError with one line.

Never another exception, a hang, a huge allocation, or code from the file
run. The mutations are in tests/fuzzing.py, shared with
benchmarks/fuzz_loaders.py, which runs them for longer. Full loads run in a
child process with a time and memory limit (fuzzing.LoadWorker).
"""

from __future__ import annotations

import json
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import fuzzing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featviz.errors import FeatvizError
from featviz.models import checks, config_repair


@dataclass
class Fuzz:
    folder: Path
    marker: Path
    seeds: list[fuzzing.Seed]
    worker: fuzzing.LoadWorker

    def seed(self, name: str) -> fuzzing.Seed:
        return next(s for s in self.seeds if s.name == name)

    def case(self, name: str, edit=None, form: str = "keep", version: str = "keep") -> Path:
        """The seed `name` with its config passed through edit(config) -> config, as a file."""
        seed = self.seed(name)
        config = json.loads(json.dumps(seed.config))
        config = edit(config) if edit else config
        form = form if form != "keep" or seed.kind == "keras" else "bytes"
        return fuzzing.write_case(fuzzing.Case(seed, config, form, version), self.folder)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    marker = folder / "MARKER"
    fuzzing.write_marker_module(folder / "marker", marker)
    sys.path.insert(0, str(folder / "marker"))  # so that an import of it, anywhere, would show
    worker = fuzzing.LoadWorker(folder / "marker")
    worker.start()
    try:
        yield Fuzz(folder, marker, fuzzing.build_seeds(folder / "seeds"), worker)
    finally:
        worker.close()
        sys.path.remove(str(folder / "marker"))
    assert fuzzing.MARKER_MODULE not in sys.modules


def clean(outcome: dict, fuzz: Fuzz) -> None:
    assert outcome["end"] in fuzzing.GOOD_ENDS, outcome
    assert not fuzz.marker.exists(), "code from the file ran"


def refused(outcome: dict, fuzz: Fuzz, words: str) -> None:
    clean(outcome, fuzz)
    assert outcome["end"] == "featviz-error" and words in outcome["message"], outcome


FUZZ = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def test_every_seed_loads_with_its_weights(fuzz):
    """The fuzzing starts from files that load: the weight count must not disturb the real build."""
    from featviz import models

    for seed in fuzz.seeds:
        model = models.load(seed.path).model
        assert model.built and model.weights, seed.name


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_checks_and_repair_of_mutated_files(fuzz, data):
    path = fuzzing.write_case(data.draw(fuzzing.cases(fuzz.seeds)), fuzz.folder)
    clean(fuzzing.pure_outcome(path), fuzz)


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_repair_of_mutated_configs(fuzz, data):
    config = fuzzing.materialize(data.draw(fuzzing.cases(fuzz.seeds)).config)

    def run():
        checks.code_in_config(config)
        if isinstance(config, dict):
            checks.subclass_of(config)
        config_repair.repair(config)

    clean(fuzzing.outcome_of(run), fuzz)


@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_load_of_mutated_files(fuzz, data):
    path = fuzzing.write_case(data.draw(fuzzing.cases(fuzz.seeds)), fuzz.folder)
    clean(fuzz.worker.load(path), fuzz)


# --- the crashes fuzzing found, and the inputs the issue names ---------------------------------------------


@pytest.mark.parametrize("form", fuzzing.CONFIG_FORMS)
def test_model_config_of_another_type_is_refused(fuzz, form):
    """Was TypeError from json.loads for arrays, numbers, h5py.Empty and references."""
    path = fuzz.case("tiny.h5", form=form)
    outcome = fuzzing.pure_outcome(path)
    if form == "latin1":  # JSON text, then two bytes that are not UTF-8: read with replacement
        refused(outcome, fuzz, "model_config is not valid JSON")
    elif form == "missing":
        refused(outcome, fuzz, "holds only weights")
    else:
        refused(outcome, fuzz, "model_config is ")
        assert "data, not the JSON text" in outcome["message"]


@pytest.mark.parametrize("version", fuzzing.VERSION_FORMS)
def test_odd_keras_version_attributes_do_not_matter(fuzz, version):
    clean(fuzz.worker.load(fuzz.case("keras24.h5", version=version)), fuzz)


@pytest.mark.parametrize("name", ["tiny.keras", "tiny.h5"])
@pytest.mark.parametrize("brackets", ["[]", "{}"])
def test_config_nested_ten_thousand_deep_is_refused(fuzz, name, brackets):
    """Was RecursionError from json.loads (10,000 deep), or from copy.deepcopy in the repair (990 deep)."""
    for depth in (10_000, 990):
        path = fuzz.case(name, lambda c, depth=depth: {**c, "extra": fuzzing.Deep(depth, brackets)})
        refused(fuzzing.pure_outcome(path), fuzz, "nested more than 100 levels deep")
        refused(fuzz.worker.load(path), fuzz, "nested more than 100 levels deep")


def test_repair_refuses_deep_configs_it_is_given_directly():
    deep = {"class_name": "Sequential", "config": {"layers": [], "x": fuzzing.Deep(10_000).value()}}
    with pytest.raises(FeatvizError, match="nested too deeply"):
        config_repair.repair(deep)


BROKEN_CONFIGS = {
    "no layers": ({"class_name": "Sequential", "config": {"name": "s"}}, "model 's' has no list of layers"),
    "config is None": ({"class_name": "Model", "config": None}, "the model has no list of layers"),
    "layer is a string": ({"class_name": "Sequential", "config": {"layers": ["Conv2D"]}}, "layer 0 of the model"),
    "layer without config": ({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}}, "Dense"),
    "layer config is a list": (
        {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": [1]}]}},
        "a Dense layer in the model has no config",
    ),
    "class name is a list": (
        {"class_name": "Sequential", "config": {"layers": [{"class_name": ["Dense"], "config": {}}]}},
        None,
    ),
    "input shape is a number": (
        {"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"batch_shape": 3}}]}},
        "the input shape of a Dense layer is 3, not a list",
    ),
    "empty endpoint": (
        {"class_name": "Functional", "config": {"layers": [], "input_layers": [[]], "output_layers": [[]]}},
        None,
    ),
    "build config is a list": (
        {
            "class_name": "Sequential",
            "config": {"layers": [{"class_name": "Flatten", "config": {}, "build_config": [1]}]},
        },
        None,
    ),
    "model is a list": ([{"class_name": "Sequential"}], "the model config is a list, not a dict"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_CONFIGS))
def test_repair_names_what_is_malformed(name):
    """Each was a KeyError, AttributeError, TypeError or IndexError from inside the repair."""
    config, message = BROKEN_CONFIGS[name]
    if message is None:
        config_repair.repair(config)
        return
    with pytest.raises(FeatvizError, match=message) as raised:
        config_repair.repair(config)
    assert len(str(raised.value).splitlines()) == 1


def _layer(config: dict, name: str) -> dict:
    layers = config["config"]["layers"]
    return next(layer["config"] for layer in layers if layer["config"].get("name") == name)


ASKS_FOR = "the config asks for"
HUGE_LAYERS = [
    ("tiny.keras", "c1", "filters", 2**31, ASKS_FOR),
    ("tiny.keras", "out", "units", 10**12, ASKS_FOR),
    ("tiny.keras", "c2", "kernel_size", [4096, 4096], "that Keras cannot load (Computed output size"),  # at once
    ("tiny.h5", "c1", "filters", 2**29, ASKS_FOR),
    ("keras24.h5", "dense", "units", 2**40, ASKS_FOR),
    ("keras24.h5", "block/conv_a", "batch_input_shape", [None, 2**20, 2**20, 1], ASKS_FOR),  # the Dense input
]


@pytest.mark.parametrize(("name", "layer", "key", "value", "words"), HUGE_LAYERS)
def test_huge_layers_are_refused_before_keras_allocates_them(fuzz, name, layer, key, value, words):
    """Was an OOM after 20 s to minutes, or, below the machine's memory, gigabytes allocated and filled."""

    def edit(config):
        _layer(config, layer)[key] = value
        return config

    began = time.monotonic()
    refused(fuzz.worker.load(fuzz.case(name, edit)), fuzz, words)
    assert time.monotonic() - began < 20


def test_the_weight_count_leaves_no_variable_behind(tiny_files):
    """The counted weights are never allocated, not even by the next StatelessScope that ends."""
    from featviz.models import budget
    from featviz.runtime import _tf

    keras = _tf.keras()
    with zipfile.ZipFile(tiny_files / "tiny.keras") as z:
        config = json.loads(z.read("config.json"))
    config["config"]["layers"][1]["config"]["filters"] = 2**40  # 36 TB: no machine could allocate it
    with pytest.raises(FeatvizError, match=r"asks for [\d,]+ weights"):
        budget.check(tiny_files / "tiny.keras", config, legacy=False)
    with keras.StatelessScope():
        pass  # leaving it, Keras allocates every variable still pending


OUTSIDE = {
    "module": {"module": fuzzing.MARKER_MODULE, "class_name": "Evil", "config": {}, "registered_name": None},
    "registered": {"module": "keras.layers", "class_name": "Evil", "registered_name": f"{fuzzing.MARKER_MODULE}>Evil"},
    "function": {
        "module": fuzzing.MARKER_MODULE,
        "class_name": "function",
        "config": "touch",
        "registered_name": "function",
    },
}


@pytest.mark.parametrize("name", ["tiny.keras", "tiny.h5", "keras24.h5"])
@pytest.mark.parametrize("kind", sorted(OUTSIDE))
def test_classes_outside_keras_are_refused_without_importing_them(fuzz, name, kind):
    def edit(config):
        layer = config["config"]["layers"][1]
        layer["config"]["activation"] = dict(OUTSIDE[kind])
        return config

    path = fuzz.case(name, edit)
    clean(fuzzing.pure_outcome(path), fuzz)
    refused(fuzz.worker.load(path), fuzz, "the model holds code that would run")


@pytest.mark.parametrize("text", ["os\nimport", "\x1b[2J\x1b[31mred", "a\u2028b", "x" * 10_000])
def test_names_from_the_file_stay_on_one_line(fuzz, text):
    """A module or class name with a newline or a terminal escape made a multi-line or painted error."""

    def edit(config):
        config["config"]["layers"][1]["module"] = text
        return config

    outcome = fuzz.worker.load(fuzz.case("tiny.keras", edit))
    refused(outcome, fuzz, "the model holds code that would run")
    assert "\x1b" not in outcome["message"] and len(outcome["message"]) < 600
    subclass = checks.subclass_of({"class_name": f"My{text}", "module": text})
    assert subclass and len(subclass.splitlines()) == 1 and "\x1b" not in subclass


def test_keras_errors_that_quote_the_file_are_escaped(fuzz):
    """Keras quoted a dtype with a terminal escape and a bidirectional override into featviz's message as it was."""

    def edit(config):
        config["config"]["layers"][1]["config"]["dtype"]["config"]["name"] = "\x1b[31m\u202eevil"
        return config

    outcome = fuzz.worker.load(fuzz.case("tiny.keras", edit))
    refused(outcome, fuzz, "that Keras cannot load")
    assert "\\x1b[31m\\u202eevil" in outcome["message"]


@pytest.mark.parametrize("text", ["a/b", "é/ü", "x" * 5000, "../../etc"])
def test_odd_layer_names_load_or_fail_cleanly(fuzz, text):
    def edit(config):
        config["config"]["layers"][1]["config"]["name"] = text
        return config

    for name in ("tiny.keras", "keras24.h5"):
        clean(fuzz.worker.load(fuzz.case(name, edit)), fuzz)
