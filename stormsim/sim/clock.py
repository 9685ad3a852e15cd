"""The simulation clock: SimPy's environment plus one supported way to move time forward.

A component that keeps its own calendar (the serving data plane) runs many entries per SimPy
event. Between two of its entries nothing else may be due, and then a SimPy timeout per entry
would only cost time. :meth:`Clock.advance_if_idle` moves the clock to such an instant instead,
and only when no SimPy event is scheduled at or before it, so no event is ever skipped or
reordered: the simulated history is the same as with one timeout per entry.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Protocol

import simpy


class Now(Protocol):
    """Read access to a clock: ``now`` in simulated seconds."""

    @property
    def now(self) -> float: ...


class Clock(simpy.Environment):
    """A :class:`simpy.Environment` (times in seconds) whose callbacks may advance the clock
    to an instant before the next scheduled event."""

    # the same as SimPy's ``now`` property, read without a Python-level call: the data plane
    # reads the clock about a dozen times per request
    now = property(attrgetter("_now"), doc="The current simulated time (s).")

    def advance_if_idle(self, t: float) -> bool:
        """Move the clock to ``t`` (s) if ``now <= t`` and no event is scheduled at or
        before ``t``; returns whether it moved. Time never goes backwards."""
        queue = self._queue  # what ``peek()`` reads, without the extra call on a hot path
        if t < self._now or (queue and t >= queue[0][0]):
            return False
        self._now = t
        return True
