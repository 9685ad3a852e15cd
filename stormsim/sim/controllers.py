"""Controller drivers: a work queue and one worker per controller, and the manager that
builds them from registrations and routes the store's watch events to them.

Semantics follow client-go's work queue: a key is queued at most once; a key that changes
while its pass runs is processed again afterwards; ``add_after`` keeps only the earliest
pending requeue. Each pass waits ``reconcile_latency_s`` (the watch -> reconcile -> API write
hop) and then reads the store, so it sees everything written up to that instant (with
``controller.cache_lag_s > 0``: the store as it was that long before, through a lagged view,
and watch events arrive that much later). A pass whose writes go out in several slow-start
rounds holds its worker until the last round has landed (``ControllerContext.busy_s``).

Idle requeues are elided (and a watch's predicate keeps watch events that change nothing the
controller reads from enqueueing it): a requeue timer that fires for a key whose inputs have
not changed since its last pass is dropped, because the pure reconcile would see the same
state and do nothing (any later change enqueues the key at once). This keeps a 15 s / 1 s
polling loop from costing work without changing behaviour. Both elisions assume a pass sees
its own earlier writes, so they are off under a cache lag.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from stormsim.control.objects import Action
from stormsim.sim.clock import Clock
from stormsim.sim.recorder import Recorder
from stormsim.sim.store import Store

Reconcile = Callable[[str], "float | tuple[float | None, bool] | None"]
"""Runs one pass for a key; returns the requeue delay in seconds or ``None``, optionally
with a flag saying the requeue is time-sensitive (a deadline) and must not be elided."""


class Controller:
    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        reconcile: Reconcile,
        latency: Callable[[], float],
        busy: Callable[[], float] | None = None,
        elide: bool = True,
    ):
        self.env = env
        self.busy = busy
        """Seconds the last pass still spends sending its slow-start rounds (the worker
        holds the key that long, as ``slowStartBatch`` blocks the Go reconcile)."""
        self.elide = elide
        """Whether idle requeues are dropped (off under a cache lag: a stale pass may not be a
        no-op)."""
        self.name = name
        self.reconcile = reconcile
        self.latency = latency
        self.queue: deque[str] = deque()
        self.dirty: set[str] = set()
        self.processing: set[str] = set()
        self.stale: dict[str, bool] = {}
        self.timers: dict[str, float] = {}
        self.passes = 0
        self._wakeup: simpy.Event | None = None
        env.process(self._worker())

    def add(self, key: str) -> None:
        """A watch event for ``key``: mark its inputs changed and queue it."""
        self.stale[key] = True
        self._enqueue(key)

    def _enqueue(self, key: str) -> None:
        if key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.processing:
            self.queue.append(key)
            if self._wakeup is not None and not self._wakeup.triggered:
                self._wakeup.succeed()

    def add_after(self, key: str, delay: float) -> None:
        at = self.env.now + delay
        pending = self.timers.get(key)
        if pending is not None and pending <= at:
            return
        self.timers[key] = at

        def fire(_e: Any) -> None:
            if self.timers.get(key) == at:
                del self.timers[key]
                if not self.elide or self.stale.get(key, True):
                    self._enqueue(key)

        self.env.timeout(delay).callbacks.append(fire)

    def _worker(self) -> Generator[simpy.Event, Any, None]:
        while True:
            if not self.queue:
                self._wakeup = self.env.event()
                yield self._wakeup
                self._wakeup = None
                continue
            key = self.queue.popleft()
            self.dirty.discard(key)
            self.processing.add(key)
            lat = self.latency()
            if lat > 0:
                yield self.env.timeout(lat)
            self.stale[key] = False
            self.passes += 1
            out = self.reconcile(key)
            requeue, forced = out if isinstance(out, tuple) else (out, False)
            if forced:
                self.stale[key] = True  # a deadline: the next timer must run the pass
            if self.busy is not None:
                hold = self.busy()
                if hold > 0:
                    yield self.env.timeout(hold)
            self.processing.discard(key)
            if key in self.dirty:
                self.queue.append(key)
            if requeue is not None:
                self.add_after(key, requeue)


# ----------------------------------------------------------------------------- registration


@dataclass(frozen=True)
class ControllerContext:
    """What a controller may use: the store to read (and to write statuses), the clock, the
    recorder, the scenario's controller profile and service name, and ``apply`` to carry out
    the actions a pass decides (``apply(source, actions)``)."""

    store: Store
    clock: Clock
    recorder: Recorder
    profile: str
    service: str
    apply: Callable[[str, Sequence[Action]], None]
    busy_s: Callable[[str], float] = field(default=lambda _source: 0.0)
    """Seconds the named controller's last pass still spends sending writes."""
    cache_lag_s: float = 0.0
    """Informer cache lag (s): watch events reach the controllers this late."""
    autoscaling: Any = None
    """The PodAutoscaler controller's world inputs
    (:class:`~stormsim.sim.autoscaling.AutoscalingEnv`)."""
    view: Any = None
    """What the controllers read (a :class:`~stormsim.sim.store.Store` or a lagged view of
    it); ``None``: ``store``."""

    @property
    def reads(self) -> Any:
        """The store as the controllers' caches see it."""
        return self.store if self.view is None else self.view


KeyOf = Callable[[ControllerContext, Any], "str | None"]
"""Maps a watched object to the key to enqueue (``None``: not this controller's)."""
Unseen = Callable[[ControllerContext, Any, Any], bool]
"""``(ctx, old, new)`` -> True when the write changes nothing the controller reads, so the
pass it would cause is a provable no-op (``old``/``new`` is ``None`` on create/delete)."""


@dataclass(frozen=True)
class Watch:
    """One watch of a controller (controller-runtime's ``For``/``Owns``/``Watches``): writes
    to objects of ``kind`` enqueue ``key(ctx, obj)`` unless ``unseen(ctx, old, new)``."""

    kind: str
    key: KeyOf
    unseen: Unseen | None = None


@dataclass(frozen=True)
class Registration:
    """A controller: its name (event source), its latency stream key, the kind it
    reconciles (its primary watch), its watches, and ``setup(ctx)`` building the reconcile
    function of one world (it may keep state, e.g. caches)."""

    name: str
    stream: str
    kind: str
    watches: tuple[Watch, ...]
    setup: Callable[[ControllerContext], Reconcile]


def _bind(latency: Callable[[str], float], stream: str) -> Callable[[], float]:
    return lambda: latency(stream)


def _busy(ctx: ControllerContext, name: str) -> Callable[[], float]:
    return lambda: ctx.busy_s(name)


class Manager:
    """Builds one :class:`Controller` per registration (in registration order) and routes
    the store's watch events to them. A write to an object of kind K enqueues first the
    controllers that reconcile K (their primary watch), then the other controllers watching K,
    each in registration order: the owned object's controller before its owners'."""

    def __init__(
        self,
        ctx: ControllerContext,
        registrations: Sequence[Registration],
        latency: Callable[[str], float],
    ):
        self.ctx = ctx
        self.controllers: dict[str, Controller] = {}
        primary: dict[str, list[tuple[Controller, Watch]]] = {}
        others: dict[str, list[tuple[Controller, Watch]]] = {}
        for reg in registrations:
            if reg.name in self.controllers:
                raise ValueError(f"controller {reg.name!r} registered twice")
            ctl = Controller(
                ctx.clock,
                reg.name,
                reg.setup(ctx),
                _bind(latency, reg.stream),
                _busy(ctx, reg.name),
                elide=ctx.cache_lag_s <= 0,
            )
            self.controllers[reg.name] = ctl
            for w in reg.watches:
                table = primary if w.kind == reg.kind else others
                table.setdefault(w.kind, []).append((ctl, w))
        kinds = set(primary) | set(others)
        self.routes: dict[str, tuple[tuple[Controller, Watch], ...]] = {
            k: (*primary.get(k, ()), *others.get(k, ())) for k in kinds
        }

    def on_change(self, kind: str, old: Any, new: Any) -> None:
        """Store listener: enqueue the keys the write concerns (``cache_lag_s`` later under a
        cache lag, when the informer would deliver it)."""
        if kind not in self.routes:
            return
        lag = self.ctx.cache_lag_s
        if lag > 0:
            self.ctx.clock.timeout(lag).callbacks.append(
                lambda _e: self._route(kind, old, new, elide=False)
            )
        else:
            self._route(kind, old, new, elide=True)

    def _route(self, kind: str, old: Any, new: Any, elide: bool) -> None:
        routes = self.routes[kind]
        ctx = self.ctx
        obj = new if new is not None else old
        for ctl, w in routes:
            if elide and w.unseen is not None and w.unseen(ctx, old, new):
                continue
            key = w.key(ctx, obj)
            if key is not None:
                ctl.add(key)
