"""stormsim: a discrete-event simulator of AIBrix StormService P/D inference fleets.

Public API (what the CLI calls, and what notebooks use)::

    import stormsim
    scenario = stormsim.load_scenario("scenarios/default.yaml")
    result = stormsim.run(scenario, seed=7)
    result.summary, result.frames["timeseries"]
    result.save("results/x")
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import stormsim.report  # noqa: F401  (registers the timeline artifact writer)
from stormsim.errors import InputError, SimulationError, StormsimError
from stormsim.runner import RunResult, __version__, run
from stormsim.spec.loader import StormsimWarning, load_scenario
from stormsim.spec.scenario import Scenario


def default_scenario_path() -> Path:
    """Path of the embedded default scenario (3 RoleSets of 1P1D, an image change)."""
    return Path(str(resources.files("stormsim") / "data" / "default.yaml"))


def default_scenario() -> Scenario:
    return load_scenario(default_scenario_path())


__all__ = [
    "InputError",
    "RunResult",
    "Scenario",
    "SimulationError",
    "StormsimError",
    "StormsimWarning",
    "__version__",
    "default_scenario",
    "default_scenario_path",
    "load_scenario",
    "run",
]
