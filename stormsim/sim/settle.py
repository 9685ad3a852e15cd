"""Settle detection: when the service is done rolling.

:class:`Settle` watches the store, records every change of the settled state in the recorder
(``settled_changes``) and triggers :attr:`Settle.settled` once the service has settled after
the last scenario event.
"""

from __future__ import annotations

from typing import Any

import simpy

from stormsim.control.convergence import role_converged
from stormsim.sim.clock import Clock
from stormsim.sim.recorder import Recorder
from stormsim.sim.store import SS, Store


class Settle:
    def __init__(self, clock: Clock, store: Store, recorder: Recorder, service: str):
        self.clock = clock
        self.store = store
        self.recorder = recorder
        self.service = service
        self.events_done = False
        """Every scenario event has been applied (set by the event process)."""
        self.settled: simpy.Event = clock.event()
        """Succeeds when the service is settled after the last scenario event."""
        self.settled_at: float | None = None
        self._state = False

    def on_change(self, kind: str, old: Any, new: Any) -> None:
        """Store listener: re-check after a write that can change the answer."""
        if self._state or kind == SS or self._ss_ready():
            self.check()

    def _ss_ready(self) -> bool:
        ss = self.store.stormservices.get(self.service)
        return ss is not None and ss.status is not None and ss.status.ready

    def is_settled(self) -> bool:
        """The service is done rolling: AIBrix reports it Ready with ``currentRevision ==
        updateRevision`` for the current generation AND the fleet has converged: every live
        RoleSet is at the update revision and each of its roles has converged
        (:func:`~stormsim.control.convergence.role_converged`: exactly ``replicas`` ready
        units of the current template, none mid in-place update, one per slot for slot-based
        roles).

        The second half guards against AIBrix reporting Ready from stale RoleSet statuses
        (e.g. right after an in-place RoleSet update, before the RoleSet controller has
        recomputed its status against the new spec)."""
        ss = self.store.stormservices.get(self.service)
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

    def check(self) -> None:
        """Record a change of the settled state; trigger :attr:`settled` when due."""
        settled = self.is_settled()
        if settled != self._state:
            self._state = settled
            self.recorder.settled(self.clock.now, settled)
        if settled and self.events_done and not self.settled.triggered:
            self.settled_at = self.clock.now
            self.settled.succeed()
