"""The simulated world: store + controllers + scheduler + kubelet + scenario events.

``World(scenario, seed, recorder).run()`` simulates one scenario. The controllers are the pure
functions of :mod:`stormsim.control`, driven by :class:`~stormsim.sim.controllers.Controller`
work queues; every write goes through the store, which notifies the controllers, the
scheduler and the state counters (one time-series row per instant the state changed).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

import simpy

from stormsim.control.convergence import role_converged
from stormsim.control.objects import READY as READY_PHASE
from stormsim.control.objects import (
    RUNNING,
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
    Pod,
    PodSet,
    RecordEvent,
    RoleSet,
    RoleSetStatus,
    SetFinalizer,
    SetRevisionNumber,
    StormServiceObj,
    StormServiceStatus,
    UpdateRoleSet,
    WritePodSetStatus,
)
from stormsim.control.podset import reconcile_podset
from stormsim.control.revisions import compute_role_revisions, sync_revision
from stormsim.control.roleset import reconcile_roleset, stateful_pod_name
from stormsim.control.stormservice import reconcile_stormservice
from stormsim.errors import InputError, Problem
from stormsim.metrics.recorder import COUNTERS, Recorder
from stormsim.schema.aibrix import (
    GPU_RESOURCE,
    PodTemplate,
    RoleSetTemplate,
    RoleSpec,
    StormServiceSpec,
)
from stormsim.schema.scenario import (
    Apply,
    CrashPod,
    FailNode,
    Pause,
    Resume,
    Rollback,
    Scale,
    Scenario,
    SetImage,
)
from stormsim.sim.cluster import Kubelet, Node, Scheduler, build_nodes, pod_requests
from stormsim.sim.controllers import Controller
from stormsim.sim.rng import Sampler, stream
from stormsim.sim.serving import ServingPlane
from stormsim.sim.store import CR, POD, PS, RS, SS, Store

SETTLE_CAP_S = 3600.0
"""Default run end: this long after the last event if the service never settles."""


# Watch events that change nothing a controller's pure function reads do not enqueue it: the
# pass they would cause is provably a no-op (same inputs, no time dependence), exactly like the
# idle requeues elided in sim/controllers.py. This removes about half the passes of a rollout.


def _pod_change_unseen(old: Pod | None, new: Pod | None) -> bool:
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


def _roleset_status_write(old: RoleSet | None, new: RoleSet | None) -> bool:
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


def _roleset_finalizer_change(old: RoleSet | None, new: RoleSet | None) -> bool:
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


def _ss_status_write_unseen(
    old: StormServiceObj | None, new: StormServiceObj | None, profile: str
) -> bool:
    """The StormService controller's own status write, changing none of the status fields its
    decisions read (current revision, collision count, current/updated replica counts for a
    paused service's proportional split). Its next pass would compute the same actions (none)
    and the same status. The ``aibrix-latest`` profile also reads progress fields: never
    elided there."""
    if old is None or new is None or old.status is None or new.status is None:
        return False
    if profile != "aibrix-e3e10f9e":
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


def _min_member(strategy: dict[str, Any]) -> int | None:
    for sub in strategy.values():
        if isinstance(sub, dict) and isinstance(sub.get("minMember"), int):
            return int(sub["minMember"])
    return None


class Stats:
    """State counters kept incrementally: each object contributes a few named counts; a write
    subtracts the old object's contribution and adds the new one's."""

    def __init__(self) -> None:
        self.c: dict[str, float] = {}
        self.contrib: dict[tuple[str, str], list[tuple[str, float]]] = {}
        self.update_revision = ""

    def _apply(self, items: list[tuple[str, float]], sign: float) -> None:
        c = self.c
        for k, v in items:
            c[k] = c.get(k, 0.0) + sign * v

    def set(self, kind: str, name: str, items: list[tuple[str, float]] | None) -> None:
        key = (kind, name)
        old = self.contrib.pop(key, None)
        if old:
            self._apply(old, -1.0)
        if items:
            self._apply(items, 1.0)
            self.contrib[key] = items

    def roleset_items(self, rs: RoleSet) -> list[tuple[str, float]]:
        rev = rs.revision
        items = [("rolesets_total", 1.0)]
        if rs.deleting:
            items += [("rolesets_terminating", 1.0), (f"rev.{rev}.rolesets_terminating", 1.0)]
        else:
            if rs.ready:
                items += [("rolesets_ready", 1.0), (f"rev.{rev}.rolesets_ready", 1.0)]
            else:
                items.append((f"rev.{rev}.rolesets_starting", 1.0))
            if rev == self.update_revision:
                items.append(("rolesets_updated", 1.0))
        return items

    @staticmethod
    def pod_items(p: Pod) -> list[tuple[str, float]]:
        rev = p.revision
        items = [("pods_total", 1.0)]
        if p.deleting:
            items += [("pods_terminating", 1.0), (f"rev.{rev}.pods_terminating", 1.0)]
        elif p.ready:
            items += [
                ("pods_ready", 1.0),
                (f"role.{p.role}.pods_ready", 1.0),
                (f"rev.{rev}.pods_ready", 1.0),
            ]
        else:
            items.append((f"rev.{rev}.pods_starting", 1.0))
            if p.node is None:
                items.append(("pods_pending", 1.0))
                if p.gpus:
                    items.append(("gpus_pending", float(p.gpus)))
        if p.node is not None and p.gpus:
            items.append(("gpus_allocated", float(p.gpus)))
            if not p.deleting:
                items.append(("gpus_live", float(p.gpus)))
        return items


class World:
    """One simulation. Build it, then call :meth:`run`."""

    def __init__(self, scenario: Scenario, seed: int, recorder: Recorder | None = None):
        self.scenario = scenario
        self.seed = seed
        self.env = simpy.Environment()
        self.recorder = recorder or Recorder()
        self.store = Store()
        self.stats = Stats()
        self.startup = Sampler(seed, "startup")
        self.fault_rng = stream(seed, "faults")
        self.ctl_rng = Sampler(seed, "controllers")
        self.nodes: list[Node] = build_nodes(scenario.cluster)
        self.scheduler = Scheduler(self, self.nodes)
        self.kubelet = Kubelet(self, self.scheduler)
        self.ss_name = scenario.service.manifest.name
        self.role_names = scenario.all_role_names()
        latency = scenario.timing.reconcile_latency_s
        self.ss_ctrl = Controller(
            self.env,
            "stormservice-controller",
            self._reconcile_ss,
            lambda: self.ctl_rng.draw(latency, "stormservice"),
        )
        self.rs_ctrl = Controller(
            self.env,
            "roleset-controller",
            self._reconcile_rs,
            lambda: self.ctl_rng.draw(latency, "roleset"),
        )
        self.ps_ctrl = Controller(
            self.env,
            "podset-controller",
            self._reconcile_ps,
            lambda: self.ctl_rng.draw(latency, "podset"),
        )
        self.store.listeners.append(self._on_change)
        self.events_done = False
        self.settled = self.env.event()
        self.settled_at: float | None = None
        self._settled_state = False
        self._selector_cache: dict[tuple[str, str, str], bool] = {}
        self._template_canonical = ""
        c = self.stats.c
        for k in COUNTERS:
            c[k] = 0.0
        c["gpus_capacity"] = float(sum(n.capacity.get(GPU_RESOURCE, 0) for n in self.nodes))
        c["replicas_desired"] = 0.0
        for r in self.role_names:
            c[f"role.{r}.pods_ready"] = 0.0
            c[f"role.{r}.pods_desired"] = 0.0
        self.recorder.sample(0.0, c)
        self._sample_t = 0.0
        self._sample_dirty = False
        self.env.process(self._scenario_events())
        # serving data plane (issue 4): traffic through the routable pods
        self.serving = ServingPlane(self) if scenario.workload is not None else None

    # ------------------------------------------------------------------------- helpers
    def duration(self, role: str, key: str) -> float:
        return self.startup.draw(self.scenario.timing.for_role(role, key), f"{key}/{role}")

    @property
    def now(self) -> float:
        return self.env.now

    # ------------------------------------------------------------------------- watch
    def _flush_sample(self) -> None:
        """Record the counters as they stood at the end of the last instant with changes."""
        if self._sample_dirty:
            self.recorder.sample(self._sample_t, self.stats.c)
            self._sample_dirty = False

    def _on_change(self, kind: str, old: Any, new: Any) -> None:
        self._counters_changing()
        obj = new if new is not None else old
        stats = self.stats
        if kind == POD:
            stats.set(POD, obj.name, stats.pod_items(new) if new is not None else None)
            if not _pod_change_unseen(old, new):
                if obj.podset is not None:
                    self.ps_ctrl.add(obj.podset)
                else:
                    self.rs_ctrl.add(obj.roleset)
        elif kind == PS:
            self.ps_ctrl.add(obj.name)
            self.rs_ctrl.add(obj.roleset)
        elif kind == RS:
            stats.set(RS, obj.name, stats.roleset_items(new) if new is not None else None)
            if not _roleset_status_write(old, new):
                self.rs_ctrl.add(obj.name)
            if not _roleset_finalizer_change(old, new):
                self.ss_ctrl.add(obj.owner)
            if new is not None and new.ready and not (old is not None and old.ready):
                rec = self.recorder.rolesets.get(obj.name)
                if rec is not None and rec["ready_at_s"] is None:
                    rec["ready_at_s"] = self.env.now
        elif kind == SS:
            if not _ss_status_write_unseen(old, new, self.scenario.controller.profile):
                self.ss_ctrl.add(obj.name)
            if new is not None:
                self._on_ss(old, new)
        elif kind == CR:
            self.ss_ctrl.add(self.ss_name)
        if self._settled_state or kind == SS or self._ss_ready():
            self._check_settled()

    def _on_ss(self, old: StormServiceObj | None, new: StormServiceObj) -> None:
        c = self.stats.c
        spec = new.spec
        c["replicas_desired"] = float(spec.replicas)
        for r in self.role_names:
            role = spec.template.spec.role(r)
            c[f"role.{r}.pods_desired"] = (
                float(spec.replicas * role.replicas * role.group_size) if role else 0.0
            )
        upd = new.status.update_revision if new.status else ""
        if upd != self.stats.update_revision:
            self.stats.update_revision = upd
            for rs in self.store.rolesets.values():
                self.stats.set(RS, rs.name, self.stats.roleset_items(rs))
        if new.status is not None and (old is None or old.status is not new.status):
            self.recorder.status_write(
                self.env.now, new.generation, new.status, new.spec.paused, new.spec.replicas
            )

    def _ss_ready(self) -> bool:
        ss = self.store.stormservices.get(self.ss_name)
        return ss is not None and ss.status is not None and ss.status.ready

    def is_settled(self) -> bool:
        """The service is done rolling: AIBrix reports it Ready with ``currentRevision ==
        updateRevision`` for the current generation (spec §3.7) AND the fleet has converged:
        every live RoleSet is at the update revision and each of its roles has converged
        (:func:`~stormsim.control.convergence.role_converged`: exactly ``replicas`` ready
        units of the current template, none mid in-place update, one per slot for slot-based
        roles).

        The second half guards against AIBrix reporting Ready from stale RoleSet statuses
        (e.g. right after an in-place RoleSet update, before the RoleSet controller has
        recomputed its status against the new spec)."""
        ss = self.store.stormservices.get(self.ss_name)
        if ss is None or ss.status is None:
            return False
        st = ss.status
        if not (
            st.ready
            and st.current_revision == st.update_revision
            and st.observed_generation == ss.generation
        ):
            return False
        live = [r for r in self.store.rolesets.values() if not r.deleting]
        if len(live) != ss.spec.replicas:
            return False
        for rs in live:
            if rs.revision != st.update_revision:
                return False
            pods = self.store.pods_of(rs.name)
            sets = self.store.podsets_of(rs.name)
            for role in rs.spec.roles:
                units: list[Any] = sets if role.group_size > 1 else pods
                mine = [u for u in units if u.role == role.name]
                if not role_converged(role, rs.role_hashes[role.name], mine):
                    return False
        return True

    def _check_settled(self) -> None:
        settled = self.is_settled()
        if settled != self._settled_state:
            self._settled_state = settled
            self.recorder.settled(self.env.now, settled)
        if settled and self.events_done and not self.settled.triggered:
            self.settled_at = self.env.now
            self.settled.succeed()

    # ------------------------------------------------------------------------- controllers
    def _reconcile_ss(self, name: str) -> tuple[float | None, bool]:
        ss = self.store.stormservices.get(name)
        if ss is None:
            return None, False
        sel = ss.spec.selector.model_dump_json()
        # the store keeps RoleSets in insertion (= creation) order: no sort needed
        all_rs = list(self.store.rolesets.values())
        # labels depend only on (owner, revision): match each distinct pair once
        ok = {k for k in {(r.owner, r.revision) for r in all_rs} if self._selected(ss, sel, *k)}
        rolesets = [r for r in all_rs if (r.owner, r.revision) in ok]
        res = reconcile_stormservice(
            ss,
            list(self.store.revisions.values()),
            rolesets,
            self.now,
            self.scenario.controller.profile,
        )
        self._apply("stormservice-controller", res.actions)
        if res.status is not None:
            cur = self.store.stormservices.get(name)
            if cur is not None:
                assert isinstance(res.status, StormServiceStatus)
                self.store.put(SS, replace(cur, status=res.status))
                st = res.status
                self.recorder.event(
                    self.now,
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
        rev = self.store.revisions.get(revision)
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

    def _reconcile_rs(self, name: str) -> float | None:
        rs = self.store.rolesets.get(name)
        if rs is None:
            return None
        pods = sorted(self.store.pods_of(name), key=lambda p: (p.created_at, p.seq))
        podsets = sorted(self.store.podsets_of(name), key=lambda p: (p.created_at, p.seq))
        res = reconcile_roleset(rs, pods, podsets)
        self._apply("roleset-controller", res.actions)
        if res.status is not None:
            cur = self.store.rolesets.get(name)
            if cur is not None:
                assert isinstance(res.status, RoleSetStatus)
                self.store.put(RS, replace(cur, status=res.status))
        return res.requeue_after

    def _reconcile_ps(self, name: str) -> float | None:
        ps = self.store.podsets.get(name)
        if ps is None:
            return None
        pods = sorted(self.store.pods_of_podset(name), key=lambda p: (p.created_at, p.seq))
        res = reconcile_podset(ps, pods)
        self._apply("podset-controller", res.actions)
        return res.requeue_after

    # ------------------------------------------------------------------------- actions
    def _apply(self, source: str, actions: list[Action]) -> None:
        st = self.store
        rec = self.recorder
        now = self.env.now
        for a in actions:
            if isinstance(a, CreatePod):
                self._create_pod(source, a)
            elif isinstance(a, DeletePod):
                self.delete_pod(source, a.name)
            elif isinstance(a, CreateRoleSet):
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
                rec.roleset(name, revision=a.revision, index=a.index, created_at_s=now)
                rec.event(now, source, "create", RS, name, a.revision)
                st.put(RS, rs)
            elif isinstance(a, DeleteRoleSet):
                found = st.rolesets.get(a.name)
                if found is None or found.deleting:
                    continue
                rs = found
                rec.roleset(a.name, deleted_at_s=now)
                rec.event(now, source, "delete", RS, a.name, rs.revision)
                if rs.finalizer:
                    st.put(RS, replace(rs, deleting=True))
                else:
                    self._roleset_gone(rs)
            elif isinstance(a, UpdateRoleSet):
                found = st.rolesets.get(a.name)
                if found is None:
                    continue
                rs = found
                rec.roleset(a.name, revision=a.revision)
                rec.event(now, source, "update", RS, a.name, a.revision, "in-place RoleSet update")
                st.put(
                    RS,
                    replace(
                        rs,
                        revision=a.revision,
                        spec=a.spec,
                        role_hashes=a.role_hashes,
                        role_revisions=a.role_revisions,
                    ),
                )
            elif isinstance(a, SetFinalizer):
                self._set_finalizer(a)
            elif isinstance(a, CreatePodSet):
                self._create_podset(source, a)
            elif isinstance(a, DeletePodSet):
                ps = st.podsets.get(a.name)
                if ps is None or ps.deleting:
                    continue
                rec.event(now, source, "delete", PS, a.name, ps.revision)
                if ps.finalizer:
                    st.put(PS, replace(ps, deleting=True))
                else:
                    st.remove(PS, a.name)
            elif isinstance(a, CreateGroupPod):
                self._create_group_pod(source, a)
            elif isinstance(a, WritePodSetStatus):
                ps = st.podsets.get(a.name)
                if ps is not None:
                    st.put(
                        PS,
                        replace(
                            ps, ready_pods=a.ready_pods, total_pods=a.total_pods, phase=a.phase
                        ),
                    )
            elif isinstance(a, PatchPodInPlace):
                self._patch_in_place(source, a)
            elif isinstance(a, CompleteInPlace):
                pod = st.pods.get(a.name)
                if pod is not None:
                    rec.pod(a.name, template_hash=a.template_hash, revision=a.revision)
                    rec.event(
                        now, source, "update", POD, a.name, a.revision, "in-place update completed"
                    )
                    st.put(
                        POD,
                        replace(
                            pod,
                            template_hash=a.template_hash,
                            revision=a.revision,
                            in_place_target=None,
                            in_place_running=None,
                        ),
                    )
            elif isinstance(a, CreateRevision):
                rev = replace(a.revision, created_at=now)
                rec.revision(rev.name, revision=rev.revision, created_at_s=now)
                rec.event(now, source, "create", CR, rev.name, rev.name, f"revision {rev.revision}")
                st.put(CR, rev)
            elif isinstance(a, SetRevisionNumber):
                old = st.revisions.get(a.name)
                if old is not None:
                    rec.revision(a.name, revision=a.revision)
                    rec.event(
                        now,
                        source,
                        "update",
                        CR,
                        a.name,
                        a.name,
                        f"revision {old.revision} -> {a.revision} (rollback)",
                    )
                    st.put(CR, replace(old, revision=a.revision))
            elif isinstance(a, DeleteRevision):
                if a.name in st.revisions:
                    rec.revision(a.name, deleted_at_s=now)
                    rec.event(now, source, "delete", CR, a.name, a.name, "history limit")
                    st.remove(CR, a.name)
            elif isinstance(a, RecordEvent):
                rec.event(now, source, "event", a.kind, a.name, "", f"{a.reason}: {a.message}")

    def _set_finalizer(self, a: SetFinalizer) -> None:
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
            st.put(a.kind, replace(obj, finalizer=True))
        elif not obj.deleting:
            st.put(a.kind, replace(obj, finalizer=False))
        elif a.kind == RS:
            self._roleset_gone(obj)
        else:
            st.remove(a.kind, a.name)

    def _roleset_gone(self, rs: RoleSet) -> None:
        self.recorder.roleset(rs.name, gone_at_s=self.env.now)
        self.store.remove(RS, rs.name)

    def _create_pod(self, source: str, a: CreatePod) -> None:
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
        self._new_pod(source, rs, role, name, a.template_hash, a.revision, a.slot, None, None)

    def _create_podset(self, source: str, a: CreatePodSet) -> None:
        st = self.store
        rs = st.rolesets.get(a.roleset)
        role = rs.spec.role(a.role) if rs is not None else None
        if rs is None or role is None or a.name in st.podsets:
            return
        now = self.env.now
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

    def _create_group_pod(self, source: str, a: CreateGroupPod) -> None:
        st = self.store
        ps = st.podsets.get(a.podset)
        rs = st.rolesets.get(ps.roleset) if ps is not None else None
        role = rs.spec.role(ps.role) if rs is not None and ps is not None else None
        name = f"{a.podset}-{a.index}"
        if ps is None or rs is None or role is None or name in st.pods:
            return
        self._new_pod(
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

    def _gang(self, rs: RoleSet, role: RoleSpec, podset: str | None) -> tuple[str | None, int]:
        """PodGroup and minMember for a new pod: the PodSet's group when the role sets a
        schedulingStrategy (PodSet roles), else the RoleSet's when the RoleSet sets one.
        A missing minMember means the whole group."""
        if podset is not None and role.scheduling_strategy:
            return podset, _min_member(role.scheduling_strategy) or role.group_size
        if rs.spec.scheduling_strategy:
            total = sum(r.replicas * r.group_size for r in rs.spec.roles)
            return rs.name, _min_member(rs.spec.scheduling_strategy) or total
        return None, 0

    def _new_pod(
        self,
        source: str,
        rs: RoleSet,
        role: RoleSpec,
        name: str,
        template_hash: str,
        revision: str,
        slot: int | None,
        podset: str | None,
        group_index: int | None,
        ready: bool = False,
        template: PodTemplate | None = None,
    ) -> None:
        """Create a pod; ``ready``: already bound, running and Ready (a fleet that starts
        deployed), else Pending and handed to the scheduler."""
        st = self.store
        now = self.env.now
        tmpl = template or role.template
        affinity = None
        tp = rs.spec.topology_policy
        if tp is not None:
            scope = tp.scope or "RoleSet"
            value = {"StormService": rs.owner, "RoleSet": rs.name, "Role": role.name}[scope]
            affinity = (tp.mode, tp.key, scope, value)
        gang, gang_min = self._gang(rs, role, podset)
        pod = Pod(
            name,
            rs.name,
            role.name,
            template_hash,
            revision,
            now,
            st.next_seq(),
            slot=slot,
            gpus=tmpl.gpus,
            images=tmpl.images(),
            podset=podset,
            group_index=group_index,
            template=tmpl,
            affinity=affinity,
            gang=gang,
            gang_min=gang_min,
        )
        self.recorder.pod(
            name,
            roleset=rs.name,
            role=role.name,
            revision=revision,
            template_hash=template_hash,
            slot=slot,
            gpus=pod.gpus,
            created_at_s=now,
            podset=podset,
        )
        self.recorder.event(now, source, "create", POD, name, revision)
        req = pod_requests(tmpl, self.scheduler.declared)
        if not ready:
            st.put(POD, pod)
            self.scheduler.submit(pod, req)
            return
        node = self.scheduler.place_now(pod, req)
        if node is None:
            raise InputError(
                Problem(
                    "service.initial_state",
                    f"the fleet does not fit the cluster: no node for pod {name} "
                    f"({pod.gpus} GPUs); add nodes or start with initial_state: deploy",
                )
            )
        node.images.update(pod.images)
        pod = replace(pod, node=node.name, phase=RUNNING, ready=True)
        self.recorder.pod(
            name, node=node.name, scheduled_at_s=now, ready_at_s=now, routable_at_s=now
        )
        st.put(POD, pod)
        if self.serving is not None:
            self.serving.pod_routable(pod)

    def _deploy_ready(self) -> None:
        """``service.initial_state: ready``: at t = 0 the service is already deployed at its
        first revision: RoleSets (and PodSets) with finalizers, every pod bound, its images
        cached on its node, Ready and routable. The controllers then find nothing to do but
        write statuses."""
        st = self.store
        m = self.scenario.service.manifest
        sync = sync_revision(self.ss_name, m.spec.template, [], "", 0, 0.0)
        self._apply("scenario", list(sync.actions))
        rev = st.revisions[sync.update.name]
        role_revs = compute_role_revisions(None, rev)
        for i in range(m.spec.replicas):
            name = st.generate_name(f"{self.ss_name}-roleset-")
            rs = RoleSet(
                name,
                self.ss_name,
                rev.name,
                i,
                rev.template.spec,
                rev.role_hashes,
                role_revs,
                0.0,
                st.next_seq(),
                finalizer=True,
            )
            self.recorder.roleset(name, revision=rev.name, index=i, created_at_s=0.0)
            self.recorder.event(0.0, "scenario", "create", RS, name, rev.name, "initial: ready")
            st.put(RS, rs)
            for role in rs.spec.roles:
                h = rev.role_hashes[role.name]
                revision = role_revs[role.name][1]
                for slot in range(max(0, role.replicas)):
                    if role.group_size > 1:
                        ps_name = stateful_pod_name(rs.name, role.name, h, slot)
                        size = role.group_size
                        st.put(
                            PS,
                            PodSet(
                                ps_name,
                                rs.name,
                                role.name,
                                h,
                                revision,
                                slot,
                                size,
                                0.0,
                                st.next_seq(),
                                finalizer=True,
                                ready_pods=size,
                                total_pods=size,
                                phase=READY_PHASE,
                                template=role.template,
                            ),
                        )
                        for k in range(size):
                            self._new_pod(
                                "scenario",
                                rs,
                                role,
                                f"{ps_name}-{k}",
                                h,
                                revision,
                                slot,
                                ps_name,
                                k,
                                ready=True,
                            )
                    else:
                        pod_name = (
                            stateful_pod_name(rs.name, role.name, h, slot)
                            if role.stateful
                            else st.generate_name(f"{rs.name}-{role.name}-")
                        )
                        self._new_pod(
                            "scenario",
                            rs,
                            role,
                            pod_name,
                            h,
                            revision,
                            slot if role.stateful else None,
                            None,
                            None,
                            ready=True,
                        )

    def _patch_in_place(self, source: str, a: PatchPodInPlace) -> None:
        pod = self.store.pods.get(a.name)
        if pod is None or pod.deleting:
            return
        now = self.env.now
        self.recorder.event(
            now,
            source,
            "patch",
            POD,
            a.name,
            pod.revision,
            f"in-place update to {a.target_hash}: {', '.join(a.images)}",
        )
        patched = replace(
            pod,
            images=a.images,
            template=a.template,
            in_place_target=a.target_hash,
            in_place_running=None,
        )
        self.store.put(POD, patched)
        if patched.node is not None:
            node = self.scheduler.by_name[patched.node]
            self.kubelet.restart(patched, node)

    def delete_pod(self, source: str, name: str) -> None:
        pod = self.store.pods.get(name)
        if pod is None or pod.deleting:
            return
        now = self.env.now
        self.recorder.pod(name, deleted_at_s=now)
        self.recorder.event(now, source, "delete", POD, name, pod.revision)
        marked = replace(pod, deleting=True)
        self.store.put(POD, marked)
        if self.serving is not None:  # deregistered at once; in-flight work drains
            self.serving.pod_deleted(marked)
        self.kubelet.delete(marked, self._pod_gone)

    def _pod_gone(self, pod: Pod) -> None:
        self.recorder.pod(pod.name, gone_at_s=self.env.now)
        if self.serving is not None:  # what is left on the pod fails (or is retried)
            self.serving.pod_gone(pod)
        self.store.remove(POD, pod.name)
        if pod.node is None:
            self.scheduler.forget(pod.name)
        else:
            self.scheduler.release(pod)

    # ------------------------------------------------------------------------- kubelet hooks
    def bind(self, pod: Pod, node: Node) -> None:
        now = self.env.now
        self.recorder.pod(pod.name, node=node.name, scheduled_at_s=now)
        bound = replace(pod, node=node.name)
        self.store.put(POD, bound)
        self.kubelet.start(bound, node)

    def set_ready(
        self,
        pod: Pod,
        ready: bool,
        in_place_running: str | None = None,
        restarted: bool = False,
    ) -> None:
        if ready:
            rec = self.recorder.pods.get(pod.name)
            if rec is not None and rec["ready_at_s"] is None:
                rec["ready_at_s"] = self.env.now
            if restarted:
                detail = "ready with new images" if in_place_running else "ready again"
                self.recorder.event(
                    self.env.now, "kubelet", "restarted", POD, pod.name, pod.revision, detail
                )
        new = replace(pod, ready=ready)
        if in_place_running is not None:
            new = replace(new, in_place_running=in_place_running)
        self.store.put(POD, new)

    def pod_restarting(self, pod: Pod) -> None:
        """Containers of ``pod`` are being restarted in place: it is not Ready meanwhile."""
        self.recorder.event(self.env.now, "kubelet", "restart", POD, pod.name, pod.revision)
        if self.serving is not None:  # its requests fail like on a deleted pod
            self.serving.pod_restarting(pod)
        self.store.put(POD, replace(pod, ready=False, restart_count=pod.restart_count + 1))

    def set_routable(self, pod: Pod) -> None:
        self.recorder.pod(pod.name, routable_at_s=self.env.now)
        if self.serving is not None:
            self.serving.pod_routable(pod)

    # ------------------------------------------------------------------------- scenario
    def _scenario_events(self) -> Generator[simpy.Event, Any, None]:
        m = self.scenario.service.manifest
        self._template_canonical = m.spec.template.canonical
        self.recorder.event(0.0, "scenario", "apply", SS, self.ss_name, "", "initial manifest")
        if self.scenario.service.initial_state == "ready":
            self._deploy_ready()
            self.store.put(SS, StormServiceObj(self.ss_name, m.spec, generation=1, finalizer=True))
        else:
            self.store.put(SS, StormServiceObj(self.ss_name, m.spec, generation=1))
        order = sorted(
            range(len(self.scenario.events)), key=lambda i: (self.scenario.events[i].at_s, i)
        )
        for i in order:
            ev = self.scenario.events[i]
            if ev.at_s > self.env.now:
                yield self.env.timeout(ev.at_s - self.env.now)
            self.apply_event(i)
        self.events_done = True
        self._check_settled()

    def _crash_pods(self, ev: CrashPod) -> None:
        """Fault: ``ev.count`` Ready pods (of ``ev.role``) crash and restart in place."""
        pods = sorted(
            (
                p
                for p in self.store.pods.values()
                if p.ready
                and not p.deleting
                and p.node is not None
                and (ev.role is None or p.role == ev.role)
            ),
            key=lambda p: p.name,
        )
        n = min(ev.count, len(pods))
        picks = sorted(self.fault_rng.choice(len(pods), size=n, replace=False)) if n else []
        self.recorder.event(
            self.env.now,
            "scenario",
            "crash_pod",
            POD,
            "",
            "",
            f"{n} of {len(pods)} ready pods of role {ev.role or '*'}",
        )
        for k in picks:
            pod = pods[int(k)]
            self.recorder.event(self.env.now, "fault", "crash", POD, pod.name, pod.revision)
            self.kubelet.restart(pod, self.scheduler.by_name[pod.node])  # type: ignore[index]

    def _fail_node(self, ev: FailNode) -> None:
        """Fault: a node is lost; its pods are gone at once, its resources leave the cluster
        (for ``ev.down_s`` seconds, or for good)."""
        on: dict[str, list[Pod]] = {n.name: [] for n in self.nodes}
        for p in self.store.pods.values():
            if p.node is not None:
                on[p.node].append(p)
        name = ev.node
        if name is None:
            live = [n for n in self.nodes if not n.down]
            if not live:
                return
            name = max(live, key=lambda n: (len(on[n.name]), -n.order)).name
        node = self.scheduler.by_name[name]
        if node.down:
            return
        now = self.env.now
        self.recorder.event(
            now,
            "scenario",
            "fail_node",
            "Node",
            name,
            "",
            f"{len(on[name])} pods lost" + (f", back in {ev.down_s:g} s" if ev.down_s else ""),
        )
        self.scheduler.node_down(node)
        self._counters_changing()
        self.stats.c["gpus_capacity"] -= node.capacity.get(GPU_RESOURCE, 0.0)
        for p in sorted(on[name], key=lambda p: p.name):
            self.delete_pod("node-lifecycle", p.name)
            marked = self.store.pods.get(p.name)
            if marked is not None:
                self._pod_gone(marked)
        if ev.down_s is not None:

            def back(_e: Any) -> None:
                self.recorder.event(self.env.now, "scenario", "node_up", "Node", name)
                self._counters_changing()
                self.stats.c["gpus_capacity"] += node.capacity.get(GPU_RESOURCE, 0.0)
                self.scheduler.node_up(node)

            self.env.timeout(ev.down_s).callbacks.append(back)

    def _counters_changing(self) -> None:
        """The state counters are about to change: if time moved on, the previous instant's
        final state is complete and gets its row (one row per instant)."""
        if self.env.now != self._sample_t:
            self._flush_sample()
            self._sample_t = self.env.now
        self._sample_dirty = True

    def apply_event(self, i: int) -> None:
        """Apply scenario event ``i`` to the StormService, as a user with kubectl would."""
        ev = self.scenario.events[i]
        if isinstance(ev, CrashPod):
            self._crash_pods(ev)
            return
        if isinstance(ev, FailNode):
            self._fail_node(ev)
            return
        ss = self.store.stormservices[self.ss_name]
        spec = ss.spec
        detail = ""
        if isinstance(ev, SetImage):
            data = spec.template.dump()
            for role in data["spec"]["roles"]:
                if ev.role is not None and role["name"] != ev.role:
                    continue
                containers = role["template"]["spec"]["containers"]
                target = next(
                    (c for c in containers if ev.container is None or c["name"] == ev.container),
                    None,
                )
                if target is not None:
                    target["image"] = ev.image
            spec = spec.model_copy(update={"template": RoleSetTemplate.model_validate(data)})
            detail = f"image {ev.image} for role {ev.role or '*'}"
        elif isinstance(ev, Apply):
            spec = ev.manifest.spec
            detail = f"manifest {ev.manifest_path or '(inline)'}"
        elif isinstance(ev, Scale):
            if (
                ev.role is None
                and ev.replicas > 1
                and spec.mode == "Pooled"
                and self.scenario.controller.profile == "aibrix-latest"
            ):
                # PR #2661: the /scale subresource rejects > 1 for a declared Pooled service
                self.recorder.event(
                    self.env.now,
                    "scenario",
                    "scale",
                    SS,
                    self.ss_name,
                    "",
                    f"rejected: /scale replicas={ev.replicas} on a Pooled StormService",
                )
                return
            if ev.role is None:
                spec = spec.model_copy(update={"replicas": ev.replicas})
                detail = f"/scale replicas={ev.replicas}"
            else:
                data = spec.template.dump()
                for role in data["spec"]["roles"]:
                    if role["name"] == ev.role:
                        role["replicas"] = ev.replicas
                spec = spec.model_copy(update={"template": RoleSetTemplate.model_validate(data)})
                detail = f"role {ev.role} replicas={ev.replicas}"
        elif isinstance(ev, Pause | Resume):
            spec = spec.model_copy(update={"paused": isinstance(ev, Pause)})
        elif isinstance(ev, Rollback):
            target = next(
                (r for r in self.store.revisions.values() if r.revision == ev.to_revision), None
            )
            if target is None:
                have = sorted(r.revision for r in self.store.revisions.values())
                raise InputError(
                    Problem(
                        f"events[{i}].to_revision",
                        f"no ControllerRevision with revision {ev.to_revision} at "
                        f"t={ev.at_s:g} s (existing: {have})",
                    )
                )
            spec = spec.model_copy(update={"template": target.template})
            detail = f"to revision {ev.to_revision} ({target.name})"
        spec = StormServiceSpec.model_validate(spec.model_dump(by_alias=True))
        self.recorder.event(self.env.now, "scenario", ev.kind, SS, self.ss_name, "", detail)
        if spec == ss.spec:
            return
        canonical = spec.template.canonical
        if canonical != self._template_canonical:
            self._template_canonical = canonical
            self.recorder.template_change(self.env.now, i, ev.kind)
        self.store.put(SS, replace(ss, spec=spec, generation=ss.generation + 1))

    # ------------------------------------------------------------------------- run
    def run(self, until_s: float | None = None, settle_cap_s: float = SETTLE_CAP_S) -> float:
        """Run to ``until_s``, or (``None``) until the service settles after the last event,
        capped at the last event + ``settle_cap_s``. Returns the end time (s)."""
        if until_s is not None:
            self.env.run(until=until_s)
        else:
            last = max((e.at_s for e in self.scenario.events), default=0.0)
            cap = self.env.timeout(last + settle_cap_s)
            self.env.run(until=self.env.any_of([self.settled, cap]))
            if self._finite_workload() and not cap.processed:
                self._run_until_drained()
        self._flush_sample()
        return float(self.env.now)

    def _finite_workload(self) -> bool:
        wl = self.scenario.workload
        return (
            self.serving is not None
            and wl is not None
            and (wl.arrival.kind == "trace" or wl.stop_s is not None or wl.max_requests is not None)
        )

    def _run_until_drained(self) -> None:
        """A finite workload (a trace, ``stop_s`` or ``max_requests``) runs on after the
        service settles until every request has arrived and ended, so a replay is complete;
        capped an hour after its last arrival (when known) or after now."""
        plane = self.serving
        assert plane is not None
        done = self.env.event()

        def poll() -> Generator[simpy.Event, Any, None]:
            while not plane.drained():
                yield self.env.timeout(1.0)
            done.succeed()

        self.env.process(poll())
        hint = plane.last_arrival_hint_s
        horizon = max(self.env.now, hint if hint is not None else self.env.now)
        cap = self.env.timeout(horizon - self.env.now + SETTLE_CAP_S)
        self.env.run(until=self.env.any_of([done, cap]))
