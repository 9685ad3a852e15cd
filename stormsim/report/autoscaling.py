"""``autoscaling.png``: what each PodAutoscaler saw and did over time: the load (arrivals per
second, and SLO attainment, with traffic), the metric it read (the recorded value, the
stable-window mean and the per-pod target, dashed; no target under ``fixed-math`` KPA, whose
recorded value is a sum over the pods), and desired vs current vs ready replicas."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from stormsim.report.mpltext import plain

if TYPE_CHECKING:
    from stormsim.runner import RunResult


def plot_autoscaling(frames: dict[str, pd.DataFrame], fig: Figure | None = None) -> Figure:
    """The figure of :func:`write_autoscaling` from a run's frames (``autoscaling`` needed;
    ``request_series`` used when present)."""
    df = frames["autoscaling"]
    names = list(dict.fromkeys(df["autoscaler"]))
    series = frames.get("request_series")
    load = series is not None and not series.empty
    rows = (1 if load else 0) + 2 * max(1, len(names))
    if fig is None:
        fig = plt.figure(figsize=(11, 2.4 * rows))
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
        summed = (g["strategy"] == "KPA") & (g["profile"] == "fixed-math")
        for metric, m in g[g["metric"] != ""].groupby("metric", sort=False):
            metric_ax.plot(m["t_s"], m["value"], ".", ms=2, label=plain(f"{metric} (read)"))
            metric_ax.plot(m["t_s"], m["stable"], lw=1, label=plain(f"{metric} (stable mean)"))
            per_pod = m[~summed.loc[m.index] & m["target_value"].notna()]
            if not per_pod.empty:
                metric_ax.step(
                    per_pod["t_s"],
                    per_pod["target_value"],
                    where="post",
                    ls="--",
                    lw=1,
                    color="black",
                    label=plain(f"{metric} (target per pod)"),
                )
        metric_ax.set_ylabel("metric")
        metric_ax.set_title(plain(f"{name} ({g['strategy'].iloc[0]}, {g['profile'].iloc[0]})"))
        if metric_ax.lines:
            metric_ax.legend(loc="upper right", fontsize=7)
        per_t = g.drop_duplicates(subset=["t_s"], keep="last")
        rep_ax.step(per_t["t_s"], per_t["desired"], where="post", label="desired", lw=1.2)
        rep_ax.step(per_t["t_s"], per_t["current"], where="post", label="current", lw=1)
        rep_ax.step(per_t["t_s"], per_t["ready"], where="post", label="ready", lw=1)
        rep_ax.set_ylabel("replicas")
        rep_ax.legend(loc="upper right", fontsize=7)
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
