"""Every scenario shipped in scenarios/ validates and runs end to end."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import stormsim

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def test_there_are_scenarios() -> None:
    names = {p.name for p in SCENARIOS}
    assert {"default.yaml", "pooled-outage.yaml", "replica-10-surge25-unav20.yaml"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs(path: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stormsim.StormsimWarning)
        scenario = stormsim.load_scenario(path)
        result = stormsim.run(scenario)
    saved = result.save(tmp_path / "out", plots=False)
    assert (saved / "summary.json").exists()
    s = result.summary
    assert s["scenario"] == scenario.name
    assert s["sim_end_s"] > 0
    # scaleout-100-batching only scales (/scale): no update to complete
    if scenario.events and path.stem not in (
        "surge-stall",
        "percent-quirk",
        "scaleout-100-batching",
    ):
        assert s["update_completed"] is True, path.name


def test_default_scenario_matches_embedded() -> None:
    shipped = stormsim.load_scenario(Path(__file__).resolve().parents[1] / "scenarios/default.yaml")
    a = stormsim.run(shipped).summary
    b = stormsim.run(stormsim.default_scenario()).summary
    assert {k: v for k, v in a.items() if k != "scenario"} == {
        k: v for k, v in b.items() if k != "scenario"
    }


@pytest.mark.parametrize("name", ["surge-stall", "percent-quirk"])
def test_stalling_scenarios_do_not_complete(name: str) -> None:
    path = Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stormsim.StormsimWarning)
        s = stormsim.run(path).summary
    assert s["update_completed"] is False
