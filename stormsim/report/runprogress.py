"""Progress of one run on the command line (``stormsim run``): simulated time against the
run's end, and the time left at the pace measured so far.

A thread reads the simulated clock twice a second (the simulation itself is not touched, so
its results cannot depend on the display). On a terminal it draws a bar on stderr; on
anything else it writes a plain line every :data:`LINE_EVERY_S` of wall time once the run
has lasted :data:`QUIET_S` (a short run prints nothing).

Time left is an extrapolation, and says so ("about"): wall time so far ÷ simulated time so
far × simulated time still to go. The pace of a run changes with its load (a diurnal peak
costs more per simulated second than a trough), so it is an estimate; a run that ends when
the service settles has no known end and shows none.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from stormsim.units import format_duration

REFRESH_S = 0.5
"""Seconds between two reads of the simulated clock."""
QUIET_S = 10.0
"""Wall seconds before the first plain line (not on a terminal)."""
LINE_EVERY_S = 30.0
"""Wall seconds between two plain lines (not on a terminal)."""


def time_left_s(elapsed_s: float, sim_now: float, sim_start: float, end_s: float) -> float | None:
    """Wall seconds left at the pace so far; None before 1 % of the run (no pace yet)."""
    span = end_s - sim_start
    done = sim_now - sim_start
    if span <= 0 or done <= 0.01 * span:
        return None
    return elapsed_s * (span - done) / done


class SimProgress:
    """A :class:`~stormsim.runner.RunWatch` for the terminal (``enabled=None``: a bar when
    stderr is a terminal, plain lines otherwise; ``False``: silent)."""

    def __init__(self, title: str, enabled: bool | None = None, stream: TextIO | None = None):
        self.title = title
        self.enabled = enabled
        self.stream: TextIO = stream if stream is not None else sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._phase = "simulating"
        self._bar: Progress | None = None
        self._now: Callable[[], float] = lambda: 0.0
        self._end: float | None = None
        self._t0 = 0.0
        self._sim0 = 0.0

    # ------------------------------------------------------------------ RunWatch
    def start(self, now: Callable[[], float], end_s: float | None) -> None:
        if self.enabled is False:
            return
        self._now, self._end = now, end_s
        self._t0 = time.perf_counter()
        self._sim0 = now()
        tty = self.enabled is True or self.stream.isatty()
        if tty:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[sim]}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[left]}"),
                console=Console(file=self.stream),
                transient=True,
            )
            self._task = self._bar.add_task(
                self.title, total=end_s if end_s else None, sim="", left=""
            )
            self._bar.start()
        self._thread = threading.Thread(target=self._loop, name="stormsim-progress", daemon=True)
        self._thread.start()

    def phase(self, name: str) -> None:
        self._phase = name
        self._show()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    # ------------------------------------------------------------------ display
    def text(self) -> tuple[str, str]:
        """(simulated time, time left) as shown."""
        now = self._now()
        elapsed = time.perf_counter() - self._t0
        if self._phase != "simulating":
            return f"{self._phase}", ""
        if self._end is None:
            return f"simulated {now:,.0f} s (until the service settles)", ""
        sim = f"simulated {now:,.0f} / {self._end:,.0f} s"
        left = time_left_s(elapsed, now, self._sim0, self._end)
        return sim, ("left ?" if left is None else f"about {format_duration(left)} left")

    def _show(self) -> None:
        sim, left = self.text()
        if self._bar is not None:
            done = self._end if self._phase != "simulating" else self._now()
            self._bar.update(self._task, completed=done, sim=sim, left=left)

    def _loop(self) -> None:
        next_line = QUIET_S
        phase = self._phase
        while not self._stop.wait(REFRESH_S):
            self._show()
            if self._bar is None:
                elapsed = time.perf_counter() - self._t0
                if elapsed >= next_line or (phase != self._phase and elapsed >= QUIET_S):
                    next_line = elapsed + LINE_EVERY_S
                    phase = self._phase
                    self._line(elapsed)

    def _line(self, elapsed: float) -> None:
        sim, left = self.text()
        msg = f"{self.title}: {sim}, {format_duration(elapsed)} elapsed"
        print(f"{msg}, {left}" if left else msg, file=self.stream, flush=True)
