"""The RoleSet controller in the world: reads a RoleSet, its direct pods and its PodSets;
watches RoleSets, PodSets and the RoleSet's direct pods."""

from __future__ import annotations

from dataclasses import replace

from stormsim.control.objects import Pod, RoleSet, RoleSetStatus
from stormsim.control.roleset import reconcile_roleset
from stormsim.sim.controllers import ControllerContext, Reconcile, Registration, Watch
from stormsim.sim.store import POD, PS, RS


def _setup(ctx: ControllerContext) -> Reconcile:
    store = ctx.store
    reads = ctx.reads

    def reconcile(name: str) -> float | None:
        rs = reads.get(RS, name)
        if rs is None:
            return None
        pods = sorted(reads.pods_of(name), key=lambda p: (p.created_at, p.seq))
        podsets = sorted(reads.podsets_of(name), key=lambda p: (p.created_at, p.seq))
        res = reconcile_roleset(rs, pods, podsets)
        ctx.apply("roleset-controller", res.actions)
        if res.status is not None:
            cur = store.rolesets.get(name)
            if cur is not None:
                assert isinstance(res.status, RoleSetStatus)
                store.put(RS, replace(cur, status=res.status))
        return res.requeue_after

    return reconcile


def pod_change_unseen(_ctx: ControllerContext, old: Pod | None, new: Pod | None) -> bool:
    """Only the node binding or Pending <-> Running changed: the RoleSet and PodSet
    controllers read neither (they look at readiness, deletion and Succeeded/Failed)."""
    if old is None or new is None:
        return False
    return (
        old.ready == new.ready
        and old.deleting == new.deleting
        and old.phase in ("Pending", "Running")
        and new.phase in ("Pending", "Running")
        and old.template_hash == new.template_hash
        and old.revision == new.revision
        and old.in_place_target == new.in_place_target
        and old.in_place_running == new.in_place_running
        and old.restart_count == new.restart_count
        and old.images == new.images
    )


def roleset_status_write(_ctx: ControllerContext, old: RoleSet | None, new: RoleSet | None) -> bool:
    """Only the status changed (the RoleSet controller's own write): its next pass would read
    the same pods and spec, and ``sync_pods`` does not read the status."""
    if old is None or new is None:
        return False
    return (
        old.status is not new.status
        and old.spec is new.spec
        and old.revision == new.revision
        and old.deleting == new.deleting
        and old.finalizer == new.finalizer
        and old.role_hashes is new.role_hashes
    )


REGISTRATION = Registration(
    name="roleset-controller",
    stream="roleset",
    kind=RS,
    watches=(
        Watch(RS, lambda _ctx, rs: rs.name, roleset_status_write),
        Watch(PS, lambda _ctx, ps: ps.roleset),
        Watch(
            POD, lambda _ctx, pod: pod.roleset if pod.podset is None else None, pod_change_unseen
        ),
    ),
    setup=_setup,
)
