"""The RoleSet controller as a pure function: rolling managers (Sequential,
Parallel, Interleave), the stateless and stateful role syncers, and RoleSet status
(docs/aibrix/roleset.md).

``reconcile_roleset(rs, pods)`` performs one pass over a RoleSet and the pods labelled with
its name. Pods of a role are considered in creation order (creation time, then sequence);
"newest first" sorts use the reverse. The view is consistent (see ``control.stormservice``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stormsim.control.fenceposts import role_budgets
from stormsim.control.inplace import IN_PLACE, all_eligible, in_place_step, step_candidates
from stormsim.control.objects import (
    READY,
    Action,
    CompleteInPlace,
    Condition,
    CreatePod,
    CreatePodSet,
    DeletePod,
    DeletePodSet,
    Pod,
    PodSet,
    RecordEvent,
    Result,
    RoleSet,
    RoleSetStatus,
    RoleStatus,
    SetFinalizer,
    evolve,
)
from stormsim.schema.aibrix import PodTemplate, RoleSpec

REQUEUE_RETRY_S = 1.0
"""``DefaultRetryDelay``: requeue of a RoleSet that is not Ready."""
REQUEUE_FINALIZE_S = 15.0


def go_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Go does (Python's ``//`` floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def shorten_name(name: str, limit: int = 63) -> str:
    """Names longer than ``limit`` keep the first character and the last ``limit - 1``."""
    if len(name) <= limit:
        return name
    return name[0] + name[-(limit - 1) :]


def stateful_pod_name(roleset: str, role: str, template_hash: str, slot: int) -> str:
    return shorten_name(f"{roleset}-{role}-{template_hash}-{slot}")


def sort_roles_by_upgrade_order(roles: Sequence[RoleSpec]) -> list[RoleSpec]:
    """Ascending ``upgradeOrder``, nil last, ties in list order."""
    return sorted(roles, key=lambda r: (r.upgrade_order is None, r.upgrade_order or 0))


@dataclass
class RoleCtx:
    """One role of one RoleSet during a pass. ``pods`` are the role's units: its pods, or its
    PodSets when ``podGroupSize > 1`` (the syncers treat both alike)."""

    rs: RoleSet
    role: RoleSpec
    pods: list[Any]
    actions: list[Action] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.podsets = self.role.group_size > 1
        self.in_place = self.role.strategy.type == IN_PLACE and not self.podsets
        self.R = max(0, self.role.replicas)
        self.surge, self.unav = role_budgets(self.role)
        self.L = max(1, self.surge + self.unav)
        self.h = self.rs.role_hashes[self.role.name]
        rev = self.rs.role_revisions.get(self.role.name)
        self.revision = rev[1] if rev else self.rs.revision
        self.active = [p for p in self.pods if p.active]
        self.terminating = [p for p in self.pods if p.deleting]
        self.terminated = [p for p in self.pods if p.terminated]

    @property
    def inactive(self) -> list[Pod]:
        return [p for p in self.pods if not p.active]

    def updated(self, p: Pod) -> bool:
        return p.template_hash == self.h

    @property
    def template(self) -> PodTemplate:
        return self.role.template

    def create(self, slot: int | None = None) -> None:
        name = (
            stateful_pod_name(self.rs.name, self.role.name, self.h, slot)
            if slot is not None
            else None
        )
        if self.podsets:
            assert slot is not None and name is not None
            self.actions.append(
                CreatePodSet(self.rs.name, self.role.name, self.h, self.revision, slot, name)
            )
        else:
            self.actions.append(
                CreatePod(self.rs.name, self.role.name, self.h, self.revision, slot, name)
            )

    def delete(self, p: Any) -> None:
        self.actions.append(DeletePodSet(p.name) if self.podsets else DeletePod(p.name))


def _newest_first(pods: Sequence[Pod]) -> list[Pod]:
    return sorted(pods, key=lambda p: (p.created_at, p.seq), reverse=True)


# ------------------------------------------------------------------------- stateless


class StatelessSyncer:
    """Interchangeable pods of a role."""

    def scale(self, c: RoleCtx) -> bool:
        n0 = len(c.actions)
        for p in c.terminated:
            c.delete(p)
        diff = len(c.active) - c.R
        if diff > 0:
            ordered = sorted(_newest_first(c.active), key=lambda p: (c.updated(p), p.ready))
            ready_count = sum(1 for p in c.active if p.ready)
            min_available = c.R - c.unav
            for p in ordered:
                if diff == 0:
                    break
                if p.ready and ready_count <= min_available:
                    break
                c.delete(p)
                if p.ready:
                    ready_count -= 1
                diff -= 1
        elif diff < 0:
            create = min(-diff, c.R + c.surge - len(c.active) - len(c.terminating))
            for _ in range(max(0, create)):
                c.create()
        return len(c.actions) > n0

    def _delete_outdated(self, c: RoleCtx, outdated: list[Pod], budget: int) -> None:
        for p in sorted(_newest_first(outdated), key=lambda p: p.ready):
            if not p.ready:
                c.delete(p)
            elif budget > 0:
                c.delete(p)
                budget -= 1
            else:
                break

    def rollout(self, c: RoleCtx) -> bool:
        n0 = len(c.actions)
        updated = [p for p in c.active if c.updated(p)]
        outdated = [p for p in c.active if not c.updated(p)]
        ready_active = sum(1 for p in c.active if p.ready)
        budget = ready_active - c.R + c.unav
        if c.in_place and all_eligible(c, outdated):
            in_place_step(c, outdated, budget)
            return len(c.actions) > n0
        self._delete_outdated(c, outdated, budget)
        create = min(c.R + c.surge - len(c.active) - len(c.terminating), c.R - len(updated))
        for _ in range(max(0, create)):
            c.create()
        return len(c.actions) > n0

    def rollout_by_step(self, c: RoleCtx, step: int) -> bool:
        n0 = len(c.actions)
        target = min(c.L * step, c.R)
        updated = [p for p in c.active if c.updated(p)]
        outdated = [p for p in c.active if not c.updated(p)]
        if len(updated) >= target:
            return False
        ready_active = sum(1 for p in c.active if p.ready)
        budget = min(len(outdated) - c.R + target, ready_active - c.R + c.unav)
        if c.in_place and all_eligible(c, outdated):
            in_place_step(c, outdated, budget, max(0, target - len(updated)))
            return len(c.actions) > n0
        self._delete_outdated(c, outdated, budget)
        create = min(c.R + c.surge - len(c.active) - len(c.terminating), target - len(updated))
        for _ in range(max(0, create)):
            c.create()
        return len(c.actions) > n0

    def all_ready(self, c: RoleCtx) -> bool:
        if c.inactive or any(not p.ready for p in c.active):
            return False
        if any(p.ready and not c.updated(p) for p in c.active):
            return False
        return sum(1 for p in c.active if p.ready and c.updated(p)) == c.R

    def check_current_step(self, c: RoleCtx) -> tuple[bool, int]:
        u = sum(1 for p in c.active if p.ready and c.updated(p))
        u_a = sum(1 for p in c.active if c.updated(p))
        o_a = sum(1 for p in c.active if not c.updated(p))
        no_inactive = not c.inactive
        no_not_ready = all(p.ready for p in c.active)
        step = go_div(u - 1, c.L) + 1
        if (
            (no_inactive and no_not_ready and u == c.L * step)
            or u_a > c.L * step
            or (o_a < c.R - c.L * step)
        ):
            step += 1
        no_ready_outdated = not any(p.ready and not c.updated(p) for p in c.active)
        return (no_inactive and no_not_ready and no_ready_outdated and u >= c.R), step


# ------------------------------------------------------------------------- stateful


class StatefulSyncer:
    """Fixed slots 0..R-1; pod names ``<roleset>-<role>-<hash>-<slot>``."""

    @staticmethod
    def slots(c: RoleCtx) -> tuple[list[list[Pod]], list[Pod]]:
        slots: list[list[Pod]] = [[] for _ in range(c.R)]
        unslotted: list[Pod] = []
        for p in sorted(c.active, key=lambda p: (p.created_at, p.seq)):
            if p.slot is not None and 0 <= p.slot < c.R:
                slots[p.slot].append(p)
            else:
                unslotted.append(p)
        return slots, unslotted

    def scale(self, c: RoleCtx) -> bool:
        n0 = len(c.actions)
        slots, unslotted = self.slots(c)
        for p in c.terminated:
            c.delete(p)
        for p in unslotted:
            c.delete(p)
        budget = c.R + c.surge - len(c.active) - len(c.terminating)
        for i, pods in enumerate(slots):
            if not pods:
                if budget > 0:
                    c.create(i)
                    budget -= 1
            elif len(pods) > 1:
                upd_ready = [p for p in pods if c.updated(p) and p.ready]
                for p in pods:
                    if not c.updated(p) and not p.ready:
                        c.delete(p)
                if upd_ready:
                    for p in pods:
                        if (not c.updated(p) and p.ready) or (c.updated(p) and not p.ready):
                            c.delete(p)
                    for p in upd_ready[1:]:
                        c.delete(p)
                else:
                    old_ready = [p for p in pods if not c.updated(p) and p.ready]
                    new_not_ready = [p for p in pods if c.updated(p) and not p.ready]
                    for p in old_ready[1:] + new_not_ready[1:]:
                        c.delete(p)
        return len(c.actions) > n0

    def _rollout(self, c: RoleCtx, target: int | None) -> bool:
        n0 = len(c.actions)
        slots, _ = self.slots(c)
        ready_slots = sum(1 for s in slots if any(p.ready for p in s))
        delete_budget = ready_slots - c.R + c.unav
        create_budget = c.R + c.surge - len(c.pods)
        updated_slots = 0
        if target is not None:
            updated_slots = sum(1 for s in slots if any(c.updated(p) for p in s))
            outdated_slots = sum(1 for s in slots if s and not any(c.updated(p) for p in s))
            create_budget = min(create_budget, target - updated_slots)
            delete_budget = min(delete_budget, outdated_slots - c.R + target)
        single_outdated = [s[0] for s in slots if len(s) == 1 and not c.updated(s[0])]
        if c.in_place and all_eligible(c, single_outdated):
            candidates = single_outdated
            if target is not None:
                # Interleave: in-progress pods plus the first target − updated candidates in
                # slot order, chosen before the in-place step sorts them
                candidates = step_candidates(c.h, single_outdated, max(0, target - updated_slots))
            in_place_step(c, candidates, delete_budget)
            return len(c.actions) > n0
        if c.podsets and c.role.strategy.type == IN_PLACE and single_outdated:
            c.actions.append(
                RecordEvent(
                    "RoleSet",
                    c.rs.name,
                    "InPlaceFallback",
                    f"role {c.role.name}: PodSet roles are always recreated",
                )
            )
        for i, pods in enumerate(slots):
            if len(pods) != 1 or c.updated(pods[0]):
                continue
            p = pods[0]
            if not p.ready:
                c.delete(p)
            elif delete_budget > 0:
                c.delete(p)
                delete_budget -= 1
            elif create_budget > 0:
                c.create(i)
                create_budget -= 1
        return len(c.actions) > n0

    def rollout(self, c: RoleCtx) -> bool:
        return self._rollout(c, None)

    def rollout_by_step(self, c: RoleCtx, step: int) -> bool:
        return self._rollout(c, min(c.L * step, c.R))

    def all_ready(self, c: RoleCtx) -> bool:
        slots, unslotted = self.slots(c)
        if c.inactive or unslotted:
            return False
        if any(not (p.ready and c.updated(p)) for p in c.active):
            return False
        return all(len(s) == 1 for s in slots)

    def check_current_step(self, c: RoleCtx) -> tuple[bool, int]:
        slots, unslotted = self.slots(c)
        u = sum(1 for s in slots if len(s) == 1 and c.updated(s[0]) and s[0].ready)
        u_a = sum(1 for s in slots if any(c.updated(p) for p in s))
        o_a = sum(1 for s in slots if s and not any(c.updated(p) for p in s))
        no_inactive = not c.inactive
        no_not_ready = all(p.ready for p in c.active)
        n = len(slots)
        step = go_div(u - 1, c.L) + 1
        if (
            (not unslotted and no_inactive and no_not_ready and u == c.L * step)
            or u_a > c.L * step
            or o_a < n - c.L * step
        ):
            step += 1
        no_ready_outdated = not any(p.ready and not c.updated(p) for p in c.active)
        all_ready = not unslotted and no_inactive and no_not_ready and no_ready_outdated and u == n
        return all_ready, step


STATELESS = StatelessSyncer()
STATEFUL = StatefulSyncer()


def syncer_for(role: RoleSpec) -> StatelessSyncer | StatefulSyncer:
    """Stateful syncer for ``stateful: true`` roles, else stateless. PodSet roles
    (``podGroupSize > 1``) use the stateful slot rules over PodSets."""
    if role.stateful or role.group_size > 1:
        return STATEFUL
    return STATELESS


# ------------------------------------------------------------------------- managers


def sync_pods(rs: RoleSet, pods: Sequence[Pod], podsets: Sequence[PodSet] = ()) -> list[Action]:
    """Scale every role; if nothing was scaled, roll out per the RoleSet strategy.

    ``pods`` are the RoleSet's direct pods (PodSet members excluded), ``podsets`` its PodSets.
    A role first deletes the objects of the other kind (orphans after a ``podGroupSize``
    switch), which counts as scaling, for as long as any orphan is listed.
    """
    by_role: dict[str, list[Any]] = {r.name: [] for r in rs.spec.roles}
    orphans: dict[str, list[Action]] = {r.name: [] for r in rs.spec.roles}
    group_roles = {r.name for r in rs.spec.roles if r.group_size > 1}
    for p in pods:
        if p.role in group_roles:
            orphans[p.role].append(DeletePod(p.name))
        elif p.role in by_role:
            by_role[p.role].append(p)
    for ps in podsets:
        if ps.role in by_role and ps.role not in group_roles:
            orphans[ps.role].append(DeletePodSet(ps.name))
        elif ps.role in by_role:
            by_role[ps.role].append(ps)
    ctxs = {r.name: RoleCtx(rs, r, by_role[r.name]) for r in rs.spec.roles}
    actions: list[Action] = []
    changed = False
    for r in rs.spec.roles:
        c = ctxs[r.name]
        if orphans[r.name]:
            # the role's Scale deletes the other syncer's objects first: that is its scaling
            # for this pass (nothing is created in it); other roles scale as usual. Every
            # orphan still listed is deleted again, terminating ones included: a DELETE of a
            # terminating object succeeds, so the cleanup keeps reporting "cleaned" until the
            # old objects are gone, and no role of the RoleSet rolls out meanwhile
            # (cleanupOrphanPods / cleanupOrphanPodSets in pkg/controller/roleset/utils.go,
            # called first by every syncer's Scale).
            c.actions.extend(orphans[r.name])
            changed = True
            continue
        changed |= syncer_for(r).scale(c)
    if not changed:
        strategy = rs.spec.strategy
        if strategy == "Parallel":
            for r in rs.spec.roles:
                syncer_for(r).rollout(ctxs[r.name])
        elif strategy == "Interleave":
            steps = {r.name: syncer_for(r).check_current_step(ctxs[r.name]) for r in rs.spec.roles}
            pending = [s for ar, s in steps.values() if not ar]
            if pending:
                global_step = min(pending)
                for r in rs.spec.roles:
                    ar, s = steps[r.name]
                    if not ar and s <= global_step:
                        syncer_for(r).rollout_by_step(ctxs[r.name], global_step)
        else:  # Sequential (also empty / unknown)
            for r in sort_roles_by_upgrade_order(rs.spec.roles):
                sy = syncer_for(r)
                c = ctxs[r.name]
                n0 = len(c.actions)
                sy.rollout(c)
                new = c.actions[n0:]
                if new and not all(isinstance(a, CompleteInPlace) for a in new):
                    break
                if new:
                    # only in-place completions: AllReady sees the promoted pods (consistent
                    # view), so the next role may start in this same pass
                    done = {a.name for a in new if isinstance(a, CompleteInPlace)}
                    c = RoleCtx(
                        rs,
                        r,
                        [
                            evolve(p, template_hash=c.h, in_place_target=None)
                            if p.name in done
                            else p
                            for p in c.pods
                        ],
                    )
                if not sy.all_ready(c):
                    break
    for r in rs.spec.roles:
        actions.extend(ctxs[r.name].actions)
    return actions


# ------------------------------------------------------------------------- status


def roleset_status(
    rs: RoleSet, pods: Sequence[Pod], podsets: Sequence[PodSet] = ()
) -> RoleSetStatus:
    """Per-role counts and the Ready condition (every role has at least ``replicas`` ready
    units; old-version and surge units count). Direct-pod roles count active pods; PodSet
    roles count all PodSets, terminating included, ready = phase Ready and not deleting."""
    roles = []
    not_ready_roles = []
    for r in rs.spec.roles:
        h = rs.role_hashes[r.name]
        if r.group_size > 1:
            sets = [ps for ps in podsets if ps.role == r.name]
            upd = [ps for ps in sets if ps.template_hash == h]
            ready = sum(1 for ps in sets if ps.ready)
            st = RoleStatus(
                r.name,
                len(sets),
                ready,
                len(sets) - ready,
                len(upd),
                sum(1 for ps in upd if ps.phase == READY),
            )
        else:
            active = [p for p in pods if p.role == r.name and p.active]
            nready = sum(1 for p in active if p.ready)
            updated = [p for p in active if p.template_hash == h]
            st = RoleStatus(
                r.name,
                len(active),
                nready,
                len(active) - nready,
                len(updated),
                sum(1 for p in updated if p.ready),
            )
        roles.append(st)
        if st.ready_replicas < max(0, r.replicas):
            not_ready_roles.append(r.name)
    if not_ready_roles:
        cond = Condition(
            READY, "False", "RolesNotReady", "not ready: " + ", ".join(not_ready_roles)
        )
    else:
        cond = Condition(READY, "True", "AllRolesReady")
    return RoleSetStatus(tuple(roles), (cond,))


def _post_view(
    rs: RoleSet, pods: Sequence[Pod], podsets: Sequence[PodSet], actions: Sequence[Action]
) -> tuple[list[Pod], list[PodSet]]:
    deleted = {a.name for a in actions if isinstance(a, DeletePod | DeletePodSet)}
    out = [evolve(p, deleting=True) if p.name in deleted else p for p in pods]
    sets = [evolve(p, deleting=True) if p.name in deleted else p for p in podsets]
    for i, a in enumerate(actions):
        if isinstance(a, CreatePod):
            out.append(
                Pod(
                    a.name or f"<new-{i}>",
                    rs.name,
                    a.role,
                    a.template_hash,
                    a.revision,
                    0.0,
                    -1,
                    slot=a.slot,
                )
            )
        elif isinstance(a, CreatePodSet):
            role = rs.spec.role(a.role)
            size = role.group_size if role else 1
            sets.append(
                PodSet(a.name, rs.name, a.role, a.template_hash, a.revision, a.slot, size, 0.0, -1)
            )
    return out, sets


def _same_status(a: RoleSetStatus | None, b: RoleSetStatus) -> bool:
    """Condition writes are skipped when only the message changed."""
    if a is None:
        return False
    strip = lambda s: tuple(evolve(c, message="") for c in s.conditions)  # noqa: E731
    return a.roles == b.roles and strip(a) == strip(b)


def reconcile_roleset(rs: RoleSet, pods: Sequence[Pod], podsets: Sequence[PodSet] = ()) -> Result:
    """One RoleSet pass. ``pods`` are the RoleSet's direct pods (not PodSet
    members), ``podsets`` its PodSets."""
    res = Result()
    if rs.deleting:
        # finalizer: PodSets first, then pods, each stage waiting for the previous to vanish
        if podsets:
            res.actions.extend(DeletePodSet(p.name) for p in podsets if not p.deleting)
            res.requeue_after = REQUEUE_FINALIZE_S
        elif pods:
            res.actions.extend(DeletePod(p.name) for p in pods if not p.deleting)
            res.requeue_after = REQUEUE_FINALIZE_S
        else:
            res.actions.append(SetFinalizer("RoleSet", rs.name, False))
        return res
    if not rs.finalizer:
        res.actions.append(SetFinalizer("RoleSet", rs.name, True))
        return res
    actions = sync_pods(rs, pods, podsets)
    res.actions.extend(actions)
    post_pods, post_sets = _post_view(rs, pods, podsets, actions)
    status = roleset_status(rs, post_pods, post_sets)
    in_place = any(p.in_place_target is not None for p in pods)
    if _same_status(rs.status, status):
        if in_place or not status.ready:
            res.requeue_after = REQUEUE_RETRY_S
    else:
        res.status = status
        if in_place:
            res.requeue_after = REQUEUE_RETRY_S
    return res
