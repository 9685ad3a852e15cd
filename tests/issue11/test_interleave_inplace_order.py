"""Divergence 3 of issue 11: the slot order of an Interleave in-place rollout.

AIBrix's ``StatefulRoleSyncer.RolloutByStep`` (``pkg/controller/roleset/rolesyncer.go``)
builds the outdated list slot by slot and keeps the in-progress pods plus the first
``target − updated`` candidates of that list before the in-place step sorts them, so an
Interleave rollout of a stateful ``InPlaceIfPossible`` role patches slots 0, 1, 2. Under
Parallel (and Sequential) ``StatefulRoleSyncer.Rollout`` sorts the whole list (not ready
first, newest first), and pods created together update from the highest slot: 2, 1, 0.

Constant durations: an in-place restart takes 15 s (images prepulled); one pod at a time
(maxUnavailable 1, step length 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.issue3.helpers import IMAGE_V2, STARTUP, events, manifest, role, run, scenario

T = 100.0


@pytest.mark.parametrize(
    ("strategy", "order"), [("Interleave", [0, 1, 2]), ("Parallel", [2, 1, 0])]
)
def test_stateful_in_place_slot_order(tmp_path: Path, strategy: str, order: list[int]) -> None:
    svc = manifest(
        [role("db", 3, stateful=True, update_type="InPlaceIfPossible")],
        update_type="InPlaceUpdate",
        roleset_strategy=strategy,
    )
    res = run(scenario(svc, [{"at_s": T, "kind": "set_image", "image": IMAGE_V2}]), tmp_path)
    patches = events(res, "patch", "Pod")
    slots = [int(str(n).rsplit("-", 1)[1]) for n in patches["name"]]
    assert slots == order
    assert [float(t) for t in patches["t_s"]] == [T, T + STARTUP, T + 2 * STARTUP]
    assert res.summary["update_ended_at_s"] == T + 3 * STARTUP
