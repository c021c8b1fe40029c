"""docs/quickstart.ipynb runs on a real Jupyter kernel, cell by cell, and every code cell shows something.

To refresh the outputs stored in the notebook: `jupyter execute --inplace docs/quickstart.ipynb`.
"""

import os

import nbformat
from conftest import REPO
from nbclient import NotebookClient

NOTEBOOK = REPO / "docs" / "quickstart.ipynb"


def shown(output) -> bool:
    """A result or a display, or printed text; a stderr stream (a library's warning) shows nothing asked for."""
    return output.output_type in ("execute_result", "display_data") or output.get("name") == "stdout"


def test_the_quickstart_runs_and_every_code_cell_shows_something():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        cell.outputs = []  # the stored outputs count for nothing
    # The kernel runs in docs/, as a reader's would, and imports featviz from this tree.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    where = {"metadata": {"path": str(NOTEBOOK.parent)}}
    client = NotebookClient(notebook, kernel_name="python3", timeout=300, resources=where)
    client.execute(env={**os.environ, "PYTHONPATH": path})  # a failing cell raises CellExecutionError
    silent = [cell.source for cell in code if not any(shown(o) for o in cell.outputs)]
    assert len(code) >= 5 and silent == []
    kinds = {kind for cell in code for o in cell.outputs for kind in o.get("data", {})}
    assert {"image/png", "text/html"} <= kinds  # drawn inline: activations and comparison, the patterns' tiles
