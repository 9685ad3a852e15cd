"""Slow-start batching on a 100-RoleSet scale-out, against times computed by hand.

Setup: a ready fleet of 1 RoleSet (roles ``prefill`` and ``decode``, one 1-GPU pod each) on
25 nodes of 8 GPUs; ``scale`` to 100 at t = 10; constant reconcile latency 0.1 s,
``controller.api_call_s`` 0.05 s.

* The scale event writes the StormService; its controller's pass runs at 10.1 and creates
  the 99 missing RoleSets in slow-start batches 1, 2, 4, 8, 16, 32, 36 (``slowStartBatch``
  in AIBrix ``pkg/controller/stormservice``): batch ``k`` (0-based) lands at
  10.1 + 0.05·k, the last at 10.1 + 6·0.05 = 10.4. With ``api_call_s: 0`` all 99 land at 10.1.
* Each new RoleSet's pass creates its prefill pod (one call) and then its decode pod (the
  next role's call, one round later): decode is created 0.05 s after prefill. The RoleSet
  controller runs one pass at a time, so the last pod's creation grows by about 0.05 s per
  RoleSet, i.e. by ≈ 99 · 0.05 s ≈ 5 s over the scale-out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import stormsim
from stormsim.control.batching import slow_start_sizes
from stormsim.errors import InputError

TIMING = {
    "scheduling_s": 0.0,
    "image_pull_s": 0.0,
    "model_load_s": 5.0,
    "engine_init_s": 0.0,
    "readiness_probe_s": 0.0,
    "router_registration_s": 0.0,
    "termination_grace_s": 30.0,
    "reconcile_latency_s": 0.1,
}


def _run(make_manifest: Any, make_scenario: Any, api_call_s: float) -> stormsim.RunResult:
    data = make_scenario(
        make_manifest(replicas=1, roles=(("prefill", 1, 1), ("decode", 1, 1))),
        nodes=25,
        timing=TIMING,
        events=[{"at_s": 10, "kind": "scale", "replicas": 100}],
        controller={"api_call_s": api_call_s},
    )
    data["service"]["initial_state"] = "ready"
    return stormsim.run(stormsim.load_scenario(data))


def test_rolesets_land_in_slow_start_batches(make_manifest, make_scenario) -> None:
    res = _run(make_manifest, make_scenario, 0.05)
    rs = res.frames["rolesets"]
    new = rs[rs["created_at_s"] >= 10]
    assert len(new) == 99
    times = Counter(round(float(t), 6) for t in new["created_at_s"])
    expected = {round(10.1 + 0.05 * k, 6): n for k, n in enumerate(slow_start_sizes(99, 1))}
    assert dict(times) == expected
    assert sorted(expected.values()) == [1, 2, 4, 8, 16, 32, 36]
    assert max(times) == pytest.approx(10.4)


def test_no_api_cost_creates_all_at_once(make_manifest, make_scenario) -> None:
    res = _run(make_manifest, make_scenario, 0.0)
    rs = res.frames["rolesets"]
    new = rs[rs["created_at_s"] >= 10]
    assert len(new) == 99
    assert set(round(float(t), 6) for t in new["created_at_s"]) == {10.1}


def test_pods_of_a_roleset_one_round_apart_and_last_pod_later(make_manifest, make_scenario) -> None:
    batched = _run(make_manifest, make_scenario, 0.05)
    flat = _run(make_manifest, make_scenario, 0.0)
    pods = batched.frames["pods"]
    new = pods[pods["created_at_s"] >= 10]
    assert len(new) == 198
    by_rs = new.groupby("roleset")
    for _name, g in by_rs:
        t = dict(zip(g["role"], g["created_at_s"], strict=True))
        assert t["decode"] - t["prefill"] == pytest.approx(0.05)
    last_b = float(new["created_at_s"].max())
    fp = flat.frames["pods"]
    last_f = float(fp[fp["created_at_s"] >= 10]["created_at_s"].max())
    # one extra round per RoleSet pass, passes one at a time: ≈ 99 × 0.05 s later
    assert last_b - last_f == pytest.approx(99 * 0.05, abs=0.5)


def test_bad_controller_knobs_name_path_and_line(
    tmp_path, write_scenario, make_manifest, make_scenario
) -> None:
    path = write_scenario(
        tmp_path,
        make_scenario(make_manifest(), controller={"api_call_s": -1, "cache_lag_s": 100, "lag": 1}),
    )
    with pytest.raises(InputError) as info:
        stormsim.load_scenario(path)
    lines = path.read_text().splitlines()

    def line_of(needle: str) -> int:
        return next(i for i, t in enumerate(lines, 1) if needle in t)

    got = sorted(str(p) for p in info.value.problems)
    assert len(got) == 3
    assert got[0].startswith(f"controller.api_call_s (line {line_of('api_call_s')}")
    assert got[1].startswith(f"controller.cache_lag_s (line {line_of('cache_lag_s')}")
    assert got[2].startswith(f"controller.lag (line {line_of('lag:')}")
