"""The planner is right at production size: replica fleets of 10, 32 and 64 RoleSets and a
70B TP4 service whose pods start in minutes. Each recommendation holds when re-simulated with
fresh seeds, no run fails, and every measured fleet was Ready when its window opened.

Small horizons (20-40 s of measured traffic), real fleet sizes."""

from __future__ import annotations

import pytest

import stormsim
from stormsim.analysis.executors import make_executor
from stormsim.analysis.plan import Candidate, Config, Planner, PlanResult
from stormsim.analysis.plan.scenario import rollout_estimate_s
from stormsim.schema.loader import load_scenario
from tests.plan.scale import FAST_TIMING, SLOW_TIMING, replica_plan_data

FRESH = (4242, 4343)
ROLL = {"image": "vllm/vllm-openai:v0.11.0", "max_surge": ["25%"], "max_unavailable": [0],
        "max_extra": 2}  # fmt: skip


def _check(res: PlanResult, lo: int, hi: int) -> None:
    assert not res.failures and res.n_failed == 0, res.failures
    rec = res.recommendation
    assert rec is not None, res.summary_text()
    assert lo <= rec.config.replicas <= hi, rec.label
    runs = res.runs
    assert (runs["status"] == "ok").all()
    # every measured fleet was Ready (all its pods) before its window opened
    assert (runs["fleet_ready_at_s"] <= runs["t0_s"]).all()
    # minimal: one RoleSet fewer was measured and missed the SLOs
    assert rec.rejected and rec.rejected[0].replicas == rec.config.replicas - 1
    check = res.resimulate(seeds=FRESH, jobs=2)
    assert (check["attainment_frac"] >= res.plan.slo.attainment_frac).all(), check


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rate", "lo", "hi", "rollout", "duration"),
    [(290.0, 8, 12, ROLL, 60.0), (930.0, 28, 36, None, 30.0), (1860.0, 56, 70, None, 20.0)],
    ids=["10-rolesets", "32-rolesets", "64-rolesets"],
)
def test_replica_fleets_at_scale(
    rate: float, lo: int, hi: int, rollout: dict | None, duration: float
) -> None:
    data = replica_plan_data(model="llama-3.1-8b", tp=1, rate_rps=rate, ttft_s=0.5,
                             tpot_s=0.05, timing=FAST_TIMING, rollout=rollout,
                             duration_s=duration)  # fmt: skip
    res = stormsim.plan(data, jobs=2)
    _check(res, lo, hi)
    if rollout is not None:
        rec = res.recommendation
        assert rec is not None and rec.rollout is not None
        assert rec.rollout.surge_gpus == 2 * -(-rec.config.replicas * 25 // 100)  # ceil(25%)
        assert res.timeline is not None and res.timeline.summary["update_completed"]


@pytest.mark.slow
def test_70b_tp4_with_minutes_of_startup() -> None:
    data = replica_plan_data(model="llama-3.1-70b", tp=4, rate_rps=44.0, ttft_s=2.0,
                             tpot_s=0.1, timing=SLOW_TIMING, rollout=ROLL,
                             duration_s=40)  # fmt: skip
    res = stormsim.plan(data, jobs=2)
    _check(res, 3, 8)
    rec = res.recommendation
    assert rec is not None and rec.rollout is not None
    # the rollout was measured to its end: minutes per wave of 70B pods
    assert rec.rollout.duration_s is not None and rec.rollout.duration_s > 10 * 60
    assert res.timeline is not None and res.timeline.summary["update_completed"]
    sc = load_scenario(data)
    est = rollout_estimate_s(rec.config, ("25%", 0), sc.timing)
    assert 0.3 * est < rec.rollout.duration_s < 2.0 * est + 60


def test_9_and_10_rolesets_of_70b_are_measured_not_failed() -> None:
    """The regression: the measured fleet was selected by ``created_at_s <= 1.0``, so with 9 or
    more RoleSets every run failed (``zero-size array``) and counted as an SLO miss."""
    data = replica_plan_data(model="llama-3.1-70b", tp=4, rate_rps=44.0, ttft_s=2.0,
                             tpot_s=0.1, timing=SLOW_TIMING, rollout=None, seeds=[1],
                             duration_s=30)  # fmt: skip
    sc = load_scenario(data)
    assert sc.plan is not None
    pln = Planner(sc, sc.plan, make_executor("local", 2), None)
    cand = Candidate("pd", "H100-80GB", 4, 4, (1, 1))
    evs = pln.evaluate_many([(Config(cand, 1, 1, n), 1.0, "steady", None) for n in (8, 9, 10)])
    for ev in evs:
        assert not ev.errors
        assert ev.passes(), (ev.cfg.label, ev.values("attainment_frac"))
        assert ev.values("fleet_ready_at_s") == [0.0]
