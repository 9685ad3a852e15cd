"""``stormsim run`` shows its progress: simulated time against the run's end and an honest
time left, without touching the simulation (stormsim.report.runprogress)."""

from __future__ import annotations

import io
import time

import pytest

import stormsim
from stormsim.report import runprogress
from stormsim.report.runprogress import SimProgress, time_left_s


def test_time_left_is_the_pace_so_far_extrapolated() -> None:
    assert time_left_s(10.0, 250.0, 0.0, 1000.0) == pytest.approx(30.0)
    assert time_left_s(10.0, 600.0, 100.0, 1100.0) == pytest.approx(10.0)
    assert time_left_s(10.0, 5.0, 0.0, 1000.0) is None  # under 1 %: no pace yet
    assert time_left_s(10.0, 1000.0, 0.0, 1000.0) == 0.0


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runprogress, "REFRESH_S", 0.01)
    monkeypatch.setattr(runprogress, "QUIET_S", 0.05)
    monkeypatch.setattr(runprogress, "LINE_EVERY_S", 0.05)
    out = io.StringIO()
    clock = _Clock()
    p = SimProgress("run demo", stream=out)
    p.start(clock, 3600.0)
    clock.t = 900.0
    time.sleep(0.3)
    p.phase("frames and KPIs")
    time.sleep(0.1)
    p.stop()
    lines = out.getvalue().splitlines()
    assert lines, "no progress line"
    assert lines[0].startswith("run demo: simulated 900 / 3,600 s, ")
    assert "left" in lines[0] and "about" in lines[0]
    assert lines[-1].startswith("run demo: frames and KPIs, ")
    n = len(lines)
    time.sleep(0.1)
    assert len(out.getvalue().splitlines()) == n  # stopped: nothing more


def test_a_short_run_prints_nothing_and_settle_runs_show_no_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    p = SimProgress("run x", stream=out)
    clock = _Clock()
    p.start(clock, None)
    clock.t = 42.0
    assert p.text() == ("simulated 42 s (until the service settles)", "")
    p.stop()
    assert out.getvalue() == ""  # under QUIET_S
    silent = SimProgress("run y", enabled=False, stream=out)
    silent.start(clock, 10.0)
    silent.stop()
    assert out.getvalue() == ""


def test_the_run_reports_to_its_watch_and_stops_it_even_when_it_fails() -> None:
    calls: list[str] = []

    class Watch:
        def start(self, now: object, end_s: float | None) -> None:
            calls.append(f"start {end_s}")

        def phase(self, name: str) -> None:
            calls.append(name)

        def stop(self) -> None:
            calls.append("stop")

    res = stormsim.run(stormsim.default_scenario_path(), until_s=120.0, watch=Watch())
    assert calls == ["start 120.0", "frames and KPIs", "stop"]
    assert res.summary["sim_end_s"] == 120.0
    calls.clear()
    with pytest.raises(Exception):  # noqa: B017  (bad input: whatever it raises, the watch stops)
        stormsim.run(stormsim.default_scenario_path(), until_s=-1.0, watch=Watch())
    assert calls == ["stop"]
