"""No import cycles inside an app (design.md): modules of one app import each other one
way only, counting imports inside functions too. A cycle is how a services module ends up
importing its own tasks, which import the services back."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = tuple(tomllib.loads((ROOT / "pyproject.toml").read_text())
             ["tool"]["importlinter"]["root_packages"])


def cycles(graph: grimp.ImportGraph, app: str) -> list[list[str]]:
    """The strongly connected components of more than one module inside `app`
    (Tarjan's algorithm, iterative), migrations left out."""
    modules = sorted(m for m in graph.modules
                     if (m == app or m.startswith(app + ".")) and ".migrations" not in m)
    inside = set(modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*APPS, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


@pytest.mark.parametrize("app", APPS)
def test_no_import_cycle_inside(graph, app):
    assert cycles(graph, app) == []


def test_a_cycle_is_found(tmp_path):
    # services queues its task, the task calls the service: the shape that was removed.
    pkg = tmp_path / "cyclic_app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "services.py").write_text("def work():\n    from . import tasks\n\n"
                                     "    return tasks\n")
    (pkg / "tasks.py").write_text("from . import services\n")
    (pkg / "views.py").write_text("from . import services\n")
    sys.path.insert(0, str(tmp_path))
    try:
        found = cycles(grimp.build_graph("cyclic_app", cache_dir=None), "cyclic_app")
    finally:
        sys.path.remove(str(tmp_path))
    assert found == [["cyclic_app.services", "cyclic_app.tasks"]]
