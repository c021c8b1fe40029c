"""Galleries on a real local Ray cluster: the same bytes as in-process, workers recorded, faults survived."""

import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from featviz import models
from featviz.evaluation import self_check
from featviz.execution.driver import run_jobs
from featviz.files.output import OutputDir
from featviz.natural import exemplars
from featviz.report import gallery
from featviz.synthesis import render

# Ray reads its authentication settings when it is imported, so the test cluster's token is set first.
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
os.environ.update(AUTH)
ray = pytest.importorskip("ray")
RAY = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
TINY = dict(seeds=(0, 1, 2), recipe=render.Recipe(steps=6, relax_steps=2, polish_steps=2))
LEDGERS = {".featviz-tasks.json", ".featviz-written.json"}


@pytest.fixture(scope="module")
def cluster():
    """`ray start --head` on a free local port for this module, with its own auth token; stopped afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = [RAY, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
             "--node-ip-address=127.0.0.1", "--disable-usage-stats"]  # fmt: skip
    subprocess.run(start, check=True, env=dict(os.environ), capture_output=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=dict(os.environ), capture_output=True)


@pytest.fixture(scope="module")
def tiny(tiny_files):
    from test_realworld import write_image

    write_image(tiny_files / "stroke.png")
    return models.load(tiny_files / "tiny.keras")


@pytest.fixture(scope="module")
def local(tiny, tiny_files, tmp_path_factory) -> dict[str, bytes]:
    """The tiny gallery made in-process, the reference for the galleries made on Ray."""
    folder = tmp_path_factory.mktemp("local")
    build(tiny, folder, settings(tiny_files))
    return files(folder)


def settings(tiny_files):
    return gallery.Settings(dataset=tiny_files / "digits.npz", images=[tiny_files / "stroke.png"], **TINY)


def executor(loaded, cluster):
    from featviz.execution.ray import RayExecutor

    return RayExecutor(loaded, address=cluster, workers=2)


def build(loaded, folder, s, runner=None, progress=None):
    with OutputDir(folder) as out:
        natural = gallery.scan_natural(loaded, s, None, runner)
        return gallery.build(loaded, out, s, progress, natural, runner)


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in LEDGERS
    }


def test_a_ray_gallery_is_byte_identical_to_the_local_one_and_ran_on_workers(
    cluster, tiny, tiny_files, local, tmp_path
):
    before = set(Path(tempfile.gettempdir()).glob("featviz-worker-*"))
    runner = executor(tiny, cluster)
    try:
        pids = set(runner.pids())
        assert set(Path(tempfile.gettempdir()).glob("featviz-worker-*")) == before  # each worker's model file is gone
        build(tiny, tmp_path / "ray", settings(tiny_files), runner)
    finally:
        runner.close()
    assert files(tmp_path / "ray") == local
    tasks = json.loads((tmp_path / "ray" / ".featviz-tasks.json").read_text())
    remedies = tuple(f"+{r}" for r in self_check.EVERY_REMEDY)
    first = [k for k in tasks if not k.endswith(remedies)]  # the rest: the self-check's repairs
    assert len(first) == 3 and all(k.endswith("+seeds-0,1,2") for k in first)  # c1, c2, classes: seeds batched
    assert any(k.endswith("+longer") for k in tasks)  # maps that went on from their saved patterns, on a worker
    workers = {int(u["worker"].rsplit(":", 1)[1]) for u in tasks.values()}
    assert workers <= pids and os.getpid() not in workers


def test_the_scan_split_across_workers_merges_to_the_very_bits(cluster, tiny, tmp_path):
    import helpers

    digits = helpers.random_digits(150, seed=4)
    np.savez(tmp_path / "digits.npz", x=digits, y=np.arange(150) % 3)  # 3 classes: the class layer is scanned too
    s = gallery.Settings(dataset=tmp_path / "digits.npz", **TINY)
    assert len(exemplars.slices(150, 2)) == 2  # each worker scans a slice
    runner = executor(tiny, cluster)
    try:
        split = gallery.scan_natural(tiny, s, None, runner)
    finally:
        runner.close()
    whole = gallery.scan_natural(tiny, s)
    assert set(whole.stats) == {"c1", "c2", "out"}
    for name, stats in whole.stats.items():
        assert split.stats[name].best.tobytes() == stats.best.tobytes()
        assert split.stats[name].top_values.tobytes() == stats.top_values.tobytes()
        assert (split.stats[name].top == stats.top).all() and split.stats[name].count == 150


def test_a_worker_killed_mid_run_is_survived(cluster, tiny, tiny_files, tmp_path):
    s = settings(tiny_files)
    s.seeds, s.recipe = tuple(range(6)), dataclasses.replace(s.recipe, repair=False)  # a kill needs no repairs
    runner = executor(tiny, cluster)
    killed = []

    def kill_one_worker(steps):
        if not killed:
            killed.append(runner.pids()[0])
            os.kill(killed[0], signal.SIGKILL)

    try:
        report = build(tiny, tmp_path, s, runner, kill_one_worker)
    finally:
        runner.close()
    assert killed and report.rendered == 6 * (4 + 6 + 3)
    errors = [s.error for r in report.layers for p in r.patterns.values() for s in p.scores if s.error]
    assert errors == []


def test_a_driver_stopped_and_started_again_reuses_every_finished_task(cluster, tiny, tiny_files, local, tmp_path):
    runner = executor(tiny, cluster)
    finished = []

    def stop_after_two_tasks(steps):  # Ctrl-C as the third task comes back: two are saved
        finished.append(steps)
        if len(finished) == 3:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            build(tiny, tmp_path / "out", settings(tiny_files), runner, stop_after_two_tasks)
        again = build(tiny, tmp_path / "out", settings(tiny_files), runner)
    finally:
        runner.close()
    assert again.reused >= 3 + 4 and again.rendered + again.reused == 3 * (4 + 6 + 3)  # tasks hold 3, 4 or 6 maps
    assert not list((tmp_path / "out").rglob("*.tmp"))
    assert files(tmp_path / "out") == local


def test_a_task_that_fails_twice_is_recorded_and_the_rest_finishes(cluster, tiny, tiny_files, tmp_path):
    from featviz import patterns

    runner = executor(tiny, cluster)
    layer = models.resolve_layer(tiny.model, "c2")
    good = patterns.prepare(
        tiny, patterns.PatternRequest(layer, (12, 12), recipe=TINY["recipe"]), [0, 1], tiny_files / "digits.npz"
    )
    bad = patterns.prepare(
        tiny, patterns.PatternRequest(layer, (5, 5), recipe=TINY["recipe"], seed=1), [2], tiny_files / "digits.npz"
    )
    try:
        with OutputDir(tmp_path) as out:
            done_good, done_bad = run_jobs([good, bad], out, runner)  # a 5x5 canvas is too small for c2: it fails
    finally:
        runner.close()
    assert [s.error for s in done_good.scores] == [None, None]
    assert done_bad.scores[0].error.startswith("the task failed: failed 2 times on Ray workers")


def test_without_ray_the_executor_option_says_what_to_install(cli, monkeypatch, tiny_files):
    monkeypatch.setitem(sys.modules, "ray", None)
    result = cli("gallery", tiny_files / "tiny.keras", "--executor", "ray")
    assert result.exit_code == 2 and 'pip install "featviz[ray]"' in result.stderr


def test_the_bundled_models_gallery_through_ray_is_the_local_one(cluster, tmp_path):
    loaded = models.load()
    # Without repairs, which at 8 steps render nearly every map four times more; the tiny galleries above repair
    recipe = render.Recipe(steps=8, relax_steps=2, polish_steps=2, repair=False)
    s = gallery.Settings(seeds=(0, 1), recipe=recipe)
    runner = executor(loaded, cluster)
    try:
        build(loaded, tmp_path / "ray", s, runner)
    finally:
        runner.close()
    build(loaded, tmp_path / "local", s)
    assert files(tmp_path / "ray") == files(tmp_path / "local")
    assert len(files(tmp_path / "local")) > 700
