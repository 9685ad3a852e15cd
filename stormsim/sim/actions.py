"""Applying controller actions to the store (what the API server does with a controller's
requests).

Every :data:`~stormsim.control.objects.Action` type has exactly one handler in
:data:`HANDLERS`; :meth:`Actions.apply` raises on a type without one, so a new action cannot
be dropped silently. Writes that concern pods go through :class:`~stormsim.sim.pods.Pods`.

A controller pass's actions go through :meth:`Actions.apply_pass`, which sends its batched
writes in slow-start rounds (:mod:`stormsim.control.batching`): round ``k`` lands
``k * api_call_s`` after the pass, and the controller stays busy until its last round
(:meth:`Actions.busy_s`). The pure controllers still return their full action lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from stormsim.control.batching import POD_BURST, POD_INITIAL, ROLESET_INITIAL, batch_rounds
from stormsim.control.objects import (
    Action,
    CompleteInPlace,
    CreateGroupPod,
    CreatePod,
    CreatePodSet,
    CreateRevision,
    CreateRoleSet,
    DeletePod,
    DeletePodSet,
    DeleteRevision,
    DeleteRoleSet,
    PatchPodInPlace,
    PodSet,
    RecordEvent,
    RoleSet,
    SetFinalizer,
    SetRevisionNumber,
    UpdateRoleSet,
    WritePodSetStatus,
    evolve,
)
from stormsim.sim.clock import Clock
from stormsim.sim.pods import Pods
from stormsim.sim.recorder import Recorder
from stormsim.sim.store import CR, POD, PS, RS, SS, Store


class Actions:
    """Carries out the actions of controller passes (and of the initial fleet)."""

    def __init__(
        self, clock: Clock, store: Store, recorder: Recorder, pods: Pods, api_call_s: float = 0.0
    ):
        self.clock = clock
        self.store = store
        self.recorder = recorder
        self.pods = pods
        self.api_call_s = api_call_s
        """Seconds each slow-start round after a pass's first costs (``controller.api_call_s``)."""
        self._busy_until: dict[str, float] = {}

    def apply_pass(self, source: str, actions: Sequence[Action]) -> None:
        """Apply one controller pass's ``actions`` in slow-start rounds: round 0 now, round
        ``k`` at ``now + k * api_call_s`` (in order; :func:`batch_rounds` says which action
        goes in which round). With ``api_call_s == 0`` everything is applied now."""
        if self.api_call_s <= 0 or not actions:
            self.apply(source, actions)
            return
        kinds = [type(a) for a in actions]
        rounds = batch_rounds([_batch_key(a) for a in actions], BATCHED, kinds)
        last = rounds[-1]
        if last == 0:
            self.apply(source, actions)
            return
        by_round: list[list[Action]] = [[] for _ in range(last + 1)]
        for a, r in zip(actions, rounds, strict=True):
            by_round[r].append(a)
        self.apply(source, by_round[0])
        now = self.clock.now
        for k in range(1, last + 1):
            batch = by_round[k]
            if batch:
                self.clock.timeout(k * self.api_call_s).callbacks.append(self._later(source, batch))
        self._busy_until[source] = now + last * self.api_call_s

    def _later(self, source: str, batch: list[Action]) -> Callable[[Any], None]:
        def fire(_e: Any) -> None:
            self.apply(source, batch)

        return fire

    def busy_s(self, source: str) -> float:
        """Seconds until ``source``'s last pass has sent its last round (0 when done)."""
        until = self._busy_until.get(source)
        return max(0.0, until - self.clock.now) if until is not None else 0.0

    def apply(self, source: str, actions: Sequence[Action]) -> None:
        """Apply ``actions`` in order; ``source`` names the writer in the event records."""
        handlers = HANDLERS
        for a in actions:
            handler = handlers.get(type(a))
            if handler is None:
                raise TypeError(f"no handler for action {type(a).__name__} (from {source})")
            handler(self, source, a)

    # ------------------------------------------------------------------------- revisions
    def create_revision(self, source: str, a: CreateRevision) -> None:
        now = self.clock.now
        rev = evolve(a.revision, created_at=now)
        self.recorder.revision(rev.name, revision=rev.revision, created_at_s=now)
        self.recorder.event(
            now, source, "create", CR, rev.name, rev.name, f"revision {rev.revision}"
        )
        self.store.put(CR, rev)

    def set_revision_number(self, source: str, a: SetRevisionNumber) -> None:
        st = self.store
        old = st.revisions.get(a.name)
        if old is None:
            return
        self.recorder.revision(a.name, revision=a.revision)
        self.recorder.event(
            self.clock.now,
            source,
            "update",
            CR,
            a.name,
            a.name,
            f"revision {old.revision} -> {a.revision} (an earlier template again)",
        )
        st.put(CR, evolve(old, revision=a.revision))

    def delete_revision(self, source: str, a: DeleteRevision) -> None:
        if a.name not in self.store.revisions:
            return
        now = self.clock.now
        self.recorder.revision(a.name, deleted_at_s=now)
        self.recorder.event(now, source, "delete", CR, a.name, a.name, "history limit")
        self.store.remove(CR, a.name)

    # ------------------------------------------------------------------------- RoleSets
    def create_roleset(self, source: str, a: CreateRoleSet) -> None:
        st = self.store
        now = self.clock.now
        name = st.generate_name(f"{a.owner}-roleset-")
        rs = RoleSet(
            name,
            a.owner,
            a.revision,
            a.index,
            a.spec,
            a.role_hashes,
            a.role_revisions,
            now,
            st.next_seq(),
        )
        self.recorder.roleset(name, revision=a.revision, index=a.index, created_at_s=now)
        self.recorder.event(now, source, "create", RS, name, a.revision)
        st.put(RS, rs)

    def delete_roleset(self, source: str, a: DeleteRoleSet) -> None:
        rs = self.store.rolesets.get(a.name)
        if rs is None or rs.deleting:
            return
        now = self.clock.now
        self.recorder.roleset(a.name, deleted_at_s=now)
        self.recorder.event(now, source, "delete", RS, a.name, rs.revision)
        if rs.finalizer:
            self.store.put(RS, evolve(rs, deleting=True))
        else:
            self._roleset_gone(rs)

    def update_roleset(self, source: str, a: UpdateRoleSet) -> None:
        rs = self.store.rolesets.get(a.name)
        if rs is None:
            return
        self.recorder.roleset(a.name, revision=a.revision)
        self.recorder.event(
            self.clock.now, source, "update", RS, a.name, a.revision, "in-place RoleSet update"
        )
        self.store.put(
            RS,
            evolve(
                rs,
                revision=a.revision,
                spec=a.spec,
                role_hashes=a.role_hashes,
                role_revisions=a.role_revisions,
            ),
        )

    def _roleset_gone(self, rs: RoleSet) -> None:
        self.recorder.roleset(rs.name, gone_at_s=self.clock.now)
        self.store.remove(RS, rs.name)

    def set_finalizer(self, source: str, a: SetFinalizer) -> None:
        """Add or remove an object's finalizer; removing the last one from an object that is
        being deleted lets it go (Kubernetes semantics)."""
        st = self.store
        tables: dict[str, dict[str, Any]] = {
            RS: st.rolesets,
            PS: st.podsets,
            SS: st.stormservices,
        }
        table = tables[a.kind]
        obj = table.get(a.name)
        if obj is None:
            return
        if a.present:
            st.put(a.kind, evolve(obj, finalizer=True))
        elif not obj.deleting:
            st.put(a.kind, evolve(obj, finalizer=False))
        elif a.kind == RS:
            self._roleset_gone(obj)
        else:
            st.remove(a.kind, a.name)

    # ------------------------------------------------------------------------- PodSets
    def create_podset(self, source: str, a: CreatePodSet) -> None:
        st = self.store
        rs = st.rolesets.get(a.roleset)
        role = rs.spec.role(a.role) if rs is not None else None
        if rs is None or role is None or a.name in st.podsets:
            return
        now = self.clock.now
        ps = PodSet(
            a.name,
            a.roleset,
            a.role,
            a.template_hash,
            a.revision,
            a.slot,
            role.group_size,
            now,
            st.next_seq(),
            template=role.template,
        )
        self.recorder.event(now, source, "create", PS, a.name, a.revision)
        st.put(PS, ps)

    def delete_podset(self, source: str, a: DeletePodSet) -> None:
        ps = self.store.podsets.get(a.name)
        if ps is None or ps.deleting:
            return
        self.recorder.event(self.clock.now, source, "delete", PS, a.name, ps.revision)
        if ps.finalizer:
            self.store.put(PS, evolve(ps, deleting=True))
        else:
            self.store.remove(PS, a.name)

    def write_podset_status(self, source: str, a: WritePodSetStatus) -> None:
        ps = self.store.podsets.get(a.name)
        if ps is not None:
            self.store.put(
                PS, evolve(ps, ready_pods=a.ready_pods, total_pods=a.total_pods, phase=a.phase)
            )

    # ------------------------------------------------------------------------- pods
    def create_pod(self, source: str, a: CreatePod) -> None:
        st = self.store
        rs = st.rolesets.get(a.roleset)
        if rs is None:
            return
        if a.name is not None and a.name in st.pods:
            return  # the API rejects a duplicate name; AIBrix ignores the error
        role = rs.spec.role(a.role)
        if role is None:
            return
        name = a.name or st.generate_name(f"{a.roleset}-{a.role}-")
        self.pods.create(source, rs, role, name, a.template_hash, a.revision, a.slot, None, None)

    def create_group_pod(self, source: str, a: CreateGroupPod) -> None:
        st = self.store
        ps = st.podsets.get(a.podset)
        rs = st.rolesets.get(ps.roleset) if ps is not None else None
        role = rs.spec.role(ps.role) if rs is not None and ps is not None else None
        name = f"{a.podset}-{a.index}"
        if ps is None or rs is None or role is None or name in st.pods:
            return
        self.pods.create(
            source,
            rs,
            role,
            name,
            ps.template_hash,
            ps.revision,
            ps.slot,
            ps.name,
            a.index,
            template=ps.template,
        )

    def delete_pod(self, source: str, a: DeletePod) -> None:
        self.pods.delete(source, a.name)

    def patch_pod_in_place(self, source: str, a: PatchPodInPlace) -> None:
        self.pods.patch_in_place(source, a.name, a.target_hash, a.images, a.template)

    def complete_in_place(self, source: str, a: CompleteInPlace) -> None:
        pod = self.store.pods.get(a.name)
        if pod is None:
            return
        self.recorder.pod(a.name, template_hash=a.template_hash, revision=a.revision)
        self.recorder.event(
            self.clock.now, source, "update", POD, a.name, a.revision, "in-place update completed"
        )
        self.store.put(
            POD,
            evolve(
                pod,
                template_hash=a.template_hash,
                revision=a.revision,
                in_place_target=None,
                in_place_running=None,
            ),
        )

    # ------------------------------------------------------------------------- events
    def record_event(self, source: str, a: RecordEvent) -> None:
        self.recorder.event(
            self.clock.now, source, "event", a.kind, a.name, "", f"{a.reason}: {a.message}"
        )


def _batch_key(a: Action) -> object | None:
    """What one ``slowStartBatch`` call groups: a role's pods, a RoleSet's PodSets."""
    if isinstance(a, CreatePod):
        return (a.roleset, a.role)
    if isinstance(a, CreatePodSet):
        return (a.roleset, a.role)
    return None


BATCHED: dict[type, tuple[int, int | None]] = {
    CreateRoleSet: (ROLESET_INITIAL, None),
    DeleteRoleSet: (ROLESET_INITIAL, None),
    UpdateRoleSet: (ROLESET_INITIAL, None),
    CreatePod: (POD_INITIAL, POD_BURST),
    DeletePod: (POD_INITIAL, POD_BURST),
    CreateGroupPod: (POD_INITIAL, POD_BURST),
    CreatePodSet: (1, 1),
    DeletePodSet: (1, 1),
}
"""The action types sent in slow-start batches: ``type -> (first batch, cap)``."""

Handler = Callable[[Actions, str, Any], None]

HANDLERS: dict[type, Handler] = {
    CreateRevision: Actions.create_revision,
    SetRevisionNumber: Actions.set_revision_number,
    DeleteRevision: Actions.delete_revision,
    CreateRoleSet: Actions.create_roleset,
    UpdateRoleSet: Actions.update_roleset,
    DeleteRoleSet: Actions.delete_roleset,
    CreatePod: Actions.create_pod,
    DeletePod: Actions.delete_pod,
    CreatePodSet: Actions.create_podset,
    DeletePodSet: Actions.delete_podset,
    CreateGroupPod: Actions.create_group_pod,
    WritePodSetStatus: Actions.write_podset_status,
    PatchPodInPlace: Actions.patch_pod_in_place,
    CompleteInPlace: Actions.complete_in_place,
    SetFinalizer: Actions.set_finalizer,
    RecordEvent: Actions.record_event,
}
"""The handler of each action type (``handler(actions, source, action)``)."""
