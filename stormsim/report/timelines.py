"""Several runs' timelines in a grid (compare strategies, sweep cells): one block of panels
per run, at most :data:`MAX_COLUMNS` blocks a row, every axis shared so the panels compare at
a glance. Each block: serving capacity (fraction of desired) with RoleSets ready / total,
GPUs allocated vs capacity, and with traffic the p99 TTFT per bin on one log axis shared by
every block, with the SLO as a line. The update window is shaded; every panel is labelled."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from stormsim.report.mpltext import plain
from stormsim.report.timeline import shade_rollouts
from stormsim.runner import RunResult

MAX_COLUMNS = 4
_PLAIN = FuncFormatter(lambda v, _: f"{v:g}")
_PLAIN_MINOR = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else "")
PANEL_W, PANEL_H = 3.4, 1.55


def _frames(r: RunResult | Mapping[str, pd.DataFrame]) -> Mapping[str, pd.DataFrame]:
    return r.frames if isinstance(r, RunResult) else r


def _held(res: RunResult | Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The time series with its last state held to the end of the run."""
    ts = _frames(res)["timeseries"]
    end = getattr(res, "summary", {}).get("sim_end_s")
    if end is not None and len(ts) and float(end) > float(ts["t_s"].iloc[-1]):
        tail = ts.iloc[[-1]].copy()
        tail["t_s"] = float(end)
        ts = pd.concat([ts, tail], ignore_index=True)
    return ts


def _slo_s(results: Mapping[str, Any]) -> float | None:
    for r in results.values():
        sc = getattr(r, "scenario", None)
        if sc is not None and sc.workload is not None:
            return float(sc.workload.slo.ttft_s)
    return None


def plot_timelines(
    results: Mapping[str, RunResult | Mapping[str, pd.DataFrame] | None],
    axes: Any = None,
    slo_ttft_s: float | None = None,
) -> np.ndarray:
    """Draw the runs (name -> result; None entries are skipped) and return the Axes as an
    array of shape (panels per run, runs): row 0 capacity, row 1 GPUs, row 2 (with traffic)
    TTFT p99. ``axes``: such an array to draw into, or None for a new grid figure.
    ``slo_ttft_s``: the TTFT SLO line (default: the first run's workload SLO)."""
    items = [(k, v) for k, v in results.items() if v is not None]
    n = max(1, len(items))
    traffic = any(len(_frames(v).get("request_series", ())) for _, v in items)
    rows = 3 if traffic else 2
    slo = slo_ttft_s if slo_ttft_s is not None else _slo_s(dict(items))
    if axes is None:
        ncol = min(n, MAX_COLUMNS)
        nblk = math.ceil(n / ncol)
        fig = plt.figure(
            figsize=(PANEL_W * ncol + 0.8, PANEL_H * rows * nblk + 0.5 * nblk + 0.4),
            layout="constrained",
        )
        outer = fig.add_gridspec(nblk, ncol)
        first = None
        grid = np.empty((rows, n), dtype=object)
        for j in range(n):
            inner = outer[j // ncol, j % ncol].subgridspec(rows, 1, hspace=0.08)
            for i in range(rows):
                ax = fig.add_subplot(inner[i], sharex=first)
                first = first or ax
                grid[i, j] = ax
        axes = grid
    axes = np.asarray(axes)
    axes = axes.reshape(axes.shape[0] if axes.ndim == 2 else 2, -1)
    tmax = 0.0
    lat_max, lat_min = 0.0, math.inf
    for _, res in items:
        rs = _frames(res).get("request_series")
        if rs is not None and len(rs):
            v = rs["ttft_p99_s"].dropna()
            v = v[v > 0]
            if len(v):
                lat_max, lat_min = max(lat_max, float(v.max())), min(lat_min, float(v.min()))
    gpu_max = 1.0
    for j, (name, res) in enumerate(items):
        fr = _frames(res)
        ts = _held(res)
        t = ts["t_s"].to_numpy()
        tmax = max(tmax, float(t[-1]))
        gpu_max = max(gpu_max, float(ts["gpus_capacity"].max()), float(ts["gpus_allocated"].max()))
        top, mid = axes[0, j], axes[1, j]
        top.step(t, ts["capacity_frac"], where="post", color="tab:green", label="capacity")
        total = max(1.0, float(ts["rolesets_total"].max()))
        top.step(t, ts["rolesets_ready"] / total, where="post", color="tab:blue", lw=0.8,
                 label="RoleSets ready / max total")  # fmt: skip
        top.set_ylim(-0.03, 1.12)
        top.set_ylabel("capacity\n(frac)", fontsize=7)
        top.set_title(plain(name), fontsize=8)
        mid.step(t, ts["gpus_allocated"], where="post", color="tab:orange", label="allocated")
        mid.step(t, ts["gpus_capacity"], where="post", ls="--", color="k", lw=0.8,
                 label="cluster")  # fmt: skip
        mid.set_ylabel("GPUs", fontsize=7)
        column = [top, mid]
        if rows > 2:
            lat = axes[2, j]
            column.append(lat)
            rs = fr.get("request_series")
            if rs is not None and len(rs):
                lat.plot(rs["t_s"], rs["ttft_p99_s"], color="tab:red", lw=0.9, label="TTFT p99")
            if slo is not None:
                lat.axhline(slo, color="k", ls=":", lw=1.0, label=f"SLO {slo:g} s")
            lat.set_yscale("log")
            lat.yaxis.set_major_formatter(_PLAIN)
            lat.yaxis.set_minor_formatter(_PLAIN_MINOR)
            lat.set_ylabel("TTFT p99\n(s, log)", fontsize=7)
        shade_rollouts(column, fr.get("rollouts"), float(t[-1]))
        for ax in column:
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.25)
        for ax in column[:-1]:
            ax.tick_params(labelbottom=False)
        column[-1].set_xlabel("simulated time (s)", fontsize=7)
        if j == 0:
            for ax in column:
                ax.legend(loc="lower left", fontsize=6, frameon=False)
    for j in range(len(items)):
        axes[0, j].set_xlim(0, tmax)
        axes[1, j].set_ylim(0, gpu_max * 1.08)
        if rows > 2:
            lo = min(lat_min, slo or math.inf)
            hi = max(lat_max, slo or 0.0)
            if math.isfinite(lo) and hi > 0:
                axes[2, j].set_ylim(lo / 1.5, hi * 1.5)
    return axes
