"""Controller drivers: a work queue and one worker per controller kind (spec §7).

Semantics follow client-go's work queue: a key is queued at most once; a key that changes
while its pass runs is processed again afterwards; ``add_after`` keeps only the earliest
pending requeue. Each pass waits ``reconcile_latency_s`` (the watch -> reconcile -> API write
hop) and then reads the store, so it sees everything written up to that instant.

Idle requeues are elided (and world.py does not enqueue keys for watch events that change
nothing the controller reads): a requeue timer that fires for a key whose inputs have not changed
since its last pass is dropped, because the pure reconcile would see the same state and do
nothing (any later change enqueues the key at once). This keeps a 15 s / 1 s polling loop
from costing work without changing behaviour.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any

import simpy

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
    ):
        self.env = env
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
                if self.stale.get(key, True):
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
            self.processing.discard(key)
            if key in self.dirty:
                self.queue.append(key)
            if requeue is not None:
                self.add_after(key, requeue)
