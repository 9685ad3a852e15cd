"""Text tables of ``stormsim latency`` and ``stormsim calibrate``."""

from __future__ import annotations

from rich.table import Table

from stormsim.perf.fit import ErrorRow
from stormsim.perf.query import IterationLatency


def breakdown_table(r: IterationLatency) -> Table:
    t = Table(title=f"{r.kind} iteration: {r.model} on {r.engine} ({r.latency_model})")
    t.add_column("component")
    t.add_column("ms", justify="right")
    t.add_column("share", justify="right")
    for k, v in r.components_s.items():
        t.add_row(k, f"{v * 1e3:.3f}", f"{v / r.total_s:.1%}" if r.total_s else "-")
    t.add_row("total", f"{r.total_s * 1e3:.3f}", "100.0%")
    return t


def grid_table(title: str, rows: list[str], cols: list[str], ms: list[list[float]]) -> Table:
    t = Table(title=title)
    t.add_column("batch \\ context")
    for c in cols:
        t.add_column(c, justify="right")
    for r, vals in zip(rows, ms, strict=True):
        t.add_row(r, *(f"{v:.2f}" for v in vals))
    return t


def error_table(rows: list[ErrorRow]) -> Table:
    t = Table(title="calibration fit: |predicted / measured - 1|")
    for c in ("what", "model", "TP", "n", "median", "p90", "median ratio"):
        t.add_column(c, justify="right" if c not in ("what", "model") else "left")
    for r in rows:
        t.add_row(
            r.what,
            r.model,
            str(r.tp),
            str(r.n),
            f"{r.median:.1%}",
            f"{r.p90:.1%}",
            f"{r.ratio_median:.3f}",
        )
    return t
