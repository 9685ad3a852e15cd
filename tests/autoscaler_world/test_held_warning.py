"""The end-of-run warning for a faithful-profile KPA that reads its metric far above target
while never recommending more than the current replicas (AIBrix e3e10f9e's KPA recommends
``ceil(per-pod mean / target)``, not that times the pods)."""

from __future__ import annotations

from stormsim.metrics.autoscaling import held_above_target_warnings
from tests.autoscaler_world.helpers import autoscaler, run_constant, scenario, service


def _frame(strategy: str, profile: str, per_pod: float) -> object:
    pa = autoscaler(strategy, "10", 1, 16, metric="num_requests_waiting")
    sc = scenario(service(8), [pa], until_s=600.0, profile=profile)
    return run_constant(sc, 0.0, value=lambda p, d: per_pod)[1]


def test_overloaded_faithful_kpa_that_does_not_scale_out_is_warned_about() -> None:
    df = _frame("KPA", "aibrix-e3e10f9e", 40.0)  # 4x the target on every pod
    assert (df["recommendation"] <= df["current"]).all()  # it never asks for more
    (msg,) = held_above_target_warnings(df)
    assert msg.startswith("autoscaler pa (KPA, aibrix-e3e10f9e): for ")
    assert "num_requests_waiting" in msg and "4.0 times" in msg and "fixed-math" in msg


def test_no_warning_when_it_scales_out_or_is_not_overloaded() -> None:
    assert held_above_target_warnings(_frame("KPA", "fixed-math", 40.0)) == []
    assert held_above_target_warnings(_frame("APA", "aibrix-e3e10f9e", 40.0)) == []
    assert held_above_target_warnings(_frame("KPA", "aibrix-e3e10f9e", 11.0)) == []
