"""Each module of ``stormsim`` imports only its own layer or the layers below (DESIGN.md).

Layers, low to high::

    units, errors, _version, plugins < schema < perf < control < sim < metrics < runner
        < analysis < report < cli/api/__init__

plus these rules:

* ``metrics`` may not import ``sim``;
* ``sim`` may import ``metrics.recorder`` and nothing else of ``metrics`` (the world writes
  records through the recorder interface);
* nothing in ``sim`` or ``control`` imports pandas, and so neither does ``metrics.recorder``,
  which ``sim`` imports;
* ``control`` and ``perf`` do not import simpy, and ``perf`` (the latency models, the GPU and
  model catalog, the length distributions) does not import pandas either;
* ``analysis`` does not import ``sim``: it runs simulations through the runner, and the
  planner's performance arithmetic comes from ``perf`` (so do the tests' and benchmarks');
* late binding (importing a module named by a string: ``importlib.import_module``,
  ``importlib.util``, ``__import__``) happens in ``stormsim.plugins`` only. That is how the
  runner and the studies reach the report layer's artifact writers without importing it, and
  how the packages resolve their public names lazily; every writer in its tables must be a
  function of the report layer, and every lazy name must resolve.

Every import statement counts, wherever it is (module level, inside functions, under
``TYPE_CHECKING``). The check reads the source (``ast``), so it also sees imports that are
never executed.
"""

from __future__ import annotations

import ast
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
RECORDER = "stormsim.metrics.recorder"
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
                why = "metrics may not import sim"
            elif src == "analysis" and dst == "sim":
                why = "analysis may not import sim (use the runner, and perf for latency)"
            elif src == "sim" and dst == "metrics":
                if target != RECORDER and not target.startswith(RECORDER + "."):
                    why = f"sim may import metrics only through {RECORDER}"
            elif RANK[dst] > RANK[src]:
                why = f"{src} (layer {RANK[src]}) may not import {dst} (layer {RANK[dst]})"
        elif _top(target) == "pandas" and (src in NO_PANDAS or module == RECORDER):
            where = "metrics.recorder (imported by sim)" if module == RECORDER else src
            why = f"nothing in {where} may import pandas"
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


def test_modules_found() -> None:
    names = {m for m, _, _ in MODULES}
    assert {"stormsim", "stormsim.cli", "stormsim.runner", "stormsim.sim.world"} <= names


@pytest.mark.parametrize(("module", "path", "is_package"), MODULES, ids=[m for m, _, _ in MODULES])
def test_module_respects_the_layers(module: str, path: Path, is_package: bool) -> None:
    problems = check_module(module, path.read_text(encoding="utf-8"), is_package)
    rel = path.relative_to(ROOT)
    assert not problems, "layering violations:\n" + "\n".join(f"  {rel}:{p}" for p in problems)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("stormsim.control.x", "import simpy", "control may not import simpy"),
        ("stormsim.control.x", "import pandas as pd", "nothing in control may import pandas"),
        ("stormsim.sim.x", "from pandas import DataFrame", "nothing in sim may import pandas"),
        (RECORDER, "import pandas", "nothing in metrics.recorder (imported by sim)"),
        ("stormsim.sim.x", "from stormsim.metrics.frames import f", "only through"),
        ("stormsim.sim.x", "from stormsim.metrics import frames", "only through"),
        ("stormsim.sim.x", "import stormsim.metrics", "only through"),
        ("stormsim.sim.x", "from ..metrics import kpis", "only through"),
        ("stormsim.metrics.x", "from stormsim.sim.world import World", "metrics may not import"),
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
        ("stormsim.sim.x", "from stormsim.metrics.recorder import Recorder"),
        ("stormsim.sim.x", "from ..metrics import recorder"),
        ("stormsim.sim.x", "import simpy\nfrom stormsim.control.objects import Pod"),
        ("stormsim.metrics.frames", "import pandas as pd\nfrom .recorder import Recorder"),
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
