"""KV-cache transfers prefill -> decode as flows over the nodes' NICs.

Every node has an egress and an ingress link of ``nic_gbps``, and every pod its own share of
them (its GPUs' NICs: node capacity x pod GPUs / node GPUs). A flow between two nodes crosses
the source pod's and node's egress and the destination node's and pod's ingress; its rate is
the smallest of the fair shares (link capacity / flows on the link). Rates are recomputed,
and finish times rescheduled, for the flows on the links of a flow that starts or ends. A
transfer inside one node uses NVLink at full rate. ``base_latency_s`` is added after the last byte.
"""

from __future__ import annotations

from typing import Any, Protocol

from stormsim.sim.clock import Now


class NetworkHost(Protocol):
    """What the KV network uses of the serving plane (bandwidths in bytes per second)."""

    @property
    def env(self) -> Now: ...
    def at(self, t: float, fn: Any, arg: Any) -> None: ...
    def nic_bytes_per_s(self, node: str) -> float: ...
    def pod_nic_bytes_per_s(self, node: str, gpus: int) -> float: ...
    def nvlink_bytes_per_s(self, node: str) -> float: ...


class Link:
    __slots__ = ("cap", "flows", "name", "peak")

    def __init__(self, name: str, cap: float):
        self.name = name
        self.cap = cap
        self.flows: set[Flow] = set()
        self.peak = 0


class Flow:
    __slots__ = ("dead", "done", "links", "rate", "remaining", "req", "t_last", "version")

    def __init__(self, req: Any, links: tuple[Link, ...], nbytes: float, now: float, done: Any):
        self.req = req
        self.links = links
        self.remaining = nbytes
        self.rate = 0.0
        self.t_last = now
        self.version = 0
        self.dead = False
        self.done = done


class Network:
    def __init__(self, plane: NetworkHost):
        self.plane = plane
        self.egress: dict[str, Link] = {}
        self.ingress: dict[str, Link] = {}
        self.pod_egress: dict[str, Link] = {}
        self.pod_ingress: dict[str, Link] = {}
        self.transfers = 0
        self.bytes = 0.0
        self._nvlink: dict[str, float] = {}
        self._paths: dict[Any, tuple[Link, ...]] = {}
        """The links of each (source node, destination node, source pod, destination pod)
        path (dropped with any pod's links by :meth:`forget_pod`)."""

    def _links(self, src: str, dst: str) -> tuple[Link, ...]:
        eg = self.egress.get(src)
        if eg is None:
            eg = self.egress[src] = Link(f"{src}/egress", self.plane.nic_bytes_per_s(src))
        ig = self.ingress.get(dst)
        if ig is None:
            ig = self.ingress[dst] = Link(f"{dst}/ingress", self.plane.nic_bytes_per_s(dst))
        return eg, ig

    def _pod_link(self, table: dict[str, Link], node: str, pod: tuple[str, int], d: str) -> Link:
        name, gpus = pod
        lk = table.get(name)
        if lk is None:
            lk = table[name] = Link(f"{name}/{d}", self.plane.pod_nic_bytes_per_s(node, gpus))
        return lk

    def forget_pod(self, name: str) -> None:
        """Drop the links of a pod that is gone (its flows have ended or been aborted)."""
        self.pod_egress.pop(name, None)
        self.pod_ingress.pop(name, None)
        self._paths.clear()

    def start(
        self,
        req: Any,
        src: str,
        dst: str,
        nbytes: float,
        done: Any,
        src_pod: tuple[str, int] | None = None,
        dst_pod: tuple[str, int] | None = None,
    ) -> Flow:
        plane = self.plane
        now = plane.env.now
        self.transfers += 1
        self.bytes += nbytes
        if src == dst:
            f = Flow(req, (), nbytes, now, done)
            rate = self._nvlink.get(src)
            if rate is None:
                rate = self._nvlink[src] = plane.nvlink_bytes_per_s(src)
            f.rate = rate
            plane.at(now + nbytes / f.rate, self._finish, (f, 0))
            return f
        key = (src, dst, src_pod, dst_pod)
        links = self._paths.get(key)
        if links is None:
            links = self._links(src, dst)
            if src_pod is not None:
                links = (self._pod_link(self.pod_egress, src, src_pod, "egress"), *links)
            if dst_pod is not None:
                links = (*links, self._pod_link(self.pod_ingress, dst, dst_pod, "ingress"))
            self._paths[key] = links
        f = Flow(req, links, nbytes, now, done)
        alone = True
        rate = INF
        for lk in links:
            flows = lk.flows
            flows.add(f)
            n = len(flows)
            if n > lk.peak:
                lk.peak = n
            if n > 1:
                alone = False
            elif lk.cap < rate:
                rate = lk.cap
        if alone and 0.0 < rate < INF:  # what :meth:`_rerate` does for a flow alone on its links
            f.rate = rate
            f.version = 1
            plane.at(now + nbytes / rate, self._finish, (f, 1))
        else:
            self._rerate(links, now)
        return f

    def _rerate(self, links: tuple[Link, ...], now: float) -> None:
        affected: set[Flow] = set()
        for lk in links:
            affected |= lk.flows
        if not affected:
            return
        at = self.plane.at
        for f in sorted(affected, key=_req_id) if len(affected) > 1 else affected:
            rate = INF
            for lk in f.links:
                r = lk.cap / len(lk.flows)
                if r < rate:
                    rate = r
            if rate == f.rate:
                continue
            f.remaining = max(0.0, f.remaining - f.rate * (now - f.t_last))
            f.t_last = now
            f.rate = rate
            f.version += 1
            at(now + f.remaining / rate, self._finish, (f, f.version))

    def _finish(self, arg: tuple[Flow, int]) -> None:
        f, version = arg
        if f.dead or version != f.version:
            return
        f.dead = True
        if f.links:
            others = False
            for lk in f.links:
                flows = lk.flows
                flows.discard(f)
                if flows:
                    others = True
            if others:  # (no flow left on its links: nothing to re-rate)
                self._rerate(f.links, self.plane.env.now)
        f.done(f.req)

    def abort(self, f: Flow) -> None:
        if f.dead:
            return
        f.dead = True
        if f.links:
            for lk in f.links:
                lk.flows.discard(f)
            self._rerate(f.links, self.plane.env.now)


INF = float("inf")


def _req_id(f: Flow) -> int:
    """The order in which flows are re-rated (their requests' ids: deterministic)."""
    return int(f.req.id)
