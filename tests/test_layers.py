"""Each module of ``stormsim`` imports only its own layer or the layers below (DESIGN.md).

Layers, low to high::

    units, errors < schema < control < sim < metrics < runner < analysis < report < cli/api/__init__

plus these rules:

* ``metrics`` may import ``sim.recorder`` (the simulator's output port: plain records) and
  nothing else of ``sim``;
* nothing in ``sim`` or ``control`` imports pandas (so neither does the recorder);
* ``control`` does not import simpy.

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
    "schema": 1,
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
NO_PANDAS = ("sim", "control")
NO_SIMPY = ("control",)


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


def check_module(module: str, source: str, is_package: bool = False) -> list[str]:
    """The layering violations of one module, as ``line: statement: why`` strings."""
    src = layer_of(module)
    if src is None:
        return [f"{module} is in no layer of DESIGN.md (add it to one)"]
    out = []
    for line, target, stmt in imported_modules(module, source, is_package):
        why = None
        if _top(target) == "stormsim":
            dst = layer_of(target)
            if dst is None:
                why = f"{target} is in no layer"
            elif src == "metrics" and dst == "sim":
                if target != RECORDER and not target.startswith(RECORDER + "."):
                    why = f"metrics may import sim only through {RECORDER}"
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
    ],
)
def test_checker_allows(module: str, source: str) -> None:
    assert check_module(module, source, module == "stormsim") == []
