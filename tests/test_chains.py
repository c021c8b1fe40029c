"""featviz splits render batches into one chain per core, up to two, unless told not to."""

import os
import subprocess
import sys

import helpers
import numpy as np

from featviz.models import forward
from featviz.runtime import chains

REPORT = (
    "from featviz.runtime import _tf, chains; tf = _tf.tf(); "
    "print(chains.count(), tf.config.threading.get_intra_op_parallelism_threads())"
)


def configured(**env) -> tuple[int, int]:
    """(chains, TensorFlow's intra-op threads) in a fresh process with `env` added."""
    clean = {k: v for k, v in os.environ.items() if k not in ("FEATVIZ_CHAINS", "TF_NUM_INTRAOP_THREADS")}
    out = subprocess.run([sys.executable, "-c", REPORT], env={**clean, **env}, capture_output=True, text=True)
    count, threads = out.stdout.split()[-2:]
    return int(count), int(threads)


def test_one_chain_per_core_with_that_cores_share_of_threads():
    wanted = min(chains.MAX_CHAINS, chains.cores())
    count, threads = configured()
    assert count == wanted
    assert threads == (chains.cores() // wanted if wanted > 1 else 0)  # 0: TensorFlow's default


def test_featviz_chains_1_keeps_tensorflows_default_threads():
    assert configured(FEATVIZ_CHAINS="1") == (1, 0)


def test_chain_sizes_split_a_batch_evenly():
    assert chains.sizes(128, 2) == [64, 64]
    assert chains.sizes(5, 2) == [3, 2]
    assert chains.sizes(1, 2) == [1]
    assert chains.sizes(7, 1) == [7]


def test_a_large_pass_runs_compiled_in_chains_and_gives_the_eager_values(monkeypatch):
    model = helpers.tiny_cnn()
    x = np.random.default_rng(0).uniform(0, 1, (7, 12, 12, 1)).astype(np.float32)
    eager = forward.outputs(model, x, ["c2", "out"], logits=True)
    means = forward.outputs(model, x, ["c1"], spatial_mean=True)
    monkeypatch.setattr(forward, "COMPILED_ABOVE", 0)
    monkeypatch.setitem(chains._state, "chains", 2)
    compiled = forward.outputs(model, x, ["c2", "out"], logits=True)
    for name in ("c2", "out"):
        np.testing.assert_allclose(compiled[name], eager[name], rtol=1e-5, atol=1e-6)
    assert compiled["out"].shape == (7, 3) and not np.allclose(compiled["out"].sum(axis=1), 1.0)  # logits
    np.testing.assert_allclose(forward.outputs(model, x, ["c1"], spatial_mean=True)["c1"], means["c1"], rtol=1e-5)
    assert means["c1"].shape == (7, 4)


def test_chain_slices_cover_the_batch_in_order(monkeypatch):
    monkeypatch.setitem(chains._state, "chains", 2)
    assert chains.slices(5) == [slice(0, 3), slice(3, 5)]
    parts = chains.split(np.arange(5))
    assert [p.tolist() for p in parts] == [[0, 1, 2], [3, 4]]
    assert chains.split((7,)) == [(7,)]


def test_a_compiled_pass_runs_in_chunks_on_one_trace_whatever_the_batch(monkeypatch):
    model = helpers.tiny_cnn()
    x = np.random.default_rng(1).uniform(0, 1, (23, 12, 12, 1)).astype(np.float32)
    eager = forward.outputs(model, x, ["c2"])["c2"]
    monkeypatch.setattr(forward, "COMPILED_ABOVE", 0)
    monkeypatch.setattr(forward, "CHUNK_VALUES", 5 * 12 * 12)  # chunks of 5 images: 5, 5, 5, 5, 3
    monkeypatch.setitem(chains._state, "chains", 2)
    chunked = forward.outputs(model, x, ["c2"])["c2"]
    np.testing.assert_allclose(chunked, eager, rtol=1e-5, atol=1e-6)
    fewer = forward.outputs(model, x[:9], ["c2"])["c2"]
    np.testing.assert_allclose(fewer, eager[:9], rtol=1e-5, atol=1e-6)
    (compiled,) = [f for key, f in forward._compiled[model].items() if key[0] == frozenset(["c2"])]
    assert compiled.experimental_get_tracing_count() == 1  # parts of 3, 2 and 1 or 2 images: one trace


def test_picked_maps_are_the_layers_outputs_at_those_images_and_channels_in_one_trace(monkeypatch):
    model = helpers.tiny_cnn()
    x = np.random.default_rng(2).uniform(0, 1, (23, 12, 12, 1)).astype(np.float32)
    whole = forward.outputs(model, x, ["c1", "c2", "out"])
    monkeypatch.setattr(forward, "CHUNK_VALUES", 5 * 12 * 12)  # chunks of 5 images, each in 2 chains
    monkeypatch.setitem(chains._state, "chains", 2)
    picks = {
        "c1": np.array([[22, 3], [0, 0], [7, 1], [7, 1]]),
        "c2": np.array([[4, 5], [19, 2]]),
        "out": np.array([[9, 2]]),
    }
    found = forward.picked(model, x, picks)
    for name, pairs in picks.items():
        expected = np.stack([whole[name][row, ..., channel] for row, channel in pairs])
        np.testing.assert_allclose(found[name], expected, rtol=1e-5, atol=1e-6)
    assert found["c1"].shape == (4, 10, 10) and found["out"].shape == (1,)
    (compiled,) = [f for key, f in forward._compiled[model].items() if key[0] == "picked"]
    assert compiled.experimental_get_tracing_count() == 1  # five chunks, one trace
