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
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import stormsim.report  # noqa: F401  (registers the timeline artifact writer)
from stormsim.analysis.compare import CompareResult, compare
from stormsim.analysis.plan import PlanResult, plan
from stormsim.analysis.sweep import SweepResult, sweep
from stormsim.analysis.variants import override
from stormsim.errors import InputError, SimulationError, StormsimError
from stormsim.report import plan_report as _plan_report  # noqa: F401  (plan report writer)
from stormsim.runner import RunResult, __version__, run
from stormsim.schema.loader import StormsimWarning, load_scenario
from stormsim.schema.scenario import Scenario


def default_scenario_path() -> Path:
    """Path of the embedded default scenario (3 RoleSets of 1P1D, an image change)."""
    return Path(str(resources.files("stormsim") / "data" / "default.yaml"))


def default_scenario() -> Scenario:
    return load_scenario(default_scenario_path())


__all__ = [
    "CompareResult",
    "InputError",
    "PlanResult",
    "RunResult",
    "Scenario",
    "SimulationError",
    "StormsimError",
    "StormsimWarning",
    "SweepResult",
    "__version__",
    "compare",
    "default_scenario",
    "default_scenario_path",
    "load_scenario",
    "override",
    "plan",
    "run",
    "sweep",
]
