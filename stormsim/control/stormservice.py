"""The StormService controller as a pure function.

``reconcile_stormservice(ss, revisions, rolesets)`` performs one pass: revisions,
scaling or, when scaling was a no-op and the service is not paused, the rollout
(RollingUpdate or InPlaceUpdate), status and history truncation. The behaviour reproduced:
docs/aibrix/stormservice.md, docs/aibrix/revisions.md, docs/aibrix/inplace.md.

Deterministic choices where AIBrix is arbitrary: RoleSets are listed in creation order
(creation time, then creation sequence), which stands in for the informer cache's order.
The view is consistent: a pass sees every earlier write, and its status step sees its own
creates (as RoleSets with no status) and deletes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stormsim.control.fenceposts import (
    LATEST,
    is_rolling_update,
    resolved_mode,
    stormservice_budgets,
)
from stormsim.control.objects import (
    PROGRESSING,
    READY,
    Action,
    Condition,
    CreateRoleSet,
    DeleteRoleSet,
    Result,
    Revision,
    RoleSet,
    RoleStatus,
    SetFinalizer,
    StormServiceObj,
    StormServiceStatus,
    UpdateRoleSet,
    evolve,
)
from stormsim.control.revisions import compute_role_revisions, sync_revision, truncate_history
from stormsim.schema.aibrix import StormServiceSpec
from stormsim.units import round_half_away

REQUEUE_NOT_READY_S = 15.0
"""``DefaultRequeueAfter``: requeue of a StormService that is not Ready."""


def calculate_replicas(desired: int, current: int, updated: int) -> tuple[int, int]:
    """Proportional split of ``desired`` between two revisions (``calculateReplicas``),
    rounding half away from zero, the remainder going to the update revision."""
    if current + updated == desired:
        return current, updated
    if current + updated > 0:
        total = current + updated
        dc = round_half_away(current * desired / total)
        du = round_half_away(updated * desired / total)
        if dc + du != desired:
            du = desired - dc
        return dc, du
    return 0, desired


def sort_rolesets_for_deletion(rolesets: Sequence[RoleSet], update_revision: str) -> list[RoleSet]:
    """Old revision first, then not-ready first, otherwise stable (``sortRoleSetByRevision``)."""
    return sorted(rolesets, key=lambda r: (r.revision == update_revision, r.ready))


def is_all_role_updated(rs: RoleSet, ready_too: bool = False) -> bool:
    """Every status role that exists in the spec has ``updated(Ready)Replicas == replicas``;
    a RoleSet with no status is vacuously updated."""
    return rs.all_roles_updated_ready if ready_too else rs.all_roles_updated


def aggregate_role_statuses(
    rolesets: Sequence[RoleSet], update_revision: str
) -> tuple[RoleStatus, ...]:
    """Per-role sums over all RoleSets; updated counts are the replicas / ready replicas of the
    RoleSets at the update revision. Sorted by role name."""
    acc: dict[str, list[int]] = {}
    for rs in rolesets:
        st = rs.status
        if st is None:
            continue
        upd = rs.revision == update_revision
        for r in st.roles:
            a = acc.get(r.name)
            if a is None:
                a = acc[r.name] = [0, 0, 0, 0, 0]
            a[0] += r.replicas
            a[1] += r.ready_replicas
            a[2] += r.not_ready_replicas
            if upd:
                a[3] += r.replicas
                a[4] += r.ready_replicas
    return tuple(RoleStatus(name, *acc[name]) for name in sorted(acc))


@dataclass
class _Pass:
    ss: StormServiceObj
    current: Revision
    update: Revision
    all: list[RoleSet]
    actions: list[Action]
    created: list[CreateRoleSet]
    deleted: set[str]
    updated_in_place: dict[str, UpdateRoleSet]
    profile: str = "aibrix-e3e10f9e"
    _post: list[RoleSet] | None = None

    @property
    def spec(self) -> StormServiceSpec:
        return self.ss.spec

    def active(self) -> list[RoleSet]:
        return [r for r in self.all if not r.deleting]

    def create(self, count: int, revision: Revision, role_revs: dict[str, tuple[int, str]]) -> None:
        for i in range(count):
            a = CreateRoleSet(
                self.ss.name,
                revision.name,
                i,
                revision.template.spec,
                revision.role_hashes,
                role_revs,
            )
            self.actions.append(a)
            self.created.append(a)

    def delete(self, rs: RoleSet) -> None:
        if rs.name not in self.deleted:
            self.actions.append(DeleteRoleSet(rs.name))
            self.deleted.add(rs.name)

    # ------------------------------------------------------------------------- scaling
    def scaling(self) -> bool:
        spec = self.spec
        desired = spec.replicas
        max_surge, _, min_available = stormservice_budgets(spec, self.profile)
        active = self.active()
        diff = len(active) - desired
        cur, upd = self.current.name, self.update.name
        two = cur != upd
        paused_two = spec.paused and two
        status = self.ss.status or StormServiceStatus()
        if diff < 0:
            n = -diff
            if not paused_two:
                budget = min(n, desired + max_surge - len(self.all))
                if budget > 0:
                    self.create(
                        budget, self.update, compute_role_revisions(self.current, self.update)
                    )
                    return True
                return False
            e_cur, e_upd = calculate_replicas(
                desired, status.current_replicas, status.updated_replicas
            )
            at_upd = sum(1 for r in active if r.revision == upd)
            at_cur = len(active) - at_upd
            before = len(self.created)
            cur_revs = {
                r.name: (self.current.revision, cur) for r in self.current.template.spec.roles
            }
            self.create(max(0, e_cur - at_cur), self.current, cur_revs)
            self.create(
                max(0, e_upd - at_upd),
                self.update,
                compute_role_revisions(self.current, self.update),
            )
            return len(self.created) > before
        if diff > 0:
            if not paused_two:
                ready_count = sum(1 for r in active if r.ready)
                issued = False
                for rs in sort_rolesets_for_deletion(active, upd):
                    if diff == 0:
                        break
                    if rs.ready and ready_count <= min_available:
                        break
                    self.delete(rs)
                    issued = True
                    if rs.ready:
                        ready_count -= 1
                    diff -= 1
                return issued
            not_ready = [r for r in active if not r.ready]
            ready = [r for r in active if r.ready]
            if diff <= len(not_ready):
                for rs in not_ready[:diff]:
                    self.delete(rs)
                return False  # AIBrix returns "no scaling" here
            for rs in not_ready:
                self.delete(rs)
            ready_cur = [r for r in ready if r.revision != upd]
            ready_upd = [r for r in ready if r.revision == upd]
            e_cur, e_upd = calculate_replicas(desired, len(ready_cur), len(ready_upd))
            for rs in ready_cur[: max(0, len(ready_cur) - e_cur)]:
                self.delete(rs)
            for rs in ready_upd[: max(0, len(ready_upd) - e_upd)]:
                self.delete(rs)
            return bool(self.deleted)
        return False

    # ------------------------------------------------------------------------- rollout
    def rollout(self) -> None:
        upd = self.update.name
        desired = self.spec.replicas
        if sum(1 for r in self.all if r.revision == upd) == desired:
            return
        pooled_latest = self.profile == LATEST and resolved_mode(self.spec) == "Pooled"
        if is_rolling_update(self.spec) and not pooled_latest:
            self.rolling_update()
        else:
            self.in_place_update()

    def rolling_update(self) -> None:
        spec = self.spec
        desired = spec.replicas
        max_surge, _, min_available = stormservice_budgets(spec, self.profile)
        upd = self.update.name
        active = self.active()
        ready_count = sum(1 for r in active if r.ready)
        updated = [r for r in active if r.revision == upd]
        outdated = sorted((r for r in active if r.revision != upd), key=lambda r: r.ready)
        for rs in outdated:
            if rs.ready and ready_count <= min_available:
                break
            self.delete(rs)
            if rs.ready:
                ready_count -= 1
        surge = max(0, min(desired + max_surge - len(self.all), desired - len(updated)))
        self.create(surge, self.update, compute_role_revisions(self.current, self.update))

    def in_place_update(self) -> None:
        upd = self.update
        role_revs = compute_role_revisions(self.current, upd)
        for rs in self.all:
            if rs.revision != upd.name:
                a = UpdateRoleSet(rs.name, upd.name, upd.template.spec, upd.role_hashes, role_revs)
                self.actions.append(a)
                self.updated_in_place[rs.name] = a

    # ------------------------------------------------------------------------- status
    def post_view(self) -> list[RoleSet]:
        """The RoleSets as the status step sees them after this pass's writes (computed once,
        after scaling and rollout are done)."""
        if self._post is None:
            self._post = self._post_view()
        return self._post

    def _post_view(self) -> list[RoleSet]:
        if not (self.deleted or self.updated_in_place or self.created):
            return self.all
        out = []
        for rs in self.all:
            if rs.name in self.deleted:
                rs = evolve(rs, deleting=True)
            u = self.updated_in_place.get(rs.name)
            if u is not None:
                rs = evolve(rs, revision=u.revision, spec=u.spec, role_hashes=u.role_hashes)
            out.append(rs)
        for i, c in enumerate(self.created):
            out.append(
                RoleSet(
                    f"<new-{i}>",
                    c.owner,
                    c.revision,
                    c.index,
                    c.spec,
                    c.role_hashes,
                    c.role_revisions,
                    0.0,
                    -1,
                )
            )
        return out

    def status(self, collision_count: int) -> StormServiceStatus:
        ss = self.ss
        desired = ss.spec.replicas
        rolesets = self.post_view()
        cur, upd = self.current.name, self.update.name
        current_replicas = n_updated = n_updated_ready = ready = 0
        for r in rolesets:
            if r.revision == cur:
                current_replicas += 1
            if r.ready:
                ready += 1
            if r.revision == upd:
                if r.all_roles_updated:
                    n_updated += 1
                if r.ready and r.all_roles_updated_ready:
                    n_updated_ready += 1
        current_revision = cur
        if current_replicas == 0:
            current_replicas = n_updated
            current_revision = upd
        is_ready = (
            ready >= desired
            and n_updated == desired
            and len(rolesets) == desired
            and current_revision == upd
        )
        cond = (
            Condition(READY, "True", "Ready")
            if is_ready
            else Condition(PROGRESSING, "True", "Processing")
        )
        return StormServiceStatus(
            observed_generation=ss.generation,
            replicas=len(rolesets),
            ready_replicas=ready,
            not_ready_replicas=len(rolesets) - ready,
            current_replicas=current_replicas,
            updated_replicas=n_updated,
            updated_ready_replicas=n_updated_ready,
            current_revision=current_revision,
            update_revision=upd,
            collision_count=collision_count,
            conditions=(cond,),
            role_statuses=aggregate_role_statuses(rolesets, upd),
            scaling_target_selector=f"storm-service-name={ss.name}",
        )


DEFAULT_PROGRESS_DEADLINE_S = 600.0


def _latest_conditions(
    ss: StormServiceObj, status: StormServiceStatus, now: float
) -> tuple[StormServiceStatus, float | None]:
    """Conditions and progress deadline of the ``aibrix-latest`` profile (PR #2604): Ready
    only when ready; Progressing True, or False with ``ProgressDeadlineExceeded`` when no
    progress (more updated or ready RoleSets, fewer old ones, a new generation) was seen for
    ``progressDeadlineSeconds``; paused time does not count. Returns the status and the
    seconds until the deadline (``None``: no deadline pending)."""
    prev = ss.status
    deadline = float(ss.spec.progress_deadline_seconds or DEFAULT_PROGRESS_DEADLINE_S)
    last = prev.last_progress_at_s if prev is not None else None
    progressed = (
        prev is None
        or last is None
        or prev.observed_generation != status.observed_generation
        or status.updated_replicas > prev.updated_replicas
        or status.ready_replicas > prev.ready_replicas
        or (status.replicas - status.updated_replicas) < (prev.replicas - prev.updated_replicas)
        or any(c.reason == "DeploymentPaused" for c in prev.conditions)
    )
    if progressed:
        last = now
    assert last is not None
    mode = resolved_mode(ss.spec)
    if status.ready:
        conds: tuple[Condition, ...] = (
            Condition(READY, "True", "Ready"),
            Condition(PROGRESSING, "True", "NewRoleSetsAvailable"),
        )
        return evolve(status, conditions=conds, mode=mode, last_progress_at_s=last), None
    if ss.spec.paused:
        conds = (Condition(PROGRESSING, "Unknown", "DeploymentPaused"),)
        return evolve(status, conditions=conds, mode=mode, last_progress_at_s=last), None
    remaining = last + deadline - now
    if remaining <= 0:
        conds = (Condition(PROGRESSING, "False", "ProgressDeadlineExceeded"),)
        return evolve(status, conditions=conds, mode=mode, last_progress_at_s=last), None
    conds = (Condition(PROGRESSING, "True", "Processing"),)
    return evolve(status, conditions=conds, mode=mode, last_progress_at_s=last), remaining


def reconcile_stormservice(
    ss: StormServiceObj,
    revisions: Sequence[Revision],
    rolesets: Sequence[RoleSet],
    now: float = 0.0,
    profile: str = "aibrix-e3e10f9e",
) -> Result:
    """One StormService pass. ``rolesets`` are those matching the selector, in
    creation order; ``now`` stamps new revisions and, under the ``aibrix-latest`` profile,
    drives the progress deadline."""
    res = Result()
    if ss.deleting:
        live = [r for r in rolesets if not r.deleting]
        res.actions.extend(DeleteRoleSet(r.name) for r in live)
        if rolesets:
            res.requeue_after = REQUEUE_NOT_READY_S
        else:
            res.actions.append(SetFinalizer("StormService", ss.name, False))
        return res
    if not ss.finalizer:
        res.actions.append(SetFinalizer("StormService", ss.name, True))
    prev = ss.status or StormServiceStatus()
    sync = sync_revision(
        ss.name, ss.spec.template, revisions, prev.current_revision, prev.collision_count, now
    )
    res.actions.extend(sync.actions)
    p = _Pass(ss, sync.current, sync.update, list(rolesets), res.actions, [], set(), {}, profile)
    if not p.scaling() and not ss.spec.paused:
        p.rollout()
    status = p.status(sync.collision_count)
    post = p.post_view()
    remaining = None
    if profile == LATEST:
        status, remaining = _latest_conditions(ss, status, now)
    if status != ss.status:
        res.status = status
    if not status.ready:
        res.requeue_after = REQUEUE_NOT_READY_S
        if remaining is not None:
            res.requeue_after = min(REQUEUE_NOT_READY_S, remaining)
            res.time_sensitive = True
    live_names = {sync.current.name, sync.update.name} | {r.revision for r in post}
    res.actions.extend(truncate_history(sync.revisions, live_names, ss.spec.history_limit))
    return res
