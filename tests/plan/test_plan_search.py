"""The planner's answers hold up when re-simulated with fresh seeds, and the search is smart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import stormsim
from stormsim.analysis.plan import min_count
from stormsim.errors import InputError
from stormsim.schema.plan import Plan

FRESH_SEEDS = (4242, 4343)


def test_recommendation_meets_slos_with_fresh_seeds(tiny_plan: tuple[stormsim.PlanResult, Path]):
    res, _ = tiny_plan
    rec = res.recommendation
    assert rec is not None
    assert (res.candidates["status"] == "recommended").sum() == 1
    target = res.plan.slo.attainment_frac
    check = res.resimulate(seeds=FRESH_SEEDS, jobs=2)
    assert len(check) == len(FRESH_SEEDS)
    assert set(check["seed"]) == set(FRESH_SEEDS)
    assert check["requests"].min() > 100
    assert (check["attainment_frac"] >= target).all(), check[["seed", "attainment_frac"]]


def test_cheaper_rejected_candidate_fails_with_fresh_seeds(
    tiny_plan: tuple[stormsim.PlanResult, Path],
):
    res, _ = tiny_plan
    rec = res.recommendation
    assert rec is not None and rec.rejected, "the planner must show a cheaper rejection"
    rej = rec.rejected[0]
    assert rej.cost_per_hour < rec.cost_per_hour
    cfg = res.config(rej.prefill_pods, rej.decode_pods, rej.replicas)
    assert cfg.gpus < rec.gpus
    check = res.resimulate(cfg, seeds=FRESH_SEEDS, jobs=2)
    assert check["attainment_frac"].mean() < res.plan.slo.attainment_frac


def test_search_is_not_brute_force(tiny_plan: tuple[stormsim.PlanResult, Path]):
    res, _ = tiny_plan
    steady = res.probes[res.probes["phase"] == "steady"]
    # a grid over P, D in 1..max_pods would be 64 configurations
    assert len(steady) <= 10
    assert res.n_runs == len(res.runs) or res.n_cached > 0


def test_tables_and_rollout(tiny_plan: tuple[stormsim.PlanResult, Path]):
    res, out = tiny_plan
    rec = res.recommendation
    assert rec is not None
    c = pd.read_parquet(out / "candidates.parquet")
    assert {"candidate", "status", "gpus", "cost_per_hour", "goodput_rps", "attainment_mean",
            "attainment_ci_low", "attainment_ci_high", "rollout_duration_s",
            "rollout_surge_gpus"} <= set(c.columns)  # fmt: skip
    assert (c["status"] == "recommended").sum() == 1
    # goodput: at least the planned load, and per GPU consistent
    assert rec.goodput_rps is not None and rec.goodput_rps >= res.plan.load.rate_rps
    assert rec.goodput_per_gpu == pytest.approx(rec.goodput_rps / rec.gpus)
    # rollout plan: settings table, a chosen setting, a timeline run with an update window
    assert not res.rollout_options.empty
    assert rec.rollout is not None
    assert rec.rollout.peak_gpus >= rec.gpus
    assert res.timeline is not None
    assert res.timeline.summary["update_completed"]
    assert (out / "plan.json").is_file() and (out / "plan.md").is_file()
    assert not res.failures and res.n_failed == 0
    # the confidence intervals bracket the mean
    row = c[c["status"] == "recommended"].iloc[0]
    assert row["attainment_ci_low"] <= row["attainment_mean"] <= row["attainment_ci_high"]


def test_min_count_brackets_then_bisects():
    calls: list[int] = []

    def ok(n: int) -> bool:
        calls.append(n)
        return n >= 13

    assert min_count(ok, 2, 64) == 13
    assert len(calls) <= 8
    calls.clear()
    assert min_count(ok, 40, 64) == 13
    assert len(calls) <= 10
    assert min_count(lambda n: False, 3, 10) is None
    assert min_count(lambda n: True, 5, 10) == 1


def test_plan_section_validation():
    base = {"load": {"rate_rps": 1}, "slo": {"ttft_s": 1, "tpot_s": 0.1},
            "gpus": [{"type": "H100-80GB", "price_per_hour": 3}]}  # fmt: skip
    Plan.model_validate(base)
    with pytest.raises(ValueError):
        Plan.model_validate({**base, "load": {"rate_rps": 1, "profile": [[0, 1]]}})
    with pytest.raises(ValueError):
        Plan.model_validate({**base, "gpus": base["gpus"] * 2})
    with pytest.raises(ValueError):
        Plan.model_validate({**base, "bogus": 1})
    p = Plan.model_validate({**base, "load": {"profile": [[0, 2], [60, 5]]}})
    assert p.load.peak_rps == 5


def test_plan_needs_plan_section_and_known_gpu(tmp_path: Path):
    with pytest.raises(InputError, match="plan"):
        stormsim.plan(stormsim.default_scenario())
    from tests.plan.conftest import tiny_plan_data

    data = tiny_plan_data()
    data["plan"]["gpus"] = [{"type": "NOPE-9000", "price_per_hour": 1}]
    with pytest.raises(InputError):
        stormsim.plan(data)
