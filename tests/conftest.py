import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

import helpers

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory):
    """The tiny CNN saved as .keras and .h5, a no-Input variant, and a small dataset."""
    d = tmp_path_factory.mktemp("tiny")
    model = helpers.tiny_cnn()
    model.save(d / "tiny.keras")
    model.save(d / "tiny.h5")
    helpers.tiny_cnn(with_input=False).save(d / "noinput.keras")
    np.savez(d / "digits.npz", x=helpers.random_digits(), y=np.zeros(16, np.uint8))
    return d


@pytest.fixture()
def cli(tmp_path, monkeypatch):
    """Run featviz commands in a fresh working folder: cli("layers") -> click Result."""
    from featviz.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def samples():
    return REPO / "models" / "samples"
