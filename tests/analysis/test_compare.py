"""Compare: strategy syntax, the documented table, common random numbers, failures, CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import stormsim
import stormsim.analysis.executors as executors_mod
from stormsim.analysis.compare import COMPARE_COLUMNS, parse_strategy, resolve_strategy
from stormsim.analysis.study import HEADLINE_KPIS
from stormsim.cli import app

from .analysis_helpers import small_scenario

STRATEGIES = [
    "baseline",
    "name=safe,maxSurge=1,maxUnavailable=0,roleset=Parallel",
    "name=fast,maxSurge=2,maxUnavailable=1",
    "name=in-place,type=InPlaceUpdate,roleset=Interleave,prefill.maxUnavailable=1",
]


def test_strategy_syntax() -> None:
    assert parse_strategy("baseline") == {"name": "baseline"}
    assert parse_strategy("name=a, maxSurge=25%, maxUnavailable=0, decode.maxSurge=1") == {
        "name": "a",
        "maxSurge": "25%",
        "maxUnavailable": 0,
        "decode.maxSurge": 1,
    }
    assert parse_strategy('maxSurge="1"') == {"maxSurge": "1"}  # quoted: AIBrix's quirk
    st = resolve_strategy(
        {"maxSurge": 1, "roleset": "Interleave", "prefill.type": "InPlaceIfPossible",
         "timing.engine_init_s": 3}, ["prefill", "decode"], 0,
    )  # fmt: skip
    assert st.name == "maxSurge=1,roleset=Interleave,prefill.type=InPlaceIfPossible,timing." \
        "engine_init_s=3"  # fmt: skip
    assert st.overrides == {
        "service.manifest.spec.updateStrategy.maxSurge": 1,
        "service.manifest.spec.template.spec.updateStrategy": "Interleave",
        "service.manifest.spec.template.spec.roles[prefill].updateStrategy.type": (
            "InPlaceIfPossible"
        ),
        "timing.engine_init_s": 3,
    }
    for bad in ("maxSurge", "name=a,=1", "name=a,maxSurge=1,maxSurge=2"):
        with pytest.raises(stormsim.InputError):
            parse_strategy(bad if bad != "maxSurge" else "name=a,maxSurge")
    with pytest.raises(stormsim.InputError, match="unknown strategy key"):
        resolve_strategy({"surge": 1}, ["prefill"], 0)


def test_compare_table_columns_and_saved_files(tmp_path: Path) -> None:
    res = stormsim.compare(small_scenario(), STRATEGIES, out=tmp_path)
    t = res.table
    assert list(t.columns[: len(COMPARE_COLUMNS)]) == list(COMPARE_COLUMNS)
    assert list(t.columns[len(COMPARE_COLUMNS) :]) == list(HEADLINE_KPIS)
    assert t["strategy"].tolist() == ["baseline", "safe", "fast", "in-place"]
    assert (t["status"] == "ok").all() and (t["seed"] == 3).all()
    assert t.loc[t["strategy"] == "safe", "surge_gpus_peak"].item() == 2
    assert t.loc[t["strategy"] == "in-place", "surge_gpus_peak"].item() == 0
    saved = pd.read_parquet(tmp_path / "compare.parquet")
    assert saved["strategy"].tolist() == t["strategy"].tolist()
    assert (tmp_path / "compare.csv").exists() and (tmp_path / "timelines.png").exists()


def test_request_kpis_are_included_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    real = executors_mod.run

    def run(*a, **k):  # type: ignore[no-untyped-def]
        res = real(*a, **k)
        res.summary.update(ttft_p99_s=0.5, goodput_rps=3.0, window_ttft_p99_s=0.9, other_x=1)
        return res

    monkeypatch.setattr(executors_mod, "run", run)
    t = stormsim.compare(small_scenario(), ["baseline"]).table
    assert set(t.columns[-3:]) == {"ttft_p99_s", "window_ttft_p99_s", "goodput_rps"}
    assert "other_x" not in t


def test_strategies_share_start_up_draws() -> None:
    """Common random numbers: the pods of the initial rollout (before the template change)
    get identical start-up durations under every strategy."""
    res = stormsim.compare(small_scenario(), STRATEGIES)
    firsts = []
    for name, r in res.results.items():
        assert r is not None, name
        pods = r.frames["pods"]
        pods = pods[pods["created_at_s"] < 100].sort_values(["created_at_s", "role", "slot"])
        firsts.append((pods["ready_at_s"] - pods["scheduled_at_s"]).round(9).tolist())
        before = r.frames["timeseries"]
        before = before[before["t_s"] < 100][["t_s", "pods_ready", "gpus_allocated"]]
        firsts.append(before.to_numpy().round(9).tolist())
    assert len(firsts[0]) == 6  # 3 RoleSets x (prefill + decode)
    assert len({str(f) for f in firsts[0::2]}) == 1
    assert len({str(f) for f in firsts[1::2]}) == 1
    # ... while the rollouts themselves differ
    assert res.table["update_duration_s"].nunique() > 1


def test_a_failing_strategy_is_reported_and_the_others_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = executors_mod.run

    def run(scenario, seed, until_s=None):  # type: ignore[no-untyped-def]
        if scenario.service.manifest.spec.update_strategy.max_surge == 2:
            raise stormsim.SimulationError("boom")
        return real(scenario, seed=seed, until_s=until_s)

    monkeypatch.setattr(executors_mod, "run", run)
    res = stormsim.compare(small_scenario(), STRATEGIES)
    t = res.table.set_index("strategy")
    assert t.loc["fast", "status"] == "failed" and "boom" in t.loc["fast", "error"]
    assert pd.isna(t.loc["fast", "update_duration_s"]) and res.results["fast"] is None
    assert (t.drop(index="fast")["status"] == "ok").all()


def test_compare_section_and_cli(scenario_file: Path, tmp_path: Path) -> None:
    data = small_scenario(compare={"strategies": [{"name": "a"}, {"name": "b", "maxSurge": 2}]})
    assert stormsim.compare(data).table["strategy"].tolist() == ["a", "b"]
    with pytest.raises(stormsim.InputError, match="no strategies"):
        stormsim.compare(small_scenario())
    with pytest.raises(stormsim.InputError, match=r"updateStrategy\.type"):
        stormsim.compare(small_scenario(), ["type=BlueGreen"])
    with pytest.warns(stormsim.StormsimWarning, match="not an int or 'N%'"):
        stormsim.compare(small_scenario(), ['maxSurge="1"'])
    r = CliRunner().invoke(
        app, ["compare", str(scenario_file), "-s", "baseline", "-s", "name=fast,maxSurge=2",
              "--out", str(tmp_path / "c"), "--no-plots"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "fast" in r.output and "update_duration_s" in r.output
    assert (tmp_path / "c" / "compare.parquet").exists()
    assert not (tmp_path / "c" / "timelines.png").exists()
    r = CliRunner().invoke(app, ["compare", str(scenario_file), "-s", "name=x,surge=2"])
    assert r.exit_code == 2 and "unknown strategy key" in r.output
