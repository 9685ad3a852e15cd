"""Scenario events: what a user with kubectl does to the StormService, and faults, at their
times.

Every scenario event type has exactly one handler in :data:`HANDLERS`: a spec edit from
:data:`SPEC_EDITS` (``kubectl set image``, ``apply``, ``scale``, ...) or a fault from
:data:`~stormsim.sim.faults.FAULTS`; :meth:`ScenarioEvents.apply_event` raises on a type
without one. A new spec edit is an event class in the scenario schema, a function here and one
entry in :data:`SPEC_EDITS`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

import simpy

from stormsim.control.objects import StormServiceObj
from stormsim.errors import InputError, Problem
from stormsim.schema.aibrix import RoleSetTemplate, StormServiceSpec
from stormsim.schema.autoscaler import PodAutoscaler
from stormsim.schema.scenario import (
    Apply,
    Pause,
    Resume,
    Rollback,
    Scale,
    Scenario,
    SetImage,
)
from stormsim.sim.actions import Actions
from stormsim.sim.autoscaling import PAObj
from stormsim.sim.faults import FAULTS, FaultContext
from stormsim.sim.fleet import deploy_ready
from stormsim.sim.settle import Settle
from stormsim.sim.store import PA, SS

Edited = tuple[StormServiceSpec, str] | None
SpecEdit = Callable[["ScenarioEvents", int, Any, StormServiceSpec], Edited]
"""``(events, index, event, spec)`` -> the edited spec and a detail for the event record, or
``None`` when the API rejects the edit (the edit records why)."""


class ScenarioEvents:
    """Applies the scenario: the manifest at t = 0 (or the ready fleet), then each event at
    its ``at_s`` (ties in file order); tells :class:`~stormsim.sim.settle.Settle` when the
    last one is done."""

    def __init__(self, scenario: Scenario, actions: Actions, faults: FaultContext, settle: Settle):
        self.scenario = scenario
        self.actions = actions
        self.faults = faults
        self.settle = settle
        self.clock = actions.clock
        self.store = actions.store
        self.recorder = actions.recorder
        self.service = scenario.service.manifest.name
        self.profile = scenario.controller.profile
        self._template_canonical = ""

    def process(self) -> Generator[simpy.Event, Any, None]:
        """The SimPy process that runs the scenario."""
        m = self.scenario.service.manifest
        self._template_canonical = m.spec.template.canonical
        self.recorder.event(0.0, "scenario", "apply", SS, self.service, "", "initial manifest")
        if self.scenario.service.initial_state == "ready":
            deploy_ready(m, self.actions)
            self.store.put(SS, StormServiceObj(self.service, m.spec, generation=1, finalizer=True))
        else:
            self.store.put(SS, StormServiceObj(self.service, m.spec, generation=1))
        for pa in self.scenario.autoscalers:
            self.apply_autoscaler(pa, "initial manifest")
        events = self.scenario.events
        order = sorted(range(len(events)), key=lambda i: (events[i].at_s, i))
        clock = self.clock
        for i in order:
            ev = events[i]
            if ev.at_s > clock.now:
                yield clock.timeout(ev.at_s - clock.now)
            self.apply_event(i)
        self.settle.events_done = True
        self.settle.check()

    def apply_event(self, i: int) -> None:
        """Apply scenario event ``i``."""
        ev = self.scenario.events[i]
        handler = HANDLERS.get(type(ev))
        if handler is None:
            raise TypeError(f"no handler for scenario event {type(ev).__name__}")
        handler(self, i, ev)

    def apply_autoscaler(self, pa: PodAutoscaler, detail: str) -> None:
        """``kubectl apply`` of a PodAutoscaler: create it, or replace its spec (the
        controller's memory of it, windows and history, is kept, as AIBrix keeps it)."""
        old = self.store.autoscalers.get(pa.key)
        self.recorder.event(self.clock.now, "scenario", "apply", PA, pa.key, "", detail)
        if old is not None and old.manifest == pa:
            return
        self.store.put(PA, PAObj(pa.key, pa, old.status if old is not None else None))

    def edit_spec(self, i: int, ev: Any, edit: SpecEdit) -> None:
        """Apply a spec edit to the StormService as a user with kubectl would: record it,
        and write the new spec (generation + 1) unless it is unchanged or was rejected."""
        ss = self.store.stormservices[self.service]
        out = edit(self, i, ev, ss.spec)
        if out is None:
            return
        spec, detail = out
        spec = StormServiceSpec.model_validate(spec.model_dump(by_alias=True))
        now = self.clock.now
        self.recorder.event(now, "scenario", ev.kind, SS, self.service, "", detail)
        if spec == ss.spec:
            return
        canonical = spec.template.canonical
        if canonical != self._template_canonical:
            self._template_canonical = canonical
            self.recorder.template_change(now, i, ev.kind)
        self.store.put(SS, replace(ss, spec=spec, generation=ss.generation + 1))


def set_image(se: ScenarioEvents, i: int, ev: SetImage, spec: StormServiceSpec) -> Edited:
    """``kubectl set image``: one container (default the first) of one role (default all)."""
    data = spec.template.dump()
    for role in data["spec"]["roles"]:
        if ev.role is not None and role["name"] != ev.role:
            continue
        containers = role["template"]["spec"]["containers"]
        target = next(
            (c for c in containers if ev.container is None or c["name"] == ev.container),
            None,
        )
        if target is not None:
            target["image"] = ev.image
    spec = spec.model_copy(update={"template": RoleSetTemplate.model_validate(data)})
    return spec, f"image {ev.image} for role {ev.role or '*'}"


def apply_manifest(se: ScenarioEvents, i: int, ev: Apply, spec: StormServiceSpec) -> Edited:
    """``kubectl apply`` of a new manifest (PodAutoscalers alone leave the spec as is)."""
    if ev.manifest is None:
        return spec, "autoscalers only"
    return ev.manifest.spec, f"manifest {ev.manifest_path or '(inline)'}"


def scale(se: ScenarioEvents, i: int, ev: Scale, spec: StormServiceSpec) -> Edited:
    """The /scale subresource (``spec.replicas``), or one role's ``replicas``."""
    if (
        ev.role is None
        and ev.replicas > 1
        and spec.mode == "Pooled"
        and se.profile == "aibrix-latest"
    ):
        # PR #2661: the /scale subresource rejects > 1 for a declared Pooled service
        se.recorder.event(
            se.clock.now,
            "scenario",
            "scale",
            SS,
            se.service,
            "",
            f"rejected: /scale replicas={ev.replicas} on a Pooled StormService",
        )
        return None
    if ev.role is None:
        return spec.model_copy(update={"replicas": ev.replicas}), f"/scale replicas={ev.replicas}"
    data = spec.template.dump()
    for role in data["spec"]["roles"]:
        if role["name"] == ev.role:
            role["replicas"] = ev.replicas
    spec = spec.model_copy(update={"template": RoleSetTemplate.model_validate(data)})
    return spec, f"role {ev.role} replicas={ev.replicas}"


def pause(se: ScenarioEvents, i: int, ev: Pause, spec: StormServiceSpec) -> Edited:
    return spec.model_copy(update={"paused": True}), ""


def resume(se: ScenarioEvents, i: int, ev: Resume, spec: StormServiceSpec) -> Edited:
    return spec.model_copy(update={"paused": False}), ""


def rollback(se: ScenarioEvents, i: int, ev: Rollback, spec: StormServiceSpec) -> Edited:
    """Re-apply the template of the ControllerRevision numbered ``ev.to_revision``."""
    revisions = se.store.revisions.values()
    target = next((r for r in revisions if r.revision == ev.to_revision), None)
    if target is None:
        have = sorted(r.revision for r in revisions)
        raise InputError(
            Problem(
                f"events[{i}].to_revision",
                f"no ControllerRevision with revision {ev.to_revision} at "
                f"t={ev.at_s:g} s (existing: {have})",
            )
        )
    spec = spec.model_copy(update={"template": target.template})
    return spec, f"to revision {ev.to_revision} ({target.name})"


SPEC_EDITS: dict[type, SpecEdit] = {
    SetImage: set_image,
    Apply: apply_manifest,
    Scale: scale,
    Pause: pause,
    Resume: resume,
    Rollback: rollback,
}
"""The spec edit of each user-action event type."""

EventHandler = Callable[[ScenarioEvents, int, Any], None]


def _edit_handler(edit: SpecEdit) -> EventHandler:
    return lambda se, i, ev: se.edit_spec(i, ev, edit)


def _fault_handler(fault: Callable[[FaultContext, Any], None]) -> EventHandler:
    return lambda se, i, ev: fault(se.faults, ev)


def _apply_handler(se: ScenarioEvents, i: int, ev: Apply) -> None:
    """``apply`` of a StormService (a spec edit) and/or of PodAutoscalers."""
    if ev.manifest is not None:
        se.edit_spec(i, ev, apply_manifest)
    for pa in ev.autoscalers:
        se.apply_autoscaler(pa, f"manifest {ev.manifest_path or '(inline)'}")


HANDLERS: dict[type, EventHandler] = {
    **{t: _edit_handler(e) for t, e in SPEC_EDITS.items()},
    Apply: _apply_handler,
    **{t: _fault_handler(f) for t, f in FAULTS.items()},
}
"""The handler of every scenario event type (``handler(events, index, event)``)."""
