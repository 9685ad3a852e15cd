"""Timeline plot of one run: RoleSets and pods by revision and state, GPUs allocated."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from stormsim.report.mpltext import plain
from stormsim.report.revlabels import revision_labels

if TYPE_CHECKING:
    from stormsim.runner import RunResult

STATE_STYLE = {"ready": 1.0, "starting": 0.45, "terminating": 0.2}
NODE_STATES = ("ready", "initializing", "launching", "draining")
"""Node states stacked in the nodes panel (a node autoscaler), bottom up."""
NODE_COLORS = {"ready": "tab:green", "initializing": "tab:olive", "launching": "tab:orange"}
NODE_COLORS["draining"] = "tab:red"


def node_state_columns(ts: pd.DataFrame) -> dict[str, list[str]]:
    """State -> the ``pool.<pool>.nodes_<state>`` columns of the time series."""
    out: dict[str, list[str]] = {}
    for c in ts.columns:
        if c.startswith("pool.") and ".nodes_" in c:
            out.setdefault(c[c.rindex(".nodes_") + len(".nodes_") :], []).append(c)
    return out


def _nodes(ax: Any, ts: pd.DataFrame) -> None:
    cols = node_state_columns(ts)
    t = ts["t_s"].to_numpy()
    ys, labels, colors = [], [], []
    for state in NODE_STATES:
        if state in cols:
            ys.append(ts[cols[state]].sum(axis=1).to_numpy())
            labels.append(state)
            colors.append(NODE_COLORS[state])
    ax.stackplot(t, *ys, labels=labels, colors=colors, step="post")
    ax.set_ylabel("nodes")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def rollout_spans(rollouts: pd.DataFrame | None, end_s: float) -> list[tuple[float, float]]:
    """The union of the rollout windows (each to its end, or ``end_s`` if it did not
    complete), as sorted disjoint ``(start, stop)`` spans in seconds."""
    if rollouts is None or rollouts.empty:
        return []
    starts = rollouts["started_at_s"].astype(float)
    stops = rollouts["ended_at_s"].astype(float).fillna(end_s)
    spans: list[tuple[float, float]] = []
    for a, b in sorted(zip(starts, stops, strict=True)):
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    return spans


def shade_rollouts(axes: Any, rollouts: pd.DataFrame | None, end_s: float) -> None:
    """Shade the time during which some rollout was in progress, once (overlapping windows,
    as an autoscaled pooled role makes one per write, are merged so they do not darken)."""
    for a, b in rollout_spans(rollouts, end_s):
        for ax in axes:
            ax.axvspan(a, b, color="grey", alpha=0.12, lw=0)


def _revision_columns(ts: pd.DataFrame, what: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for c in ts.columns:
        if c.startswith("rev.") and c.split(".")[-1].startswith(f"{what}_"):
            rev = c[len("rev.") : c.rindex(".")]
            state = c.split(".")[-1][len(what) + 1 :]
            out.setdefault(rev, {})[state] = c
    return out


def _stack(
    ax: Any, ts: pd.DataFrame, what: str, revisions: list[str], names: dict[str, str]
) -> None:
    cols = _revision_columns(ts, what)
    colors = plt.get_cmap("tab10")
    t = ts["t_s"].to_numpy()
    ys, labels, facecolors = [], [], []
    for i, rev in enumerate(revisions):
        for state, alpha in STATE_STYLE.items():
            c = cols.get(rev, {}).get(state)
            if c is None or not ts[c].any():
                continue
            ys.append(ts[c].to_numpy())
            labels.append(plain(f"{names.get(rev, rev)} {state}"))
            rgb = colors(i % 10)
            facecolors.append((rgb[0], rgb[1], rgb[2], alpha))
    if ys:
        ax.stackplot(t, *ys, labels=labels, colors=facecolors, step="post")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.set_ylabel(what)


def plot_timeline(result: RunResult | dict[str, pd.DataFrame], fig: Figure | None = None) -> Figure:
    """Three stacked panels over simulated time: RoleSets by revision and state, pods by
    revision and state, GPUs allocated vs capacity; with a node autoscaler a fourth, nodes by
    state (all pools). The update window is shaded."""
    frames = result if isinstance(result, dict) else result.frames
    ts = frames["timeseries"]
    if len(ts) > 1:
        # hold the final state to the end of the run (and a short tail), so the state the
        # run ended in is visible and the time axis matches the other plots
        last = float(ts["t_s"].iloc[-1])
        span = last - float(ts["t_s"].iloc[0])
        end = last if isinstance(result, dict) else float(result.summary.get("sim_end_s") or last)
        tail = ts.iloc[[-1]].copy()
        tail["t_s"] = max(end, last + max(1.0, 0.04 * span))
        ts = pd.concat([ts, tail], ignore_index=True)
    revs = frames["revisions"].sort_values("created_at_s")["name"].tolist()
    extra = sorted(
        {c[len("rev.") : c.rindex(".")] for c in ts.columns if c.startswith("rev.")} - set(revs)
    )
    revs += extra
    with_nodes = bool(node_state_columns(ts))
    fig = fig or plt.figure(figsize=(13, 10 if with_nodes else 8))
    axes = list(fig.subplots(4 if with_nodes else 3, 1, sharex=True))
    names = revision_labels(
        frames["revisions"], None if isinstance(result, dict) else result.scenario
    )
    _stack(axes[0], ts, "rolesets", revs, names)
    _stack(axes[1], ts, "pods", revs, names)
    t = ts["t_s"].to_numpy()
    axes[2].step(t, ts["gpus_allocated"], where="post", label="GPUs allocated")
    axes[2].step(t, ts["gpus_capacity"], where="post", label="GPU capacity", linestyle="--")
    axes[2].set_ylabel("GPUs")
    axes[2].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if with_nodes:
        _nodes(axes[3], ts)
    axes[-1].set_xlabel("simulated time (s)")
    axes[-1].set_xlim(t[0], t[-1])
    shade_rollouts(axes, frames.get("rollouts"), float(t[-1]))
    name = "" if isinstance(result, dict) else result.scenario.name
    fig.suptitle(plain(f"stormsim timeline {name}".strip()))
    fig.tight_layout()
    return fig


def write_timeline(result: RunResult, out_dir: Path) -> None:
    fig = plot_timeline(result)
    fig.savefig(out_dir / "timeline.png", dpi=110)
    plt.close(fig)
