"""Fault events: crash_pod (containers restart in place) and fail_node (a node is lost),
with constant durations (pod ready 4 s after (re)start: model load 3 + init 1)."""

from __future__ import annotations

from typing import Any

import pytest

import stormsim


def _run(make_manifest: Any, make_scenario: Any, events: list[dict[str, Any]], **kw: Any):
    manifest = make_manifest(**kw.pop("manifest", {"replicas": 3}))
    data = make_scenario(manifest, events=events, **kw)
    data["service"]["initial_state"] = "ready"
    return stormsim.run(stormsim.load_scenario(data))


def _value_at(ts, col: str, t: float) -> float:
    return float(ts[ts["t_s"] <= t][col].iloc[-1])


def test_crash_pod_restarts_in_place(make_manifest, make_scenario) -> None:
    res = _run(
        make_manifest,
        make_scenario,
        [{"at_s": 10, "kind": "crash_pod", "role": "decode", "count": 2}],
        until_s=60,
    )
    ev = res.frames["events"]
    crashed = ev[ev["verb"] == "crash"]["name"].tolist()
    assert len(crashed) == 2 and all("-decode-" in n for n in crashed)
    ts = res.frames["timeseries"]
    assert _value_at(ts, "pods_ready", 9.9) == 6
    assert _value_at(ts, "pods_ready", 10.0) == 4
    assert _value_at(ts, "pods_ready", 14.0) == 6  # load 3 s + init 1 s, no pull
    assert res.summary["n_pods_created"] == 6  # restarted in place, not replaced
    restarted = ev[(ev["verb"] == "restarted") | (ev["verb"] == "restart")]
    assert set(restarted["name"]) == set(crashed)


def test_fail_node_loses_its_pods_and_capacity_until_back(make_manifest, make_scenario) -> None:
    res = _run(
        make_manifest,
        make_scenario,
        [{"at_s": 20, "kind": "fail_node", "node": "gpu-0", "down_s": 100}],
        nodes=2,
        gpus_per_node=4,
        until_s=200,
    )
    ts = res.frames["timeseries"]
    assert _value_at(ts, "gpus_capacity", 19) == 8
    assert _value_at(ts, "gpus_capacity", 20) == 4
    assert _value_at(ts, "gpus_capacity", 120) == 8
    pods = res.frames["pods"]
    lost = pods[pods["gone_at_s"] == 20.0]
    assert len(lost) == 4 and set(lost["node"]) == {"gpu-0"}
    # replacements: two fit on gpu-1 at once, the other two wait for the node to come back
    new = pods[(pods["created_at_s"] > 20.0) & (pods["created_at_s"] < 21.0)]
    assert len(new) == 4
    waited = sorted((new["scheduled_at_s"] - new["created_at_s"]).round(6).tolist())
    assert waited[:2] == [1.0, 1.0]  # scheduling_s
    assert (new["scheduled_at_s"].sort_values().tolist()[2:]) == [120.0, 120.0]
    assert _value_at(ts, "pods_ready", 200) == 6


def test_node_lost_for_good_during_a_rollout(make_manifest, make_scenario) -> None:
    res = _run(
        make_manifest,
        make_scenario,
        [
            {"at_s": 10, "kind": "set_image", "image": "v2"},
            {"at_s": 12, "kind": "fail_node"},
        ],
        manifest={"replicas": 2, "max_surge": 1, "max_unavailable": 0},
        nodes=2,
        gpus_per_node=4,
    )
    s = res.summary
    assert s["update_completed"] is True
    assert s["gpus_capacity"] == 4
    assert res.frames["events"].query("verb == 'fail_node'")["name"].tolist() == ["gpu-0"]


def test_unknown_node_is_an_input_error(make_manifest, make_scenario) -> None:
    data = make_scenario(
        make_manifest(), events=[{"at_s": 1, "kind": "fail_node", "node": "gpu-7"}]
    )
    with pytest.raises(stormsim.InputError) as e:
        stormsim.load_scenario(data)
    assert e.value.problems[0].path == "events[0].node"
