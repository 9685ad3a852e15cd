"""The kubelet: a bound pod's start-up, in-place restarts and termination.

Bound pod -> image pull (only for images the node has neither pulled nor is pulling) ->
Running -> model load + engine init + readiness probe -> Ready -> router registration ->
routable. Deleted pod: never-bound pods vanish at once; bound ones keep their resources for
``termination_grace_s`` and then are gone. The kubelet reads the store's pods and writes
nothing itself: the pod writes go through its :class:`KubeletHooks` (the pod lifecycle,
:mod:`stormsim.sim.pods`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any, Protocol

import simpy

from stormsim.control.objects import RUNNING, Pod
from stormsim.sim.cluster import DurationOf, EventLog, Node
from stormsim.sim.store import POD


class KubeletHooks(Protocol):
    """The pod writes the kubelet makes as a pod starts (implemented by ``sim.pods.Pods``)."""

    def set_running(self, pod: Pod) -> None: ...
    def set_ready(
        self,
        pod: Pod,
        ready: bool,
        in_place_running: str | None = None,
        restarted: bool = False,
    ) -> None: ...
    def pod_restarting(self, pod: Pod) -> None: ...
    def set_routable(self, pod: Pod) -> None: ...


class Kubelet:
    """Runs pod start-ups and in-place container restarts. Each start-up or restart of a pod
    is a run; a newer run (an in-place patch) supersedes an older one still in progress."""

    def __init__(
        self,
        env: simpy.Environment,
        pods: Mapping[str, Pod],
        duration: DurationOf,
        event: EventLog,
        hooks: KubeletHooks,
    ):
        """``pods``: the store's pods (read only); ``hooks`` make the pod writes."""
        self.env = env
        self.pods = pods
        self.duration = duration
        self.event = event
        self.hooks = hooks
        self.runs: dict[str, int] = {}

    def start(self, pod: Pod, node: Node) -> None:
        run = self.runs[pod.name] = self.runs.get(pod.name, 0) + 1
        # a pod patched in place before it was bound starts with the new images: its update
        # completes when it is Ready (it had no old imageIDs to change, see docs/aibrix/inplace.md)
        self.env.process(self._run(pod.name, pod.seq, node, run, pod.in_place_target))

    def restart(self, pod: Pod, node: Node) -> None:
        """Containers restart with new images (in-place update): not Ready until the new
        images are pulled (if not cached) and the engine has loaded and initialised."""
        run = self.runs[pod.name] = self.runs.get(pod.name, 0) + 1
        self.hooks.pod_restarting(pod)
        self.env.process(self._run(pod.name, pod.seq, node, run, pod.in_place_target))

    def _alive(self, name: str, seq: int, run: int) -> Pod | None:
        p = self.pods.get(name)
        if p is None or p.seq != seq or p.deleting or self.runs.get(name) != run:
            return None
        return p

    def _pull(self, node: Node, image: str, role: str) -> simpy.Event:
        ev = node.pulling.get(image)
        if ev is None:
            ev = self.env.timeout(self.duration(role, "image_pull_s"))

            def done(_e: Any, image: str = image) -> None:
                node.images.add(image)
                node.pulling.pop(image, None)

            ev.callbacks.append(done)
            node.pulling[image] = ev
        return ev

    def _run(
        self, name: str, seq: int, node: Node, run: int, target: str | None
    ) -> Generator[simpy.Event, Any, None]:
        env = self.env
        pod = self._alive(name, seq, run)
        if pod is None:
            return
        waits = [self._pull(node, im, pod.role) for im in pod.images if im not in node.images]
        if waits:
            t0 = env.now
            yield env.all_of(waits)
            if self._alive(name, seq, run) is None:
                return
            self.event(
                env.now,
                "kubelet",
                "pulled",
                POD,
                name,
                pod.revision,
                f"{env.now - t0:.3f}s on {node.name}",
            )
        pod = self._alive(name, seq, run)
        if pod is None:
            return
        if pod.phase != RUNNING:
            self.hooks.set_running(pod)
        startup = (
            self.duration(pod.role, "model_load_s")
            + self.duration(pod.role, "engine_init_s")
            + self.duration(pod.role, "readiness_probe_s")
        )
        yield env.timeout(startup)
        pod = self._alive(name, seq, run)
        if pod is None:
            return
        self.hooks.set_ready(pod, True, in_place_running=target, restarted=run > 1)
        yield env.timeout(self.duration(pod.role, "router_registration_s"))
        pod = self._alive(name, seq, run)
        if pod is None:
            return
        self.hooks.set_routable(pod)

    def delete(self, pod: Pod, on_gone: Callable[[Pod], None]) -> None:
        """Mark ``pod`` terminating; it is gone now if never bound, else after the grace period."""
        if pod.node is None:
            on_gone(pod)
            return
        grace = self.duration(pod.role, "termination_grace_s")
        seq = pod.seq

        def gone(_e: Any) -> None:
            p = self.pods.get(pod.name)
            if p is not None and p.seq == seq:
                on_gone(p)

        self.env.timeout(grace).callbacks.append(gone)
