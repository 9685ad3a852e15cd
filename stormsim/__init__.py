"""stormsim: a discrete-event simulator of AIBrix StormService P/D inference fleets.

Public API (what the CLI calls, and what notebooks use)::

    import stormsim
    scenario = stormsim.load_scenario("scenarios/default.yaml")
    result = stormsim.run(scenario, seed=7)
    result.summary, result.frames["timeseries"]
    result.save("results/x")
    table = stormsim.compare("s.yaml", ["maxSurge=1,maxUnavailable=0", "maxSurge=0"]).table
    sw = stormsim.sweep("s.yaml", out="results/sweep", jobs=2)   # sw.runs, sw.cells
    pr = stormsim.plan("scenarios/plan-small.yaml", out="results/plan")  # pr.recommendation

Importing the package is cheap and has no side effects: each public name is imported from its
module on first use (module ``__getattr__``), so ``import stormsim`` loads neither pandas nor
matplotlib, and nothing changes matplotlib's backend. Plots are in :mod:`stormsim.report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stormsim._version import __version__
from stormsim.plugins import lazy_attributes

if TYPE_CHECKING:  # the names below, as the type checker sees them
    from stormsim.analysis.compare import CompareResult, compare
    from stormsim.analysis.plan import PlanResult, plan
    from stormsim.analysis.sweep import SweepResult, sweep
    from stormsim.analysis.variants import override
    from stormsim.errors import InputError, SimulationError, StormsimError
    from stormsim.perf.calibrate import calibrate
    from stormsim.perf.query import IterationLatency, latency
    from stormsim.runner import RunResult, run
    from stormsim.schema.loader import StormsimWarning, load_scenario
    from stormsim.schema.scenario import Scenario

_LAZY = {
    "CompareResult": "stormsim.analysis.compare",
    "compare": "stormsim.analysis.compare",
    "PlanResult": "stormsim.analysis.plan",
    "plan": "stormsim.analysis.plan",
    "SweepResult": "stormsim.analysis.sweep",
    "sweep": "stormsim.analysis.sweep",
    "override": "stormsim.analysis.variants",
    "InputError": "stormsim.errors",
    "SimulationError": "stormsim.errors",
    "StormsimError": "stormsim.errors",
    "RunResult": "stormsim.runner",
    "run": "stormsim.runner",
    "StormsimWarning": "stormsim.schema.loader",
    "load_scenario": "stormsim.schema.loader",
    "Scenario": "stormsim.schema.scenario",
    "latency": "stormsim.perf.query",
    "IterationLatency": "stormsim.perf.query",
    "calibrate": "stormsim.perf.calibrate",
}
"""Public name -> the module that defines it (imported on first access)."""


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def default_scenario_path() -> Path:
    """Path of the embedded default scenario (3 RoleSets of 1P1D, an image change)."""
    from importlib import resources

    return Path(str(resources.files("stormsim") / "data" / "default.yaml"))


def default_scenario() -> Scenario:
    from stormsim.schema.loader import load_scenario

    return load_scenario(default_scenario_path())


__all__ = [
    "CompareResult",
    "InputError",
    "IterationLatency",
    "PlanResult",
    "RunResult",
    "Scenario",
    "SimulationError",
    "StormsimError",
    "StormsimWarning",
    "SweepResult",
    "__version__",
    "calibrate",
    "compare",
    "default_scenario",
    "default_scenario_path",
    "latency",
    "load_scenario",
    "override",
    "plan",
    "run",
    "sweep",
]
