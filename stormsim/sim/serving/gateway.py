"""The AIBrix gateway's ``pd`` router, reduced to what shapes traffic (upstream:
``pkg/plugins/gateway/algorithms/pd_disaggregation.go`` at e3e10f9e).

Routable engines are grouped by RoleSet. A RoleSet is *eligible* when it has at least one
routable prefill and one routable decode pod; a request's prefill and decode pods always come
from the same RoleSet. Pods of roles named neither ``prefill`` nor ``decode`` are
``colocated`` engines serving both phases; they are used in RoleSets without a P/D pair.

Policies (ties go to the first candidate in registration order):

* ``random``: a uniformly random eligible RoleSet, then a random prefill and decode pod in it
  (one draw each, from the ``routing`` stream);
* ``least_request``: per RoleSet the prefill pod with the fewest outstanding prefills and the
  decode pod with the fewest outstanding decodes (assigned and not finished, as AIBrix's
  trackers count pending selections); the RoleSet minimising the sum of both counts, each
  normalised by its maximum over RoleSets, wins;
* ``least_kv``: the same with the KV-cache reservation fraction of each pod.

When no RoleSet is eligible the request waits at the gateway (FIFO) until one is, or fails
with reason ``queue_timeout`` after ``queue_timeout_s``.
"""

from __future__ import annotations

from collections import deque
from itertools import repeat
from operator import add, mul
from typing import Any, Protocol

from stormsim.sim.clock import Now
from stormsim.sim.rng import stream
from stormsim.sim.serving.engines import GATEWAY, DecodeEngine, PrefillEngine, Request


class GatewayHost(Protocol):
    """What the gateway uses of the serving plane."""

    @property
    def env(self) -> Now: ...
    def at(self, t: float, fn: Any, arg: Any) -> None: ...
    def dispatch(self, r: Request, g: Group, pe: PrefillEngine, de: DecodeEngine) -> None: ...
    def fail(self, r: Request, reason: str, retry: bool = True) -> None: ...
    def sync_due(self, now: float) -> None: ...


class Group:
    """The routable engines of one RoleSet."""

    __slots__ = ("cache", "colocated", "decode", "dirty", "dout", "name", "pout", "prefill")

    def __init__(self, name: str):
        self.name = name
        self.dirty = True
        self.cache: tuple[float, float, Any, Any] = (0.0, 0.0, None, None)
        self.prefill: list[PrefillEngine] = []
        self.decode: list[DecodeEngine] = []
        self.colocated: list[Any] = []  # ColocatedPod
        self.pout: list[int] = []
        """``outstanding`` of each engine of ``prefill`` (same order), kept by the engines."""
        self.dout: list[int] = []
        """Likewise for ``decode``."""

    def reindex(self) -> None:
        """After a change of ``prefill`` or ``decode``: fresh count lists, and each engine
        told its list and slot (invariant: ``pout[i] == prefill[i].outstanding``, and the
        same for decode, whenever the router reads them)."""
        self.pout = [e.outstanding for e in self.prefill]
        self.dout = [e.outstanding for e in self.decode]
        for i, pe in enumerate(self.prefill):
            pe.outs = self.pout
            pe.slot = i
        for i, de in enumerate(self.decode):
            de.outs = self.dout
            de.slot = i

    @property
    def pd(self) -> bool:
        return bool(self.prefill) and bool(self.decode)

    @property
    def empty(self) -> bool:
        return not (self.prefill or self.decode or self.colocated)


class Gateway:
    def __init__(self, plane: GatewayHost, router: str, timeout_s: float, seed: int):
        self.plane = plane
        self.router = router
        self.timeout_s = timeout_s
        self.groups: dict[str, Group] = {}
        self.units: list[Group] = []
        self._ps: list[float] = []  # each unit's prefill score (``Group.cache[0]``)
        self._ds: list[float] = []  # each unit's decode score (``Group.cache[1]``)
        self.queue: deque[Request] = deque()
        self.max_queue = 0
        self._timer_at = float("inf")
        self._rng = stream(seed, "routing")
        self._u: list[float] = []
        self._ui = 0

    # ------------------------------------------------------------------ registration
    def add(self, roleset: str, kind: str, engine: Any) -> None:
        g = self.groups.get(roleset)
        if g is None:
            g = self.groups[roleset] = Group(roleset)
        getattr(g, kind).append(engine)
        if kind == "colocated":
            engine.prefill.group = engine.decode.group = g
        else:
            engine.group = g
            g.reindex()
        g.dirty = True
        self._rebuild()
        self.flush()

    def remove(self, roleset: str, kind: str, engine: Any) -> None:
        g = self.groups.get(roleset)
        if g is None:
            return
        lst = getattr(g, kind)
        if engine in lst:
            lst.remove(engine)
        if kind == "colocated":
            engine.prefill.group = engine.decode.group = None
        else:
            engine.group = None
            engine.outs = None
            g.reindex()
        g.dirty = True
        if g.empty:
            del self.groups[roleset]
        self._rebuild()

    def _rebuild(self) -> None:
        self.units = [g for g in self.groups.values() if g.pd or g.colocated]
        for g in self.units:
            g.dirty = True  # (its scores enter ``_ps``/``_ds`` at the next routing)
        self._ps = [0.0] * len(self.units)
        self._ds = [0.0] * len(self.units)

    # ------------------------------------------------------------------ requests
    def submit(self, r: Request) -> None:
        r.state = GATEWAY
        if self.units and not self.queue:
            self._route(r)
            return
        r.gw_deadline = self.plane.env.now + self.timeout_s
        self.queue.append(r)
        if len(self.queue) > self.max_queue:
            self.max_queue = len(self.queue)
        if self.units:
            self.flush()
        else:
            self._arm()

    def flush(self) -> None:
        q = self.queue
        while q and self.units:
            self._route(q.popleft())

    def _arm(self) -> None:
        if self.queue:
            t = self.queue[0].gw_deadline
            if t < self._timer_at or self._timer_at <= self.plane.env.now:
                self._timer_at = t
                self.plane.at(t, self._expire, None)

    def _expire(self, _arg: Any) -> None:
        now = self.plane.env.now
        self._timer_at = float("inf")
        q = self.queue
        while q and q[0].gw_deadline <= now:
            self.plane.fail(q.popleft(), "queue_timeout", retry=False)
        self._arm()

    def _rand(self) -> float:
        if self._ui >= len(self._u):
            self._u = self._rng.random(4096).tolist()
            self._ui = 0
        u = self._u[self._ui]
        self._ui += 1
        return u

    def _best(self, g: Group, now: float) -> tuple[float, float, Any, Any]:
        """(prefill score, decode score, prefill engine, decode engine) of a RoleSet."""
        if self.router == "least_kv":
            if g.prefill and g.decode:
                bp = min(g.prefill, key=_kv_frac)
                bd = min(g.decode, key=_kv_frac)
                return bp.kv.frac(), bd.kv.frac(), bp, bd
            bc = min(g.colocated, key=_colocated_kv)
            v = bc.decode.kv.frac()
            return v, v, bc.prefill, bc.decode
        ps, ds = g.prefill, g.decode
        if ps and ds:
            # the first engine with the fewest outstanding requests (``min(ps, key=...)``),
            # found on the count lists: the minimum and its index run in C
            po, do = g.pout, g.dout
            mp = min(po)
            md = min(do)
            return float(mp), float(md), ps[po.index(mp)], ds[do.index(md)]
        cs = g.colocated
        bc = cs[0] if len(cs) == 1 else min(cs, key=_colocated_out)
        v = float(bc.prefill.outstanding + bc.decode.outstanding)
        return v, v, bc.prefill, bc.decode

    def _route(self, r: Request) -> None:
        plane = self.plane
        now = plane.env.now
        units = self.units
        if self.router == "random":
            g = units[int(self._rand() * len(units))]
            if g.pd:
                pe = g.prefill[int(self._rand() * len(g.prefill))]
                de = g.decode[int(self._rand() * len(g.decode))]
                plane.dispatch(r, g, pe, de)
            else:
                c = g.colocated[int(self._rand() * len(g.colocated))]
                plane.dispatch(r, g, c.prefill, c.decode)
            return
        plane.sync_due(now)
        always = self.router == "least_kv"
        if len(units) == 1:
            g = units[0]
            if g.dirty or always:
                g.cache = self._best(g, now)
                g.dirty = False
            c = g.cache
            plane.dispatch(r, g, c[2], c[3])
            return
        # the scores of every RoleSet, kept in two lists parallel to ``units`` so that the
        # maxima and the sums run in C (the same float operations as one loop would do)
        ps, ds = self._ps, self._ds
        for i, g in enumerate(units):
            if g.dirty or always:
                c = g.cache = self._best(g, now)
                g.dirty = False
                ps[i] = c[0]
                ds[i] = c[1]
        maxp = max(ps)
        maxd = max(ds)
        n = len(units)
        ip = 1.0 / maxp if maxp > 0 else 0.0
        idd = 1.0 / maxd if maxd > 0 else 0.0
        sc = list(map(add, map(mul, ps, repeat(ip, n)), map(mul, ds, repeat(idd, n))))
        best = units[sc.index(min(sc))]  # the first of the lowest, as in registration order
        c = best.cache
        plane.dispatch(r, best, c[2], c[3])


INF = float("inf")


def _kv_frac(e: Any) -> float:
    return float(e.kv.frac())


def _colocated_kv(c: Any) -> float:
    return float(c.decode.kv.frac())


def _colocated_out(c: Any) -> int:
    return int(c.prefill.outstanding + c.decode.outstanding)
