"""Late binding by dotted name: the one place in stormsim that imports a module from a string.

Two things use it. ``stormsim/__init__.py`` resolves its public names on first use (so that
``import stormsim`` costs almost nothing and loads neither pandas nor matplotlib), and the
runner and the studies find their artifact writers (the plots, which live in the report layer
above them) through the static tables below, resolved when ``save`` runs. Nothing registers
itself at import time, and ``tests/test_layers.py`` checks that every entry names a function
of the report layer and that no other module imports by string.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload


def resolve(target: str) -> Any:
    """``"package.module:attr"`` -> that attribute, ``"package.module"`` -> the module (importing
    it on first use)."""
    module, sep, attr = target.partition(":")
    if not module or (sep and not attr):
        raise ValueError(f"expected 'package.module[:attr]', got {target!r}")
    mod = importlib.import_module(module)
    return getattr(mod, attr) if sep else mod


def lazy_attributes(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: a name of ``names`` (name -> defining module)
    is imported from its module on first access, any other name is tried as a subpackage or
    submodule (``stormsim.report``); the value is cached in ``namespace`` (the package's
    ``globals()``), so later look-ups do not come back here."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is not None:
            value = resolve(f"{module}:{name}")
        elif not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}"):
            value = resolve(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    return __getattr__


Writer = Callable[[Any, Path], None]


class Writers(Sequence[Writer]):
    """An immutable sequence of artifact writers given by dotted name, each resolved (imported)
    when the sequence is iterated or indexed. A writer is called with the result and the
    (temporary) output directory and writes its files there."""

    def __init__(self, *targets: str) -> None:
        self.targets = targets

    @overload
    def __getitem__(self, i: int) -> Writer: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Writer]: ...
    def __getitem__(self, i: int | slice) -> Writer | Sequence[Writer]:
        if isinstance(i, slice):
            return [resolve(t) for t in self.targets[i]]
        return resolve(self.targets[i])

    def __len__(self) -> int:
        return len(self.targets)

    def __iter__(self) -> Iterator[Writer]:
        return (resolve(t) for t in self.targets)

    def __repr__(self) -> str:
        return f"Writers{self.targets!r}"


ARTIFACT_WRITERS = Writers(
    "stormsim.report.timeline:write_timeline",  # timeline.png
    "stormsim.report.serving:write_latency",  # latency.png (runs with traffic)
    "stormsim.report.autoscaling:write_autoscaling",  # autoscaling.png (with PodAutoscalers)
)
"""Called by :meth:`stormsim.runner.RunResult.save` with ``plots=True``."""

COMPARE_ARTIFACT_WRITERS = Writers("stormsim.report.sweep:write_compare_plots")
"""Called by :func:`stormsim.analysis.compare.compare` with ``plots=True`` (timelines.png)."""

SWEEP_ARTIFACT_WRITERS = Writers("stormsim.report.sweep:write_sweep_plots")
"""Called by :func:`stormsim.analysis.sweep.sweep` with ``plots=True`` (heatmaps, Pareto)."""

PLAN_ARTIFACT_WRITERS = Writers("stormsim.report.plan_report:write_plan_report")
"""Called by :func:`stormsim.analysis.plan.plan` (plan.html, plan.md)."""

WRITER_TABLES = {
    "run": ARTIFACT_WRITERS,
    "compare": COMPARE_ARTIFACT_WRITERS,
    "sweep": SWEEP_ARTIFACT_WRITERS,
    "plan": PLAN_ARTIFACT_WRITERS,
}
