"""``service.initial_state: ready``: the fleet starts deployed at t = 0 (constant durations)."""

from __future__ import annotations

from typing import Any

import pytest

import stormsim


def _scenario(make_manifest: Any, make_scenario: Any, **kw: Any) -> dict[str, Any]:
    manifest = make_manifest(**kw.pop("manifest", {}))
    data = make_scenario(manifest, **kw)
    data["service"]["initial_state"] = "ready"
    return data


def test_fleet_is_ready_at_t0_and_rolls(make_manifest, make_scenario) -> None:
    data = _scenario(
        make_manifest,
        make_scenario,
        manifest={"replicas": 3, "max_surge": 1, "max_unavailable": 1},
        events=[{"at_s": 10, "kind": "set_image", "image": "v2"}],
    )
    res = stormsim.run(stormsim.load_scenario(data))
    pods = res.frames["pods"]
    first = pods[pods["created_at_s"] == 0.0]
    assert len(first) == 6
    assert (first["ready_at_s"] == 0.0).all() and (first["scheduled_at_s"] == 0.0).all()
    ts = res.frames["timeseries"]
    at0 = ts[ts["t_s"] == 0.0].iloc[-1]
    assert at0["pods_ready"] == 6 and at0["gpus_allocated"] == 6
    status = res.frames["status"]
    first_ready = status[status["condition"] == "Ready"]["t_s"].min()
    assert first_ready < 1.0  # the controllers' first passes only write statuses
    s = res.summary
    assert s["update_completed"] is True
    assert s["gpus_allocated_before_update"] == 6
    assert s["rolesets_max"] == 4
    # no image pull for the initial image: it is cached where the pods run
    pulls = res.frames["events"].query("verb == 'pulled'")
    assert (pulls["t_s"] >= 10.0).all()


def test_podset_roles_start_ready(make_manifest, make_scenario) -> None:
    data = _scenario(
        make_manifest,
        make_scenario,
        manifest={"replicas": 2, "pod_group_size": 2, "max_surge": 0, "max_unavailable": 1},
        nodes=2,
        events=[{"at_s": 5, "kind": "set_image", "image": "v2"}],
    )
    res = stormsim.run(stormsim.load_scenario(data))
    pods = res.frames["pods"]
    assert pods[pods["created_at_s"] == 0.0]["podset"].notna().all()
    assert len(pods[pods["created_at_s"] == 0.0]) == 8  # 2 RoleSets x 2 roles x 2 pods
    assert res.summary["update_completed"] is True


def test_fleet_that_does_not_fit_is_an_input_error(make_manifest, make_scenario) -> None:
    data = _scenario(make_manifest, make_scenario, manifest={"replicas": 5}, gpus_per_node=8)
    with pytest.raises(stormsim.InputError) as e:
        stormsim.run(stormsim.load_scenario(data))
    assert e.value.problems[0].path == "service.initial_state"
    assert "does not fit the cluster" in e.value.problems[0].message


def test_same_rollout_as_a_cold_start_once_ready(make_manifest, make_scenario) -> None:
    # a cold start whose pods are ready long before the change rolls exactly like a warm one
    kw = {"manifest": {"replicas": 2, "max_surge": 1, "max_unavailable": 0}, "nodes": 1}
    warm = _scenario(
        make_manifest,
        make_scenario,
        events=[{"at_s": 100, "kind": "set_image", "image": "v2"}],
        **kw,
    )
    cold = dict(warm, service=dict(warm["service"], initial_state="deploy"))
    a = stormsim.run(stormsim.load_scenario(warm)).summary
    b = stormsim.run(stormsim.load_scenario(cold)).summary
    for k in ("update_duration_s", "rolesets_max", "surge_gpus_peak", "capacity_availability_frac"):
        assert a[k] == pytest.approx(b[k]), k


@pytest.mark.parametrize("at_s", [0.0, 10.0])
def test_a_rollout_at_t0_sees_a_ready_fleet(make_manifest, make_scenario, at_s: float) -> None:
    """The RoleSets start with their Ready status, so a rollout that starts at once keeps
    ``replicas - maxUnavailable`` RoleSets Ready, exactly as one that starts later (a fleet
    without statuses counted as not Ready and was deleted all at once)."""
    data = _scenario(
        make_manifest,
        make_scenario,
        manifest={"replicas": 4, "max_surge": 1, "max_unavailable": 1},
        events=[{"at_s": at_s, "kind": "set_image", "image": "v2"}],
    )
    res = stormsim.run(stormsim.load_scenario(data))
    ts = res.frames["timeseries"]
    assert ts[ts["t_s"] == 0.0].iloc[-1]["rolesets_ready"] == 4
    s = res.summary
    assert s["rolesets_ready_min"] == 3 and s["rolesets_max"] == 5
    assert s["full_outage_s"] == 0 and s["update_completed"] is True
