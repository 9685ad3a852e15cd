"""Two AIBrix behaviours users trip over (issue 11, README fidelity notes), reproduced by
whole runs with constant durations (Ready 16 s after creation, gone 5 s after deletion).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.issue3.helpers import (
    GRACE,
    IMAGE_V2,
    READY_AFTER_CREATE,
    events,
    manifest,
    role,
    run,
    scenario,
)

T = 100.0


def test_pause_right_after_a_template_change_exceeds_replicas_plus_surge(
    tmp_path: Path,
) -> None:
    """``scaling`` in ``pkg/controller/stormservice/sync.go``: paused with two revisions,
    scale-out splits ``replicas`` between them with ``calculateReplicas`` over the previous
    status counts and creates the missing RoleSets with no surge cap (terminating RoleSets
    are not counted). replicas 3, default strategy (maxSurge 0, maxUnavailable 1): the image
    change deletes one RoleSet; the pause 1 s later makes the paused branch see 2 active
    RoleSets for 3 wanted (3 current, 0 updated) and create an old-revision one at once,
    beside the terminating one: 4 RoleSets > replicas + maxSurge = 3. After the resume the
    rollout replaces the RoleSet it just made (7 RoleSets created instead of 6)."""
    svc = manifest([role("decode", 1)], replicas=3)
    evs = [
        {"at_s": T, "kind": "set_image", "image": IMAGE_V2},
        {"at_s": T + 1, "kind": "pause"},
        {"at_s": T + 60, "kind": "resume"},
    ]
    res = run(scenario(svc, evs), tmp_path)
    ev = events(res, kind="RoleSet")
    ev = ev[(ev["t_s"] >= T) & ev["verb"].isin(["create", "delete"])]
    old = str(res.frames["rolesets"]["revision"].iloc[0])
    got = [
        (float(t), str(v), "old" if r == old else "new")
        for t, v, r in zip(ev["t_s"], ev["verb"], ev["revision"], strict=True)
    ]
    step = GRACE + READY_AFTER_CREATE
    resume = T + 60
    assert got == [
        (T, "delete", "old"),
        (T + 1, "create", "old"),  # paused: no surge cap, beside the terminating one
        (resume, "delete", "old"),
        (resume + GRACE, "create", "new"),
        (resume + step, "delete", "old"),
        (resume + step + GRACE, "create", "new"),
        (resume + 2 * step, "delete", "old"),  # the RoleSet created while paused
        (resume + 2 * step + GRACE, "create", "new"),
    ]
    ts = res.frames["timeseries"]
    assert ts["rolesets_total"].max() == 4
    assert res.summary["rolesets_max"] == 4
    assert res.summary["n_rolesets_created"] == 3 + 4


@pytest.mark.parametrize(
    ("surge", "unav"), [(1, 0), (2, "25%"), ("50%", "25%")], ids=["1-0", "2-25%", "50%-25%"]
)
@pytest.mark.parametrize("stateful", [False, True], ids=["stateless", "stateful"])
def test_in_place_role_with_max_unavailable_zero_never_progresses(
    tmp_path: Path, surge: int | str, unav: int | str, stateful: bool
) -> None:
    """An ``InPlaceUpdate`` service patches its RoleSet; the role's ``InPlaceIfPossible``
    path (``StatelessRoleSyncer.Rollout`` / ``StatefulRoleSyncer.Rollout`` in
    ``pkg/controller/roleset/rolesyncer.go``) creates and deletes nothing, so ``maxSurge``
    plays no part, and a Ready candidate is patched only with a delete budget (ready − R +
    maxUnavailable) above 0. With maxUnavailable resolving to 0 (``ResolveFenceposts``: "25%"
    of 3 floors to 0, and a non-zero surge suppresses the fall-back to 1) the budget is 0
    for ever: no pod is patched, created or deleted, and the rollout never ends."""
    svc = manifest(
        [
            role(
                "decode",
                3,
                stateful=stateful or None,
                update_type="InPlaceIfPossible",
                max_surge=surge,
                max_unavailable=unav,
            )
        ],
        update_type="InPlaceUpdate",
    )
    res = run(
        scenario(svc, [{"at_s": T, "kind": "set_image", "image": IMAGE_V2}]),
        tmp_path,
        until_s=T + 3600,
    )
    pod_events = events(res, kind="Pod")
    assert pod_events[pod_events["t_s"] >= T].empty
    ro = res.frames["rollouts"]
    assert list(ro["outcome"]) == ["incomplete"]
    assert res.summary["update_completed"] is False
    assert res.summary["rolesets_ready_min"] == 1  # nothing ever restarts
