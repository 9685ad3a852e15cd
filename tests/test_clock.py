"""Clock.advance_if_idle: moves time forward only when no SimPy event would be skipped."""

from __future__ import annotations

from stormsim.sim.clock import Clock


def test_advances_when_nothing_is_due() -> None:
    c = Clock()
    assert c.advance_if_idle(2.5) and c.now == 2.5
    assert not c.advance_if_idle(1.0) and c.now == 2.5  # never backwards


def test_never_passes_a_scheduled_event() -> None:
    c = Clock()
    fired: list[float] = []
    c.timeout(3.0).callbacks.append(lambda _e: fired.append(c.now))
    assert c.advance_if_idle(2.0) and c.now == 2.0
    assert not c.advance_if_idle(3.0)  # an event at 3.0: a timeout must get there
    assert not c.advance_if_idle(4.0) and c.now == 2.0
    c.run()
    assert fired == [3.0] and c.now == 3.0
