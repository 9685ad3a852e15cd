"""The run keeps its long-lived objects out of the cyclic collector's reach, and leaves the
collector as it found it (:mod:`stormsim.sim.longlived`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from serving_helpers import load, scenario

from stormsim.sim import longlived
from stormsim.sim.longlived import FREEZE_EVERY, LongLived
from stormsim.sim.world import World


@pytest.fixture(autouse=True)
def _collector_as_found() -> Iterator[None]:
    was = gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_freezes_every_few_ticks_and_unfreezes_at_stop() -> None:
    ll = LongLived()
    ll.start()
    keep = [[i] for i in range(1000)]  # long-lived containers
    for _ in range(FREEZE_EVERY - 1):
        ll.tick()
    assert gc.get_freeze_count() == 0
    ll.tick()
    assert gc.get_freeze_count() >= len(keep)
    ll.stop()
    assert gc.get_freeze_count() == 0
    ll.stop()  # a second stop changes nothing
    assert gc.get_freeze_count() == 0


def test_leaves_the_collector_alone_when_disabled_or_already_frozen() -> None:
    gc.disable()
    ll = LongLived()
    ll.start()
    for _ in range(2 * FREEZE_EVERY):
        ll.tick()
    assert gc.get_freeze_count() == 0
    ll.stop()
    gc.enable()
    someone_elses = [[i] for i in range(100)]
    gc.freeze()
    frozen = gc.get_freeze_count()
    ll.start()
    for _ in range(2 * FREEZE_EVERY):
        ll.tick()
    ll.stop()
    assert gc.get_freeze_count() == frozen  # not unfrozen by the run
    assert someone_elses


def _busy() -> dict[str, Any]:
    return scenario(
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 200},
            "prompt_tokens": {"kind": "uniform", "low": 100, "high": 400},
            "output_tokens": {"kind": "uniform", "low": 10, "high": 40},
            "start_s": 30,
        },
        until_s=30 + 4096 * FREEZE_EVERY * 1.2 / 200,
    )


def test_a_serving_run_freezes_while_it_runs_and_releases_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sc = load(_busy())
    w = World(sc, 1)
    assert w.serving is not None
    seen: list[int] = []
    real = longlived.gc.freeze

    def freeze() -> None:
        real()
        seen.append(gc.get_freeze_count())

    monkeypatch.setattr(longlived.gc, "freeze", freeze)
    w.run(sc.until_s)
    assert seen and seen[0] > 0  # it froze during the run
    assert gc.get_freeze_count() == 0  # and released everything at its end


def test_a_run_that_fails_releases_what_it_froze(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load(_busy())
    w = World(sc, 1)
    assert w.serving is not None
    plane = w.serving
    calls = {"n": 0}
    real = plane.dispatch

    def boom(*a: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 4096 * FREEZE_EVERY + 10:
            assert gc.get_freeze_count() > 0
            raise RuntimeError("boom")
        real(*a)

    monkeypatch.setattr(plane, "dispatch", boom)
    with pytest.raises(RuntimeError, match="boom"):
        w.run(sc.until_s)
    assert gc.get_freeze_count() == 0
