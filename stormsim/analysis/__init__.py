"""Many runs of a scenario: compare update strategies, sweep parameters, executors, caching.

Imports only the runner and the layers below it. Plots of these results live in
:mod:`stormsim.report.sweep`. The entry points are ``stormsim.compare`` and ``stormsim.sweep``
(:func:`stormsim.analysis.compare.compare`, :func:`stormsim.analysis.sweep.sweep`); they are not
re-exported here so that ``stormsim.analysis.compare`` / ``.sweep`` stay the modules.

The names below are imported from their modules on first use, so importing a light module of
this package (e.g. :mod:`stormsim.analysis.paths`) does not load pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stormsim.plugins import lazy_attributes

if TYPE_CHECKING:
    from stormsim.analysis.compare import CompareResult, Strategy, parse_strategy
    from stormsim.analysis.executors import LocalExecutor, RayExecutor, Task, make_executor
    from stormsim.analysis.sweep import SweepPlan, SweepResult, plan_sweep

_LAZY = {
    "CompareResult": "stormsim.analysis.compare",
    "LocalExecutor": "stormsim.analysis.executors",
    "RayExecutor": "stormsim.analysis.executors",
    "Strategy": "stormsim.analysis.compare",
    "SweepPlan": "stormsim.analysis.sweep",
    "SweepResult": "stormsim.analysis.sweep",
    "Task": "stormsim.analysis.executors",
    "make_executor": "stormsim.analysis.executors",
    "parse_strategy": "stormsim.analysis.compare",
    "plan_sweep": "stormsim.analysis.sweep",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CompareResult",
    "LocalExecutor",
    "RayExecutor",
    "Strategy",
    "SweepPlan",
    "SweepResult",
    "Task",
    "make_executor",
    "parse_strategy",
    "plan_sweep",
]
