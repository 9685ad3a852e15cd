"""What compare and sweep share: a progress bar, turning run records into table rows, the KPI
columns of study tables, and atomic table writes."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from stormsim.metrics import catalogue
from stormsim.units import format_duration

NOT_KPIS = tuple(k.name for k in catalogue.IDENTITY)
"""Summary keys that are not KPIs (they become no column of their own)."""

HEADLINE_KPIS = catalogue.names("compare", group="rollout")
"""The rollout KPIs of a comparison, in table order (the catalogue's ``compare`` table)."""

REQUEST_KPI_COLUMNS = catalogue.names("compare", group="requests")
"""The request KPIs a comparison shows when the summary has them, in table order."""

AUTOSCALING_KPI_COLUMNS = catalogue.names("compare", group="autoscaling")
"""The autoscaling KPIs a comparison shows when the summary has them, in table order."""


NODE_KPI_COLUMNS = catalogue.names("compare", group="nodes")
"""The node KPIs a comparison shows when the summary has them (a node autoscaler), in order."""


def is_request_kpi(key: str) -> bool:
    """Request (serving) and autoscaling KPIs a comparison shows when the summary has them."""
    return key in REQUEST_KPI_COLUMNS or key in AUTOSCALING_KPI_COLUMNS


def kpi_items(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The KPIs of a summary as scalar columns (non-scalars as JSON text)."""
    out: dict[str, Any] = {}
    for k, v in (summary or {}).items():
        if k in NOT_KPIS:
            continue
        if v is not None and not isinstance(v, bool | int | float | str):
            v = json.dumps(v, sort_keys=True, default=str)
        out[k] = v
    return out


def tidy_column(values: list[Any]) -> list[Any]:
    """A parameter column parquet can store: numbers stay numbers, mixed values (``0``, ``1``,
    ``"25%"``) all become strings; None stays None."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return values
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return values
    if all(isinstance(v, str) for v in present):
        return values
    return [
        None if v is None else (v if isinstance(v, str) else json.dumps(v, default=str))
        for v in values
    ]


def numeric_kpis(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns of ``df`` among ``columns`` that hold numbers or booleans (nulls allowed)."""
    out = []
    for c in columns:
        s = df[c].dropna()
        if s.empty:
            continue
        if all(isinstance(v, bool | int | float) for v in s.tolist()):
            out.append(c)
    return out


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it to ``path``.
    The file gets the mode a plain ``open()`` would give it (0666 minus the umask), not the
    temporary file's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class RunProgress:
    """A rich progress bar (stderr) with done / failed / cached counts and time left.
    Disabled: every method is a no-op. ``enabled=None``: on when stderr is a terminal.

    Time left is measured, not guessed: (wall time since the first run started) ÷ (runs
    executed so far) × (runs still to execute); cached runs take no time and count for
    nothing, and until one run has finished the bar says ``?``."""

    def __init__(self, total: int, title: str, enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.total = total
        self.done = self.failed = self.cached = 0
        self.t0 = time.perf_counter()
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed [red]{task.fields[failed]}[/]"),
                TextColumn("cached [cyan]{task.fields[cached]}[/]"),
                TimeElapsedColumn(),
                TextColumn("left {task.fields[left]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._progress.add_task(title, total=total, failed=0, cached=0, left="?")

    def __enter__(self) -> RunProgress:
        self.t0 = time.perf_counter()
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, text: str) -> None:
        """A line above the bar (nothing when the bar is off)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)

    def time_left_s(self) -> float | None:
        """Seconds left at the measured pace, or None before the first executed run."""
        executed = self.done - self.cached
        if executed <= 0:
            return None
        rest = max(0, self.total - self.done)
        return (time.perf_counter() - self.t0) / executed * rest

    def advance(self, n: int = 1, *, failed: int = 0, cached: int = 0) -> None:
        self.done += n
        self.failed += failed
        self.cached += cached
        if self._progress is not None:
            left = self.time_left_s()
            self._progress.update(
                self._task,
                advance=n,
                failed=self.failed,
                cached=self.cached,
                left="?" if left is None else format_duration(left),
                refresh=False,
            )
