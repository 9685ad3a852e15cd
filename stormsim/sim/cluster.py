"""Nodes and the scheduler: where pods get GPUs.

Scheduler: a pod is tried ``scheduling_s`` after creation; it binds to the fitting node with
the fewest free GPUs (bin packing; ties in pool then node order). A pod that fits nowhere
stays Pending, holds nothing, and is retried (in creation order) whenever a pod leaves a node.

The scheduler reads the store's pods and writes nothing: a binding goes through the ``bind``
callable it is given (the pod lifecycle, :mod:`stormsim.sim.pods`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import simpy

from stormsim.control.objects import Pod
from stormsim.schema.aibrix import GPU_RESOURCE, PodTemplate
from stormsim.schema.scenario import Cluster, NodePool
from stormsim.sim.store import POD

DurationOf = Callable[[str, str], float]
"""``(role, timing key)`` -> a drawn duration in seconds (e.g. ``("decode", "image_pull_s")``)."""


class EventLog(Protocol):
    """Appends one event record (the recorder's ``event``)."""

    def __call__(
        self,
        t: float,
        source: str,
        verb: str,
        kind: str,
        name: str,
        revision: str = "",
        detail: str = "",
    ) -> None: ...


@dataclass
class Node:
    name: str
    pool: str
    gpu_type: str
    capacity: dict[str, float]
    labels: dict[str, str]
    free: dict[str, float] = field(default_factory=dict)
    images: set[str] = field(default_factory=set)
    pulling: dict[str, simpy.Event] = field(default_factory=dict)
    order: int = 0
    down: bool = False

    def fits(self, req: dict[str, float]) -> bool:
        if self.down:
            return False
        free = self.free
        return all(free.get(k, 0.0) >= v for k, v in req.items() if k in free)


def node_capacity(pool: NodePool) -> dict[str, float]:
    """What one node of ``pool`` offers: GPUs and the resources the pool declares."""
    cap: dict[str, float] = {GPU_RESOURCE: float(pool.gpus_per_node)}
    if pool.cpu is not None:
        cap["cpu"] = pool.cpu
    if pool.memory_gb is not None:
        cap["memory"] = pool.memory_gb * 2**30
    cap.update(pool.resources)
    return cap


def build_nodes(cluster: Cluster) -> list[Node]:
    nodes: list[Node] = []
    for pool in cluster.node_pools:
        for i in range(pool.count):
            cap = node_capacity(pool)
            labels = {"kubernetes.io/hostname": f"{pool.name}-{i}", **pool.labels}
            n = Node(f"{pool.name}-{i}", pool.name, pool.gpu_type, cap, labels, order=len(nodes))
            n.free = dict(cap)
            n.images = set(pool.prepulled_images)
            nodes.append(n)
    return nodes


def pod_requests(template: PodTemplate, declared: set[str]) -> dict[str, float]:
    """What a pod asks of a node: GPUs always, other resources only if some pool declares them."""
    req = {GPU_RESOURCE: float(template.gpus)}
    for res in declared:
        if res == GPU_RESOURCE:
            continue
        key = res
        v = template.resource(key)
        if v:
            req[key] = v
    return {k: v for k, v in req.items() if v}


class Scheduler:
    """Binds pods to nodes. Plain pods bind one by one; pods of a PodGroup (gang) bind only
    together, when at least ``minMember`` of the group are (or can at once be) placed.
    Topology policies: ``Required`` restricts a new pod to nodes whose ``key`` label equals
    that of nodes already running pods of its scope; ``Preferred`` ranks those nodes first."""

    def __init__(
        self,
        env: simpy.Environment,
        nodes: list[Node],
        pods: Mapping[str, Pod],
        duration: DurationOf,
        event: EventLog,
        bind: Callable[[Pod, Node], None],
    ):
        """``pods``: the store's pods (read only); ``bind(pod, node)`` writes a binding."""
        self.env = env
        self.pods = pods
        self.duration = duration
        self.event = event
        self.bind = bind
        self.nodes = nodes
        self.by_name = {n.name: n for n in nodes}
        self.pending: dict[str, None] = {}  # insertion-ordered set of pod names
        self.requests: dict[str, dict[str, float]] = {}
        self.declared = {k for n in nodes for k in n.capacity}
        self._tentative: dict[str, Node] = {}
        self.buckets: dict[float, list[tuple[int, Node]]] = {}
        """Nodes by free GPUs, each list sorted by node order (best-fit lookup)."""
        for n in nodes:
            bisect.insort(self.buckets.setdefault(n.free.get(GPU_RESOURCE, 0.0), []), (n.order, n))
        self._reported: set[str] = set()
        self.on_unschedulable: Callable[[], None] | None = None
        """Called after every failed scheduling attempt (a node autoscaler's trigger)."""

    def add_node(self, node: Node) -> None:
        """A new node joins the cluster, not schedulable yet (``node_up`` makes it so)."""
        node.down = True
        self.nodes.append(node)
        self.by_name[node.name] = node
        self.declared |= set(node.capacity)

    def submit(self, pod: Pod, requests: dict[str, float]) -> None:
        self.requests[pod.name] = requests
        delay = self.duration(pod.role, "scheduling_s")
        seq = pod.seq
        ev = self.env.timeout(delay)
        ev.callbacks.append(lambda _e: self._attempt(pod.name, seq))

    def _alive(self, name: str, seq: int) -> Pod | None:
        p = self.pods.get(name)
        if p is None or p.seq != seq or p.deleting or p.node is not None:
            return None
        return p

    def _attempt(self, name: str, seq: int) -> None:
        p = self._alive(name, seq)
        if p is None:
            return
        self.pending[name] = None
        ok = self._try_gang(p.gang) if p.gang is not None else self._bind(p)
        if not ok and name in self.pending and self.on_unschedulable is not None:
            self.on_unschedulable()
        if not ok and name in self.pending and name not in self._reported:
            self._reported.add(name)
            why = (
                f"PodGroup {p.gang} cannot place minMember={p.gang_min} pods together"
                if p.gang is not None
                else "no node has enough free resources"
            )
            self.event(self.env.now, "scheduler", "unschedulable", POD, name, p.revision, why)

    # placement ---------------------------------------------------------------------
    def _peer_values(self, pod: Pod) -> set[str]:
        assert pod.affinity is not None
        _, key, scope, value = pod.affinity
        out: set[str] = set()
        placed = [
            (p, self.by_name[p.node])
            for p in self.pods.values()
            if p.node is not None and not p.deleting
        ]
        placed += [(self.pods[n], node) for n, node in self._tentative.items() if n in self.pods]
        for p, node in placed:
            if p.name == pod.name:
                continue
            if (
                scope == "StormService"
                or (scope == "RoleSet" and p.roleset == value)
                or (scope == "Role" and p.role == value)
            ):
                v = node.labels.get(key)
                if v is not None:
                    out.add(v)
        return out

    def _bucket_move(self, node: Node, old_free: float) -> None:
        new_free = node.free.get(GPU_RESOURCE, 0.0)
        if new_free == old_free:
            return
        lst = self.buckets[old_free]
        del lst[bisect.bisect_left(lst, (node.order,))]
        if not lst:
            del self.buckets[old_free]
        bisect.insort(self.buckets.setdefault(new_free, []), (node.order, node))

    def _choose(
        self, pod: Pod, req: dict[str, float], domain: tuple[str, str] | None = None
    ) -> Node | None:
        """The node for ``pod``: best fit among the fitting nodes (restricted to the topology
        ``domain`` (label key, value) when given, and by the pod's topology policy)."""
        if domain is not None:
            key, value = domain
            fits = [n for n in self.nodes if n.labels.get(key) == value and n.fits(req)]
            return min(fits, key=lambda n: (n.free.get(GPU_RESOURCE, 0), n.order), default=None)
        if pod.affinity is None:
            # best fit: the fitting node with the fewest free GPUs, ties in node order
            need = req.get(GPU_RESOURCE, 0.0)
            for free in sorted(self.buckets):
                if free < need:
                    continue
                for _, n in self.buckets[free]:
                    if n.fits(req):
                        return n
            return None
        fits = [n for n in self.nodes if n.fits(req)]
        if not fits:
            return None
        if pod.affinity is not None:
            mode, key = pod.affinity[0], pod.affinity[1]
            peers = self._peer_values(pod)
            if peers:
                match = [n for n in fits if n.labels.get(key) in peers]
                if mode == "Required" or match:
                    fits = match
        best: Node | None = None
        for n in fits:
            if best is None or n.free.get(GPU_RESOURCE, 0) < best.free.get(GPU_RESOURCE, 0):
                best = n
        return best

    def node_down(self, node: Node) -> None:
        """Take ``node`` out of scheduling (it was lost)."""
        if node.down:
            return
        node.down = True
        lst = self.buckets[node.free.get(GPU_RESOURCE, 0.0)]
        del lst[bisect.bisect_left(lst, (node.order,))]
        if not lst:
            del self.buckets[node.free.get(GPU_RESOURCE, 0.0)]

    def node_up(self, node: Node) -> None:
        """``node`` is back, empty: schedulable again; pending pods are retried."""
        if not node.down:
            return
        node.down = False
        node.free = dict(node.capacity)
        bisect.insort(
            self.buckets.setdefault(node.free.get(GPU_RESOURCE, 0.0), []), (node.order, node)
        )
        self.retry()

    def place_now(self, pod: Pod, req: dict[str, float]) -> Node | None:
        """Reserve a node for ``pod`` at once, without a scheduling delay (a fleet that starts
        deployed); ``None`` if nothing fits."""
        node = self._choose(pod, req)
        if node is not None:
            self._take(node, req, 1.0)
            self.requests[pod.name] = req
        return node

    def _take(self, node: Node, req: dict[str, float], sign: float) -> None:
        if node.down:
            return  # a lost node's resources come back whole when it returns
        old = node.free.get(GPU_RESOURCE, 0.0)
        for k, v in req.items():
            if k in node.free:
                node.free[k] -= sign * v
        self._bucket_move(node, old)

    def _bind(self, p: Pod) -> bool:
        req = self.requests.get(p.name, {})
        node = self._choose(p, req)
        if node is None:
            return False
        self._take(node, req, 1.0)
        self.pending.pop(p.name, None)
        self.bind(p, node)
        return True

    def _try_gang(self, group: str) -> bool:
        pods = self.pods
        members = [
            pods[n]
            for n in self.pending
            if n in pods and pods[n].gang == group and pods[n].node is None
        ]
        if not members:
            return False
        need = members[0].gang_min
        bound = sum(
            1 for p in pods.values() if p.gang == group and p.node is not None and not p.deleting
        )
        placed = self._place(members, need - bound)
        if placed is None:
            # a Required topology policy and nothing of its scope placed yet: the greedy pass
            # may have picked a domain too small for the group; try each domain in turn, the
            # one with the most free GPUs first (kube-scheduler would retry the group with
            # other choices after its timeout)
            aff = members[0].affinity
            if aff is not None and aff[0] == "Required" and not self._peer_values(members[0]):
                key = aff[1]
                free: dict[str, float] = {}
                for n in self.nodes:
                    v = n.labels.get(key)
                    if v is not None and not n.down:
                        free[v] = free.get(v, 0.0) + n.free.get(GPU_RESOURCE, 0.0)
                for v in sorted(free, key=lambda v: (-free[v], v)):
                    placed = self._place(members, need - bound, (key, v))
                    if placed is not None:
                        break
        if placed is None:
            return False
        for p, node in placed:
            self.pending.pop(p.name, None)
            self.bind(p, node)
        return True

    def _place(
        self, members: list[Pod], need: int, domain: tuple[str, str] | None = None
    ) -> list[tuple[Pod, Node]] | None:
        """Reserve nodes for as many ``members`` as fit; keep the reservations if at least
        ``need`` (and at least one) were placed, else undo them and return ``None``."""
        placed: list[tuple[Pod, Node]] = []
        for p in members:
            req = self.requests.get(p.name, {})
            node = self._choose(p, req, domain)
            if node is None:
                continue
            self._take(node, req, 1.0)
            self._tentative[p.name] = node
            placed.append((p, node))
        self._tentative.clear()
        if not placed or len(placed) < need:
            for p, node in placed:
                self._take(node, self.requests.get(p.name, {}), -1.0)
            return None
        return placed

    def release(self, pod: Pod) -> None:
        """Free what ``pod`` held on its node and retry pending pods in order."""
        req = self.requests.pop(pod.name, {})
        if pod.node is not None:
            self._take(self.by_name[pod.node], req, -1.0)
        self.retry()

    def forget(self, name: str) -> None:
        self.pending.pop(name, None)
        self.requests.pop(name, None)

    def retry(self) -> None:
        groups_tried: set[str] = set()
        for name in list(self.pending):
            if name not in self.pending:
                continue
            p = self.pods.get(name)
            if p is None or p.deleting or p.node is not None:
                self.pending.pop(name, None)
                continue
            if p.gang is not None:
                if p.gang not in groups_tried:
                    groups_tried.add(p.gang)
                    self._try_gang(p.gang)
            else:
                self._bind(p)
