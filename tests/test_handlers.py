"""Every controller action and every scenario event type has exactly one handler, and the
controllers' watches route store writes in the order the simulation depends on."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from stormsim.control import objects
from stormsim.control.objects import Action, DeletePod
from stormsim.schema.scenario import Event
from stormsim.sim import actions, events, faults
from stormsim.sim.controllers import ControllerContext, Manager, Registration, Watch
from stormsim.sim.reconcilers import REGISTRATIONS
from stormsim.sim.store import CR, PA, POD, PS, RS, SS
from stormsim.sim.world import World

DEFAULT = Path(__file__).resolve().parents[1] / "scenarios" / "default.yaml"

ACTION_TYPES = typing.get_args(Action)
EVENT_TYPES = typing.get_args(typing.get_args(Event)[0])


def test_the_unions_are_enumerated() -> None:
    assert len(ACTION_TYPES) >= 16 and all(dataclasses.is_dataclass(t) for t in ACTION_TYPES)
    names = {t.__name__ for t in EVENT_TYPES}
    assert {"SetImage", "Apply", "Scale", "Pause", "Resume", "Rollback"} <= names
    assert {"CrashPod", "FailNode"} <= names


@pytest.mark.parametrize("t", ACTION_TYPES, ids=lambda t: t.__name__)
def test_every_action_has_a_handler(t: type) -> None:
    assert t in actions.HANDLERS, f"no handler for action {t.__name__} in sim/actions.py"


def test_action_handlers_are_for_actions_only() -> None:
    assert set(actions.HANDLERS) == set(ACTION_TYPES)


def test_every_action_class_is_in_the_union() -> None:
    """An action class defined next to the others but left out of ``Action`` would be
    invisible to both the controllers' type checks and this test."""
    start = list(vars(objects)).index("CreateRevision")
    end = list(vars(objects)).index("Action")
    defined = [
        v
        for k, v in list(vars(objects).items())[start:end]
        if isinstance(v, type) and dataclasses.is_dataclass(v)
    ]
    assert set(defined) == set(ACTION_TYPES)


@pytest.mark.parametrize("t", EVENT_TYPES, ids=lambda t: t.__name__)
def test_every_scenario_event_has_a_handler(t: type) -> None:
    assert t in events.HANDLERS, f"no handler for scenario event {t.__name__}"
    assert (t in events.SPEC_EDITS) != (t in faults.FAULTS), "a spec edit or a fault, not both"


def test_event_handlers_are_for_events_only() -> None:
    assert set(events.HANDLERS) == set(EVENT_TYPES)
    assert set(events.SPEC_EDITS) | set(faults.FAULTS) == set(EVENT_TYPES)


def _world() -> World:
    import stormsim

    return World(stormsim.load_scenario(DEFAULT), 1)


def test_an_unknown_action_raises() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unknown:
        name: str

    w = _world()
    with pytest.raises(TypeError, match="no handler for action Unknown"):
        w.actions.apply("test", [Unknown("x")])  # type: ignore[list-item]
    w.actions.apply("test", [DeletePod("no-such-pod")])  # a known one: a no-op here


def test_an_unknown_scenario_event_raises() -> None:
    class Unknown:
        at_s = 0.0
        action = "unknown"

    w = _world()
    w.scenario.events.append(Unknown())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no handler for scenario event Unknown"):
        w.events.apply_event(len(w.scenario.events) - 1)


def test_registrations() -> None:
    names = [r.name for r in REGISTRATIONS]
    assert names == [
        "stormservice-controller",
        "roleset-controller",
        "podset-controller",
        "podautoscaler-controller",
    ]
    for r in REGISTRATIONS:
        assert any(w.kind == r.kind for w in r.watches), f"{r.name} does not watch its kind"
        assert {w.kind for w in r.watches} <= {SS, CR, RS, PS, POD, PA}


def test_watch_routes_in_order() -> None:
    """A write enqueues the controller of its kind first, then its owners' controllers (the
    order SimPy processes their wake-ups in, which the golden outputs depend on)."""
    w = _world()
    routes = {k: [c.name for c, _ in v] for k, v in w.manager.routes.items()}
    assert routes == {
        SS: ["stormservice-controller"],
        CR: ["stormservice-controller"],
        RS: ["roleset-controller", "stormservice-controller"],
        PS: ["podset-controller", "roleset-controller"],
        POD: ["roleset-controller", "podset-controller"],
        PA: ["podautoscaler-controller"],
    }


def _manager(watches: tuple[Watch, ...]) -> tuple[Manager, list[str]]:
    from stormsim.sim.clock import Clock
    from stormsim.sim.recorder import Recorder
    from stormsim.sim.store import Store

    clock = Clock()
    ctx = ControllerContext(Store(), clock, Recorder(), "aibrix-e3e10f9e", "svc", lambda s, a: None)
    reg = Registration("test-controller", "test", RS, watches, lambda ctx: lambda key: None)
    m = Manager(ctx, [reg], lambda key: 0.0)
    added: list[str] = []
    m.controllers["test-controller"].add = added.append  # type: ignore[method-assign]
    return m, added


def test_a_watch_maps_and_filters() -> None:
    m, added = _manager(
        (
            Watch(RS, lambda _c, rs: rs.owner, lambda _c, old, new: new is not None and new.x),
            Watch(POD, lambda _c, pod: pod.roleset if pod.podset is None else None),
        )
    )

    @dataclasses.dataclass
    class Obj:
        owner: str = "o"
        x: bool = False
        roleset: str = "rs"
        podset: str | None = None

    m.on_change(RS, None, Obj(x=False))  # not unseen: enqueued under the mapped key
    m.on_change(RS, None, Obj(x=True))  # unseen: not enqueued
    m.on_change(RS, Obj(owner="gone"), None)  # a delete maps the old object
    m.on_change(POD, None, Obj(podset="ps"))  # not this controller's pod
    m.on_change(POD, None, Obj())
    m.on_change(PS, None, Obj())  # an unwatched kind
    assert added == ["o", "gone", "rs"]


def test_a_controller_registered_twice_is_an_error() -> None:
    from stormsim.sim.clock import Clock
    from stormsim.sim.recorder import Recorder
    from stormsim.sim.store import Store

    ctx = ControllerContext(Store(), Clock(), Recorder(), "p", "svc", lambda s, a: None)
    reg = REGISTRATIONS[0]
    with pytest.raises(ValueError, match="registered twice"):
        Manager(ctx, [reg, reg], lambda key: 0.0)
