"""Plots of studies (compare, sweep): KPI heatmaps over (maxSurge, maxUnavailable), the Pareto
front of update duration vs surge GPU-hours vs availability, and timelines of several strategies
side by side. Each function draws into the given Axes (or a new figure) and returns it.

Heatmap colours are oriented so that brighter is always better (short updates, few surge
GPU-hours, high availability).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stormsim.analysis.paths import short_labels
from stormsim.analysis.study import atomic_write
from stormsim.report.timeline import shade_rollouts
from stormsim.runner import RunResult

if TYPE_CHECKING:
    from stormsim.analysis.compare import CompareResult
    from stormsim.analysis.sweep import SweepResult

HIGHER_IS_BETTER = ("capacity_availability_frac", "update_completed", "rolesets_ready_min")
HIGHER_IS_BETTER_PREFIXES = ("slo_attainment", "goodput")
HEATMAP_KPIS = (
    "update_duration_s",
    "capacity_availability_frac",
    "surge_gpu_hours",
    "full_outage_s",
    "pods_pending_max_s",
    "update_completed",
)
"""KPIs ``stormsim sweep`` draws heatmaps of (request KPIs such as ``ttft_p99_s`` are added
when present)."""
MAX_FACETS = 6
_NUM = re.compile(r"^[-+]?\d+(\.\d+)?$")
_PCT = re.compile(r"^(\d+(\.\d+)?)%$")


def higher_is_better(kpi: str) -> bool:
    return kpi in HIGHER_IS_BETTER or kpi.startswith(HIGHER_IS_BETTER_PREFIXES)


def value_order(values: Sequence[Any]) -> list[Any]:
    """Distinct values in a natural order: numbers ascending, then percentages ascending
    (``"25%"``), then anything else in order of appearance."""
    distinct = list(dict.fromkeys(v for v in values if not _isnan(v)))

    def key(iv: tuple[int, Any]) -> tuple[int, float, int]:
        i, v = iv
        s = str(v)
        if (isinstance(v, int | float) and not isinstance(v, bool)) or _NUM.match(s):
            return (0, float(s), i)
        m = _PCT.match(s)
        if m:
            return (1, float(m.group(1)), i)
        return (2, 0.0, i)

    return [v for _, v in sorted(enumerate(distinct), key=key)]


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def find_param(columns: Sequence[str], suffix: str) -> str | None:
    """The StormService-level column ending in ``suffix`` (else any column ending in it)."""
    hits = [c for c in columns if c.split(".")[-1] == suffix]
    for c in hits:
        if c.startswith("service.manifest.spec.updateStrategy."):
            return c
    return hits[0] if hits else None


def _params(cells: pd.DataFrame) -> list[str]:
    """Swept-parameter columns of a cells table (those before ``cell``)."""
    cols = list(cells.columns)
    return cols[: cols.index("cell")] if "cell" in cols else []


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _merged_labels(cells: pd.DataFrame, rows: pd.DataFrame) -> str:
    """One label for cells with identical results: per parameter, its distinct values."""
    params = _params(cells)
    short = short_labels(params)
    parts = []
    for p in params:
        vals = [str(v) for v in dict.fromkeys(rows[p].tolist())]
        parts.append(f"{short[p]}={'/'.join(vals)}")
    return "\n".join(parts) if parts else str(rows["cell_label"].iloc[0])


def _kpi_label(kpi: str) -> str:
    return kpi.replace("_", " ")


def plot_heatmap(
    cells: pd.DataFrame,
    kpi: str = "update_duration_s",
    x: str | None = None,
    y: str | None = None,
    where: Mapping[str, Any] | None = None,
    ax: Axes | None = None,
    annotate: bool = True,
    colorbar: bool = True,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Axes:
    """Heatmap of ``{kpi}_mean`` over two swept parameters (default: the StormService's
    maxSurge on x, maxUnavailable on y). ``where`` fixes other parameters; parameters neither
    plotted nor fixed are averaged over. A ``*`` marks cells where some runs did not complete
    the update; for durations (which average only the runs that completed) such cells are
    greyed out and labelled with the share of runs that completed, so a setting that stalls
    never looks like the fastest."""
    params = _params(cells)
    x = x or find_param(params, "maxSurge")
    y = y or find_param(params, "maxUnavailable")
    if x is None or y is None:
        raise ValueError("name the x and y parameters: no maxSurge/maxUnavailable column")
    col = f"{kpi}_mean"
    if col not in cells:
        raise ValueError(f"no KPI {kpi!r} in the table (no column {col})")
    df = cells
    for k, v in (where or {}).items():
        df = df[df[k].astype(str) == str(v)]
    xs, ys = value_order(df[x].tolist()), value_order(df[y].tolist())
    grid = np.full((len(ys), len(xs)), np.nan)
    partial = np.zeros_like(grid, dtype=bool)
    done = np.ones_like(grid)
    conditional = kpi in ("update_duration_s", "rollout_time_s")
    shown = grid.copy()
    for (i, yv), (j, xv) in ((a, b) for a in enumerate(ys) for b in enumerate(xs)):
        sel = df[(df[x].astype(str) == str(xv)) & (df[y].astype(str) == str(yv))]
        vals = sel[col].dropna()
        if len(vals):
            grid[i, j] = shown[i, j] = float(vals.mean())
        if "update_completed_mean" in sel and (sel["update_completed_mean"] < 1).any():
            partial[i, j] = True
            done[i, j] = float(sel["update_completed_mean"].fillna(0).mean())
            if conditional:
                shown[i, j] = np.nan  # not comparable: grey
    if ax is None:
        _, ax = plt.subplots(figsize=(1.3 * len(xs) + 2.5, 1.0 * len(ys) + 1.8))
    cmap = plt.get_cmap("viridis" if higher_is_better(kpi) else "viridis_r").with_extremes(
        bad="lightgrey"
    )
    im = ax.imshow(
        np.ma.masked_invalid(shown), cmap=cmap, aspect="auto", origin="lower", vmin=vmin, vmax=vmax
    )
    ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    short = short_labels([x, y])
    ax.set_xlabel(short[x])
    ax.set_ylabel(short[y])
    if annotate:
        finite = grid[np.isfinite(grid)]
        mid = float(np.nanmean(finite)) if finite.size else 0.0
        for i in range(len(ys)):
            for j in range(len(xs)):
                v = grid[i, j]
                text = "n/a" if np.isnan(v) else _num(v)
                if partial[i, j]:
                    text += "*"
                    if conditional:
                        text = "stalled" if np.isnan(v) else f"{text}\n{done[i, j]:.0%} done"
                dark = not np.isnan(shown[i, j]) and ((v < mid) == higher_is_better(kpi))
                ax.text(
                    j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black",
                )  # fmt: skip
    title = _kpi_label(kpi)
    if where:
        title += (
            "  (" + ", ".join(f"{short_labels(list(where))[k]}={v}" for k, v in where.items()) + ")"
        )
    ax.set_title(title, fontsize=10, parse_math=False)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.85)
    return ax


def plot_heatmap_facets(
    cells: pd.DataFrame,
    kpi: str = "update_duration_s",
    by: str | None = None,
    x: str | None = None,
    y: str | None = None,
    axes: Sequence[Axes] | None = None,
) -> list[Axes]:
    """One :func:`plot_heatmap` per value of the parameter ``by`` (default: the first swept
    parameter other than x and y, e.g. the RoleSet strategy), on a shared colour scale."""
    params = _params(cells)
    x = x or find_param(params, "maxSurge")
    y = y or find_param(params, "maxUnavailable")
    if by is None:
        rest = [p for p in params if p not in (x, y)]
        by = rest[0] if rest else None
    values = value_order(cells[by].tolist())[:MAX_FACETS] if by else [None]
    if axes is None:
        _, arr = plt.subplots(
            1, len(values), figsize=(4.2 * len(values) + 1, 3.6), squeeze=False, sharey=True
        )
        axes = list(arr[0])
    col = cells[f"{kpi}_mean"].dropna()
    vmin, vmax = (float(col.min()), float(col.max())) if len(col) else (None, None)
    out = []
    for i, (ax, v) in enumerate(zip(axes, values, strict=False)):
        where = {by: v} if by else None
        plot_heatmap(
            cells, kpi, x=x, y=y, where=where, ax=ax, vmin=vmin, vmax=vmax,
            colorbar=i == len(values) - 1,
        )  # fmt: skip
        out.append(ax)
    return out


def plot_pareto(
    cells: pd.DataFrame,
    x: str = "update_duration_s",
    y: str = "surge_gpu_hours",
    color: str = "capacity_availability_frac",
    ax: Axes | None = None,
    label: bool = True,
    errorbars: bool = True,
) -> Axes:
    """Every cell as a point (``x`` vs ``y`` means, coloured by ``color``, 95% CI bars); the
    Pareto-optimal cells (column ``pareto``: no other cell is at least as good in all three and
    better in one) are ringed and labelled, and their 2-D staircase drawn. Cells whose update
    never completed have no duration and are left out."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 5.5))
    xm, ym, cm = f"{x}_mean", f"{y}_mean", f"{color}_mean"
    df = cells.dropna(subset=[xm, ym])
    c = df.get(cm)
    sc = ax.scatter(
        df[xm], df[ym], c=c, cmap="viridis", s=40, zorder=3, vmin=None if c is None else 0.0,
        vmax=None if c is None else max(1.0, float(c.max())) if len(df) else None,
    )  # fmt: skip
    if errorbars and f"{x}_ci95_lo" in df:
        ax.errorbar(
            df[xm], df[ym],
            xerr=[df[xm] - df[f"{x}_ci95_lo"], df[f"{x}_ci95_hi"] - df[xm]],
            yerr=[df[ym] - df[f"{y}_ci95_lo"], df[f"{y}_ci95_hi"] - df[ym]],
            fmt="none", ecolor="grey", alpha=0.35, lw=0.8, zorder=2,
        )  # fmt: skip
    if "pareto" in df:
        front = df[df["pareto"].astype(bool)]
        ax.scatter(
            front[xm], front[ym], s=140, facecolors="none", edgecolors="crimson", lw=1.5,
            zorder=4, label="Pareto-optimal (duration, surge GPU-h, availability)",
        )  # fmt: skip
        stair = df.sort_values([xm, ym])
        best = math.inf
        pts = []
        for _, r in stair.iterrows():
            if r[ym] < best:
                best = r[ym]
                pts.append((r[xm], r[ym]))
        if pts:
            px, py = zip(*pts, strict=True)
            ax.step(px, py, where="post", color="crimson", alpha=0.5, lw=1, label="2-D front")
        if label and "cell_label" in df:
            groups = front.groupby([front[xm].round(6), front[ym].round(6)], sort=False)
            for (gx, gy), rows in groups:
                ax.annotate(
                    _merged_labels(cells, rows), (gx, gy), fontsize=7, xytext=(6, 4),
                    textcoords="offset points", linespacing=0.9,
                )  # fmt: skip
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    if c is not None:
        ax.figure.colorbar(sc, ax=ax, label=_kpi_label(color))
    ax.set_xlabel(_kpi_label(x))
    ax.set_ylabel(_kpi_label(y))
    ax.set_title("update duration vs surge GPU-hours (colour: availability)", fontsize=10)
    ax.grid(alpha=0.3)
    return ax


def _frames(r: RunResult | Mapping[str, pd.DataFrame]) -> Mapping[str, pd.DataFrame]:
    return r.frames if isinstance(r, RunResult) else r


def plot_timelines(
    results: Mapping[str, RunResult | Mapping[str, pd.DataFrame] | None],
    axes: Any = None,
) -> np.ndarray:
    """Strategies side by side (one column each, shared axes): serving capacity (fraction of
    desired, with RoleSets ready / total) on top, GPUs allocated vs capacity below and, when the
    runs had traffic, TTFT p99 and SLO attainment per 10 s bin in a third row; the update
    window shaded. ``axes``: a 2 × N (or 3 × N) array of Axes, or None for a new figure.
    Returns it."""
    items = [(k, v) for k, v in results.items() if v is not None]
    n = max(1, len(items))
    traffic = any(len(_frames(v).get("request_series", ())) for _, v in items)
    if axes is None:
        rows = 3 if traffic else 2
        _, axes = plt.subplots(
            rows, n, figsize=(3.6 * n + 1, 2.6 * rows), sharex=True, sharey="row", squeeze=False
        )
    axes = np.asarray(axes)
    axes = axes.reshape(axes.shape[0] if axes.ndim == 2 else 2, -1)
    for j, (name, res) in enumerate(items):
        fr = _frames(res)
        ts = fr["timeseries"]
        end = getattr(res, "summary", {}).get("sim_end_s")
        if end is not None and len(ts) and float(end) > float(ts["t_s"].iloc[-1]):
            tail = ts.iloc[[-1]].copy()  # hold the last state to the end of the run
            tail["t_s"] = float(end)
            ts = pd.concat([ts, tail], ignore_index=True)
        t = ts["t_s"].to_numpy()
        top, bottom = axes[0, j], axes[1, j]
        if "capacity_frac" in ts:
            top.step(t, ts["capacity_frac"], where="post", color="tab:green", label="capacity")
        tw = top.twinx()
        tw.step(t, ts["rolesets_total"], where="post", color="tab:grey", lw=0.8, label="total")
        tw.step(t, ts["rolesets_ready"], where="post", color="tab:blue", lw=0.8, label="ready")
        tw.set_ylim(0, max(1.0, float(ts["rolesets_total"].max())) * 1.15)
        if j == n - 1:
            tw.set_ylabel("RoleSets (ready, total)", fontsize=8)
        else:
            tw.set_yticklabels([])
        top.set_ylim(-0.02, 1.1)
        top.set_title(name.replace(", ", "\n"), fontsize=8, parse_math=False)
        bottom.step(t, ts["gpus_allocated"], where="post", label="GPUs allocated")
        bottom.step(t, ts["gpus_capacity"], where="post", ls="--", color="k", lw=0.8,
                    label="capacity")  # fmt: skip
        column = [top, bottom]
        rs = fr.get("request_series")
        if axes.shape[0] > 2:
            third = axes[2, j]
            column.append(third)
            if rs is not None and len(rs):
                bt = rs["t_s"].to_numpy()
                third.plot(bt, rs["slo_attainment_frac"], color="tab:green", label="attainment")
                third.set_ylim(-0.02, 1.05)
                lat = third.twinx()
                lat.plot(bt, rs["ttft_p99_s"], color="tab:red", lw=0.9, label="TTFT p99")
                lat.set_yscale("log")
                if j == n - 1:
                    lat.set_ylabel("TTFT p99 (s)", fontsize=8)
                if j == 0:
                    h1, l1 = third.get_legend_handles_labels()
                    h2, l2 = lat.get_legend_handles_labels()
                    third.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=7, frameon=False)
        if j == 0:
            h1, l1 = top.get_legend_handles_labels()
            h2, l2 = tw.get_legend_handles_labels()
            top.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=7, frameon=False)
        shade_rollouts(column, fr.get("rollouts"), float(t[-1]))
        column[-1].set_xlabel("simulated time (s)")
    axes[0, 0].set_ylabel("serving capacity (frac)")
    axes[1, 0].set_ylabel("GPUs")
    if axes.shape[0] > 2:
        axes[2, 0].set_ylabel("SLO attainment")
    if items:
        axes[1, 0].legend(loc="lower left", fontsize=7, frameon=False)
    return axes


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def heatmap_kpis(cells: pd.DataFrame) -> list[str]:
    """The KPIs ``stormsim sweep`` draws heatmaps of (those present in ``cells``)."""
    req = [
        c[: -len("_mean")]
        for c in cells.columns
        if c.endswith("_mean") and c.startswith(("ttft_p99", "tpot_p99", "slo_attainment"))
    ]
    return [k for k in (*HEATMAP_KPIS, *req) if f"{k}_mean" in cells]


def write_sweep_plots(result: SweepResult, out: Path) -> None:
    """``heatmap_<kpi>.png`` (when maxSurge and maxUnavailable were swept), ``pareto.png``,
    and ``timelines.png`` (the Pareto-optimal cells, re-run with the first seed)."""
    cells = result.cells
    params = result.params
    if find_param(params, "maxSurge") and find_param(params, "maxUnavailable"):
        for kpi in heatmap_kpis(cells):
            axes = plot_heatmap_facets(cells, kpi)
            _save(axes[0].figure, out / f"heatmap_{kpi}.png")  # type: ignore[arg-type]
    if "update_duration_s_mean" in cells and "surge_gpu_hours_mean" in cells:
        ax = plot_pareto(cells)
        _save(ax.figure, out / "pareto.png")  # type: ignore[arg-type]
    if "pareto" in cells and cells["pareto"].any():
        grid = plot_timelines(result.timelines())
        _save(grid[0, 0].figure, out / "timelines.png")


def write_compare_plots(result: CompareResult, out: Path) -> None:
    """``timelines.png``: every strategy side by side."""
    axes = plot_timelines(result.results)
    _save(axes[0, 0].figure, out / "timelines.png")
