"""The package is layered: imports flow one way, from the command line down to the leaves.

    cli -> app -> optimization -> video -> inference | training -> universal -> loss -> checkpoint -> model -> leaves

A module may import its own layer's modules and any layer below; nothing imports `cli` or the
package root (the public API); `inference` and `training` never import each other; and no chain of
imports, function-level ones included, comes back to where it started.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .helpers import ROOT

# Each group of modules, lowest first; one rank may hold several groups that must not meet.
LAYERS = [
    {"leaves": ("errors", "files", "images", "device", "host_memory", "compat", "checks", "progress", "bundled")},
    {"model": ("model",)},
    {"checkpoint": ("checkpoint",)},
    {"loss": ("loss",)},
    {"universal": ("universal",)},
    {"inference": ("inference",), "training": ("training",)},
    {"video": ("video",)},
    {"optimization": ("optimization",)},
    {"app": ("app",)},
    {"cli": ("cli", "__main__")},
    {"api": ("",)},  # the package root: fastnst/__init__.py
]


def _group_of(module: str, package: str) -> tuple[int, str]:
    parts = module.split(".")[1:] if module != package else [""]
    head = parts[0] if parts else ""
    for rank, groups in enumerate(LAYERS):
        for name, heads in groups.items():
            if head in heads:
                return rank, name
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its body), resolved to files."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base[: len(base) - node.level + (1 if is_package else 0)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from .pkg import module` names a module; `from .module import function` does not.
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
            for target in targets:
                while target and target not in modules:  # `import fastnst.x.y` as a dotted path
                    target = target.rpartition(".")[0]
                if not target or target == name:
                    continue
                edges.add(target)
                # Importing fastnst.a.b from outside fastnst.a runs fastnst/a/__init__.py first.
                parent = target.rpartition(".")[0]
                while parent and parent in modules and not name.startswith(parent + ".") and parent != name:
                    edges.add(parent)
                    parent = parent.rpartition(".")[0]
        graph[name] = edges
    return graph


def violations(root: Path) -> list[str]:
    """Every upward or sideways import and every import cycle in the package at `root`."""
    package = root.name
    graph = import_graph(root)
    found = []
    for module, targets in sorted(graph.items()):
        rank, group = _group_of(module, package)
        for target in sorted(targets):
            if target == package and module != package:
                found.append(f"{module} imports the package root {package} (the public API sits on top)")
                continue
            target_rank, target_group = _group_of(target, package)
            if target_rank > rank or (target_rank == rank and target_group != group):
                found.append(f"{module} ({group}) imports {target} ({target_group}): upward or sideways")
    # Cycles: a depth-first search that meets a module still on its path.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                found.append("import cycle: " + " -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def test_fastnst_imports_flow_one_way_without_cycles():
    assert violations(ROOT / "fastnst") == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("files, expected", [
    ({"loss/vgg.py": "from ..training import loop\n", "training/loop.py": ""}, "upward or sideways"),
    ({"inference/stylize.py": "def f():\n    from ..training.loop import train\n", "training/loop.py": ""},
     "upward or sideways"),
    ({"model.py": "from .cli import main\n", "cli/__init__.py": "main = 1\n"}, "upward or sideways"),
    ({"loss/a.py": "from .b import x\n", "loss/b.py": "def f():\n    from .a import y\n"}, "import cycle"),
    ({"images.py": "import fastnst\n"}, "package root"),
])
def test_an_upward_import_or_a_cycle_is_reported(tmp_path, files, expected):
    root = _write(tmp_path / "fastnst", {"__init__.py": "", **files})
    for package in {p.parent for p in root.rglob("*.py")}:
        (package / "__init__.py").touch()
    assert any(expected in line for line in violations(root)), violations(root)


def test_no_module_is_over_300_lines_and_no_function_over_60():
    """Small files, one concept each, and functions that read in one screen."""
    package = ROOT / "fastnst"
    too_long = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text()
        if source.count("\n") > 300:
            too_long.append(f"{path.relative_to(package)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                too_long.append(f"{path.relative_to(package)}: {node.name}, {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, too_long
