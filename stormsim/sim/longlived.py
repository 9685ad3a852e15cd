"""The cyclic garbage collector during a run.

A serving run keeps every request's record, and the control plane its objects, to the end of
the run: millions of container objects that CPython's cyclic collector would walk again at
each of its full collections (about 7 % of the CPU time of a day of 1M requests). Reference
counting frees almost everything the run discards, so the run moves what it has built so far
out of the collector's reach (``gc.freeze``) every few blocks of arrivals, and puts it back
(``gc.unfreeze``) when the run stops, whatever way it stops. Cycles among frozen objects wait
until then to be collected; the simulated history does not depend on when the collector runs.

The run leaves the collector alone when it is disabled, or when objects were frozen before
the run started (a sweep worker forked from a parent that froze its heap): unfreezing at the
end would then also release what someone else froze.
"""

from __future__ import annotations

import gc

FREEZE_EVERY = 8
"""Ticks (blocks of arrivals, 4,096 requests each) between two freezes."""


class LongLived:
    """Freezes the objects built so far every :data:`FREEZE_EVERY` ticks of an active run.

    Invariant: between :meth:`start` and :meth:`stop`, objects are frozen only if the
    collector was enabled and nothing was frozen at :meth:`start`; :meth:`stop` unfreezes
    exactly in that case."""

    def __init__(self) -> None:
        self._active = False
        self._ticks = 0

    def start(self) -> None:
        """A run begins."""
        self._active = gc.isenabled() and gc.get_freeze_count() == 0
        self._ticks = 0

    def tick(self) -> None:
        """The run has built another block of long-lived objects."""
        if self._active:
            self._ticks += 1
            if self._ticks % FREEZE_EVERY == 0:
                gc.freeze()

    def stop(self) -> None:
        """The run has stopped (normally or not): frozen objects go back to the collector."""
        if self._active:
            self._active = False
            gc.unfreeze()
