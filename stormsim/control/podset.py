"""The PodSet controller as a pure function: keeps ``podGroupSize`` pods named
``<podset>-<k>`` and reports the PodSet phase (Ready only when every pod is Ready;
docs/aibrix/podset.md)."""

from __future__ import annotations

from collections.abc import Sequence

from stormsim.control.objects import (
    PENDING,
    READY,
    RUNNING,
    CreateGroupPod,
    DeletePod,
    Pod,
    PodSet,
    Result,
    SetFinalizer,
    WritePodSetStatus,
)

RECREATE = "Recreate"


def podset_phase(ready: int, size: int, active: int) -> str:
    if active == 0:
        return PENDING
    if ready == size:
        return READY
    if ready > 0:
        return RUNNING
    return PENDING


def reconcile_podset(ps: PodSet, pods: Sequence[Pod]) -> Result:
    """One PodSet pass. Event-driven only (no periodic requeue). ``pods`` are its members."""
    res = Result()
    if ps.deleting:
        live = [p for p in pods if not p.deleting]
        res.actions.extend(DeletePod(p.name) for p in live)
        if not pods:
            res.actions.append(SetFinalizer("PodSet", ps.name, False))
        return res
    if not ps.finalizer:
        res.actions.append(SetFinalizer("PodSet", ps.name, True))
        return res
    # terminating pods still count as active here (phase not Succeeded/Failed)
    active = [p for p in pods if p.phase not in ("Succeeded", "Failed")]
    size = ps.size
    if len(active) < size:
        if ps.recovery_policy == RECREATE:
            if active:
                res.actions.extend(DeletePod(p.name) for p in active if not p.deleting)
            else:
                res.actions.extend(CreateGroupPod(ps.name, k) for k in range(size))
        else:
            restarted = [p for p in active if p.restart_count > 0]
            if restarted:
                res.actions.extend(DeletePod(p.name) for p in restarted if not p.deleting)
            else:
                have = {p.group_index for p in active}
                res.actions.extend(CreateGroupPod(ps.name, k) for k in range(size) if k not in have)
    elif len(active) > size:
        excess = sorted(active, key=lambda p: p.group_index or 0, reverse=True)
        res.actions.extend(DeletePod(p.name) for p in excess[: len(active) - size])
    ready = sum(1 for p in active if p.ready)
    phase = podset_phase(ready, size, len(active))
    if (ready, len(active), phase) != (ps.ready_pods, ps.total_pods, ps.phase):
        res.actions.append(WritePodSetStatus(ps.name, ready, len(active), phase))
    return res
