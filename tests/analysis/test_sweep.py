"""Sweeps: documented columns, validation before running, failures, resume after interrupts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import stormsim
import stormsim.analysis.executors as executors
import stormsim.analysis.sweep as sweep_mod
from stormsim.analysis.cache import RunCache
from stormsim.analysis.executors import Task
from stormsim.analysis.sweep import CELL_COLUMNS, RUN_COLUMNS
from stormsim.cli import app

from .analysis_helpers import SURGE, UNAV, small_scenario

N_RUNS = 12  # 3 x 2 cells x 2 seeds
N_UNIQUE = 10  # maxSurge 0 / maxUnavailable 0 is AIBrix's 0 / 1: those two cells share runs


def test_runs_and_cells_have_the_documented_columns(tmp_path: Path) -> None:
    res = stormsim.sweep(small_scenario(), tmp_path / "out", jobs=2, plots=False)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    cells = pd.read_parquet(tmp_path / "out" / "cells.parquet")
    assert list(runs.columns[: 2 + len(RUN_COLUMNS)]) == [SURGE, UNAV, *RUN_COLUMNS]
    for kpi in ("update_duration_s", "capacity_availability_frac", "surge_gpu_hours"):
        assert kpi in runs
        for stat in ("mean", "ci95_lo", "ci95_hi"):
            assert f"{kpi}_{stat}" in cells
    assert list(cells.columns[: 2 + len(CELL_COLUMNS)]) == [SURGE, UNAV, *CELL_COLUMNS]
    assert len(runs) == N_RUNS and len(cells) == 6
    assert (runs["status"] == "ok").all() and runs["error"].isna().all()
    assert sorted(runs["seed"].unique()) == [3, 4]
    assert runs[SURGE].tolist()[::2] == ["0", "0", "1", "1", "50%", "50%"]  # mixed -> text
    assert runs[UNAV].dtype.kind == "i"
    assert cells["n_ok"].eq(2).all() and cells["pareto"].any()
    # the cell statistics are those of its runs
    c = cells.iloc[2]
    vals = runs[runs["cell"] == 2]["surge_gpu_hours"]
    assert c["surge_gpu_hours_mean"] == pytest.approx(vals.mean())
    assert c["surge_gpu_hours_ci95_lo"] <= c["surge_gpu_hours_mean"] <= c["surge_gpu_hours_ci95_hi"]
    assert (res.out / "sweep.json").exists() and res.n_executed == N_UNIQUE


def test_samples_and_seed_list() -> None:
    res = stormsim.sweep(
        small_scenario(sweep=None),
        grid={UNAV: [1]},
        samples={"n": 3, "seed": 1, "params": {SURGE: [0, 1, 2], "timing.engine_init_s": {
            "low": 1, "high": 10}}},
        seeds=[5],
        jobs=1,
    )  # fmt: skip
    assert len(res.runs) == 3 and (res.runs["seed"] == 5).all()
    assert res.params == [UNAV, SURGE, "timing.engine_init_s"]
    assert res.runs["timing.engine_init_s"].between(1, 10).all()


def test_invalid_path_or_value_is_an_input_error_before_anything_runs(
    scenario_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Task] = []
    monkeypatch.setattr(sweep_mod, "execute", lambda t: calls.append(t) or {})
    bad = [
        ({"service.manifest.spec.updateStrategy.maxSurg": [1]}, "unknown field"),
        ({"service.manifest.spec.replicas": [2, -1]}, "greater than or equal to 0"),
        ({"service.manifest.spec.template.spec.roles[nope].replicas": [1]}, "no element"),
        ({"until_s.x": [1]}, "not a mapping"),
        ({"sweep.seeds": [1]}, "cannot be overridden"),
    ]
    for grid, msg in bad:
        with pytest.raises(stormsim.InputError, match=msg):
            stormsim.sweep(scenario_file, grid=grid, jobs=1)
    r = CliRunner().invoke(
        app, ["sweep", str(scenario_file), "--grid", "service.manifest.spec.replicas=x", "-j", "1"]
    )
    assert r.exit_code == 2, r.output
    assert "service.manifest.spec.replicas" in r.output
    assert calls == []


def _failing_run(real: Any) -> Any:
    def run(scenario: stormsim.Scenario, seed: int, until_s: float | None = None) -> Any:
        if scenario.service.manifest.spec.update_strategy.max_surge == "50%" and seed == 4:
            raise stormsim.SimulationError("boom")
        return real(scenario, seed=seed, until_s=until_s)

    return run


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_run_is_reported_and_the_rest_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    monkeypatch.setattr(executors, "run", _failing_run(executors.run))
    res = stormsim.sweep(small_scenario(), tmp_path, jobs=jobs, plots=False)
    failed = res.failures()
    assert len(failed) == 2  # both cells with maxSurge 50%, seed 4
    assert set(failed["seed"]) == {4} and set(failed[SURGE]) == {"50%"}
    assert failed["error"].str.contains("SimulationError: boom").all()
    assert failed["update_duration_s"].isna().all()
    assert (res.runs["status"] == "ok").sum() == N_RUNS - 2
    assert res.cells["n_failed"].tolist() == [0, 0, 0, 0, 1, 1]
    # failures are cached: a rerun does not retry them unless asked
    monkeypatch.undo()
    again = stormsim.sweep(small_scenario(), tmp_path, jobs=1, plots=False)
    assert again.n_executed == 0 and again.n_failed == 2
    retried = stormsim.sweep(small_scenario(), tmp_path, jobs=1, plots=False, retry_failed=True)
    assert retried.n_executed == 2 and retried.n_failed == 0


def test_cli_reports_failures_with_exit_1(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executors, "run", _failing_run(executors.run))
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["sweep", str(scenario_file), "--out", str(out), "-j", "1"])
    assert r.exit_code == 1, r.output
    assert "2 failed" in r.output and "boom" in r.output
    assert (out / "runs.parquet").exists() and (out / "heatmap_update_duration_s.png").exists()


def _counting(log: list[str], stop_after: int | None = None) -> Any:
    real = executors.execute

    def fn(task: Task) -> dict[str, Any]:
        if stop_after is not None and len(log) == stop_after:
            raise KeyboardInterrupt
        log.append(task.key)
        return real(task)

    return fn


def test_interrupted_sweep_resumes_without_recomputing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first: list[str] = []
    monkeypatch.setattr(sweep_mod, "execute", _counting(first, stop_after=5))
    with pytest.raises(KeyboardInterrupt):
        stormsim.sweep(small_scenario(), tmp_path, jobs=1)
    assert len(first) == 5 and RunCache(tmp_path).keys() == set(first)
    assert not (tmp_path / "runs.parquet").exists()
    second: list[str] = []
    monkeypatch.setattr(sweep_mod, "execute", _counting(second))
    res = stormsim.sweep(small_scenario(), tmp_path, jobs=1, plots=False)
    assert len(second) == N_UNIQUE - 5 and not set(second) & set(first)
    assert res.n_cached == 5 and res.n_executed == N_UNIQUE - 5
    assert (res.runs["status"] == "ok").all()
    # identical to a sweep that was never interrupted
    clean = stormsim.sweep(small_scenario(), jobs=1)
    cols = [c for c in clean.runs.columns if c != "wall_s"]
    pd.testing.assert_frame_equal(res.runs[cols], clean.runs[cols])


_LOG = ""


def _dies_once(task: Task) -> dict[str, Any]:
    """Runs in a worker: log the execution; the 5th execution of the sweep kills its worker."""
    with open(_LOG, "a") as f:
        f.write(task.key + "\n")
    with open(_LOG) as f:
        n = sum(1 for _ in f)
    if n == 5 and not os.path.exists(_LOG + ".died"):
        Path(_LOG + ".died").touch()
        os._exit(17)
    return executors.execute(task)


def test_killed_worker_is_retried_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    global _LOG
    _LOG = str(tmp_path / "executions.log")
    monkeypatch.setattr(sweep_mod, "execute", _dies_once)
    res = stormsim.sweep(small_scenario(), tmp_path / "out", jobs=2, plots=False)
    assert Path(_LOG + ".died").exists()
    assert (res.runs["status"] == "ok").all() and res.n_failed == 0
    keys = Path(_LOG).read_text().split()
    assert set(keys) == set(res.runs["key"])
    # only the runs in flight (running or queued: 2 x jobs) when the worker died ran twice
    assert len(keys) - N_UNIQUE <= 4
    n = len(keys)
    again = stormsim.sweep(small_scenario(), tmp_path / "out", jobs=2, plots=False)
    assert again.n_cached == N_UNIQUE and again.n_executed == 0
    assert len(Path(_LOG).read_text().split()) == n


def test_ctrl_c_of_the_cli_then_resume(tmp_path: Path, scenario_file: Path) -> None:
    """Interrupt a real `stormsim sweep` process with SIGINT mid-way, then resume: the finished
    runs are not touched and exactly the others run."""
    out = tmp_path / "out"
    # enough runs that the sweep is still going when the signal comes, even on a loaded machine
    grid = ["--grid", f"{SURGE}=0,1,2,3,4,5", "--grid", f"{UNAV}=0,1,2", "--seeds", "10"]
    total = 6 * 3 * 10 - 10  # maxSurge 0 / maxUnavailable 0 shares the runs of 0 / 1
    cmd = [sys.executable, "-m", "stormsim.cli", "sweep", str(scenario_file), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "-j", "1", *grid, "--until", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = out / "runs"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(runs.glob("*.json"))) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "resume" in stderr
    done = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    assert 5 <= len(done) < total
    res = stormsim.sweep(
        scenario_file, out, grid={SURGE: [0, 1, 2, 3, 4, 5], UNAV: [0, 1, 2]}, seeds=10,
        until_s=100000, jobs=1, plots=False,
    )  # fmt: skip
    assert res.n_cached == len(done) and res.n_executed == total - len(done)
    for name, mtime in done.items():
        assert (runs / name).stat().st_mtime_ns == mtime
    assert (res.runs["status"] == "ok").all()
