"""The two headline KPIs, ``capacity_availability_frac`` and ``surge_gpu_hours``, against
values computed by hand on small traces with constant durations.

Common setup: one node of 8 GPUs; a StormService of RoleSets with one role ``worker`` of one
1-GPU pod; ``initial_state: ready`` (at t = 0 every pod is Ready with image v1 cached on the
node); ``set_image v2`` at t = 100. Durations: scheduling 0, image pull 20 s (v2 is not cached),
model load 10 s, engine init / readiness probe / router registration / reconcile latency 0,
termination grace 25 s. So a new pod on the node is Ready 30 s after its creation while v2 is
not cached (20 s pull + 10 s load) and 10 s after once it is; a deleted pod holds its GPU for
25 s; a deleted RoleSet is gone with its pod.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import stormsim
from stormsim.metrics.kpis import Series, window_kpis

TIMING = {
    "scheduling_s": 0.0,
    "image_pull_s": 20.0,
    "model_load_s": 10.0,
    "engine_init_s": 0.0,
    "readiness_probe_s": 0.0,
    "router_registration_s": 0.0,
    "termination_grace_s": 25.0,
    "reconcile_latency_s": 0.0,
}


def _run(make_manifest: Any, make_scenario: Any, **manifest: Any) -> stormsim.RunResult:
    data = make_scenario(
        make_manifest(roles=(("worker", 1, 1),), **manifest),
        timing=TIMING,
        events=[{"at_s": 100, "kind": "set_image", "image": "v2"}],
        until_s=400,
    )
    data["service"]["initial_state"] = "ready"
    return stormsim.run(stormsim.load_scenario(data))


def _pod_times(res: stormsim.RunResult) -> list[tuple[float, float | None, float | None]]:
    pods = res.frames["pods"]
    new = pods[pods["created_at_s"] >= 100].sort_values("created_at_s")
    return [
        (float(r.created_at_s), float(r.ready_at_s), None if np.isnan(r.gone_at_s) else r.gone_at_s)
        for r in new.itertuples()
    ]


def test_surge_one_unavailable_one(make_manifest, make_scenario) -> None:
    """replicas 2, maxSurge 1, maxUnavailable 1 (MinAvailable 1). Old RoleSets A, B; new A', B'.

    * t=100: the rollout pass deletes A (2 ready > 1) and stops at B (1 ≤ 1); creates
      min(2+1−2, 2−0) = 1 RoleSet A'. A's pod holds its GPU until 125; A' pulls v2 (until 120)
      and loads: Ready at 130.
    * t=125: A is gone: |all| = 2, the pass keeps B (ready count 1 ≤ 1) and creates
      min(2+1−2, 2−1) = 1 RoleSet B'; v2 is cached now, so B' is Ready at 135.
    * t=130: A' Ready; 3 active > 2 RoleSets: scaling deletes B (ready 2 > 1), gone at 155.
    * t=155: settled (2 RoleSets, both at v2, Ready). Window [100, 155], 55 s.

    capacity_frac = ready, not terminating worker pods / 2: B alone on [100, 130); A' alone on
    [130, 135) (B deleted at 130); A' and B' on [135, 155]:
    capacity_availability_frac = (0.5·30 + 0.5·5 + 1·20) / 55 = 37.5 / 55 = 15/22.

    gpus_allocated (before: 2): A (terminating) + B + A' = 3 on [100, 125); B + A' + B' = 3 on
    [125, 130); A' + B' + B (terminating) = 3 on [130, 155); 2 from 155:
    surge_gpu_hours = 1 GPU × 55 s / 3600 = 55/3600.
    """
    res = _run(make_manifest, make_scenario, replicas=2, max_surge=1, max_unavailable=1)
    assert _pod_times(res) == [(100.0, 130.0, None), (125.0, 135.0, None)]
    s = res.summary
    assert (s["update_started_at_s"], s["update_ended_at_s"]) == (100.0, 155.0)
    assert s["capacity_availability_frac"] == pytest.approx(15 / 22, rel=1e-12)
    assert s["surge_gpu_hours"] == pytest.approx(55 / 3600, rel=1e-12)
    assert (s["surge_gpus_peak"], s["full_outage_s"]) == (1, 0.0)


def test_delete_first_single_roleset(make_manifest, make_scenario) -> None:
    """replicas 1, defaults (maxSurge 0 ⇒ maxUnavailable 1, MinAvailable 0): delete first.

    * t=100: the pass deletes A (1 ready > 0) and creates min(1+0−1, 1−0) = 0.
    * t=125: A's pod and A are gone; scaling creates A' (min(1, 1+0−0) = 1); it pulls v2
      (until 145) and loads: Ready at 155; settled at 155. Window [100, 155], 55 s.

    capacity_frac is 0 on [100, 155) (A's pod is terminating, A' not Ready) and 1 at 155:
    capacity_availability_frac = 0 and full_outage_s = 55.

    gpus_allocated (before: 1): A's terminating pod on [100, 125), A' from 125: never above 1:
    surge_gpu_hours = 0.
    """
    res = _run(make_manifest, make_scenario, replicas=1, max_surge=None, max_unavailable=None)
    assert _pod_times(res) == [(125.0, 155.0, None)]
    s = res.summary
    assert (s["update_started_at_s"], s["update_ended_at_s"]) == (100.0, 155.0)
    assert s["capacity_availability_frac"] == 0.0
    assert s["full_outage_s"] == pytest.approx(55.0, rel=1e-12)
    assert s["surge_gpu_hours"] == 0.0
    assert s["surge_gpus_peak"] == 0


def test_window_kpis_on_a_hand_made_series() -> None:
    """A piecewise-constant series (a value holds until the next row), window [10, 50]:

    t               0    10   20   30   40
    capacity_frac   1    0.5  0    1.2  1     (values above 1 count as 1)
    gpus_allocated  4    6    5    4    4     (before the window: 4)

    capacity_availability_frac = (0.5·10 + 0·10 + 1·10 + 1·10) / 40 = 25/40 = 0.625;
    full_outage_s = 10 (on [20, 30)); surge_gpu_hours = (2·10 + 1·10 + 0 + 0) / 3600 = 30/3600;
    surge_gpus_peak = 6 − 4 = 2.
    """
    t = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    cols = {
        "capacity_frac": [1.0, 0.5, 0.0, 1.2, 1.0],
        "gpus_allocated": [4, 6, 5, 4, 4],
        "gpus_live": [4, 4, 4, 4, 4],
        "gpus_pending": [0, 0, 1, 0, 0],
        "rolesets_total": [2, 3, 3, 2, 2],
        "rolesets_ready": [2, 1, 0, 2, 2],
    }
    series = {k: Series(t, np.asarray(v, dtype=float)) for k, v in cols.items()}
    k = window_kpis(series, 10.0, 50.0, completed=True)
    assert k["capacity_availability_frac"] == pytest.approx(0.625, rel=1e-12)
    assert k["full_outage_s"] == pytest.approx(10.0, rel=1e-12)
    assert k["surge_gpu_hours"] == pytest.approx(30 / 3600, rel=1e-12)
    assert (k["surge_gpus_peak"], k["gpus_demand_peak"], k["rolesets_ready_min"]) == (2, 6, 0)
