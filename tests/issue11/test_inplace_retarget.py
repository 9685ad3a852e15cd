"""Divergence 2 of issue 11: a template change while a pod is mid in-place update.

AIBrix: the mid-update pod still carries the in-place update state and pending-reason
annotations; the eligibility comparison (``canInPlaceUpdatePod`` /
``normalizePodForInPlaceComparison`` in ``pkg/controller/roleset/inplace_update.go``) strips
only the target-hash annotation, so the pod is not eligible and the role's ``Rollout``
(``StatelessRoleSyncer.Rollout`` / ``StatefulRoleSyncer.Rollout`` in
``pkg/controller/roleset/rolesyncer.go``) falls back to Recreate: an ``InPlaceFallback``
event, the mid-update (not Ready) pod is deleted and recreated from the newest template, and
the other pods go back to in-place updates once it has been replaced (the delete budget,
ready − R + maxUnavailable, is 0 until the replacement is Ready).

Constant durations: Ready 16 s after creation, an in-place restart takes 15 s (images
prepulled), gone 5 s after deletion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.issue3.helpers import (
    GRACE,
    IMAGE_V2,
    IMAGE_V3,
    READY_AFTER_CREATE,
    STARTUP,
    events,
    manifest,
    role,
    run,
    scenario,
)

T = 100.0
T2 = T + 5.0


def _run(tmp_path: Path, stateful: bool):
    svc = manifest(
        [role("decode", 3, update_type="InPlaceIfPossible", stateful=stateful or None)],
        update_type="InPlaceUpdate",
    )
    evs = [
        {"at_s": T, "kind": "set_image", "image": IMAGE_V2},
        {"at_s": T2, "kind": "set_image", "image": IMAGE_V3},
    ]
    return run(scenario(svc, evs), tmp_path)


@pytest.mark.parametrize("stateful", [False, True], ids=["stateless", "stateful"])
def test_second_change_mid_update_recreates_that_pod(tmp_path: Path, stateful: bool) -> None:
    res = _run(tmp_path, stateful)
    ev = events(res)
    ev = ev[(ev["t_s"] >= T) & ((ev["kind"] == "Pod") | (ev["verb"] == "event"))]
    ev = ev[ev["verb"].isin(["patch", "create", "delete", "event", "update"])]
    got = [(float(t), str(v)) for t, v in zip(ev["t_s"], ev["verb"], strict=True)]
    replaced = T2 + GRACE + READY_AFTER_CREATE  # the replacement is Ready: 126
    assert got == [
        (T, "patch"),  # first pod patched to v2
        (T2, "event"),  # v3 arrives while it restarts: InPlaceFallback
        (T2, "delete"),  # ... and the mid-update pod is deleted
        (T2 + GRACE, "create"),  # recreated from v3 once gone
        (replaced, "patch"),  # then the others in place, one at a time
        (replaced + STARTUP, "update"),
        (replaced + STARTUP, "patch"),
        (replaced + 2 * STARTUP, "update"),
    ]
    fb = ev[ev["verb"] == "event"]["detail"].iloc[0]
    assert fb.startswith("InPlaceFallback")
    names = list(ev["name"])
    patched_first, deleted = names[0], names[2]
    assert patched_first == deleted
    if stateful:  # the slot is kept: same slot index, the new template's hash in the name
        assert deleted.rsplit("-", 1)[1] == names[3].rsplit("-", 1)[1]
    s = res.summary
    assert s["update_ended_at_s"] == replaced + 2 * STARTUP
    assert s["n_pods_created"] == 4  # one cold start that an in-place patch would have hidden
