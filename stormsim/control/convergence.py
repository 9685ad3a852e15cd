"""When one role of a RoleSet has converged on its template (pure; used by the settle test).

AIBrix's own Ready condition can be reported from RoleSet statuses computed before the RoleSet
controller has acted on a new spec, so "the rollout is over" additionally needs the fleet
itself to match the spec. For one role that is what the syncers' ``AllReady`` checks
(``pkg/controller/roleset/rolesyncer.go``, ``podset_rollsyncer.go``): exactly ``replicas``
active units (pods, or PodSets when ``podGroupSize > 1``), every one Ready, of the current
template hash and not mid in-place update, and, for slot-based roles (``stateful: true`` or
PodSet roles), exactly one unit in each slot ``0..replicas-1``. A pod without a slot is no
unit of a stateful role at all: ``StatefulRoleSyncer.Scale`` deletes it. This is why a switch
from stateless to stateful (which keeps the pod template, hence the hash) is not converged
until the slot pods are up.
"""

from __future__ import annotations

from collections.abc import Sequence

from stormsim.control.objects import Pod, PodSet
from stormsim.schema.aibrix import RoleSpec


def slot_based(role: RoleSpec) -> bool:
    """The role's units live in fixed slots (Stateful or PodSet syncer; docs/aibrix/roleset.md)."""
    return role.stateful or role.group_size > 1


def role_converged(role: RoleSpec, template_hash: str, units: Sequence[Pod | PodSet]) -> bool:
    """``units``: the role's pods (``podGroupSize <= 1``) or PodSets, any state; terminating
    and terminated ones are ignored."""
    active = [u for u in units if u.active]
    want = max(0, role.replicas)
    if len(active) != want:
        return False
    for u in active:
        if u.template_hash != template_hash or not u.ready:
            return False
        if isinstance(u, Pod) and u.in_place_target is not None:
            return False
    if slot_based(role):
        slots = {u.slot for u in active}
        if len(slots) != want or not all(s is not None and 0 <= s < want for s in slots):
            return False
    return True
