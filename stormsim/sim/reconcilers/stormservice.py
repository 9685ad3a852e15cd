"""The StormService controller in the world: reads the service, its revisions and the
RoleSets its selector matches; watches StormServices, RoleSets and ControllerRevisions."""

from __future__ import annotations

from stormsim.control.objects import RoleSet, StormServiceObj, StormServiceStatus, evolve
from stormsim.control.stormservice import reconcile_stormservice
from stormsim.schema.aibrix import LabelSelector
from stormsim.sim.controllers import ControllerContext, Reconcile, Registration, Watch
from stormsim.sim.store import CR, RS, SS


class StormServiceReconciler:
    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self._selector_cache: dict[tuple[str, str, str], bool] = {}
        self._selector: LabelSelector | None = None
        self._selector_json = ""
        """The JSON of the last selector read (specs are immutable: kept while the spec's
        selector object is the same)."""

    def __call__(self, name: str) -> tuple[float | None, bool]:
        ctx = self.ctx
        store = ctx.store
        reads = ctx.reads
        ss = reads.get(SS, name)
        if ss is None:
            return None, False
        if ss.spec.selector is not self._selector:
            self._selector = ss.spec.selector
            self._selector_json = ss.spec.selector.model_dump_json()
        sel = self._selector_json
        # the store keeps RoleSets in insertion (= creation) order: no sort needed
        all_rs = reads.values(RS)
        # labels depend only on (owner, revision): match each distinct pair once
        ok = {k for k in {(r.owner, r.revision) for r in all_rs} if self._selected(ss, sel, *k)}
        rolesets = [r for r in all_rs if (r.owner, r.revision) in ok]
        now = ctx.clock.now
        res = reconcile_stormservice(ss, reads.values(CR), rolesets, now, ctx.profile)
        ctx.apply("stormservice-controller", res.actions)
        if res.status is not None:
            cur = store.stormservices.get(name)
            if cur is not None:
                assert isinstance(res.status, StormServiceStatus)
                store.put(SS, evolve(cur, status=res.status))
                st = res.status
                ctx.recorder.event(
                    now,
                    "stormservice-controller",
                    "status",
                    SS,
                    name,
                    st.update_revision,
                    f"{st.conditions[0].type} replicas={st.replicas} ready={st.ready_replicas} "
                    f"updated={st.updated_replicas} current={st.current_revision}",
                )
        return res.requeue_after, res.time_sensitive

    def _rs_labels(self, owner: str, revision: str) -> dict[str, str]:
        """A RoleSet's labels: its revision's template labels plus the controller's."""
        rev = self.ctx.reads.get(CR, revision)
        labels = dict(rev.template.labels) if rev is not None else {}
        labels["storm-service-name"] = owner
        labels["storm-service-revision"] = revision
        return labels

    def _selected(self, ss: StormServiceObj, sel: str, owner: str, revision: str) -> bool:
        """Whether the selector (``sel``: its JSON) matches RoleSets of ``owner`` at
        ``revision``, cached per selector and revision."""
        key = (sel, owner, revision)
        hit = self._selector_cache.get(key)
        if hit is None:
            hit = self._selector_cache[key] = ss.spec.selector.matches(
                self._rs_labels(owner, revision)
            )
        return hit


def _setup(ctx: ControllerContext) -> Reconcile:
    return StormServiceReconciler(ctx)


def ss_status_write_unseen(
    ctx: ControllerContext, old: StormServiceObj | None, new: StormServiceObj | None
) -> bool:
    """The StormService controller's own status write, changing none of the status fields its
    decisions read (current revision, collision count, current/updated replica counts for a
    paused service's proportional split). Its next pass would compute the same actions (none)
    and the same status. The ``aibrix-latest`` profile also reads progress fields: never
    elided there."""
    if old is None or new is None or old.status is None or new.status is None:
        return False
    if ctx.profile != "aibrix-e3e10f9e":
        return False
    a, b = old.status, new.status
    return (
        old.spec is new.spec
        and old.generation == new.generation
        and old.finalizer == new.finalizer
        and old.deleting == new.deleting
        and a.current_revision == b.current_revision
        and a.update_revision == b.update_revision
        and a.collision_count == b.collision_count
        and a.current_replicas == b.current_replicas
        and a.updated_replicas == b.updated_replicas
    )


def roleset_finalizer_change(
    _ctx: ControllerContext, old: RoleSet | None, new: RoleSet | None
) -> bool:
    """Only the finalizer changed: the StormService controller does not read it."""
    if old is None or new is None:
        return False
    return (
        old.finalizer != new.finalizer
        and old.status is new.status
        and old.spec is new.spec
        and old.revision == new.revision
        and old.deleting == new.deleting
    )


REGISTRATION = Registration(
    name="stormservice-controller",
    stream="stormservice",
    kind=SS,
    watches=(
        Watch(SS, lambda _ctx, ss: ss.name, ss_status_write_unseen),
        Watch(RS, lambda _ctx, rs: rs.owner, roleset_finalizer_change),
        # a ControllerRevision has no owner field here: the world runs one service
        Watch(CR, lambda ctx, _rev: ctx.service),
    ),
    setup=_setup,
)
