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
    # the HPA's own condition reasons: the rate limit, then the maximum
    by_t = dict(zip(hpa.t_s, hpa.reason, strict=True))
    assert by_t[0.0] == by_t[60.0] == "ScaleUpLimit"
    assert {by_t[t] for t in (120.0, 135.0, 195.0)} == {"TooManyReplicas"}


def test_hpa_rows_carry_the_hpa_condition_reasons() -> None:
    pa = autoscaler("HPA", "10", 1, 16, metric="num_requests_waiting")
    # each pod at its target: the HPA keeps the size
    _, df = run_constant(scenario(service(4), [pa], until_s=50), 0.0, value=lambda p, d: 10.0)
    assert list(df.reason) == ["ReadyForNewScale"] * 4
    assert not df.written.any()
    # at 15 per pod (ratio 1.5) on 4 pods: 6, within the doubling: a plain rescale
    _, df = run_constant(scenario(service(4), [pa], until_s=10), 0.0, value=lambda p, d: 15.0)
    assert [(r.current, r.desired, r.reason) for r in df.itertuples()] == [
        (4, 6, "SucceededRescale")
    ]
    # maxReplicas 2 under 4 RoleSets: back to the bound, metrics unread
    lo = autoscaler("HPA", "10", 1, 2, metric="num_requests_waiting")
    _, df = run_constant(scenario(service(4), [lo], until_s=10), 0.0, value=lambda p, d: 0.0)
    assert [(r.current, r.desired, r.reason) for r in df.itertuples()] == [
        (4, 2, "SucceededRescale")
    ]


def test_a_new_hpa_holds_the_replicas_for_the_down_window() -> None:
    """Kubernetes seeds a new HPA's recommendations with the current replicas at its first
    sync (``recordInitialRecommendation``): an idle service of 8 is not halved at t = 0 but
    held for the 300 s down-stabilization window, then scaled down (50 % per 60 s)."""
    pa = autoscaler("HPA", "10", 1, 16, metric="num_requests_waiting")
    _, df = run_constant(scenario(service(8), [pa], until_s=400), 0.0, value=lambda p, d: 0.0)
    held = df[df.t_s < 300.0]
    assert set(held.reason) == {"ScaleDownStabilized"}
    assert not held.written.any() and set(held.desired) == {8}
    writes = [(r.t_s, r.current, r.desired) for r in df.itertuples() if r.written]
    assert writes[0] == (300.0, 8, 4)
