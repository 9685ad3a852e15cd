"""The PodSet controller in the world: reads a PodSet and its pods; watches PodSets and
their pods."""

from __future__ import annotations

from stormsim.control.podset import reconcile_podset
from stormsim.sim.controllers import ControllerContext, Reconcile, Registration, Watch
from stormsim.sim.reconcilers.roleset import pod_change_unseen
from stormsim.sim.store import POD, PS


def _setup(ctx: ControllerContext) -> Reconcile:
    reads = ctx.reads

    def reconcile(name: str) -> float | None:
        ps = reads.get(PS, name)
        if ps is None:
            return None
        pods = sorted(reads.pods_of_podset(name), key=lambda p: (p.created_at, p.seq))
        res = reconcile_podset(ps, pods)
        ctx.apply("podset-controller", res.actions)
        return res.requeue_after

    return reconcile


REGISTRATION = Registration(
    name="podset-controller",
    stream="podset",
    kind=PS,
    watches=(
        Watch(PS, lambda _ctx, ps: ps.name),
        Watch(POD, lambda _ctx, pod: pod.podset, pod_change_unseen),
    ),
    setup=_setup,
)
