"""A surge that does not fit the cluster stalls a RollingUpdate (pods stay Pending); trading the
surge for unavailability completes on the same cluster."""

from __future__ import annotations

from typing import Any

import pytest

import stormsim

UPDATE_AT_S = 30.0
UNTIL_S = 600.0


@pytest.fixture
def run(make_manifest: Any, make_scenario: Any) -> Any:
    """``run(max_surge, max_unavailable, gpus=4)``: two RoleSets of 1P1D (1 GPU per pod: 4
    GPUs) on one node with ``gpus`` GPUs, an image change at 30 s, until 600 s."""

    def _run(max_surge: int, max_unavailable: int, gpus: int = 4) -> stormsim.RunResult:
        m = make_manifest(replicas=2, max_surge=max_surge, max_unavailable=max_unavailable)
        data: dict[str, Any] = make_scenario(
            m,
            nodes=1,
            gpus_per_node=gpus,
            events=[{"at_s": UPDATE_AT_S, "kind": "set_image", "image": "vllm:v2"}],
            until_s=UNTIL_S,
        )
        return stormsim.run(stormsim.load_scenario(data))

    return _run


def test_surge_without_free_gpus_stalls(run: Any) -> None:
    res = run(max_surge=1, max_unavailable=0)
    s = res.summary
    assert s["update_completed"] is False
    assert s["update_duration_s"] is None
    assert s["sim_end_s"] == UNTIL_S
    pods = res.frames["pods"]
    pending = pods[pods["scheduled_at_s"].isna() & pods["gone_at_s"].isna()]
    assert len(pending) == 2  # the surge RoleSet's prefill and decode
    assert s["pods_unscheduled_at_end"] == 2
    assert set(pending["roleset"]) == {pending["roleset"].iloc[0]}
    created = float(pending["created_at_s"].min())
    assert UPDATE_AT_S < created < UPDATE_AT_S + 5
    assert s["pods_pending_max_s"] == pytest.approx(UNTIL_S - created)
    assert s["pods_pending_max_s"] > UNTIL_S - UPDATE_AT_S - 5
    # nothing was taken down: the old RoleSets keep serving, no GPU was added
    assert s["rolesets_ready_min"] == 2
    assert s["capacity_availability_frac"] == pytest.approx(1.0)
    assert s["full_outage_s"] == 0
    assert s["gpus_allocated_peak"] == 4
    assert s["surge_gpus_peak"] == 0
    assert s["rolesets_max"] == 3  # the surge RoleSet exists, its pods are Pending
    ts = res.frames["timeseries"].iloc[-1]
    assert ts["rolesets_updated"] == 1 and ts["rolesets_ready"] == 2
    assert res.frames["rollouts"]["outcome"].tolist() == ["incomplete"]


def test_partial_room_still_stalls(run: Any) -> None:
    """One free GPU: the surge RoleSet gets one of its two pods bound, never Ready."""
    res = run(max_surge=1, max_unavailable=0, gpus=5)
    s = res.summary
    assert s["update_completed"] is False
    assert s["pods_unscheduled_at_end"] == 1
    assert s["gpus_allocated_peak"] == 5
    assert s["surge_gpus_peak"] == 1


def test_max_unavailable_instead_of_surge_completes(run: Any) -> None:
    res = run(max_surge=0, max_unavailable=1)
    s = res.summary
    assert s["update_completed"] is True
    assert 0 < s["update_duration_s"] < UNTIL_S - UPDATE_AT_S
    assert s["pods_unscheduled_at_end"] == 0
    assert s["rolesets_max"] == 2
    assert s["rolesets_ready_min"] == 1
    assert s["gpus_allocated_peak"] <= 4
    assert s["capacity_availability_frac"] < 1.0
    assert res.frames["rollouts"]["outcome"].tolist() == ["completed"]


def test_enough_gpus_for_the_surge_completes(run: Any) -> None:
    res = run(max_surge=1, max_unavailable=0, gpus=6)
    s = res.summary
    assert s["update_completed"] is True
    assert s["rolesets_ready_min"] == 2
    assert s["surge_gpus_peak"] == 2
    assert s["pods_unscheduled_at_end"] == 0
