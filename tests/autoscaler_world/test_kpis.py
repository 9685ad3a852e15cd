"""Autoscaling KPIs on hand-made frames (exact values) and in a whole run."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from stormsim.metrics.autoscaling import attainment_restore_s, gpu_hours, scale_events
from stormsim.metrics.catalogue import AUTOSCALING
from tests.autoscaler_world.helpers import autoscaler, run_constant, scenario, service

NAN = math.nan


def test_gpu_hours_and_idle() -> None:
    pods = pd.DataFrame(
        {
            "gpus": [2, 1, 4],
            # bound 0 -> gone 3600, routable 600 -> deleted 3000: idle 600 + 600 s
            "scheduled_at_s": [0.0, 100.0, NAN],
            "routable_at_s": [600.0, NAN, NAN],
            "deleted_at_s": [3000.0, NAN, NAN],
            "gone_at_s": [3600.0, NAN, NAN],
        }
    )
    total, idle = gpu_hours(pods, 7200.0)
    # pod 0: 2 GPUs x 1 h; pod 1: never routable, bound 100 s -> 7200 s; pod 2: never bound
    assert total == pytest.approx(2.0 + 7100.0 / 3600.0)
    assert idle == pytest.approx(2 * 1200.0 / 3600.0 + 7100.0 / 3600.0)


def _frame(rows: list[tuple[float, str, int, int, bool, int, int | None]]) -> pd.DataFrame:
    cols = ["t_s", "autoscaler", "current", "desired", "written"]
    df = pd.DataFrame(rows, columns=[*cols, "target_replicas", "written_replicas"])
    for c in ("target_replicas", "written_replicas"):
        df[c] = df[c].astype("Int64")
    return df


def test_scale_events_and_direction_changes() -> None:
    df = _frame(
        [
            (0.0, "a", 2, 4, True, 2, 4),
            (0.0, "a", 2, 4, True, 2, 4),  # a second metric row of the same reconcile
            (10.0, "a", 4, 8, True, 4, 8),
            (20.0, "a", 8, 4, True, 8, 4),
            (30.0, "a", 4, 4, True, 4, 4),  # no change
            (40.0, "a", 4, 2, False, 4, None),  # not written (deadline)
            (50.0, "a", 4, 6, True, 4, 6),
            (5.0, "b", 3, 2, True, 3, 2),
        ]
    )
    assert scale_events(df) == (5, 2)


def test_scale_events_pooled_role_compare_the_per_roleset_value() -> None:
    # a pooled role over 3 RoleSets: current is the role's pods over all of them (3 x the
    # template value); only writes that change the template value are events
    df = _frame(
        [
            (0.0, "r", 24, 4, True, 8, 4),  # 8 -> 4: down
            (10.0, "r", 12, 4, True, 4, 4),  # rewrite: no event (desired != current)
            (20.0, "r", 12, 6, True, 4, 6),  # up: a direction change
            (30.0, "r", 18, 6, True, 6, 6),
            (40.0, "r", 18, 32, True, 6, 32),  # up
            (50.0, "r", 96, 32, True, 32, 32),
            (60.0, "r", 96, 32, True, 32, 32),
        ]
    )
    assert scale_events(df) == (3, 1)


def test_scale_events_whole_run_pooled_role_rewrites_are_not_events() -> None:
    # W5: 3 RoleSets, every prefill pod reports 12 waiting (target 10): the role template goes
    # 1 -> 4 -> 10, then 10 is rewritten every reconcile while current (30) exceeds the max
    from tests.autoscaler_world.test_traces import _w5

    _, df = _w5("aibrix-e3e10f9e")
    w = df[df.written]
    assert len(w) == 19 and (w.desired != w.current).all()
    assert list(w.written_replicas[:3]) == [4, 10, 10]
    assert set(w.target_replicas[2:]) == {10}
    assert scale_events(df) == (2, 0)
    # fixed-math writes ceil(desired / 3), at most max // 3 = 3 per RoleSet (9 pods within
    # the max of 10): 1 -> 2 -> 3, then 3 rewritten (it went on to 4, 12 pods, above the max)
    _, df = _w5("fixed-math")
    w = df[df.written]
    assert list(w.written_replicas[:2]) == [2, 3] and set(w.written_replicas[2:]) <= {3}
    assert scale_events(df) == (2, 0)


def test_scale_events_whole_run_replica_mode() -> None:
    # spec.replicas 2, target 0.5 per pod: 3.0 in total -> 4 -> 8, then 0.6 from 150 s
    # -> 4 -> 3 -> 2 -> 1: as many events as written reconciles with desired != current
    sc = scenario(service(2), [autoscaler("APA", "0.5", 1, 8)], until_s=400)
    _, df = run_constant(sc, lambda t: 3.0 if t < 150 else 0.6)
    w = df[df.written]
    assert list(w.written_replicas) == [4, 8, 4, 3, 2, 1]
    assert (w.target_replicas == w.current).all()
    assert scale_events(df) == (6, 1)
    assert int((w.desired != w.current).sum()) == 6


def _requests(bins: list[tuple[int, float]], bin_s: float = 60.0) -> pd.DataFrame:
    """``(arrivals, attainment)`` per 60 s bin: exactly that share met, the first ones."""
    t, met = [], []
    for b, (n, frac) in enumerate(bins):
        k = round(n * frac)
        for i in range(n):
            t.append(b * bin_s + i * bin_s / n)
            met.append(i < k)
    return pd.DataFrame({"arrived_at_s": t, "slo_met": met})


def test_attainment_restore() -> None:
    # 60 s bins: 10 requests per bin for 5 bins (all met), then 30 per bin: the step is at
    # 300 s; bins at 300 and 360 s miss half, the bin at 420 s meets all -> 120 s
    df = _requests([(10, 1.0)] * 5 + [(30, 0.5)] * 2 + [(30, 1.0)] * 3)
    assert attainment_restore_s(df) == 120.0
    df = _requests([(10, 1.0)] * 5 + [(30, 1.0)] * 5)  # never dropped
    assert attainment_restore_s(df) == 0.0
    df.loc[df.arrived_at_s >= 300.0, "slo_met"] = False  # collapsed for good
    assert attainment_restore_s(df) is None
    assert attainment_restore_s(None) is None


def test_attainment_restore_null_when_already_below_the_target() -> None:
    # 90 % before the step: below the target 0.99, nothing to restore to; with a target of
    # 0.9 the same requests restore after 60 s
    df = _requests([(10, 0.9)] * 5 + [(30, 0.0)] + [(30, 0.9)] * 5)
    assert attainment_restore_s(df) is None
    assert attainment_restore_s(df, target=0.9) == 60.0


def test_attainment_restore_null_without_a_distinct_load_step() -> None:
    # a ramp of +10 % per bin: the largest increase is no step (noise on a smooth load),
    # whether attainment holds or collapses
    ramp = [(100 + 10 * b, 1.0) for b in range(12)]
    assert attainment_restore_s(_requests(ramp)) is None
    ramp = [(100 + 10 * b, 1.0 if b < 5 else 0.0) for b in range(12)]
    assert attainment_restore_s(_requests(ramp)) is None
    # the same collapse after a doubling of the arrivals is a step that never restores
    step = [(100, 1.0)] * 5 + [(200, 0.0)] * 7
    assert attainment_restore_s(_requests(step)) is None
    step = [(100, 1.0)] * 5 + [(200, 0.0)] + [(200, 1.0)] * 6
    assert attainment_restore_s(_requests(step)) == 60.0


def test_attainment_restore_not_0_when_attainment_collapses_after_the_step_bin() -> None:
    # the step bin itself still meets the SLO (the queue is building), then attainment
    # collapses for 4 bins and recovers: restored 300 s after the step, not 0
    df = _requests([(10, 1.0)] * 5 + [(30, 1.0)] + [(30, 0.0)] * 4 + [(30, 1.0)] * 6)
    assert attainment_restore_s(df) == 300.0


def test_run_restore_target_is_the_scenario_slo() -> None:
    from stormsim.metrics.autoscaling import add_autoscaling_results

    frames = {
        "pods": pd.DataFrame(
            columns=["gpus", "scheduled_at_s", "routable_at_s", "deleted_at_s", "gone_at_s"]
        ),
        "autoscaling": _frame([]),
        "requests": _requests([(10, 0.9)] * 5 + [(30, 0.0)] + [(30, 0.9)] * 5),
    }
    summary: dict[str, object] = {}
    add_autoscaling_results(frames, summary, 660.0, 0.9)
    assert summary["attainment_restore_s"] == 60.0
    add_autoscaling_results(frames, summary, 660.0)
    assert summary["attainment_restore_s"] is None


def test_run_summary_has_the_autoscaling_kpis() -> None:
    import stormsim

    sc = scenario(service(2), [autoscaler("APA", "0.5", 1, 8)], until_s=120)
    res = stormsim.run(sc)
    for k in AUTOSCALING:
        assert k.name in res.summary
    # no traffic: every pod reads 0 -> APA halves to 1 at t = 0: one scale event
    assert res.summary["scale_events"] == 1
    assert res.summary["scale_events_per_hour"] == pytest.approx(30.0)
    assert res.summary["attainment_restore_s"] is None
    assert list(res.frames["autoscaling"].desired.unique()) == [1]
