"""Faults: scenario events that break part of the cluster (pods crash, nodes are lost).

Each fault type (a scenario event class) has one handler in :data:`FAULTS`; the scenario
event process dispatches through it. A new fault type is an event class in the scenario schema,
a function here and one entry in :data:`FAULTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stormsim.control.objects import Pod
from stormsim.schema.aibrix import GPU_RESOURCE
from stormsim.schema.scenario import CrashPod, FailNode
from stormsim.sim.clock import Clock
from stormsim.sim.cluster import Node
from stormsim.sim.pods import Pods
from stormsim.sim.recorder import Recorder
from stormsim.sim.stats import TimeSeries
from stormsim.sim.store import POD, Store


@dataclass(frozen=True)
class FaultContext:
    """What a fault may touch: the cluster's nodes and pods (through the scheduler, kubelet
    and pod lifecycle of :class:`~stormsim.sim.pods.Pods`), the counters (capacity), the
    recorder and the ``faults`` random stream."""

    clock: Clock
    store: Store
    recorder: Recorder
    nodes: list[Node]
    pods: Pods
    series: TimeSeries
    rng: np.random.Generator


def crash_pods(ctx: FaultContext, ev: CrashPod) -> None:
    """``ev.count`` Ready pods (of ``ev.role``) crash and restart in place."""
    pods = sorted(
        (
            p
            for p in ctx.store.pods.values()
            if p.ready
            and not p.deleting
            and p.node is not None
            and (ev.role is None or p.role == ev.role)
        ),
        key=lambda p: p.name,
    )
    n = min(ev.count, len(pods))
    picks = sorted(ctx.rng.choice(len(pods), size=n, replace=False)) if n else []
    now = ctx.clock.now
    ctx.recorder.event(
        now,
        "scenario",
        "crash_pod",
        POD,
        "",
        "",
        f"{n} of {len(pods)} ready pods of role {ev.role or '*'}",
    )
    scheduler = ctx.pods.scheduler
    for k in picks:
        pod = pods[int(k)]
        ctx.recorder.event(now, "fault", "crash", POD, pod.name, pod.revision)
        ctx.pods.kubelet.restart(pod, scheduler.by_name[pod.node])  # type: ignore[index]


def fail_node(ctx: FaultContext, ev: FailNode) -> None:
    """A node is lost; its pods are gone at once, its resources leave the cluster (for
    ``ev.down_s`` seconds, or for good)."""
    on: dict[str, list[Pod]] = {n.name: [] for n in ctx.nodes}
    for p in ctx.store.pods.values():
        if p.node is not None:
            on[p.node].append(p)
    name = ev.node
    if name is None:
        live = [n for n in ctx.nodes if not n.down]
        if not live:
            return
        name = max(live, key=lambda n: (len(on[n.name]), -n.order)).name
    scheduler = ctx.pods.scheduler
    node = scheduler.by_name[name]
    if node.down:
        return
    ctx.recorder.event(
        ctx.clock.now,
        "scenario",
        "fail_node",
        "Node",
        name,
        "",
        f"{len(on[name])} pods lost" + (f", back in {ev.down_s:g} s" if ev.down_s else ""),
    )
    scheduler.node_down(node)
    gpus = node.capacity.get(GPU_RESOURCE, 0.0)
    ctx.series.adjust("gpus_capacity", -gpus)
    for p in sorted(on[name], key=lambda p: p.name):
        ctx.pods.delete("node-lifecycle", p.name)
        marked = ctx.store.pods.get(p.name)
        if marked is not None:
            ctx.pods.gone(marked)
    if ev.down_s is not None:

        def back(_e: Any) -> None:
            ctx.recorder.event(ctx.clock.now, "scenario", "node_up", "Node", name)
            ctx.series.adjust("gpus_capacity", gpus)
            scheduler.node_up(node)

        ctx.clock.timeout(ev.down_s).callbacks.append(back)


Fault = Callable[[FaultContext, Any], None]

FAULTS: dict[type, Fault] = {
    CrashPod: crash_pods,
    FailNode: fail_node,
}
"""The handler of each fault type (``handler(ctx, event)``)."""
