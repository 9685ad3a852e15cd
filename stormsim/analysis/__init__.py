"""Many runs of a scenario: compare update strategies, sweep parameters, executors, caching.

Imports only the runner and the layers below it. Plots of these results live in
:mod:`stormsim.report.sweep`. The entry points are ``stormsim.compare`` and ``stormsim.sweep``
(:func:`stormsim.analysis.compare.compare`, :func:`stormsim.analysis.sweep.sweep`); they are not
re-exported here so that ``stormsim.analysis.compare`` / ``.sweep`` stay the modules.
"""

from stormsim.analysis.compare import CompareResult, Strategy, parse_strategy
from stormsim.analysis.executors import LocalExecutor, RayExecutor, Task, make_executor
from stormsim.analysis.sweep import SweepPlan, SweepResult, plan_sweep

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
