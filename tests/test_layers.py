"""Each module of ``stormsim`` imports only its own layer or the layers below (DESIGN.md).

Layers, low to high::

    units, errors, _version, plugins < schema < perf < control < sim < metrics < runner
        < analysis < report < cli/api/__init__

plus these rules:

* ``metrics`` may import ``sim.recorder`` (the simulator's output port: plain records) and
  nothing else of ``sim``;
* nothing in ``sim`` or ``control`` imports pandas (so neither does the recorder);
* ``control`` and ``perf`` do not import simpy, and ``perf`` (the latency models, the GPU and
  model catalog, the length distributions) does not import pandas either;
* ``analysis`` does not import ``sim``: it runs simulations through the runner, and the
  planner's performance arithmetic comes from ``perf`` (so do the tests' and benchmarks');
* late binding (importing a module named by a string: ``importlib.import_module``,
  ``importlib.util``, ``__import__``) happens in ``stormsim.plugins`` only. That is how the
  runner and the studies reach the report layer's artifact writers without importing it, and
  how the packages resolve their public names lazily; every writer in its tables must be a
  function of the report layer, and every lazy name must resolve;
* no import cycles inside a layer: the graph of stormsim modules (an edge for every import
  statement of a module of the same layer) has no cycle. Two modules that need each other
  talk through a narrow interface (a ``Protocol`` or a callable) defined by the one that
  uses it.

Every import statement counts, wherever it is (module level, inside functions, under
``TYPE_CHECKING``). The check reads the source (``ast``), so it also sees imports that are
never executed.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import stormsim

PKG_DIR = Path(stormsim.__file__).resolve().parent
ROOT = PKG_DIR.parent

RANK = {
    "units": 0,
    "errors": 0,
    "_version": 0,
    "plugins": 0,
    "schema": 1,
    "perf": 1.5,
    "control": 2,
    "sim": 3,
    "metrics": 4,
    "runner": 5,
    "analysis": 6,
    "report": 7,
    "cli": 8,
    "api": 8,
    "__init__": 8,
}
RECORDER = "stormsim.sim.recorder"
NO_PANDAS = ("sim", "control", "perf")
NO_SIMPY = ("control", "perf")
LATE_BINDING = "stormsim.plugins"


def layer_of(module: str) -> str | None:
    """``stormsim.sim.world`` -> ``sim``; the package itself -> ``__init__``; None: unknown."""
    parts = module.split(".")
    if parts[0] != "stormsim":
        return None
    name = parts[1] if len(parts) > 1 else "__init__"
    return name if name in RANK else None


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(module: str, source: str, is_package: bool) -> Iterator[tuple[int, str, str]]:
    """(line, imported module, statement) for every import in ``source``; ``from X import y``
    gives ``X.y`` when that is a module of stormsim, else ``X``."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                stmt = f"from {'.' * node.level}{node.module or ''} import {alias.name}"
                sub = f"{base}.{alias.name}"
                if base.split(".")[0] == "stormsim" and _is_module(sub):
                    yield node.lineno, sub, stmt
                else:
                    yield node.lineno, base, stmt


def _top(name: str) -> str:
    return name.split(".")[0]


def late_bindings(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for every way ``source`` could import a module named by a string."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("importlib", "importlib.util"):
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module in ("importlib", "importlib.util"):
            for alias in node.names:
                if node.module == "importlib.util" or alias.name in ("import_module", "util"):
                    yield node.lineno, f"from {node.module} import {alias.name}"
        elif isinstance(node, ast.Name) and node.id == "__import__":
            yield node.lineno, "__import__"


def check_module(module: str, source: str, is_package: bool = False) -> list[str]:
    """The layering violations of one module, as ``line: statement: why`` strings."""
    src = layer_of(module)
    if src is None:
        return [f"{module} is in no layer of DESIGN.md (add it to one)"]
    out = []
    if module != LATE_BINDING:
        for line, what in late_bindings(source):
            out.append(f"{line}: `{what}`: only {LATE_BINDING} imports modules by name")
    for line, target, stmt in imported_modules(module, source, is_package):
        why = None
        if _top(target) == "stormsim":
            dst = layer_of(target)
            if dst is None:
                why = f"{target} is in no layer"
            elif src == "metrics" and dst == "sim":
                if target != RECORDER and not target.startswith(RECORDER + "."):
                    why = f"metrics may import sim only through {RECORDER}"
            elif src == "analysis" and dst == "sim":
                why = "analysis may not import sim (use the runner, and perf for latency)"
            elif RANK[dst] > RANK[src]:
                why = f"{src} (layer {RANK[src]}) may not import {dst} (layer {RANK[dst]})"
        elif _top(target) == "pandas" and src in NO_PANDAS:
            why = f"nothing in {src} may import pandas"
        elif _top(target) == "simpy" and src in NO_SIMPY:
            why = f"{src} may not import simpy"
        if why:
            out.append(f"{line}: `{stmt}`: {why}")
    return out


def _modules() -> list[tuple[str, Path, bool]]:
    mods = []
    for path in sorted(PKG_DIR.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        mods.append((".".join(parts), path, is_package))
    return mods


MODULES = _modules()


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the same layer: line of the first such import}, for the
    modules ``sources`` maps to (source, is_package). An import of something inside a module
    (``from stormsim.sim.store import POD``) is an edge to that module; an import of a module
    outside ``sources`` is resolved to its nearest enclosing module that is in it."""
    graph: dict[str, dict[str, int]] = {}
    for module, (source, is_package) in sources.items():
        edges = graph[module] = {}
        for line, target, _ in imported_modules(module, source, is_package):
            while target not in sources and "." in target:
                target = target.rpartition(".")[0]
            if target in sources and target != module and layer_of(target) == layer_of(module):
                edges.setdefault(target, line)
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import cycles of ``graph``: each strongly connected component of more than one
    module, as a closed path ``[a, b, ..., a]`` through it (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    u = stack.pop()
                    on_stack.discard(u)
                    comp.append(u)
                    if u == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return [_closed_path(graph, set(c)) for c in comps]


def _closed_path(graph: dict[str, dict[str, int]], comp: set[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    start = min(comp)
    prev: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while (p := prev[path[-1]]) is not None:
                        path.append(p)
                    return [*reversed(path), start]
                if w in comp and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("not a strongly connected component")  # pragma: no cover


def _describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    return (
        " -> ".join(f"{a} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle))
        + f" -> {cycle[-1]}"
    )


def test_modules_found() -> None:
    names = {m for m, _, _ in MODULES}
    assert {"stormsim", "stormsim.cli", "stormsim.runner", "stormsim.sim.world"} <= names


@pytest.mark.parametrize(("module", "path", "is_package"), MODULES, ids=[m for m, _, _ in MODULES])
def test_module_respects_the_layers(module: str, path: Path, is_package: bool) -> None:
    problems = check_module(module, path.read_text(encoding="utf-8"), is_package)
    rel = path.relative_to(ROOT)
    assert not problems, "layering violations:\n" + "\n".join(f"  {rel}:{p}" for p in problems)


def test_no_import_cycle_within_a_layer() -> None:
    sources = {m: (path.read_text(encoding="utf-8"), pkg) for m, path, pkg in MODULES}
    graph = import_graph(sources)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(f"  {_describe(graph, c)}" for c in cycles)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        # a back-pointer hidden behind TYPE_CHECKING is still a cycle
        (
            {
                "stormsim.sim.a": "from stormsim.sim.b import B",
                "stormsim.sim.b": "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from stormsim.sim.a import A",
            },
            [["stormsim.sim.a", "stormsim.sim.b", "stormsim.sim.a"]],
        ),
        # three modules, one import inside a function
        (
            {
                "stormsim.sim.a": "import stormsim.sim.b",
                "stormsim.sim.b": "from stormsim.sim.c import f",
                "stormsim.sim.c": "def g():\n    from stormsim.sim.a import x",
            },
            [["stormsim.sim.a", "stormsim.sim.b", "stormsim.sim.c", "stormsim.sim.a"]],
        ),
        # a package that imports its module, which imports the package back
        (
            {
                "stormsim.sim.p": "from stormsim.sim.p.m import M",
                "stormsim.sim.p.m": "from stormsim.sim.p import helper",
            },
            [["stormsim.sim.p", "stormsim.sim.p.m", "stormsim.sim.p"]],
        ),
        # a chain is not a cycle; imports across layers are the layer rule's business
        (
            {
                "stormsim.sim.a": "from stormsim.sim.b import B",
                "stormsim.sim.b": "from stormsim.sim.c import C",
                "stormsim.sim.c": "import simpy",
            },
            [],
        ),
        (
            {
                "stormsim.sim.a": "from stormsim.metrics.x import f",
                "stormsim.metrics.x": "from stormsim.sim.a import g",
            },
            [],
        ),
    ],
)
def test_cycle_checker(sources: dict[str, str], expected: list[list[str]]) -> None:
    graph = import_graph({m: (src, m == "stormsim.sim.p") for m, src in sources.items()})
    assert import_cycles(graph) == expected


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("stormsim.control.x", "import simpy", "control may not import simpy"),
        ("stormsim.control.x", "import pandas as pd", "nothing in control may import pandas"),
        ("stormsim.sim.x", "from pandas import DataFrame", "nothing in sim may import pandas"),
        (RECORDER, "import pandas", "nothing in sim may import pandas"),
        ("stormsim.sim.x", "from stormsim.metrics.frames import f", "sim (layer 3) may not"),
        ("stormsim.sim.x", "from stormsim.metrics import frames", "sim (layer 3) may not"),
        ("stormsim.sim.x", "import stormsim.metrics", "sim (layer 3) may not"),
        ("stormsim.sim.x", "from ..metrics import recorder", "sim (layer 3) may not"),
        ("stormsim.metrics.x", "from stormsim.sim.world import World", "only through"),
        ("stormsim.metrics.x", "from stormsim.sim import store", "only through"),
        ("stormsim.metrics.x", "import stormsim.sim", "only through"),
        ("stormsim.schema.x", "from stormsim.control import objects", "schema (layer 1) may not"),
        ("stormsim.schema.x", "from stormsim import load_scenario", "may not import __init__"),
        ("stormsim.control.x", "def f():\n    from stormsim.runner import run", "runner"),
        ("stormsim.runner", "from stormsim.report.timeline import plot", "runner (layer 5)"),
        ("stormsim.units", "from stormsim.schema import aibrix", "units (layer 0)"),
        ("stormsim.sim.x", "from .. import cli", "may not import cli"),
        ("stormsim.newthing", "import os", "in no layer"),
        ("stormsim.perf.x", "import simpy", "perf may not import simpy"),
        ("stormsim.perf.x", "import pandas as pd", "nothing in perf may import pandas"),
        ("stormsim.perf.x", "from stormsim.sim.rng import stream", "perf (layer 1.5) may not"),
        ("stormsim.perf.x", "from stormsim.control import objects", "perf (layer 1.5) may not"),
        ("stormsim.schema.x", "from stormsim.perf import latency", "schema (layer 1) may not"),
        ("stormsim.analysis.x", "from stormsim.sim.serving.workload import draw_lengths", "sim"),
        ("stormsim.runner", "import importlib", "only stormsim.plugins"),
        ("stormsim.runner", "from importlib import import_module", "only stormsim.plugins"),
        ("stormsim.sim.x", "import importlib.util", "only stormsim.plugins"),
        ("stormsim.analysis.x", "def f():\n    return __import__('stormsim.report')", "plugins"),
    ],
)
def test_checker_catches_violations(module: str, source: str, expected: str) -> None:
    problems = check_module(module, source)
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("stormsim.sim.x", "from stormsim.sim.recorder import Recorder"),
        ("stormsim.sim.x", "from . import recorder"),
        ("stormsim.sim.x", "import simpy\nfrom stormsim.control.objects import Pod"),
        ("stormsim.metrics.frames", "import pandas as pd\nfrom stormsim.sim.recorder import X"),
        ("stormsim.metrics.frames", "from ..sim import recorder"),
        ("stormsim.report.timeline", "from stormsim.runner import RunResult"),
        ("stormsim.schema.loader", "from stormsim.errors import InputError\nimport stormsim.units"),
        ("stormsim.errors", "from stormsim.units import parse_quantity"),
        ("stormsim", "from stormsim.cli import app\nimport stormsim.report"),
        ("stormsim.runner", "from importlib import metadata"),
        ("stormsim.perf.x", "import numpy as np\nfrom stormsim.schema.serving import Engine"),
        ("stormsim.sim.x", "from stormsim.perf.registry import LatencyModel"),
        ("stormsim.control.x", "from stormsim.perf.latency import EngineCost"),
        ("stormsim.analysis.x", "from stormsim.perf.lengths import draw_lengths"),
        (LATE_BINDING, "import importlib\nimport importlib.util"),
    ],
)
def test_checker_allows(module: str, source: str) -> None:
    assert check_module(module, source, module == "stormsim") == []


def test_artifact_writers_are_functions_of_the_report_layer() -> None:
    """The late-bound writer tables name existing functions of ``stormsim.report`` (which the
    runner and the studies may not import themselves)."""
    from stormsim.plugins import WRITER_TABLES, resolve

    assert set(WRITER_TABLES) == {"run", "compare", "sweep", "plan"}
    for kind, writers in WRITER_TABLES.items():
        assert len(writers) >= 1, kind
        for target in writers.targets:
            module, _, attr = target.partition(":")
            assert layer_of(module) == "report", f"{kind}: {target} is not in the report layer"
            fn = resolve(target)
            assert callable(fn) and fn.__name__ == attr, target
        assert [w.__name__ for w in writers] == [t.partition(":")[2] for t in writers.targets]


@pytest.mark.parametrize("package", ["stormsim", "stormsim.analysis", "stormsim.report"])
def test_lazy_public_names_resolve(package: str) -> None:
    """Every lazily exported name exists in the module the table names, and ``__all__`` lists
    only names the package can give."""
    import importlib

    pkg = importlib.import_module(package)
    for name, module in pkg._LAZY.items():
        assert layer_of(module) is not None
        if package != "stormsim":  # a subpackage exports only its own modules
            assert module.startswith(package + "."), (name, module)
        assert getattr(pkg, name) is getattr(importlib.import_module(module), name)
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
    if package != "stormsim":
        assert pkg.__all__ == sorted(pkg._LAZY)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = pkg.no_such_name


PERF_NAMES = ("draw_lengths", "EngineCost", "Catalog", "builtin", "kv_bytes_per_token")


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").glob("*.py")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_tests_and_benchmarks_use_the_perf_layer(path: Path) -> None:
    """The latency model, the catalog and the length draws are imported from ``stormsim.perf``,
    never through ``stormsim.sim``."""
    bad = [
        f"{node.lineno}: from {node.module} import {alias.name}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stormsim.sim")
        for alias in node.names
        if alias.name in PERF_NAMES
    ]
    assert not bad, f"{path.relative_to(ROOT)}: import these from stormsim.perf: {bad}"
