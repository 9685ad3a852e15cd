"""The controllers of one world: each module adapts one pure controller of
:mod:`stormsim.control` to the store and declares what it watches (its
:class:`~stormsim.sim.controllers.Registration`). A new controller is a new module here and
one entry in :data:`REGISTRATIONS`.
"""

from stormsim.sim.controllers import Registration
from stormsim.sim.reconcilers import podautoscaler, podset, roleset, stormservice

REGISTRATIONS: tuple[Registration, ...] = (
    stormservice.REGISTRATION,
    roleset.REGISTRATION,
    podset.REGISTRATION,
    podautoscaler.REGISTRATION,
)
"""Every controller, in the order they are built and reported (``controller_passes``)."""

__all__ = ["REGISTRATIONS"]
