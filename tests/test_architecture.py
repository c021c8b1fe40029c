"""featviz imports in one direction: each package only from the packages below it, with no cycle anywhere.

The order is docs/architecture.md's. Function-level imports count as much as
module-level ones: hiding an import inside a function hides a cycle, it
does not remove it.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "featviz"
# Top to bottom; a module may import from its own layer and the layers below it.
LAYERS = [
    {"featviz", "featviz.__main__", "featviz.api"},  # the package's face and its one-call API: may reach any layer
    {"featviz.cli"},
    {"featviz.report"},
    {"featviz.methods"},
    {"featviz.execution"},
    {"featviz.patterns"},
    {"featviz.evaluation"},
    {"featviz.natural"},
    {"featviz.synthesis"},
    {"featviz.models"},
    {"featviz.pixels"},
    {"featviz.files"},
    {"featviz.runtime"},
    {"featviz.errors", "featviz.defaults", "featviz.version"},
]


def module_name(path: Path) -> str:
    parts = ["featviz", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """Every featviz module `name` imports, at any depth of its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            prefix = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{prefix}.{alias.name}"
                found.add(full if full in MODULES else prefix)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def layer_of(name: str) -> int:
    if name == "featviz":
        return 0
    for depth, layer in enumerate(LAYERS):
        if any(name == top or name.startswith(top + ".") for top in layer if top != "featviz"):
            return depth
    return -1


GRAPH = {name: imports(name) for name in MODULES}


def test_every_module_has_a_layer():
    assert [name for name in MODULES if layer_of(name) < 0] == []


def test_imports_go_down_the_layers_only():
    upward = [(a, b) for a, targets in GRAPH.items() for b in targets if layer_of(b) < layer_of(a)]
    assert upward == []


def test_no_module_imports_itself_back():
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_checker_sees_function_level_imports():
    assert "featviz.runtime._tf" in GRAPH["featviz.cli.app"]  # module level
    assert "featviz.models.summary" in GRAPH["featviz.cli.model_commands"]  # inside a function
