"""Latency and SLO attainment over time (``latency.png``), with the update window shaded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from stormsim.report.mpltext import plain
from stormsim.report.timeline import shade_rollouts

if TYPE_CHECKING:
    from stormsim.runner import RunResult


def plot_latency(result: RunResult | dict[str, pd.DataFrame], fig: Figure | None = None) -> Figure:
    """Three panels over simulated time (10 s windows): TTFT p50/p99 and TPOT p50/p99 with the
    SLO thresholds, SLO attainment and throughput, requests in flight and queued."""
    frames = result if isinstance(result, dict) else result.frames
    se = frames["request_series"]
    t = se["t_s"].to_numpy()
    fig = fig or plt.figure(figsize=(13, 8))
    ax = fig.subplots(3, 1, sharex=True)
    ax[0].plot(t, se["ttft_p50_s"], label="TTFT p50", color="C0")
    ax[0].plot(t, se["ttft_p99_s"], label="TTFT p99", color="C0", linestyle="--")
    ax[0].plot(t, se["tpot_p50_s"], label="TPOT p50", color="C1")
    ax[0].plot(t, se["tpot_p99_s"], label="TPOT p99", color="C1", linestyle="--")
    if not isinstance(result, dict) and result.scenario.workload is not None:
        slo = result.scenario.workload.slo
        for value, color, what in ((slo.ttft_s, "C0", "TTFT"), (slo.tpot_s, "C1", "TPOT")):
            ax[0].axhline(
                value,
                color=color,
                alpha=0.6,
                lw=1.0,
                linestyle=":",
                label=f"{what} SLO {value:g} s",
            )
    ax[0].set_yscale("log")
    ax[0].set_ylabel("latency (s)")
    ax[0].legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=7, frameon=False)
    ax[1].plot(t, se["slo_attainment_frac"], label="SLO attainment", color="C2")
    ax[1].set_ylim(-0.02, 1.02)
    ax[1].set_ylabel("attainment")
    tw = ax[1].twinx()
    tw.step(t, se["throughput_rps"], where="post", color="C3", alpha=0.6, label="throughput")
    tw.step(t, se["goodput_rps"], where="post", color="C4", alpha=0.6, label="goodput")
    tw.set_ylabel("req/s")
    tw.legend(loc="lower left", bbox_to_anchor=(1.08, 0.0), fontsize=7, frameon=False)
    ax[1].legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=7, frameon=False)
    ax[2].step(t, se["in_flight"], where="post", label="in flight")
    ax[2].step(t, se["queued"], where="post", label="queued (before prefill)")
    fail = se["failed"].to_numpy()
    if fail.any():
        ax[2].bar(
            t,
            fail,
            width=float(t[1] - t[0]) if len(t) > 1 else 1.0,
            align="edge",
            color="C3",
            alpha=0.5,
            label="failed",
        )
    ax[2].set_ylabel("requests")
    ax[2].set_xlabel("simulated time (s)")
    ax[2].legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=7, frameon=False)
    shade_rollouts(ax, frames.get("rollouts"), float(t[-1]) if len(t) else 0.0)
    name = "" if isinstance(result, dict) else result.scenario.name
    fig.suptitle(plain(f"stormsim requests {name}".strip()))
    fig.tight_layout()
    return fig


def write_latency(result: RunResult, out_dir: Path) -> None:
    """Artifact writer: ``latency.png`` when the run had traffic."""
    if "request_series" not in result.frames or result.frames["requests"].empty:
        return
    fig = plot_latency(result)
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)
