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

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from stormsim.analysis.paths import short_labels
from stormsim.analysis.requirements import Requirement
from stormsim.analysis.study import atomic_write
from stormsim.metrics import catalogue
from stormsim.report.mpltext import plain
from stormsim.report.timelines import plot_timelines

if TYPE_CHECKING:
    from stormsim.analysis.compare import CompareResult
    from stormsim.analysis.sweep import SweepResult

HEATMAP_KPIS = catalogue.names("heatmap", group="rollout")
"""KPIs ``stormsim sweep`` draws heatmaps of (and, when present, the catalogue's request heatmap
KPIs: those of the update window, since whole-run figures dilute the rollout)."""
MAX_FACETS = 6
_NUM = re.compile(r"^[-+]?\d+(\.\d+)?$")
_PCT = re.compile(r"^(\d+(\.\d+)?)%$")


def higher_is_better(kpi: str) -> bool:
    """Whether larger values of ``kpi`` are better (the catalogue's ``better``)."""
    return catalogue.better(kpi) == "higher"


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


def _kpi_label(kpi: str) -> str:
    return kpi.replace("_", " ")


def colour_range(kpi: str, values: np.ndarray) -> tuple[float | None, float | None]:
    """The colour scale of a KPI: fractions on [0, 1]; other non-negative quantities from 0
    to their maximum, so colours are proportional to values and small relative differences
    stay small; None when there is nothing to show."""
    if not values.size:
        return None, None
    lo, hi = float(values.min()), float(values.max())
    if kpi.endswith("_frac") or kpi == "update_completed":
        return min(0.0, lo), max(1.0, hi)
    if lo >= 0:
        return 0.0, hi if hi > 0 else 1.0
    return lo, hi


def _mark_feasibility(ax: Axes, feasible: np.ndarray) -> None:
    """Hatch infeasible cells and outline the feasible region (edges between a feasible and
    an infeasible or missing cell)."""
    ny, nx = feasible.shape
    bad = feasible == 0
    for i, j in zip(*np.nonzero(bad), strict=True):
        ax.add_patch(
            Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="crimson",
                      lw=0, alpha=0.7)
        )  # fmt: skip
    if not bad.any():
        return
    ok = feasible == 1
    for i in range(ny):
        for j in range(nx):
            if not ok[i, j]:
                continue
            for di, dj, seg in (
                (-1, 0, ((j - 0.5, j + 0.5), (i - 0.5, i - 0.5))),
                (1, 0, ((j - 0.5, j + 0.5), (i + 0.5, i + 0.5))),
                (0, -1, ((j - 0.5, j - 0.5), (i - 0.5, i + 0.5))),
                (0, 1, ((j + 0.5, j + 0.5), (i - 0.5, i + 0.5))),
            ):
                a, b = i + di, j + dj
                if 0 <= a < ny and 0 <= b < nx and bad[a, b]:
                    ax.plot(*seg, color="crimson", lw=2.2, solid_capstyle="butt")
    ax.plot([], [], color="crimson", lw=2.2, label="feasible region edge")
    ax.add_patch(Rectangle((0, 0), 0, 0, fill=False, hatch="///", edgecolor="crimson",
                           lw=0, label="infeasible"))  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.18), fontsize=7, frameon=False, ncol=2)


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
    requirements: Sequence[Requirement] = (),
) -> Axes:
    """Heatmap of ``{kpi}_mean`` over two swept parameters (default: the StormService's
    maxSurge on x, maxUnavailable on y). Colours span :func:`colour_range` (from zero, so a
    2 ms difference looks like one). Cells that break a requirement (column ``feasible``)
    are hatched in red and the feasible region is outlined; a requirement on ``kpi`` itself
    (``window_ttft_p99_s<=2``: the SLO) is drawn as a dashed contour at its bound. ``where``
    fixes other parameters; parameters neither plotted nor fixed are averaged over. A ``*``
    marks cells where some runs did not complete the update; for durations (which average
    only the runs that completed) such cells are greyed out and labelled with the share of
    runs that completed, so a setting that stalls never looks like the fastest."""
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
    conditional = kpi in ("update_duration_s", "update_rolling_time_s")
    shown = grid.copy()
    feasible = np.full_like(grid, np.nan)
    for (i, yv), (j, xv) in ((a, b) for a in enumerate(ys) for b in enumerate(xs)):
        sel = df[(df[x].astype(str) == str(xv)) & (df[y].astype(str) == str(yv))]
        vals = sel[col].dropna()
        if len(vals):
            grid[i, j] = shown[i, j] = float(vals.mean())
        if "feasible" in sel and len(sel) and sel["feasible"].notna().all():
            feasible[i, j] = float(sel["feasible"].astype(bool).all())
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
    if vmin is None or vmax is None:
        lo, hi = colour_range(kpi, grid[np.isfinite(grid)])
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    im = ax.imshow(
        np.ma.masked_invalid(shown), cmap=cmap, aspect="auto", origin="lower", vmin=vmin, vmax=vmax
    )
    _mark_feasibility(ax, feasible)
    for r in requirements:
        if r.kpi == kpi and min(grid.shape) >= 2 and np.isfinite(grid).all():
            cs = ax.contour(
                np.arange(len(xs)), np.arange(len(ys)), grid, levels=[r.bound],
                colors="crimson", linestyles="--", linewidths=1.5,
            )  # fmt: skip
            op = r.op.replace("<=", "≤").replace(">=", "≥")
            ax.clabel(cs, fmt={r.bound: f"{op} {r.bound:g}"}, fontsize=7)
    ax.set_xticks(range(len(xs)), [plain(v) for v in xs])
    ax.set_yticks(range(len(ys)), [plain(v) for v in ys])
    short = short_labels([x, y])
    ax.set_xlabel(plain(short[x]))
    ax.set_ylabel(plain(short[y]))
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
    ax.set_title(plain(title), fontsize=10)
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
    requirements: Sequence[Requirement] = (),
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
    vmin, vmax = colour_range(kpi, col.to_numpy(dtype=float))
    out = []
    for i, (ax, v) in enumerate(zip(axes, values, strict=False)):
        where = {by: v} if by else None
        plot_heatmap(
            cells, kpi, x=x, y=y, where=where, ax=ax, vmin=vmin, vmax=vmax,
            colorbar=i == len(values) - 1, requirements=requirements,
        )  # fmt: skip
        out.append(ax)
    return out


def _constant_and_varying(cells: pd.DataFrame) -> tuple[dict[str, Any], list[str]]:
    """Swept parameters with one value over ``cells`` (-> that value), and the others."""
    const: dict[str, Any] = {}
    varying = []
    for p in _params(cells):
        vals = list(dict.fromkeys(str(v) for v in cells[p].tolist()))
        if len(vals) == 1:
            const[p] = vals[0]
        else:
            varying.append(p)
    return const, varying


def plot_pareto(
    cells: pd.DataFrame,
    x: str = "update_duration_s",
    y: str = "surge_gpu_hours",
    color: str = "capacity_availability_frac",
    ax: Axes | None = None,
    label: bool = True,
    errorbars: bool = True,
) -> Axes:
    """Every feasible cell as a point (``x`` vs ``y`` means, coloured by ``color`` on
    [0, 1], 95% CI bars); cells that break a requirement (``feasible`` false) as grey
    crosses, apart from the front. The Pareto-optimal cells (column ``pareto``, among feasible
    cells) are ringed, numbered and listed beside the plot (parameters that are the same for
    every cell go in the title once), and their 2-D staircase is drawn. Cells whose update
    never completed have no duration and are left out."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 6.5))
    xm, ym, cm = f"{x}_mean", f"{y}_mean", f"{color}_mean"
    df = cells.dropna(subset=[xm, ym])
    ok = (
        df["feasible"].fillna(False).astype(bool)
        if "feasible" in df
        else pd.Series(True, index=df.index)
    )
    feas, infeas = df[ok], df[~ok]
    c = feas.get(cm)
    sc = ax.scatter(
        feas[xm], feas[ym], c=c, cmap="viridis", s=40, zorder=3,
        vmin=None if c is None else 0.0, vmax=None if c is None else 1.0,
        label=f"feasible ({len(feas)})",
    )  # fmt: skip
    if len(infeas):
        ax.scatter(
            infeas[xm], infeas[ym], marker="x", color="grey", s=30, zorder=2,
            label=f"infeasible: breaks a requirement ({len(infeas)})",
        )  # fmt: skip
    if errorbars and f"{x}_ci95_lo" in feas:
        ax.errorbar(
            feas[xm], feas[ym],
            xerr=[feas[xm] - feas[f"{x}_ci95_lo"], feas[f"{x}_ci95_hi"] - feas[xm]],
            yerr=[feas[ym] - feas[f"{y}_ci95_lo"], feas[f"{y}_ci95_hi"] - feas[ym]],
            fmt="none", ecolor="grey", alpha=0.35, lw=0.8, zorder=2,
        )  # fmt: skip
    const, varying = _constant_and_varying(cells)
    short = short_labels(_params(cells))
    if "pareto" in feas:
        front = feas[feas["pareto"].astype(bool)]
        ax.scatter(
            front[xm], front[ym], s=140, facecolors="none", edgecolors="crimson", lw=1.5,
            zorder=4, label="Pareto-optimal (duration, surge GPU-h, availability)",
        )  # fmt: skip
        best = math.inf
        pts = []
        for _, r in feas.sort_values([xm, ym]).iterrows():
            if r[ym] < best:
                best = r[ym]
                pts.append((r[xm], r[ym]))
        if pts:
            px, py = zip(*pts, strict=True)
            ax.step(px, py, where="post", color="crimson", alpha=0.5, lw=1, label="2-D front")
        if label and len(front):
            groups = front.groupby([front[xm].round(6), front[ym].round(6)], sort=True)
            lines = []
            for k, ((gx, gy), rows) in enumerate(groups, 1):
                ax.annotate(
                    str(k), (gx, gy), fontsize=8, fontweight="bold", color="crimson",
                    xytext=(7, 5), textcoords="offset points",
                )  # fmt: skip
                parts = []
                for p in varying:
                    vals = "/".join(dict.fromkeys(str(v) for v in rows[p].tolist()))
                    parts.append(f"{short[p]}={vals}")
                lines.append(f"{k}  " + (", ".join(parts) or str(rows["cell_label"].iloc[0])))
            ax.text(
                0.0, -0.13, plain("Pareto-optimal:  " + "\n                 ".join(lines)),
                transform=ax.transAxes, va="top", ha="left", fontsize=7.5, family="monospace",
            )  # fmt: skip
        ax.legend(loc="upper right", bbox_to_anchor=(1.0, -0.11), fontsize=7, frameon=False)
    if c is not None:
        ax.figure.colorbar(sc, ax=ax, label=plain(_kpi_label(color)))
    ax.set_xlabel(plain(_kpi_label(x)))
    ax.set_ylabel(plain(_kpi_label(y)))
    title = "update duration vs surge GPU-hours (colour: availability)"
    if const:
        title += "\n" + ", ".join(f"{short[k]}={v}" for k, v in const.items())
    ax.set_title(plain(title), fontsize=9)
    ax.grid(alpha=0.3)
    return ax


def plot_autoscaling_tradeoff(
    cells: pd.DataFrame, target: float | None = None, ax: Axes | None = None
) -> Axes:
    """Autoscaler settings as a trade-off: one point per cell with results, GPU-hours of the
    pods (x, mean over seeds, 95% CI bars) against SLO attainment (y, likewise), labelled with
    the cell's settings; ``target``, the SLO attainment the workload asks for, dashed. Cells
    that break a requirement (``feasible`` false) are grey crosses. Fewer GPU-hours and
    more attainment are better: the best settings are up and to the left."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 6.5))
    x, y = "gpu_hours", "slo_attainment_frac"
    df = cells.dropna(subset=[f"{x}_mean", f"{y}_mean"])
    ok = (
        df["feasible"].fillna(False).astype(bool)
        if "feasible" in df
        else pd.Series(True, index=df.index)
    )
    for sel, marker, color, label in (
        (ok, "o", "tab:blue", "cells"),
        (~ok, "x", "grey", "breaks a requirement"),
    ):
        part = df[sel]
        if part.empty:
            continue
        xm, ym = part[f"{x}_mean"], part[f"{y}_mean"]
        xerr = yerr = None
        if f"{x}_ci95_lo" in part:
            xerr = [xm - part[f"{x}_ci95_lo"], part[f"{x}_ci95_hi"] - xm]
            # (an attainment is within [0, 1], whatever the t-interval of few seeds says)
            ylo = part[f"{y}_ci95_lo"].clip(lower=0.0)
            yhi = part[f"{y}_ci95_hi"].clip(upper=1.0)
            yerr = [ym - ylo, yhi - ym]
        ax.errorbar(
            xm, ym, xerr=xerr, yerr=yerr, ls="none", capsize=2, ms=6, zorder=3,
            marker=marker, color=color, label=label,
        )  # fmt: skip
        for _, r in part.iterrows():
            ax.annotate(
                plain(str(r.get("cell_label", r.get("cell", "")))),
                (r[f"{x}_mean"], r[f"{y}_mean"]), textcoords="offset points", xytext=(5, 4),
                fontsize=7,
            )  # fmt: skip
    if target is not None:
        ax.axhline(
            target, ls="--", lw=1, color="tab:green", label=f"SLO attainment target {target:g}"
        )
    ax.set_xlabel("GPU-hours of the pods (mean over seeds)")
    ax.set_ylabel("SLO attainment (mean over seeds)")
    ax.set_title("autoscaler settings: GPU-hours vs SLO attainment (up and left is better)")
    ax.legend(loc="best", fontsize=8)
    return ax


def _save(fig: Figure, path: Path, tight: bool = True) -> None:
    if tight:
        fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def heatmap_kpis(cells: pd.DataFrame) -> list[str]:
    """The KPIs ``stormsim sweep`` draws heatmaps of (those present in ``cells``)."""
    req = catalogue.names("heatmap", group="requests")
    auto = catalogue.names("heatmap", group="autoscaling")
    return [k for k in (*HEATMAP_KPIS, *req, *auto) if f"{k}_mean" in cells]


def write_sweep_plots(result: SweepResult, out: Path) -> None:
    """``heatmap_<kpi>.png`` (when maxSurge and maxUnavailable were swept), ``pareto.png``,
    ``timelines.png`` (the Pareto-optimal cells, re-run with the first seed), and with
    PodAutoscalers and traffic ``autoscaling_tradeoff.png`` (GPU-hours vs SLO attainment)."""
    cells = result.cells
    params = result.params
    if find_param(params, "maxSurge") and find_param(params, "maxUnavailable"):
        for kpi in heatmap_kpis(cells):
            axes = plot_heatmap_facets(cells, kpi, requirements=result.plan.requirements)
            _save(axes[0].figure, out / f"heatmap_{kpi}.png")  # type: ignore[arg-type]
    if "update_duration_s_mean" in cells and "surge_gpu_hours_mean" in cells:
        ax = plot_pareto(cells)
        _save(ax.figure, out / "pareto.png")  # type: ignore[arg-type]
    if "pareto" in cells and cells["pareto"].any():
        grid = plot_timelines(result.timelines(progress=result.progress))
        _save(grid[0, 0].figure, out / "timelines.png", tight=False)
    if (
        "gpu_hours_mean" in cells
        and "slo_attainment_frac_mean" in cells
        and cells[["gpu_hours_mean", "slo_attainment_frac_mean"]].notna().all(axis=1).any()
    ):
        wl = result.plan.scenario.workload
        ax = plot_autoscaling_tradeoff(cells, wl.slo.attainment_frac if wl is not None else None)
        _save(ax.figure, out / "autoscaling_tradeoff.png")  # type: ignore[arg-type]


def write_compare_plots(result: CompareResult, out: Path) -> None:
    """``timelines.png``: every strategy's timeline, in a grid on shared axes."""
    axes = plot_timelines(result.results)
    _save(axes[0, 0].figure, out / "timelines.png", tight=False)
