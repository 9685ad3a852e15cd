"""The node autoscaler of a cluster with autoscaled node pools (``cluster.node_autoscaler``).

``cluster-autoscaler``: a scan every ``scan_interval_s`` from t = 0; each scan sees the pods the
scheduler could not place and the nodes, and asks :mod:`stormsim.control.nodescale` for one
scale-up or, in a scan without one, the nodes to remove. ``karpenter``: a failed scheduling
attempt opens a batch that closes after ``batch_idle_s`` without a new one (at most
``batch_max_s`` after it opened), then nodes are launched for every Pending pod; a
consolidation pass runs every ``poll_interval_s``, which also opens a batch when Pending
pods are left that no node is coming for (after a failed provisioning, or once a pool's
``max_nodes`` leaves room again).

A new node is created NotReady (``launching``), becomes Ready after the pool's
``provisioning.node_ready_s`` (``initializing``) and schedulable once its GPUs are allocatable,
``gpus_ready_s`` later (``ready``); the scheduler then retries the Pending pods. A node not
Ready within ``max_node_provision_time_s`` is given up (``provision_failed``) and, with the
cluster-autoscaler, its pool backs off (5 min, doubling up to 30 min): once per failed
scale-up (the nodes asked for together), as the upstream cluster-autoscaler backs off a node
group per failed scale-up request, not per node. New nodes start with an
empty image cache. A removed node is cordoned (``draining``: no new pods, its GPUs leave the
capacity), its pods are deleted (their controllers re-create them elsewhere) and it is gone
once the last one has left. Delays are drawn on the ``nodes`` random stream.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from stormsim.control.nodescale import (
    CaScaleDown,
    CaState,
    NodeState,
    NodeView,
    PodView,
    PoolView,
    ca_scale_down,
    consolidate,
    plan_provision,
    plan_scale_up,
)
from stormsim.schema.aibrix import GPU_RESOURCE
from stormsim.schema.scenario import (
    Cluster,
    ClusterAutoscaler,
    Karpenter,
    NodePool,
    NodeProvisioning,
)
from stormsim.sim.clock import Clock
from stormsim.sim.cluster import Node, node_capacity
from stormsim.sim.pods import Pods
from stormsim.sim.recorder import Recorder
from stormsim.sim.rng import Sampler, stream
from stormsim.sim.stats import TimeSeries
from stormsim.sim.store import POD, Store

SOURCE = "node-autoscaler"
STATES: tuple[NodeState, ...] = ("launching", "initializing", "ready", "draining")
BACKOFF_S = 300.0
"""A pool's first back-off after a failed provisioning (cluster-autoscaler)."""
BACKOFF_MAX_S = 1800.0


def counter(pool: str, state: str) -> str:
    """The time-series column of ``pool``'s nodes in ``state``."""
    return f"pool.{pool}.nodes_{state}"


class NodeScaler:
    """Adds and removes the nodes of autoscaled pools (see the module docstring)."""

    def __init__(
        self,
        clock: Clock,
        cluster: Cluster,
        seed: int,
        store: Store,
        pods: Pods,
        recorder: Recorder,
        series: TimeSeries,
    ):
        assert cluster.node_autoscaler is not None
        self.clock = clock
        self.cfg = cluster.node_autoscaler
        self.store = store
        self.pods = pods
        self.scheduler = pods.scheduler
        self.recorder = recorder
        self.series = series
        self.specs: dict[str, NodePool] = {p.name: p for p in cluster.node_pools}
        self.pools = [
            PoolView(p.name, node_capacity(p), p.min_count, p.max_count, p.autoscaled)
            for p in cluster.node_pools
        ]
        for p in cluster.node_pools:
            self.scheduler.declared |= set(node_capacity(p))
        self.delays = Sampler(seed, "nodes")
        self.rng = stream(seed, "nodes/expander")
        self.state: dict[str, NodeState] = {}
        self.since: dict[str, float] = {}
        self.on_node: dict[str, dict[str, None]] = {}
        self.next_index = {p.name: p.count for p in cluster.node_pools}
        self.failures: dict[str, int] = {}
        """Failed scale-ups of each pool since its last node became Ready."""
        self.scale_ups = 0
        """Scale-ups so far (``add_nodes`` calls): the nodes of one fail as one."""
        self.failed_backoff: dict[int, float] = {}
        """The back-off of each failed scale-up, by its number (its other nodes repeat it)."""
        self.backoff_until: dict[str, float] = {}
        self.ca = CaState()
        recorder.nodes_tracked = True
        series.changing()
        for p in cluster.node_pools:
            for s in STATES:
                series.stats.c[counter(p.name, s)] = 0.0
        for n in self.scheduler.nodes:
            recorder.node(
                n.name,
                pool=n.pool,
                gpus=int(n.capacity.get(GPU_RESOURCE, 0)),
                origin="initial",
                created_at_s=0.0,
                ready_at_s=0.0,
                gpus_ready_at_s=0.0,
            )
            self._set_state(n.name, n.pool, "ready")
            self.on_node[n.name] = {}
            self.since[n.name] = 0.0
        store.listeners.append(self.on_change)
        if isinstance(self.cfg, ClusterAutoscaler):
            clock.process(self._ca_loop(self.cfg))
        elif isinstance(self.cfg, Karpenter):
            self._last = 0.0
            self._trigger = clock.event()
            self.scheduler.on_unschedulable = self.wake
            clock.process(self._karpenter_loop(self.cfg))
            clock.process(self._consolidation_loop(self.cfg))
        else:  # pragma: no cover - the schema's union is closed
            raise TypeError(f"unknown node autoscaler {self.cfg!r}")

    # ------------------------------------------------------------------------- bookkeeping
    def _set_state(self, name: str, pool: str, state: NodeState | None) -> None:
        self.series.changing()
        c = self.series.stats.c
        old = self.state.pop(name, None)
        if old is not None:
            c[counter(pool, old)] -= 1.0
        if state is not None:
            self.state[name] = state
            c[counter(pool, state)] += 1.0

    def on_change(self, kind: str, old: Any, new: Any) -> None:
        """Store listener: which pods are on which node, and when that last changed."""
        if kind != POD:
            return
        was = old.node if old is not None else None
        now = new.node if new is not None else None
        if was == now:
            return
        t = self.clock.now
        if was is not None and was in self.on_node:
            self.on_node[was].pop(old.name, None)
            self.since[was] = t
            if self.state.get(was) == "draining" and not self.on_node[was]:
                self._gone(was)
        if now is not None and now in self.on_node:
            self.on_node[now][new.name] = None
            self.since[now] = t

    # ------------------------------------------------------------------------- views
    def _pending(self) -> list[PodView]:
        sched = self.scheduler
        out = []
        for name in sched.pending:
            p = self.store.pods.get(name)
            if p is None or p.deleting or p.node is not None:
                continue
            out.append(PodView(name, sched.requests.get(name, {}), p.gang))
        return out

    def _views(self) -> list[NodeView]:
        pods = self.store.pods
        sched = self.scheduler
        out = []
        for n in sched.nodes:
            st = self.state.get(n.name)
            if st is None:
                continue  # gone
            on = [pods[k] for k in self.on_node[n.name] if k in pods]
            views = tuple(
                PodView(p.name, sched.requests.get(p.name, {}), p.gang)
                for p in on
                if not p.deleting
            )
            free = n.free if st == "ready" else n.capacity
            usable = not (st == "ready" and n.down)
            out.append(
                NodeView(
                    n.name, n.pool, st, n.capacity, dict(free), views, self.since[n.name], usable
                )
            )
        return out

    # ------------------------------------------------------------------------- scale up
    def add_nodes(self, pool: str, k: int, why: str) -> None:
        spec = self.specs[pool]
        prov = spec.provisioning or NodeProvisioning()
        max_s = self.cfg.max_node_provision_time_s
        now = self.clock.now
        attempt = self.scale_ups
        self.scale_ups += 1
        for _ in range(k):
            i = self.next_index[pool]
            self.next_index[pool] = i + 1
            name = f"{pool}-{i}"
            cap = node_capacity(spec)
            labels = {"kubernetes.io/hostname": name, **spec.labels}
            node = Node(name, pool, spec.gpu_type, cap, labels, order=len(self.scheduler.nodes))
            node.free = dict(cap)
            self.scheduler.add_node(node)
            self.on_node[name] = {}
            self.since[name] = now
            self.recorder.node(
                name, pool=pool, gpus=int(spec.gpus_per_node), origin=SOURCE, created_at_s=now
            )
            self.recorder.event(now, SOURCE, "create", "Node", name, "", why)
            self._set_state(name, pool, "launching")
            ready_s = self.delays.draw(prov.node_ready_s, f"node_ready_s/{pool}")
            gpus_s = self.delays.draw(prov.gpus_ready_s, f"gpus_ready_s/{pool}")
            if ready_s > max_s:
                self.clock.timeout(max_s).callbacks.append(self._on(self._failed, node, attempt))
            else:
                self.clock.timeout(ready_s).callbacks.append(self._on(self._ready, node, gpus_s))

    @staticmethod
    def _on(fn: Callable[..., None], *args: Any) -> Callable[[simpy.Event], None]:
        """A timeout callback that calls ``fn(*args)``."""
        return lambda _e: fn(*args)

    def _ready(self, node: Node, gpus_s: float) -> None:
        if self.state.get(node.name) != "launching":
            return
        self.failures.pop(node.pool, None)
        self.recorder.node(node.name, ready_at_s=self.clock.now)
        self._set_state(node.name, node.pool, "initializing")
        self.clock.timeout(gpus_s).callbacks.append(lambda _e: self._gpus_ready(node))

    def _gpus_ready(self, node: Node) -> None:
        if self.state.get(node.name) != "initializing":
            return
        now = self.clock.now
        self.recorder.node(node.name, gpus_ready_at_s=now)
        self.recorder.event(now, SOURCE, "ready", "Node", node.name, "", "GPUs allocatable")
        self._set_state(node.name, node.pool, "ready")
        self.since[node.name] = now
        self.series.adjust("gpus_capacity", node.capacity.get(GPU_RESOURCE, 0.0))
        self.scheduler.node_up(node)

    def _failed(self, node: Node, attempt: int) -> None:
        if self.state.get(node.name) != "launching":
            return
        now = self.clock.now
        backoff = self.failed_backoff.get(attempt)
        if backoff is None:  # the first node of this scale-up to fail: one back-off step
            f = self.failures[node.pool] = self.failures.get(node.pool, 0) + 1
            backoff = self.failed_backoff[attempt] = min(BACKOFF_MAX_S, BACKOFF_S * 2 ** (f - 1))
        detail = f"not Ready within {self.cfg.max_node_provision_time_s:g} s"
        if isinstance(self.cfg, ClusterAutoscaler):
            self.backoff_until[node.pool] = now + backoff
            detail += f"; pool {node.pool} backs off {backoff:g} s"
        self.recorder.event(now, SOURCE, "provision_failed", "Node", node.name, "", detail)
        self.recorder.node(node.name, deleted_at_s=now, gone_at_s=now)
        self._set_state(node.name, node.pool, None)
        if isinstance(self.cfg, Karpenter) and not self._trigger.triggered and self._uncovered():
            self.wake()

    # ------------------------------------------------------------------------- scale down
    def remove(self, name: str, why: str) -> None:
        node = self.scheduler.by_name[name]
        now = self.clock.now
        self.recorder.node(name, deleted_at_s=now)
        self.recorder.event(now, SOURCE, "delete", "Node", name, "", why)
        self._set_state(name, node.pool, "draining")
        self.series.adjust("gpus_capacity", -node.capacity.get(GPU_RESOURCE, 0.0))
        self.scheduler.node_down(node)
        for pod in sorted(self.on_node[name]):
            self.pods.delete(SOURCE, pod)
        if not self.on_node[name]:
            self._gone(name)

    def _gone(self, name: str) -> None:
        node = self.scheduler.by_name[name]
        self.recorder.node(name, gone_at_s=self.clock.now)
        self._set_state(name, node.pool, None)

    # ------------------------------------------------------------------------- policies
    def _ca_loop(self, cfg: ClusterAutoscaler) -> Generator[simpy.Event, Any, None]:
        down = CaScaleDown(
            cfg.scale_down_unneeded_time_s,
            cfg.scale_down_delay_after_add_s,
            cfg.scale_down_delay_after_delete_s
            if cfg.scale_down_delay_after_delete_s is not None
            else cfg.scan_interval_s,
            cfg.scale_down_utilization_threshold,
            cfg.max_empty_bulk_delete,
        )
        while True:
            self._scan(cfg, down)
            yield self.clock.timeout(cfg.scan_interval_s)

    def _scan(self, cfg: ClusterAutoscaler, down: CaScaleDown) -> None:
        now = self.clock.now
        pending = self._pending()
        if pending:
            off = frozenset(p for p, t in self.backoff_until.items() if t > now)
            up = plan_scale_up(
                pending,
                self.pools,
                self._views(),
                cfg.expander,
                lambda n: int(self.rng.integers(n)),
                off,
            )
            if up is not None:
                self.ca.last_scale_up_s = now
                self.add_nodes(up.pool, up.nodes, f"scale-up for {len(up.pods)} pending pods")
                return  # no scale-down in a scan that scaled up
        for name in ca_scale_down(self.ca, self._views(), self.pools, now, down):
            self.remove(name, f"unneeded for {down.unneeded_time_s:g} s")

    def wake(self) -> None:
        """Karpenter: a pod could not be scheduled (opens a batch, or extends the open one)."""
        self._last = self.clock.now
        if not self._trigger.triggered:
            self._trigger.succeed()

    def _uncovered(self) -> bool:
        """Whether some Pending pod would get a new node now."""
        pending = self._pending()
        return bool(pending) and bool(plan_provision(pending, self.pools, self._views()))

    def _karpenter_loop(self, cfg: Karpenter) -> Generator[simpy.Event, Any, None]:
        env = self.clock
        while True:
            yield self._trigger
            opened = env.now
            while True:
                deadline = min(self._last + cfg.batch_idle_s, opened + cfg.batch_max_s)
                if env.now >= deadline:
                    break
                yield env.timeout(deadline - env.now)
            self._trigger = env.event()
            pending = self._pending()
            for up in plan_provision(pending, self.pools, self._views()):
                self.add_nodes(up.pool, up.nodes, f"batch of {len(up.pods)} pending pods")

    def _consolidation_loop(self, cfg: Karpenter) -> Generator[simpy.Event, Any, None]:
        under = cfg.consolidation_policy == "WhenEmptyOrUnderutilized"
        while True:
            yield self.clock.timeout(cfg.poll_interval_s)
            now = self.clock.now
            if not self._trigger.triggered and self._uncovered():
                self.wake()  # Pending pods no node is coming for (a failure, limits freed)
            gone = consolidate(
                self._views(),
                self.pools,
                now,
                cfg.consolidate_after_s,
                under,
                cfg.disruption_budget_frac,
            )
            for name in gone:
                self.remove(name, f"consolidated ({cfg.consolidation_policy})")
