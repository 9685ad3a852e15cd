"""Pod lifecycle: every write that creates, binds, readies, restarts or deletes a pod.

:class:`Pods` owns the scheduler and the kubelet of one world and is the only place that
writes pods to the store, so the records (``recorder.pods``, events) and the data plane's
notifications (:class:`PodTraffic`) follow every step of a pod's life. The scheduler and the
kubelet call back into it through the narrow hooks they declare (``bind``; the
:class:`~stormsim.sim.kubelet.KubeletHooks`).
"""

from __future__ import annotations

from typing import Any, Protocol

from stormsim.control.objects import RUNNING, Pod, RoleSet, evolve
from stormsim.errors import InputError, Problem
from stormsim.schema.aibrix import PodTemplate, RoleSpec
from stormsim.sim.clock import Clock
from stormsim.sim.cluster import DurationOf, Node, Scheduler, pod_requests
from stormsim.sim.kubelet import Kubelet
from stormsim.sim.recorder import Recorder
from stormsim.sim.store import POD, Store


class PodTraffic(Protocol):
    """What the serving data plane is told about pods (see ``ServingPlane``)."""

    def pod_routable(self, pod: Pod) -> None: ...
    def pod_deleted(self, pod: Pod) -> None: ...
    def pod_gone(self, pod: Pod) -> None: ...
    def pod_restarting(self, pod: Pod) -> None: ...


def _min_member(strategy: dict[str, Any]) -> int | None:
    for sub in strategy.values():
        if isinstance(sub, dict) and isinstance(sub.get("minMember"), int):
            return int(sub["minMember"])
    return None


class Pods:
    """The pods of one world, from creation to gone."""

    def __init__(
        self,
        clock: Clock,
        store: Store,
        recorder: Recorder,
        nodes: list[Node],
        duration: DurationOf,
        traffic: PodTraffic | None = None,
    ):
        self.clock = clock
        self.store = store
        self.recorder = recorder
        self.traffic = traffic
        """The serving data plane, when the scenario has a workload."""
        self.scheduler = Scheduler(clock, nodes, store.pods, duration, recorder.event, self.bind)
        self.kubelet = Kubelet(clock, store.pods, duration, recorder.event, self)

    # ------------------------------------------------------------------------- create
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

    def create(
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
        now = self.clock.now
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
        pod = evolve(pod, node=node.name, phase=RUNNING, ready=True)
        self.recorder.pod(
            name, node=node.name, scheduled_at_s=now, ready_at_s=now, routable_at_s=now
        )
        st.put(POD, pod)
        if self.traffic is not None:
            self.traffic.pod_routable(pod)

    # ------------------------------------------------------------------------- change
    def patch_in_place(
        self,
        source: str,
        name: str,
        target_hash: str,
        images: tuple[str, ...],
        template: PodTemplate,
    ) -> None:
        """Start an in-place update: new images and target hash; a bound pod's containers
        restart."""
        pod = self.store.pods.get(name)
        if pod is None or pod.deleting:
            return
        now = self.clock.now
        self.recorder.event(
            now,
            source,
            "patch",
            POD,
            name,
            pod.revision,
            f"in-place update to {target_hash}: {', '.join(images)}",
        )
        patched = evolve(
            pod,
            images=images,
            template=template,
            in_place_target=target_hash,
            in_place_running=None,
        )
        self.store.put(POD, patched)
        if patched.node is not None:
            node = self.scheduler.by_name[patched.node]
            self.kubelet.restart(patched, node)

    def delete(self, source: str, name: str) -> None:
        """Mark a pod terminating; the kubelet lets it go after its grace period."""
        pod = self.store.pods.get(name)
        if pod is None or pod.deleting:
            return
        now = self.clock.now
        self.recorder.pod(name, deleted_at_s=now)
        self.recorder.event(now, source, "delete", POD, name, pod.revision)
        marked = evolve(pod, deleting=True)
        self.store.put(POD, marked)
        if self.traffic is not None:  # deregistered at once; in-flight work drains
            self.traffic.pod_deleted(marked)
        self.kubelet.delete(marked, self.gone)

    def gone(self, pod: Pod) -> None:
        """The pod has left the cluster: out of the store, its resources freed."""
        self.recorder.pod(pod.name, gone_at_s=self.clock.now)
        if self.traffic is not None:  # what is left on the pod fails (or is retried)
            self.traffic.pod_gone(pod)
        self.store.remove(POD, pod.name)
        if pod.node is None:
            self.scheduler.forget(pod.name)
        else:
            self.scheduler.release(pod)

    # ------------------------------------------------------------------------- scheduler hook
    def bind(self, pod: Pod, node: Node) -> None:
        now = self.clock.now
        self.recorder.pod(pod.name, node=node.name, scheduled_at_s=now)
        bound = evolve(pod, node=node.name)
        self.store.put(POD, bound)
        self.kubelet.start(bound, node)

    # ------------------------------------------------------------------------- kubelet hooks
    def set_running(self, pod: Pod) -> None:
        self.store.put(POD, evolve(pod, phase=RUNNING))

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
                rec["ready_at_s"] = self.clock.now
            if restarted:
                detail = "ready with new images" if in_place_running else "ready again"
                self.recorder.event(
                    self.clock.now, "kubelet", "restarted", POD, pod.name, pod.revision, detail
                )
        new = evolve(pod, ready=ready)
        if in_place_running is not None:
            new = evolve(new, in_place_running=in_place_running)
        self.store.put(POD, new)

    def pod_restarting(self, pod: Pod) -> None:
        """Containers of ``pod`` are being restarted in place: it is not Ready meanwhile."""
        self.recorder.event(self.clock.now, "kubelet", "restart", POD, pod.name, pod.revision)
        if self.traffic is not None:  # its requests fail like on a deleted pod
            self.traffic.pod_restarting(pod)
        self.store.put(POD, evolve(pod, ready=False, restart_count=pod.restart_count + 1))

    def set_routable(self, pod: Pod) -> None:
        self.recorder.pod(pod.name, routable_at_s=self.clock.now)
        if self.traffic is not None:
            self.traffic.pod_routable(pod)
