"""The README's Python API example runs as written, and its claims about shapes hold."""

import re

from conftest import REPO


def python_blocks(markdown: str, heading: str) -> list[str]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_python_api_example_runs_as_written(monkeypatch):
    monkeypatch.chdir(REPO)
    (block,) = python_blocks((REPO / "README.md").read_text(), "## Python API")
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["acts"].maps.shape == (3, 3, 128)
    assert namespace["found"].done.images.shape == (2, 28, 28, 1)
    assert namespace["fig"].get_suptitle().startswith("mnist_cnn.keras · conv3")
    result = namespace["result"]
    assert result.images.shape == (2, 28, 28, 1) and result.history.shape == (256, 2)
    assert (result.history[-10:].mean(axis=0) > result.history[:10].mean(axis=0)).all()
    for line in block.splitlines():  # every "# (shape)" comment is the real shape
        claimed = re.match(r"^(\w[\w.]*)\.shape\s+# (\([\d, ]+\))", line)
        if claimed:
            assert str(eval(claimed.group(1) + ".shape", namespace)) == claimed.group(2)
