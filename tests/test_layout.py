"""The layout holds: no import cycle, dependencies point one way, the service loads no tools.

The import graph is read from the source (every import, at module level or inside a function;
imports under ``if TYPE_CHECKING:`` aside), so a cycle hidden inside a function fails here too.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "bandit")
MAX_LINES = 400
MAX_TOP_LEVEL_APP_MODULES = 12

# Modules at the top of app/ that everything may use: they import nothing of the project's but each other.
CORE = {"app.settings", "app.errors", "app.clock", "app.metrics", "app.logs", "app.decision_ids"}
# Which parts a part may import (besides itself, CORE and bandit, which every app part may use).
ALLOWED = {
    "bandit": set(),
    "app.core": set(),
    "app.storage": set(),
    "app.stream": {"app.storage"},
    "app.service": {"app.storage", "app.stream"},
    "app.jobs": {"app.storage"},
    "app.measure": {"app.storage"},
    "app.insights": {"app.storage", "app.service"},
    "app.api": {"app.storage", "app.service", "app.insights", "app.measure"},
    "app.devservers": {"app.storage"},
    "app.cli": {"app.storage", "app.stream", "app.service", "app.jobs", "app.measure", "app.insights", "app.api",
                "app.devservers"},
    "app.wsgi": {"app.api"},
    "app": set(),
}
# Tools that only the command line (and themselves) may import.
TOOLS = ("bandit.sim", "app.devservers")


def module_files() -> Dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def import_graph() -> Dict[str, Set[str]]:
    """{module: project modules it imports}; ``from package import module`` points at the module."""
    files = module_files()
    graph: Dict[str, Set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:  # relative imports are not used in this project; resolve them anyway
                    base = name.split(".")[: -node.level + (1 if path.name == "__init__.py" else 0) or None]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in files else module for a in node.names]
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def private_imports() -> List[str]:
    found = []
    for name, path in module_files().items():
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                found += [f"{name} imports {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def part_of(module: str) -> str:
    if module.startswith("bandit"):
        return "bandit"
    if module in CORE:
        return "app.core"
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else "app"


def test_the_import_cycle_finder_finds_a_hidden_cycle():
    # A function-level import closes this cycle; the finder must see it.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_no_private_name_is_imported_across_modules():
    assert private_imports() == []


def test_dependencies_point_one_way():
    wrong = []
    for module, targets in import_graph().items():
        part = part_of(module)
        for target in targets:
            target_part = part_of(target)
            if part in ("bandit", "app.core"):
                ok = target_part == part  # the science and the core stand alone
            else:
                ok = target_part in (part, "app.core", "bandit") or target_part in ALLOWED[part]
            if not ok:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_only_the_command_line_imports_simulators_and_development_servers():
    wrong = [f"{module} -> {target}" for module, targets in import_graph().items() for target in targets
             if target.startswith(TOOLS) and not module.startswith(("app.cli",) + TOOLS)]
    assert wrong == []


def test_modules_stay_small_and_app_top_level_short():
    long = [f"{path.relative_to(ROOT)}: {n} lines" for path in module_files().values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES]
    assert long == []
    top = sorted(p.name for p in (ROOT / "app").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_APP_MODULES, top


PROBE = """
import sys
import {module}
loaded = sorted(m for m in sys.modules if m.startswith({prefixes!r}) or m in {exact!r})
print("\\n".join(loaded))
"""


def _loaded_by(module: str, prefixes: tuple, exact: tuple = ()) -> List[str]:
    env = {**os.environ, "SLOTBANDIT_SECRET": "layout-test-secret-0123456789", "KAFKA_BOOTSTRAP_SERVERS": "",
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", PROBE.format(module=module, prefixes=prefixes, exact=exact)],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_the_service_process_loads_no_simulator_benchmark_or_development_server():
    loaded = _loaded_by("app.wsgi", ("bandit.sim", "app.devservers", "app.cli", "benchmarks", "app.jobs", "requests"))
    assert loaded == []


@pytest.mark.parametrize("module", ["app.stream.worker", "app.jobs.backfill", "app.jobs.seed"])
def test_the_worker_and_the_jobs_load_no_flask(module):
    assert _loaded_by(module, ("flask", "werkzeug", "app.api")) == []


@pytest.mark.parametrize("module", ["app.cli", "app.api.server"])
def test_the_command_and_the_gunicorn_master_load_no_app_before_the_workers_fork(module):
    # prometheus_client must be imported after `serve` sets PROMETHEUS_MULTIPROC_DIR, in the workers.
    assert _loaded_by(module, ("prometheus_client", "flask", "app.service", "app.storage")) == []
