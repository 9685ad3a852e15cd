"""The HPA strategy in the world: the Kubernetes HPA algorithm every 15 s on the
StormService's /scale, with AIBrix's generated behavior (up 100 % per 60 s)."""

from __future__ import annotations

from tests.autoscaler_world.helpers import autoscaler, run_constant, scenario, service


def test_hpa_doubles_per_minute_on_scale() -> None:
    pa = autoscaler("HPA", "10", 1, 16, metric="num_requests_waiting")
    _, df = run_constant(scenario(service(2), [pa], until_s=200), 0.0, value=lambda p, d: 30.0)
    hpa = df[df.strategy == "HPA"]
    assert set(hpa.t_s) == {
        0.0,
        15.0,
        30.0,
        45.0,
        60.0,
        75.0,
        90.0,
        105.0,
        120.0,
        135.0,
        150.0,
        165.0,
        180.0,
        195.0,
    }
    writes = [(r.t_s, r.current, r.desired) for r in hpa.itertuples() if r.written]
    # ratio 3 everywhere: ceil(3 x ready pods), limited to doubling per 60 s, then max 16
    assert writes == [(0.0, 2, 4), (60.0, 4, 8), (120.0, 8, 16)]
    assert (hpa[hpa.t_s.between(15.0, 45.0)].reason == "ScaleUpLimit").all()
