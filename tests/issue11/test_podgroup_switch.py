"""Divergence 1 of issue 11: switching ``podGroupSize`` across 1 under InPlaceUpdate.

AIBrix (``pkg/controller/roleset/utils.go``: ``cleanupOrphanPods`` and
``cleanupOrphanPodSets``, called first by ``Scale`` of the PodSet, Stateful and Stateless
syncers in ``podset_rollsyncer.go`` / ``rolesyncer.go``) deletes every orphan it lists,
terminating ones included; a DELETE of a terminating object succeeds, so the cleanup reports
"cleaned" and the role's Scale reports a change until the old objects are gone. The RoleSet
pass therefore counts as scaling (``rolling.go``: no rollout while any role scaled): the new
kind of object appears only after the old ones have terminated, and every other role's rollout
step waits too.

Constant durations (``tests/issue3/helpers.TIMING``): Ready 16 s after creation, gone 5 s
after deletion.
"""

from __future__ import annotations

from pathlib import Path

from tests.issue3.helpers import GRACE, IMAGE_V2, READY_AFTER_CREATE, manifest, role, run, scenario

T = 100.0


def _switch(tmp_path: Path, before: int, after: int):
    """Role ``w`` (2 replicas) switches podGroupSize ``before`` -> ``after`` and role ``web``
    (1 replica) gets a new image in the same apply; RoleSet strategy Parallel."""
    svc = manifest(
        [role("w", 2, pod_group_size=before), role("web", 1)],
        update_type="InPlaceUpdate",
        roleset_strategy="Parallel",
    )
    new = manifest(
        [role("w", 2, pod_group_size=after, image=IMAGE_V2), role("web", 1, image=IMAGE_V2)],
        update_type="InPlaceUpdate",
        roleset_strategy="Parallel",
    )
    return run(scenario(svc, [{"at_s": T, "kind": "apply", "manifest": new}]), tmp_path)


def _trace(res) -> list[tuple[float, str, str, str]]:
    """(time, verb, kind, role) of pod and PodSet creates/deletes from the change on."""
    ev = res.frames["events"]
    ev = ev[(ev["t_s"] >= T) & ev["kind"].isin(["Pod", "PodSet"])]
    ev = ev[ev["verb"].isin(["create", "delete"])]
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    out = []
    for t, verb, kind, name in zip(ev["t_s"], ev["verb"], ev["kind"], ev["name"], strict=True):
        role_name = str(name)[len(rs) + 1 :].split("-")[0]
        out.append((float(t), str(verb), str(kind), role_name))
    return out


def test_pods_to_podsets_wait_for_the_old_pods_to_terminate(tmp_path: Path) -> None:
    """1 -> 2: the direct pods are deleted at the change; the PodSets (and their pods) are
    created when those pods are gone (GRACE later), and only then, in the next pass with no
    scaling, does ``web`` start its rollout (delete first, maxUnavailable 1)."""
    res = _switch(tmp_path, 1, 2)
    t1 = T + GRACE
    assert _trace(res) == [
        (T, "delete", "Pod", "w"),
        (T, "delete", "Pod", "w"),
        (t1, "create", "PodSet", "w"),
        (t1, "create", "PodSet", "w"),
        (t1, "delete", "Pod", "web"),
        (t1, "create", "Pod", "w"),
        (t1, "create", "Pod", "w"),
        (t1, "create", "Pod", "w"),
        (t1, "create", "Pod", "w"),
        (t1 + GRACE, "create", "Pod", "web"),
    ]
    s = res.summary
    assert s["update_ended_at_s"] == t1 + GRACE + READY_AFTER_CREATE
    # old pods (2 GPUs) never coexist with the PodSet pods (4 GPUs): peak = 4 + web's 1
    assert s["gpus_allocated_peak"] == 5


def test_podsets_to_pods_wait_for_the_old_podsets_to_terminate(tmp_path: Path) -> None:
    """2 -> 1: the PodSets are deleted at the change (the PodSet controller deletes their
    pods); the new pods are created once the PodSets are gone, then ``web`` rolls."""
    res = _switch(tmp_path, 2, 1)
    t1 = T + GRACE
    assert _trace(res) == [
        (T, "delete", "PodSet", "w"),
        (T, "delete", "PodSet", "w"),
        (T, "delete", "Pod", "w"),
        (T, "delete", "Pod", "w"),
        (T, "delete", "Pod", "w"),
        (T, "delete", "Pod", "w"),
        (t1, "create", "Pod", "w"),
        (t1, "create", "Pod", "w"),
        (t1, "delete", "Pod", "web"),
        (t1 + GRACE, "create", "Pod", "web"),
    ]
    assert res.summary["update_ended_at_s"] == t1 + GRACE + READY_AFTER_CREATE
    assert res.summary["gpus_allocated_peak"] == 5
