"""Runs that share an output folder, and runs that stop: a lock, full disks, read-only folders, SIGTERM."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from featviz.files import output

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
HOLD = """
import sys, time
from pathlib import Path
from featviz.files.output import OutputDir
with OutputDir(sys.argv[1]):
    Path(sys.argv[2]).write_text("held")
    end = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end and not Path(sys.argv[2] + ".release").exists():
        time.sleep(0.05)
"""


def featviz(*args, cwd: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "featviz", *map(str, args)]
    return subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def hold(folder: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds the folder's lock once `folder/../held` exists, for `seconds` at most.

    It lets go early when `folder/../held.release` appears.
    """
    flag = folder.parent / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(flag), str(seconds)], env=ENV)
    wait_for(flag.exists)
    return holder


def wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def patterns_args(tiny_files, steps: int, out: Path):
    """A `featviz patterns` run of the tiny CNN; without the self-check's repairs, which these tests of files and
    locks do not need (test_self_check.py runs them)."""
    return ["patterns", tiny_files / "tiny.keras", "--layer", "c2", "--steps", steps, "--out", out,
            "--dataset", tiny_files / "digits.npz", "--no-repair"]  # fmt: skip


def test_a_second_run_into_a_folder_in_use_waits_and_says_so_in_one_line(tmp_path, tiny_files):
    out = tmp_path / "gallery"
    holder = hold(out, 300)
    run = featviz(*patterns_args(tiny_files, 6, out), cwd=tmp_path)
    said = run.stderr.readline()
    while said and "in use" not in said:  # progress bars come later: the waiting line comes first
        said = run.stderr.readline()
    assert run.poll() is None and holder.poll() is None  # it waits, and says so while it waits
    (tmp_path / "held.release").touch()
    _, err = run.communicate(timeout=300)
    assert holder.wait(timeout=60) == 0 and run.returncode == 0
    assert f"pid {holder.pid}" in said and "waiting" in said and "in use" not in err
    assert (out / output.OutputDir.LOCK).read_bytes() == b""


def test_a_crashed_holder_leaves_no_lock_behind(tmp_path, tiny_files):
    out = tmp_path / "gallery"
    holder = hold(out, 600)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    run = featviz(*patterns_args(tiny_files, 6, out), cwd=tmp_path)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0 and "in use" not in err


def test_two_runs_started_together_never_mix_their_files(tmp_path, tiny_files):
    shared = tmp_path / "shared"
    runs = [featviz(*patterns_args(tiny_files, steps, shared), cwd=tmp_path) for steps in (40, 6)]
    errors = [run.communicate(timeout=180)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert sum("in use by another featviz run" in e for e in errors) == 1
    manifest_path = next(shared.rglob("manifest.json"))
    steps = json.loads(manifest_path.read_text())["settings"]["recipe"]["steps"]
    alone = tmp_path / "alone"
    assert featviz(*patterns_args(tiny_files, steps, alone), cwd=tmp_path).wait(timeout=120) == 0
    folder = manifest_path.parent.relative_to(shared)
    for png in sorted((alone / folder).glob("map-*.png")):
        assert (shared / folder / png.name).read_bytes() == png.read_bytes()  # every map from the run that wrote last


@pytest.mark.parametrize(
    "failure, words",
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission")],
)
def test_a_full_disk_or_a_read_only_folder_is_one_line_and_leaves_nothing_half_written(
    cli, tmp_path, tiny_files, monkeypatch, failure, words
):
    real = os.replace
    calls = []

    def failing(src, dst):  # the fourth file fails, as a disk that fills up mid-run would
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(failure, os.strerror(failure))
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", failing)
    result = cli(*patterns_args(tiny_files, 6, tmp_path / "out"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = said(result)
    assert len(lines) == 1 and lines[0].startswith("featviz: error: cannot write ") and words in lines[0]
    assert not list((tmp_path / "out").rglob("*.tmp")) and len(calls) >= 4
    monkeypatch.setattr(output.os, "replace", real)
    again = cli(*patterns_args(tiny_files, 6, tmp_path / "out"))
    assert again.exit_code == 0, again.output


def said(result) -> list[str]:
    """What a run said on stderr besides its progress bars and its plan (printed before the first file is written)."""
    return [line for line in result.stderr.splitlines() if line.startswith("featviz:") and "featviz: plan" not in line]


def test_a_folder_that_cannot_take_a_temporary_file_is_one_line(cli, tmp_path, tiny_files, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(output.tempfile, "mkstemp", refuse)
    result = cli(*patterns_args(tiny_files, 6, tmp_path / "out"))
    lines = said(result)
    assert result.exit_code == 2 and len(lines) == 1
    assert "cannot write into" in lines[0] and "Read-only file system" in lines[0]


def test_sigterm_stops_cleanly_like_ctrl_c_and_the_next_run_resumes(tmp_path, tiny_files):
    from test_realworld import write_image

    out = tmp_path / "gallery"
    write_image(tmp_path / "stroke.png")
    args = ["gallery", tiny_files / "tiny.keras", "--dataset", tiny_files / "digits.npz", "--out", out,
            "--seeds", ",".join(map(str, range(12))), "--images", tmp_path / "stroke.png"]  # fmt: skip
    run = featviz(*args, cwd=tmp_path)
    wait_for(lambda: any(out.rglob("manifest.json")), timeout=120)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "featviz: stopped; the same command resumes where this run stopped"
    assert not list(out.rglob("*.tmp")) and not (out / "index.html").exists()
    finished = {p.parent for p in out.rglob("manifest.json")}
    again = featviz(*args, cwd=tmp_path)
    text, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    reused = int(text.split(" reused")[0].rsplit(", ", 1)[1].split()[0])
    assert finished and reused > 0
