"""Stabilization, the decision order and whole reconciles (``podautoscaler_controller_test.go``,
``autoscaler_test.go``), and the worked traces with constant inputs (reconciles every 10 s,
no follow-ups, every reporting pod reports ``D/n``, new pods report at the next tick)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stormsim.control.autoscaler.bounds import Bounds
from stormsim.control.autoscaler.decide import (
    REASON_ABOVE_MAX,
    REASON_BELOW_MIN,
    REASON_BELOW_TARGET,
    REASON_DISABLED,
    REASON_STABLE,
    boundary_decision,
    decide,
)
from stormsim.control.autoscaler.reconcile import AutoscalerMemory, reconcile_custom
from stormsim.control.autoscaler.scrape import PodScrapeInput
from stormsim.control.autoscaler.stabilize import (
    History,
    Recommendation,
    stabilize_aibrix,
    stabilize_hpa,
)
from stormsim.control.autoscaler.target import LABEL_STORM_SERVICE, TargetView
from tests.autoscaler.builders import make_pa

START = datetime(2026, 8, 3, 9, 30, tzinfo=UTC)  # a Monday


def _run(
    fn: Callable[..., tuple[int, History]], steps: list[tuple[float, int, int]], **w: Any
) -> list[int]:
    h: History = ()
    out = []
    for now, r, c in steps:
        d, h = fn(h, now, r, c, w.get("up", 0.0), w.get("down", 300.0))
        out.append(d)
    return out


def test_stabilization_D1_min_on_scale_down() -> None:
    steps = [(0, 2, 2), (10, 4, 2), (20, 4, 4), (30, 3, 4)]
    assert _run(stabilize_aibrix, steps) == [2, 4, 4, 2]
    assert _run(stabilize_hpa, steps) == [2, 4, 4, 4]  # Kubernetes keeps the safest value


def test_stabilization_D2_max_over_up_window() -> None:
    steps = [(0, 5, 2), (10, 3, 2), (20, 2, 2), (30, 3, 2)]
    assert _run(stabilize_aibrix, steps, up=60.0) == [5, 5, 2, 5]


def test_stabilization_D3_entries_expire_strictly() -> None:
    steps = [(0, 1, 1), (100, 4, 1), (200, 3, 4), (310, 3, 4)]
    assert _run(stabilize_aibrix, steps) == [1, 4, 1, 3]


def test_stabilization_history_keeps_raw_recommendations() -> None:
    _, h = stabilize_aibrix((), 0, 7, 4, 0, 300)
    assert h == (Recommendation(7, 0),)
    _, h = stabilize_aibrix(h, 300, 5, 5, 0, 300)  # the entry at 0 is exactly 300 s old
    assert h == (Recommendation(5, 300),)


@pytest.mark.parametrize(
    ("c", "bounds", "expected"),
    [
        (0, Bounds(1, 10), (0, False, REASON_DISABLED)),
        (12, Bounds(1, 10), (10, True, REASON_ABOVE_MAX)),
        (0, Bounds(4, 10, "warm", True), (4, True, REASON_BELOW_MIN)),
        (0, Bounds(1, 8, "cap", False), (0, False, REASON_DISABLED)),
        (2, Bounds(3, 10), (3, True, REASON_BELOW_MIN)),
    ],
)
def test_boundary_decisions(c: int, bounds: Bounds, expected: tuple[int, bool, str]) -> None:
    d = boundary_decision(c, bounds)
    assert d is not None and (d.desired, d.should_scale, d.reason) == expected
    assert d.algorithm == "boundary-check"
    # no recommendation recorded
    d2, h = decide(
        c,
        bounds,
        [5],
        strategy="APA",
        history=(),
        now_s=0,
        up_window_s=0,
        down_window_s=300,
        profile="aibrix-e3e10f9e",
    )
    assert d2 == d and h == ()


def _decide(c: int, recs: list[int | None], history: History = ()) -> Any:
    return decide(
        c,
        Bounds(1, 10),
        recs,
        strategy="KPA",
        history=history,
        now_s=100,
        up_window_s=0,
        down_window_s=300,
        profile="aibrix-e3e10f9e",
    )


def test_decide_reasons_and_maximum_over_sources() -> None:
    d, h = _decide(3, [2, None, 5])
    assert (d.desired, d.should_scale, d.reason, d.recommendation) == (
        5,
        True,
        "kpa above target",
        5,
    )
    assert h == (Recommendation(5, 100),)
    d, _ = _decide(3, [3])
    assert (d.desired, d.should_scale, d.reason) == (3, False, REASON_STABLE)
    d, _ = _decide(3, [2])
    assert (d.desired, d.reason) == (2, REASON_BELOW_TARGET)
    d, h = _decide(3, [None, None])
    assert (d.desired, d.should_scale, d.error) == (3, False, "all metric sources failed")
    assert h == ()


def _pods(
    values: list[float | None],
    *,
    ip: list[bool] | None = None,
    metric: str = "gpu_cache_usage_perc",
) -> list[PodScrapeInput]:
    out = []
    for i, v in enumerate(values):
        out.append(
            PodScrapeInput(
                f"p{i}",
                has_ip=True if ip is None else ip[i],
                listening=v is not None,
                metrics={} if v is None else {metric: v},
                labels={LABEL_STORM_SERVICE: "llm", "app": "foo"},
            )
        )
    return out


def test_TestComputeDesiredReplicas_one_and_multiple_sources() -> None:
    ann = {"autoscaling.aibrix.ai/max-scale-up-rate": "4"}
    pa = make_pa(
        min_replicas=0, max_replicas=6, metric="gpu_cache_usage_perc", target="50", annotations=ann
    )
    view = TargetView("Deployment", "foo", 1, selector={"app": "foo"})
    pod = PodScrapeInput(
        "p0", True, True, {"gpu_cache_usage_perc": 70, "cpu": 70}, labels={"app": "foo"}
    )
    o = reconcile_custom(
        pa,
        now=START,
        now_s=0,
        view=view,
        pods=[pod],
        external={},
        memory=AutoscalerMemory(),
        profile="aibrix-e3e10f9e",
    )
    assert o.decision is not None and o.decision.desired == 2
    d = pa.dump()
    d["spec"]["metricsSources"].append(
        {"metricSourceType": "resource", "targetMetric": "cpu", "targetValue": "30"}
    )
    pa2 = type(pa).model_validate(d)
    o = reconcile_custom(
        pa2,
        now=START,
        now_s=0,
        view=view,
        pods=[pod],
        external={},
        memory=AutoscalerMemory(),
        profile="aibrix-e3e10f9e",
    )
    assert o.decision is not None and o.decision.desired == 3
    assert [m.recommendation for m in o.metrics] == [2, 3]


def test_TestComputeDesiredReplicasConfiguresMetricWindowsFromPodAutoscalerSpec() -> None:
    pa = make_pa(
        strategy="KPA",
        metric="gpu_cache_usage_perc",
        target="50",
        observeWindowSeconds=120,
        panicWindowSeconds=30,
    )
    view = TargetView("StormService", "llm", 1)
    mem = AutoscalerMemory()
    o = reconcile_custom(
        pa,
        now=START,
        now_s=1000,
        view=view,
        pods=_pods([10]),
        external={},
        memory=mem,
        profile="aibrix-e3e10f9e",
    )
    o = reconcile_custom(
        pa,
        now=START,
        now_s=1060,
        view=view,
        pods=_pods([70]),
        external={},
        memory=o.memory,
        profile="aibrix-e3e10f9e",
    )
    assert (o.metrics[0].stable, o.metrics[0].panic) == (40, 70)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"minReplicas": 4}, (4, True)),
        ({"maxReplicas": 8}, (0, False)),
    ],
)
def test_TestComputeScaleDecision_from_zero_with_schedule(
    schedule: dict[str, int], expected: tuple[int, bool]
) -> None:
    pa = make_pa(schedules=[{"name": "w", "startTime": "09:00", "endTime": "10:00", **schedule}])
    o = reconcile_custom(
        pa,
        now=START,
        now_s=0,
        view=TargetView("StormService", "llm", 0),
        pods=[],
        external={},
        memory=AutoscalerMemory(),
        profile="aibrix-e3e10f9e",
    )
    assert o.decision is not None
    assert (o.decision.desired, o.decision.should_scale) == expected


def test_kpa_at_zero_with_min_zero_and_no_pods_stays_at_zero() -> None:
    pa = make_pa(strategy="KPA", min_replicas=0)
    o = reconcile_custom(
        pa,
        now=START,
        now_s=0,
        view=TargetView("StormService", "llm", 0),
        pods=[],
        external={},
        memory=AutoscalerMemory(),
        profile="aibrix-e3e10f9e",
    )
    assert o.decision is not None and (o.decision.desired, o.decision.should_scale) == (0, False)
    assert o.metrics[0].recorded is None


def _trace(
    strategy: str,
    demand: Callable[[float], float],
    c0: int,
    lo: int,
    hi: int,
    until: int,
    *,
    target: str = "0.5",
    pending_s: float = 0.0,
    profile: str = "aibrix-e3e10f9e",
) -> dict[int, int]:
    """desired replicas by tick."""
    pa = make_pa(
        strategy=strategy,
        min_replicas=lo,
        max_replicas=hi,
        metric="num_requests_waiting",
        target=target,
    )
    mem = AutoscalerMemory()
    born = [-1e9] * c0
    out: dict[int, int] = {}
    for t in range(0, until + 1, 10):
        ips = [t >= b + pending_s for b in born]
        n = max(1, sum(ips))
        pods = [
            PodScrapeInput(
                f"p{i}",
                ip,
                True,
                {"num_requests_waiting": demand(t) / n},
                labels={LABEL_STORM_SERVICE: "llm"},
            )
            for i, ip in enumerate(ips)
        ]
        o = reconcile_custom(
            pa,
            now=START + timedelta(seconds=t),
            now_s=t,
            view=TargetView("StormService", "llm", len(born)),
            pods=pods,
            external={},
            memory=mem,
            profile=profile,  # type: ignore[arg-type]
        )
        mem = o.memory
        assert o.decision is not None
        out[t] = o.decision.desired
        if o.write is not None:
            new = o.write.value
            born = born[:new] + [float(t)] * max(0, new - len(born))
    return out


def test_W1_apa_oscillates_between_4_and_8() -> None:
    d = _trace("APA", lambda t: 3.0, 2, 1, 8, 460)
    assert [d[t] for t in (0, 10, 20, 180, 190, 200, 270)] == [4, 8, 8, 8, 4, 4, 4]
    assert [d[t] for t in (280, 290, 300, 310)] == [5, 6, 7, 8]
    assert d[450] == 4


def test_W1_fixed_math_converges_without_the_dip() -> None:
    d = _trace("APA", lambda t: 3.0, 2, 1, 8, 900, profile="fixed-math")
    # HPA-style stabilization keeps the 8 until the 8-recommendations age out, never dips to 4
    assert min(d[t] for t in range(20, 901, 10)) >= 6


def test_W2_kpa_settles_at_three_with_periodic_dip() -> None:
    d = _trace("KPA", lambda t: 3.0, 2, 1, 8, 600)
    dips = [t for t in range(0, 601, 10) if d[t] != 3]
    assert d[0] == 3
    assert dips == [190, 390, 590]
    assert all(d[t] == 2 for t in dips)


def test_W3_kpa_queue_total_settles_near_sqrt() -> None:
    d = _trace("KPA", lambda t: 100.0, 1, 1, 20, 80, target="10")
    assert [d[t] for t in (0, 10, 20, 30, 40, 50, 70, 80)] == [2, 4, 6, 2, 4, 5, 2, 4]


def test_W3_fixed_math_kpa_reaches_the_ideal() -> None:
    d = _trace("KPA", lambda t: 100.0, 1, 1, 20, 600, target="10", profile="fixed-math")
    assert d[600] == 10


def test_W4_apa_step_overshoots_then_collapses_to_min() -> None:
    d = _trace("APA", lambda t: 0.5 if t < 60 else 2.0, 1, 1, 8, 310)
    assert all(d[t] == 1 for t in range(0, 51, 10))
    assert [d[t] for t in (60, 70, 80, 90)] == [2, 3, 5, 8]
    assert all(d[t] == 8 for t in range(100, 221, 10))
    assert d[230] == 1
    assert [d[t] for t in (260, 270, 280, 290, 300, 310)] == [2, 3, 4, 5, 7, 8]


def test_W8_cascading_scale_up_with_pending_pods() -> None:
    d = _trace("APA", lambda t: 3.0, 2, 1, 16, 380, pending_s=120)
    assert [d[t] for t in (0, 10, 20)] == [4, 8, 16]
    assert all(d[t] == 16 for t in range(30, 261, 10))
    assert d[270] == 4
    assert [d[t] for t in (290, 300, 340, 350, 360, 370, 380)] == [3, 2, 3, 4, 6, 10, 16]


@pytest.mark.parametrize(
    ("order", "mean"),
    [("ready first", 0.45), ("starting first", 0.0)],
)
def test_W9_scrape_stall(order: str, mean: float) -> None:
    ready = [
        PodScrapeInput(f"r{i}", True, True, {"gpu_cache_usage_perc": 0.9}, labels={"app": "foo"})
        for i in range(2)
    ]
    starting = [PodScrapeInput(f"s{i}", True, False, {}, labels={"app": "foo"}) for i in range(2)]
    pods = ready + starting if order == "ready first" else starting + ready
    pa = make_pa(
        target_kind="Deployment", target_name="foo", metric="gpu_cache_usage_perc", target="0.5"
    )
    view = TargetView("Deployment", "foo", 4, selector={"app": "foo"})
    o = reconcile_custom(
        pa,
        now=START,
        now_s=0,
        view=view,
        pods=pods,
        external={},
        memory=AutoscalerMemory(),
        profile="aibrix-e3e10f9e",
    )
    assert o.deadline_exceeded and o.elapsed_s == pytest.approx(10.0)
    assert o.metrics[0].recorded == pytest.approx(mean)
    assert o.write is None  # the write fails past the deadline
    if mean == 0.0:
        assert o.decision is not None and o.decision.desired == 2
        assert o.memory.history[pa.key] == (Recommendation(2, 0),)
