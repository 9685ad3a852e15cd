"""Requirements on KPIs in compare and sweep (feasible / violated, recommendations, input
errors with their option or YAML line), and settings AIBrix resolves to the same budgets
simulated once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import stormsim
import stormsim.analysis.sweep as sweep_mod
from stormsim.analysis import executors
from stormsim.analysis.budgets import effective_strategy, run_key
from stormsim.analysis.executors import Task
from stormsim.analysis.requirements import KNOWN_KPIS, parse_requirement, study_requirements
from stormsim.errors import InputError
from stormsim.metrics import catalogue
from stormsim.schema.yamlio import dump_yaml

from .analysis_helpers import SURGE, UNAV, small_scenario


def test_parse_every_operator_and_reject_bad_text() -> None:
    for text, op, bound in (
        ("window_ttft_p99_s<=2", "<=", 2.0),
        (" update_duration_s < 1.5e3 ", "<", 1500.0),
        ("capacity_availability_frac>=0.75", ">=", 0.75),
        ("surge_gpus_peak>0", ">", 0.0),
    ):
        r = parse_requirement(text, "--require")
        assert (r.op, r.bound) == (op, bound)
    r = parse_requirement("update_duration_s<=600", "--require")
    assert r.met(600) and not r.met(600.5) and not r.met(None) and not r.met(float("nan"))
    assert parse_requirement("surge_gpus_peak<1", "x").met(0)
    assert not parse_requirement("surge_gpus_peak<1", "x").met(1)
    with pytest.raises(InputError, match=r"--require: 'update_duration_s=3' is not a requirement"):
        parse_requirement("update_duration_s=3", "--require")
    with pytest.raises(InputError, match=r"--require: unknown KPI 'ttft_p98_s'"):
        parse_requirement("ttft_p98_s<=2", "--require")


def test_known_kpis_are_the_numeric_summary_keys() -> None:
    """The names a requirement may use are exactly the summary's KPIs (with traffic; the
    autoscaling KPIs are there with PodAutoscalers)."""
    sc = stormsim.override(
        small_scenario(until_s=300),
        {"workload": {"arrival": {"kind": "poisson", "rate_rps": 2.0}}},
    )
    s = stormsim.run(sc, seed=1).summary
    keys = {k for k, v in s.items() if k not in ("scenario", "seed", "stormsim_version")}
    keys = {k for k in keys if not isinstance(s[k], list | str | dict)}
    # node KPIs exist with a cluster.node_autoscaler only, autoscaling KPIs with PodAutoscalers
    optional = {k.name for k in (*catalogue.NODES, *catalogue.AUTOSCALING)}
    assert keys == set(KNOWN_KPIS) - optional
    assert optional <= set(KNOWN_KPIS)


def test_slo_becomes_an_implicit_requirement() -> None:
    sc = stormsim.override(
        small_scenario(),
        {"workload": {"arrival": {"kind": "poisson", "rate_rps": 2.0}, "slo": {
            "ttft_s": 2.0, "attainment_frac": 0.95}}},
    )  # fmt: skip
    reqs = study_requirements(sc, "compare", ["window_ttft_p99_s<=2", "window_ttft_p99_s<=2"])
    assert [(r.text, r.source) for r in reqs] == [
        ("window_slo_attainment_frac>=0.95", "workload.slo.attainment_frac"),
        ("window_ttft_p99_s<=2", "--require"),
    ]
    assert study_requirements(stormsim.load_scenario(small_scenario()), "sweep") == []


def test_require_marks_and_filters_compare() -> None:
    strategies = ["name=slow,maxSurge=0,maxUnavailable=1", "name=fast,maxSurge=1,maxUnavailable=1"]
    free = stormsim.compare(small_scenario(), strategies, jobs=1).table
    fast = free.set_index("strategy")
    assert fast["feasible"].tolist() == [True, True]
    d_fast = fast.loc["fast", "update_duration_s"]
    d_slow = fast.loc["slow", "update_duration_s"]
    assert d_fast < d_slow
    bound = (d_fast + d_slow) / 2
    res = stormsim.compare(
        small_scenario(), strategies, jobs=1, require=[f"update_duration_s<={bound}"]
    )
    t = res.table.set_index("strategy")
    assert t.loc["fast", "feasible"] and t.loc["fast", "violated"] == ""
    assert not t.loc["slow", "feasible"]
    assert t.loc["slow", "violated"] == f"update_duration_s<={bound:g}"
    # the recommendation for both objectives is then the only feasible one
    assert [label for _, label, _ in res.recommendations()] == ["fast", "fast"]
    # without the bound, fewest surge GPUs picks the other one
    rec = stormsim.compare(small_scenario(), strategies, jobs=1).recommendations()
    assert [label for _, label, _ in rec] == ["fast", "slow"]


def test_require_marks_and_filters_sweep(tmp_path: Path) -> None:
    res = stormsim.sweep(
        small_scenario(), tmp_path, jobs=1, plots=False, require=["surge_gpus_peak<=1"]
    )
    cells = pd.read_parquet(tmp_path / "cells.parquet")
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    ok = runs.groupby("cell")["surge_gpus_peak"].max() <= 1  # every seed within the limit
    assert cells["feasible"].tolist() == ok.tolist()
    assert 0 < ok.sum() < len(cells)
    bad = cells[~cells["feasible"].astype(bool)]
    assert bad["violated"].str.contains(r"surge_gpus_peak<=\S+ \(\d/2 seeds\)").all()
    assert set(runs.loc[~runs["feasible"].astype(bool), "cell"]) == set(bad["cell"])
    # the front is drawn among feasible cells only
    assert not (res.cells["pareto"] & ~res.cells["feasible"].astype(bool)).any()
    assert res.cells["pareto"].any()


def test_failed_run_is_an_error_never_infeasible(monkeypatch: pytest.MonkeyPatch) -> None:
    real = executors.execute

    def fail_some(task: Task) -> dict[str, Any]:
        if task.seed == 4:
            return {**real(task), "status": "failed", "error": "boom", "summary": None}
        return real(task)

    monkeypatch.setattr(sweep_mod, "execute", fail_some)
    res = stormsim.sweep(small_scenario(), jobs=1, plots=False, require=["surge_gpus_peak<=99"])
    assert res.runs.loc[res.runs["seed"] == 4, "feasible"].isna().all()
    assert res.cells["feasible"].isna().all() and not res.cells["pareto"].any()
    assert [label for _, label, _ in res.recommendations()] == [None, None]


def test_unknown_kpi_in_yaml_names_path_and_line(tmp_path: Path) -> None:
    data = small_scenario()
    data["sweep"]["require"] = ["update_duration_s<=900", "window_ttft_p99<=2"]
    p = tmp_path / "s.yaml"
    p.write_text(dump_yaml(data))
    line = next(i for i, t in enumerate(p.read_text().splitlines(), 1) if "window_ttft_p99<" in t)
    proc = subprocess.run(
        [sys.executable, "-m", "stormsim.cli", "sweep", str(p), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: sweep.require[1] (line {line}): unknown KPI 'window_ttft_p99' (did you mean "
        "window_ttft_p99_s?); requirements name summary.json KPIs"
    ]
    assert not (tmp_path / "o").exists()
    proc = subprocess.run(
        [sys.executable, "-m", "stormsim.cli", "compare", str(p), "-s", "baseline",
         "--require", "nope<3", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "error: --require: unknown KPI 'nope'" in proc.stderr
    data["sweep"]["require"] = ["update_duration_s=<900"]
    p.write_text(dump_yaml(data))
    with pytest.raises(InputError, match=r"sweep.require.*is not a requirement"):
        stormsim.load_scenario(p)


def test_identical_resolved_budgets_run_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """maxSurge 0 / maxUnavailable 0 is AIBrix's 0 / 1, and 50% of 4 RoleSets is 2: each pair
    is simulated once and reported for both, with the same KPIs as separate runs give."""
    sc = small_scenario(until_s=900)
    sc["cluster"]["node_pools"][0]["count"] = 2
    strategies = [
        "name=a,maxSurge=0,maxUnavailable=0",
        "name=b,maxSurge=0,maxUnavailable=1",
        "name=c,maxSurge=50%,maxUnavailable=1",
        "name=d,maxSurge=2,maxUnavailable=1",
        "name=e,maxSurge=1,maxUnavailable=1",
    ]
    base = stormsim.override(sc, {"service.manifest.spec.replicas": 4})
    calls: list[str] = []
    real = executors._execute

    def counting(task: Task, keep: bool) -> dict[str, Any]:
        calls.append(task.key)
        return real(task, keep)

    monkeypatch.setattr(executors, "_execute", counting)
    res = stormsim.compare(base, strategies, jobs=1)
    assert len(calls) == 3
    t = res.table.set_index("strategy")
    assert t["same_as"].tolist() == [None, "a", None, "c", None]
    for x, y in (("a", "b"), ("c", "d")):
        assert t.loc[x, "update_duration_s"] == t.loc[y, "update_duration_s"]
        assert res.results[x] is res.results[y]
    # simulating the pairs separately gives the very same summaries
    for x, y in (("a", "b"), ("c", "d")):
        sx = stormsim.run(_variant(base, strategies, x), seed=3)
        sy = stormsim.run(_variant(base, strategies, y), seed=3)
        assert _kpis(sx.summary) == _kpis(sy.summary)


def _variant(base: stormsim.Scenario, strategies: list[str], name: str) -> stormsim.Scenario:
    text = next(s for s in strategies if s.startswith(f"name={name},"))
    kv = dict(p.split("=") for p in text.split(",")[1:])
    return stormsim.override(
        base,
        {
            SURGE: kv["maxSurge"] if kv["maxSurge"].endswith("%") else int(kv["maxSurge"]),
            UNAV: int(kv["maxUnavailable"]),
        },
    )


def _kpis(s: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in s.items() if k != "warnings"}


def test_budget_keys_are_exact_only_where_safe() -> None:
    sc = stormsim.load_scenario(small_scenario())
    pct = stormsim.override(sc, {SURGE: "50%", UNAV: 0})
    assert effective_strategy(pct) == {"maxSurge": 2, "maxUnavailable": 0}  # ceil(1.5)
    assert run_key(pct, 1) == run_key(stormsim.override(sc, {SURGE: 2, UNAV: 0}), 1)
    assert run_key(pct, 1) != run_key(pct, 2) != run_key(pct, 1, until_s=50)
    assert run_key(pct, 1, until_s=50) == run_key(pct, 1, until_s=50.0)
    quirk = stormsim.override(sc, {SURGE: "1", UNAV: 0})  # AIBrix: 0 / 0, no fallback
    assert effective_strategy(quirk) is None
    scaled = stormsim.override(sc, {"events": [{"at_s": 10, "kind": "scale", "replicas": 4}]})
    assert effective_strategy(scaled) is None
    inplace = stormsim.override(sc, {"service.manifest.spec.updateStrategy.type": "InPlaceUpdate"})
    assert effective_strategy(inplace) == {}


def test_compare_cli_runs_in_parallel_with_set_and_require(
    scenario_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "stormsim.cli", "compare", str(scenario_file), "-j", "2",
         "-s", "name=a,maxSurge=0,maxUnavailable=0", "-s", "name=b,maxSurge=0,maxUnavailable=1",
         "-s", "name=c,maxSurge=1,maxUnavailable=1", "--set", "until_s=150",
         "--require", "surge_gpus_peak<=1", "--out", str(out), "--no-plots"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "note: b resolves to the same AIBrix budgets as a: simulated once" in proc.stdout
    assert (
        "fastest feasible rollout: none (no feasible setting completed its rollout)" in proc.stdout
    )
    assert "requirements: surge_gpus_peak<=1 (--require)" in proc.stdout
    t = pd.read_parquet(out / "compare.parquet").set_index("strategy")
    assert t["feasible"].tolist() == [True, True, False]
    assert t.loc["c", "violated"] == "surge_gpus_peak<=1"
    assert not t["update_completed"].any()  # --set until_s=150 applied to every strategy


def test_window_kpis_of_a_run_without_rollouts_are_judged_on_the_whole_run() -> None:
    """An autoscaling study without template changes has no update window: the workload SLO
    (``window_slo_attainment_frac``) is judged on ``slo_attainment_frac``; with a rollout, a
    missing window KPI still violates."""
    from stormsim.analysis.requirements import Requirement, violations

    slo = Requirement("window_slo_attainment_frac", ">=", 0.99, "workload.slo.attainment_frac")
    cap = Requirement("capacity_availability_frac", ">=", 0.5, "--require")
    none = {"n_rollouts": 0, "window_slo_attainment_frac": None}
    assert violations([slo], {**none, "slo_attainment_frac": 0.995}) == []
    assert violations([slo], {**none, "slo_attainment_frac": 0.9}) == [slo.text]
    assert violations([cap], {**none, "capacity_availability_frac": None}) == [cap.text]
    rolled = {"n_rollouts": 1, "window_slo_attainment_frac": None, "slo_attainment_frac": 1.0}
    assert violations([slo], rolled) == [slo.text]


def test_compare_without_events_says_there_is_no_rollout_to_recommend(tmp_path: Path) -> None:
    """Found by review: an autoscaling-only study printed 'no feasible setting completed its
    rollout' when there was no rollout at all."""
    from stormsim.schema.yamlio import dump_yaml

    data = small_scenario()
    data["events"] = []
    data["until_s"] = 120
    p = tmp_path / "calm.yaml"
    p.write_text(dump_yaml(data))
    proc = subprocess.run(
        [sys.executable, "-m", "stormsim.cli", "compare", str(p), "-j", "1",
         "-s", "name=a,maxSurge=0,maxUnavailable=1", "-s", "name=b,maxSurge=1,maxUnavailable=1",
         "--out", str(tmp_path / "o"), "--no-plots"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "rollout recommendations: none (the scenario has no events" in proc.stdout
    assert "no feasible setting completed its rollout" not in proc.stdout
    # the same answer from Python: no rollout objectives at all
    res = stormsim.compare(data, [{"name": "a", "maxSurge": 0, "maxUnavailable": 1}], jobs=1)
    assert res.recommendations() == []
