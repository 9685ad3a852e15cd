"""KPIs beyond the update window basics: GPUs requested but unplaced, per-rollout KPIs, the
time spent rolling, and surge beyond both steady states (constant durations: exact)."""

from __future__ import annotations

from typing import Any

import pytest

import stormsim


def _run(make_manifest: Any, make_scenario: Any, *, events: list[dict[str, Any]], **kw: Any):
    manifest = make_manifest(**kw.pop("manifest", {}))
    data = make_scenario(manifest, events=events, **kw)
    return stormsim.run(stormsim.load_scenario(data))


def test_stalled_surge_reports_the_gpus_it_requested(make_manifest, make_scenario) -> None:
    # 3 RoleSets x (1+1 GPUs) = 6 on a 6-GPU node; maxSurge 1 / maxUnavailable 0 needs 2 more
    res = _run(
        make_manifest,
        make_scenario,
        manifest={"replicas": 3, "max_surge": 1, "max_unavailable": 0},
        gpus_per_node=6,
        events=[{"at_s": 50, "kind": "set_image", "image": "v2"}],
        until_s=300,
    )
    s = res.summary
    assert s["update_completed"] is False
    assert s["surge_gpus_peak"] == 0
    assert s["gpus_demand_peak"] == 8
    assert s["surge_gpus_demand_peak"] == 2
    assert s["pods_unscheduled_at_end"] == 2


def test_rollouts_frame_has_each_rollouts_kpis(make_manifest, make_scenario) -> None:
    res = _run(
        make_manifest,
        make_scenario,
        manifest={"replicas": 2, "max_surge": 1, "max_unavailable": 0},
        nodes=2,
        events=[
            {"at_s": 50, "kind": "set_image", "image": "v2"},
            {"at_s": 500, "kind": "set_image", "image": "v3"},
        ],
    )
    ro = res.frames["rollouts"]
    s = res.summary
    assert list(ro["outcome"]) == ["completed", "completed"]
    for col in ("rolesets_max", "capacity_availability_frac", "surge_gpus_peak", "full_outage_s"):
        assert col in ro.columns
    # maxSurge 1 RoleSet of 2 GPUs, both rollouts alike
    assert list(ro["surge_gpus_peak"]) == [2, 2]
    assert list(ro["rolesets_max"]) == [3, 3]
    # the summary's window spans both rollouts and the quiet time between them
    assert s["update_rolling_time_s"] == pytest.approx(ro["duration_s"].sum())
    assert s["update_duration_s"] == pytest.approx(ro["ended_at_s"].iloc[-1] - 50.0)
    assert s["update_rolling_time_s"] < s["update_duration_s"]


def test_role_scale_up_is_not_rollout_surge(make_manifest, make_scenario) -> None:
    # pooled service, InPlaceUpdate: decode 1 -> 2 is a template change (a rollout) that adds
    # one GPU for good; nothing is surged beyond the new steady state
    res = _run(
        make_manifest,
        make_scenario,
        manifest={
            "replicas": 1,
            "update_type": "InPlaceUpdate",
            "max_surge": None,
            "max_unavailable": None,
        },
        events=[{"at_s": 50, "kind": "scale", "role": "decode", "replicas": 2}],
    )
    s = res.summary
    assert s["update_completed"] is True
    assert s["gpus_allocated_before_update"] == 2
    assert s["gpus_allocated_after_update"] == 3
    assert s["surge_gpus_peak"] == 1  # DESIGN's definition: peak - before
    assert s["update_transient_surge_gpus_peak"] == 0  # beyond both steady states
