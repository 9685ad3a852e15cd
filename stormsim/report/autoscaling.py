"""``autoscaling.png``: what each PodAutoscaler saw and did over time: the load (arrivals per
second, and SLO attainment, with traffic), the metric it read (the recorded value, the
stable-window mean (KPA/APA; the HPA keeps none) and the per-pod target, dashed; under
``fixed-math`` KPA the recorded value is a sum over the pods, labelled so, without a target),
and desired vs current vs ready replicas. Reconciles that made no decision (an invalid spec, a
``MultiPodAutoscalerConflict``, a target or replicas it could not get) record 0 replicas:
they are left out of the replicas panel (gaps) and named in the PodAutoscaler's title.
Legends sit right of the panels, off the data."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stormsim.report.mpltext import plain

if TYPE_CHECKING:
    from stormsim.runner import RunResult


def _legend(ax: Axes) -> None:
    if ax.lines:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0)


def _metric_panel(ax: Axes, g: pd.DataFrame) -> None:
    """The metric rows of one PodAutoscaler: the value read, the stable mean (KPA/APA) and
    the per-pod target (not under ``fixed-math`` KPA, whose value is a sum over the pods)."""
    summed = (g["strategy"] == "KPA") & (g["profile"] == "fixed-math")
    rows = g[g["metric"] != ""]
    for (metric, is_sum), m in rows.groupby([rows["metric"], summed[rows.index]], sort=False):
        read, stable = (
            ("sum over pods", "stable mean of the sum") if is_sum else ("read", "stable mean")
        )
        ax.plot(m["t_s"], m["value"], ".", ms=2, label=plain(f"{metric} ({read})"))
        windowed = m[m["strategy"] != "HPA"]  # the HPA keeps no stable / panic windows
        if windowed["stable"].notna().any():
            ax.plot(windowed["t_s"], windowed["stable"], lw=1, label=plain(f"{metric} ({stable})"))
        per_pod = m[m["target_value"].notna()] if not is_sum else m.iloc[:0]
        if not per_pod.empty:
            ax.step(
                per_pod["t_s"],
                per_pod["target_value"],
                where="post",
                ls="--",
                lw=1,
                color="black",
                label=plain(f"{metric} (target per pod)"),
            )
    ax.set_ylabel("metric (sum over pods)" if len(rows) and summed[rows.index].all() else "metric")


def plot_autoscaling(frames: dict[str, pd.DataFrame], fig: Figure | None = None) -> Figure:
    """The figure of :func:`write_autoscaling` from a run's frames (``autoscaling`` needed;
    ``request_series`` used when present)."""
    df = frames["autoscaling"]
    names = list(dict.fromkeys(df["autoscaler"]))
    series = frames.get("request_series")
    load = series is not None and not series.empty
    rows = (1 if load else 0) + 2 * max(1, len(names))
    if fig is None:
        fig = plt.figure(figsize=(12.5, 2.4 * rows))
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    i = 0
    if load:
        assert series is not None
        ax = axes[0]
        bin_s = float(series["t_s"].diff().median()) if len(series) > 1 else 1.0
        ax.plot(series["t_s"], series["arrived"] / bin_s, color="tab:blue", lw=1)
        ax.set_ylabel("arrivals (req/s)")
        ax2 = ax.twinx()
        ax2.plot(series["t_s"], series["slo_attainment_frac"], color="tab:green", lw=1)
        ax2.set_ylim(0, 1.05)
        ax2.set_ylabel("SLO attainment", color="tab:green")
        ax.set_title("load")
        i = 1
    for name in names:
        g = df[df["autoscaler"] == name]
        metric_ax, rep_ax = axes[i], axes[i + 1]
        i += 2
        _metric_panel(metric_ax, g)
        title = f"{name} ({g['strategy'].iloc[0]}, {g['profile'].iloc[0]})"
        per_t = g.drop_duplicates(subset=["t_s"], keep="last")
        idle = per_t["desired"].isna()  # a reconcile that made no decision
        if idle.any():
            reasons = dict.fromkeys(per_t.loc[idle, "reason"].astype(str).str.split(":").str[0])
            title += (
                f" (not acting: {', '.join(reasons)}; {int(idle.sum())} of {len(per_t)} reconciles)"
            )
        metric_ax.set_title(plain(title))
        if not metric_ax.lines:
            metric_ax.text(
                0.5,
                0.5,
                "no metrics read",
                transform=metric_ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
            )
            metric_ax.set_yticks([])
        _legend(metric_ax)
        if idle.all():  # no decision at all: no lines, what stopped it instead
            last = per_t.iloc[-1]
            why = str(last["reason"]).split(":")[0]
            err = textwrap.fill(str(last["error"]), 90) if last["error"] else ""
            rep_ax.text(
                0.5,
                0.5,
                plain(f"no decision at any reconcile ({why})\n{err}".rstrip()),
                transform=rep_ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
            )
            rep_ax.set_yticks([])
        else:  # a reconcile without a decision (null replicas) leaves a gap
            reps = per_t[["desired", "current", "ready"]].astype("float64")
            rep_ax.step(per_t["t_s"], reps["desired"], where="post", label="desired", lw=1.2)
            rep_ax.step(per_t["t_s"], reps["current"], where="post", label="current", lw=1)
            rep_ax.step(per_t["t_s"], reps["ready"], where="post", label="ready", lw=1)
        rep_ax.set_ylabel("replicas")
        _legend(rep_ax)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def write_autoscaling(result: RunResult, out_dir: Path) -> None:
    """Artifact writer: ``autoscaling.png`` when the run had PodAutoscalers."""
    if "autoscaling" not in result.frames or result.frames["autoscaling"].empty:
        return
    fig = plot_autoscaling(result.frames)
    fig.savefig(out_dir / "autoscaling.png", dpi=110)
    plt.close(fig)
