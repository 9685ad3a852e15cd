"""The planner's pure pieces: budgets resolved with AIBrix's fenceposts, the SLO judge, the
start-up estimate, human units."""

from __future__ import annotations

import math

import pytest

from stormsim.analysis.plan import Candidate, Config, Evaluation, duration_text, judge
from stormsim.analysis.plan.scenario import (
    quantile_s,
    resolved_budgets,
    rollout_estimate_s,
    surge_pods,
)
from stormsim.control.fenceposts import resolve_fenceposts
from stormsim.schema.plan import PlanRollout
from stormsim.schema.scenario import Lognormal, Timing

REPLICA = Candidate("pd", "H100-80GB", 4, 4, (1, 1))
POOLED = Candidate("pd", "H100-80GB", 1, 1)


@pytest.mark.parametrize(
    ("setting", "replicas", "want"),
    [(("25%", 0), 8, (2, 0)), (("25%", 0), 9, (3, 0)), ((0, 0), 8, (0, 1)),
     ((1, "10%"), 9, (1, 0)), ((1, "10%"), 10, (1, 1)), (("0%", "0%"), 4, (0, 1))],
)  # fmt: skip
def test_replica_budgets_are_the_simulators(setting, replicas, want):
    cfg = Config(REPLICA, 1, 1, replicas)
    assert resolved_budgets(cfg, setting) == (want,)
    assert want == resolve_fenceposts(setting[0], setting[1], replicas)
    # the cluster holds the resolved surge: whole RoleSets of 2 pods of 4 GPUs
    assert surge_pods(cfg, setting) == [4, 4] * want[0]


def test_pooled_budgets_per_role():
    cfg = Config(POOLED, 5, 2)
    # 25% of 5 prefill pods -> surge 2; of 2 decode pods -> 1; unavailable 0 -> 0
    assert resolved_budgets(cfg, ("25%", 0)) == ((2, 0), (1, 0))
    assert surge_pods(cfg, ("25%", 0)) == [1, 1, 1]


def test_budgets_must_be_ints_or_percentages():
    PlanRollout(max_surge=["25%", 1], max_unavailable=[0])
    with pytest.raises(ValueError, match="percentage"):
        PlanRollout(max_surge=["25"])
    with pytest.raises(ValueError):
        PlanRollout(max_unavailable=[-1])


def _ev(values, criterion="min", phase="steady", completed=True, failed=False):
    recs = [
        {"key": f"k{i}", "seed": i, "status": "failed" if failed else "ok",
         "error": "boom" if failed else None,
         "summary": None if failed else {"attainment_frac": v, "update_completed": completed}}
        for i, v in enumerate(values)
    ]  # fmt: skip
    return Evaluation(Config(REPLICA, 1, 1, 4), 1.0, phase, None, recs, criterion, 0.95)


def test_judge():
    assert judge(_ev([0.96, 0.97])).ok
    v = judge(_ev([0.94, 0.99]))
    assert not v.ok and "0.940" in v.reason
    assert judge(_ev([0.94, 0.99], "mean")).ok
    assert not judge(_ev([0.94, 0.99], "ci_low")).ok
    assert judge(_ev([0.97], "ci_low")).ok  # one seed: no interval, the mean decides
    r = judge(_ev([0.99, 0.99], phase="rollout", completed=False))
    assert not r.ok and "did not complete" in r.reason
    with pytest.raises(ValueError):  # a failed run is never judged
        judge(_ev([0.99], failed=True))
    assert math.isnan(_ev([0.97]).stat()[1])


def test_startup_estimate_from_the_distributions():
    lg = Lognormal(kind="lognormal", median_s=180, p90_s=240)
    assert quantile_s(lg, 0.5) == pytest.approx(180)
    assert quantile_s(lg, 0.9) == pytest.approx(240)
    t = Timing(
        scheduling_s=0, image_pull_s=60, model_load_s=lg, engine_init_s=60,
        readiness_probe_s=0, router_registration_s=0, termination_grace_s=30,
    )  # fmt: skip
    step = 60 + 240 + 60 + 30
    # 8 RoleSets, maxSurge 25% -> 2 per wave -> 4 waves
    assert rollout_estimate_s(Config(REPLICA, 1, 1, 8), ("25%", 0), t) == pytest.approx(4 * step)
    # maxSurge 1 -> 8 waves
    assert rollout_estimate_s(Config(REPLICA, 1, 1, 8), (1, 0), t) == pytest.approx(8 * step)


def test_duration_text():
    assert duration_text(3750.0) == "62.5 min"
    assert duration_text(45.0) == "45 s"
    assert duration_text(0.0162) == "16.2 ms"
    assert duration_text(4 * 3600.0) == "4 h"
    assert duration_text(None) == "-" and duration_text(float("nan")) == "-"


def test_the_analytic_bracket_uses_the_scenarios_latency_model() -> None:
    """The planner's first estimate asks the latency-model registry, so it times iterations
    as the data plane does: the calibrated model by default, the roofline when chosen."""
    from pathlib import Path

    from stormsim.analysis.plan.analytic import Analytic
    from stormsim.analysis.variants import override
    from stormsim.perf.calibrated import CalibratedCost
    from stormsim.perf.latency import EngineCost
    from stormsim.schema.loader import load_scenario

    path = Path(__file__).resolve().parents[2] / "scenarios" / "plan-small.yaml"
    sc = load_scenario(path)
    assert sc.plan is not None
    cost = Analytic(sc.plan, sc).cost("H100-80GB", 1, "prefill")
    assert isinstance(cost, CalibratedCost)
    roof = override(sc, {"serving.latency_model": "roofline"})
    assert isinstance(Analytic(sc.plan, roof).cost("H100-80GB", 1, "prefill"), EngineCost)
