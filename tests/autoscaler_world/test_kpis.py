"""Autoscaling KPIs on hand-made frames (exact values) and in a whole run."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from stormsim.metrics.autoscaling import attainment_restore_s, gpu_hours, scale_events
from stormsim.metrics.catalogue import AUTOSCALING
from tests.autoscaler_world.helpers import autoscaler, scenario, service

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


def test_scale_events_and_direction_changes() -> None:
    rows = [
        (0.0, "a", 2, 4, True),
        (0.0, "a", 2, 4, True),  # a second metric row of the same reconcile
        (10.0, "a", 4, 8, True),
        (20.0, "a", 8, 4, True),
        (30.0, "a", 4, 4, True),  # no change
        (40.0, "a", 4, 2, False),  # not written (deadline)
        (50.0, "a", 4, 6, True),
        (5.0, "b", 3, 2, True),
    ]
    df = pd.DataFrame(rows, columns=["t_s", "autoscaler", "current", "desired", "written"])
    assert scale_events(df) == (5, 2)


def test_attainment_restore() -> None:
    # 60 s bins: 10 requests per bin for 5 bins (all met), then 30 per bin: the step is at
    # 300 s; bins at 300 and 360 s miss half, the bin at 420 s meets all -> 120 s
    t, met = [], []
    for b in range(10):
        n = 10 if b < 5 else 30
        for i in range(n):
            t.append(b * 60.0 + i)
            met.append(not (b in (5, 6) and i % 2 == 0))
    df = pd.DataFrame({"arrived_at_s": t, "slo_met": met})
    assert attainment_restore_s(df) == 120.0
    df.loc[df.arrived_at_s >= 300.0, "slo_met"] = False
    assert attainment_restore_s(df) is None
    assert attainment_restore_s(None) is None


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
