"""KPIs of a run, computed from the frames. Their names, units and definitions are in
:mod:`stormsim.metrics.catalogue` (the README's KPI glossary is generated from it).

The update window starts when a scenario event changes ``spec.template`` and ends when the
StormService status is Ready with ``currentRevision == updateRevision`` for the current
generation. Time-weighted quantities integrate the piecewise-constant time series (a row's
values hold until the next row), never samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from stormsim.metrics.catalogue import NODES, ROLLOUT, names

ROLLOUT_FRAME_KPIS = names("rollouts")
"""The window KPIs each row of the ``rollouts`` frame carries, in column order."""
SUMMARY_KPIS = tuple(k.name for k in ROLLOUT)
"""The rollout KPIs of ``summary.json``, in order."""
_WINDOW_ONLY = tuple(k.name for k in ROLLOUT if k.scope == "window" and not k.run_fallback)


def rollouts(
    template_changes: list[tuple[float, int | None, str, int]],
    settled_changes: list[tuple[float, bool]],
    end_s: float,
) -> pd.DataFrame:
    """One row per template change: start, end (the first time the service is settled after
    it, before the next change), duration, and outcome ``completed`` / ``superseded`` /
    ``incomplete``. "Settled" is defined by ``World.is_settled``."""
    rows = []
    for k, (t0, idx, action, pos) in enumerate(template_changes):
        t0 = float(t0)
        nxt_pos = template_changes[k + 1][3] if k + 1 < len(template_changes) else None
        nxt_t = float(template_changes[k + 1][0]) if k + 1 < len(template_changes) else math.inf
        t1 = None
        for t, ok in settled_changes[pos:nxt_pos]:
            if ok and t <= end_s:
                t1 = float(t)
                break
        if t1 is None:
            outcome = "superseded" if nxt_t < math.inf else "incomplete"
        else:
            outcome = "completed"
        rows.append(
            {
                "rollout": k,
                "event_index": idx,
                "action": action,
                "started_at_s": t0,
                "ended_at_s": t1,
                "duration_s": (t1 - t0) if t1 is not None else None,
                "outcome": outcome,
            }
        )
    df = pd.DataFrame(
        rows,
        columns=[
            "rollout",
            "event_index",
            "action",
            "started_at_s",
            "ended_at_s",
            "duration_s",
            "outcome",
        ],
    )
    return df.astype({"started_at_s": "float64", "ended_at_s": "float64", "duration_s": "float64"})


class Series:
    """A piecewise-constant series: value ``v[k]`` holds on ``[t[k], t[k+1])``."""

    def __init__(self, t: np.ndarray, v: np.ndarray):
        self.t = t
        self.v = v

    def at(self, x: float, before: bool = False) -> float:
        """Value in force at ``x`` (``before``: just before ``x``)."""
        i = int(self.t.searchsorted(x, side="left" if before else "right")) - 1
        return float(self.v[max(0, i)])

    def _span(self, a: float, b: float) -> tuple[int, int]:
        """Rows ``i0:i1`` of the segments covering [a, b]: from the one in force at ``a`` to
        the last that starts before ``b`` (none: ``i1 <= i0``, the value at ``a`` holds)."""
        i0 = max(0, int(self.t.searchsorted(a, side="right")) - 1)
        return i0, int(self.t.searchsorted(b, side="left"))

    def window(self, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """Segment durations (the first clipped to start at ``a``) and values covering
        [a, b]."""
        i0, i1 = self._span(a, b)
        if i1 <= i0:
            return np.array([b - a]), np.array([self.at(a)])
        t = self.t[i0:i1].copy()
        t[0] = max(t[0], a)
        ends = np.concatenate((t[1:], (b,)))
        return np.maximum(0.0, ends - t), self.v[i0:i1]

    def _values(self, a: float, b: float) -> np.ndarray:
        """The values of :meth:`window` (without the durations)."""
        i0, i1 = self._span(a, b)
        return self.v[i0:i1] if i1 > i0 else np.array([self.at(a)])

    def max(self, a: float, b: float) -> float:
        return float(self._values(a, b).max())

    def min(self, a: float, b: float) -> float:
        return float(self._values(a, b).min())

    def integral(self, a: float, b: float, fn: Any = None) -> float:
        d, v = self.window(a, b)
        vals = fn(v) if fn is not None else v
        return float(np.sum(d * vals))


WINDOW_SERIES = (
    "rolesets_total",
    "rolesets_ready",
    "gpus_allocated",
    "gpus_live",
    "gpus_pending",
    "capacity_frac",
)
"""The time-series columns :func:`window_kpis` reads."""


def window_series(ts: pd.DataFrame) -> dict[str, Series]:
    """The :data:`WINDOW_SERIES` of the time series (a long autoscaled run has thousands of
    other columns, which no window KPI reads)."""
    t = ts["t_s"].to_numpy(dtype=float)
    return {c: Series(t, ts[c].to_numpy(dtype=float)) for c in WINDOW_SERIES}


def window_kpis(series: dict[str, Series], a: float, b: float, completed: bool) -> dict[str, Any]:
    """Rollout KPIs over the window ``[a, b]`` (see the README's KPI glossary)."""
    out: dict[str, Any] = {}
    gpus = series["gpus_allocated"]
    base = gpus.at(a, before=True)
    # after: GPUs of the pods that stay (terminating pods may still hold theirs at b)
    after = series["gpus_live"].at(b) if completed else None
    demand = Series(gpus.t, gpus.v + series["gpus_pending"].v)
    if b > a:
        span = b - a
        cap = series["capacity_frac"]
        out["rolesets_max"] = int(series["rolesets_total"].max(a, b))
        out["rolesets_ready_min"] = int(series["rolesets_ready"].min(a, b))
        out["capacity_availability_frac"] = cap.integral(a, b, lambda v: np.minimum(1.0, v)) / span
        out["full_outage_s"] = cap.integral(a, b, lambda v: (v <= 0).astype(float))
        peak = gpus.max(a, b)
        dpeak = demand.max(a, b)
        out["surge_gpu_hours"] = gpus.integral(a, b, lambda v: np.maximum(0.0, v - base)) / 3600.0
    else:  # a window of zero length: the values at a
        out["rolesets_max"] = int(series["rolesets_total"].at(a))
        out["rolesets_ready_min"] = int(series["rolesets_ready"].at(a))
        out["capacity_availability_frac"] = float(min(1.0, series["capacity_frac"].at(a)))
        out["full_outage_s"] = 0.0
        peak = gpus.at(a)
        dpeak = demand.at(a)
        out["surge_gpu_hours"] = 0.0
    out["gpus_allocated_peak"] = int(peak)
    out["gpus_allocated_before_update"] = int(base)
    out["gpus_allocated_after_update"] = int(after) if after is not None else None
    out["surge_gpus_peak"] = int(max(0.0, peak - base))
    steady = max(base, after) if after is not None else base
    out["update_transient_surge_gpus_peak"] = int(max(0.0, peak - steady))
    out["gpus_demand_peak"] = int(dpeak)
    out["surge_gpus_demand_peak"] = int(max(0.0, dpeak - base))
    return _in_order(out, ROLLOUT_FRAME_KPIS)


def _in_order(out: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``out`` in catalogue order; computing a key the catalogue lacks (or missing one) is a
    bug, not a silent extra column."""
    if set(out) != set(keys):
        raise AssertionError(
            f"KPIs computed {sorted(set(out) - set(keys))} not in the catalogue, "
            f"catalogued {sorted(set(keys) - set(out))} not computed"
        )
    return {k: out[k] for k in keys}


def rollout_kpis(frames: dict[str, pd.DataFrame], end_s: float) -> pd.DataFrame:
    """The ``rollouts`` frame with each rollout's own window KPIs: its window runs from its
    start to its end, or (superseded / incomplete) to the next rollout's start / the run end."""
    ro = frames["rollouts"]
    if not len(ro):
        return ro
    ts = frames["timeseries"]
    series = window_series(ts)
    rows = []
    starts = [float(x) for x in ro["started_at_s"]]
    ends = [float(x) for x in ro["ended_at_s"]]
    outcomes = [str(x) for x in ro["outcome"]]
    for k in range(len(ro)):
        completed = outcomes[k] == "completed"
        stop = ends[k] if completed else (starts[k + 1] if k + 1 < len(ro) else end_s)
        rows.append(window_kpis(series, starts[k], stop, completed))
    extra = pd.DataFrame(rows, index=ro.index)
    return pd.concat([ro, extra], axis=1)


def compute_kpis(
    frames: dict[str, pd.DataFrame],
    end_s: float,
) -> dict[str, Any]:
    ts = frames["timeseries"]
    series = window_series(ts)
    ro = frames["rollouts"]
    out: dict[str, Any] = {"sim_end_s": end_s, "n_rollouts": len(ro)}
    if len(ro):
        start = float(ro["started_at_s"].iloc[0])
        last = ro.iloc[-1]
        completed = last["outcome"] == "completed"
        end = float(last["ended_at_s"]) if completed else end_s
        out["update_started_at_s"] = start
        out["update_ended_at_s"] = end if completed else None
        out["update_duration_s"] = end - start if completed else None
        out["update_completed"] = bool(completed)
        win = (start, end)
    else:
        out.update(
            update_started_at_s=None,
            update_ended_at_s=None,
            update_duration_s=None,
            update_completed=None,
        )
        win = None
    if win is not None:
        out.update(window_kpis(series, win[0], win[1], completed=bool(out["update_completed"])))
    else:  # no update window: window KPIs are null, those with a whole-run fallback cover it
        out.update(dict.fromkeys(k for k in _WINDOW_ONLY if k not in out))
        out.update(
            rolesets_max=int(ts["rolesets_total"].max()),
            gpus_allocated_peak=int(ts["gpus_allocated"].max()),
            gpus_demand_peak=int((ts["gpus_allocated"] + ts["gpus_pending"]).max()),
        )
    if len(ro):
        done = ro["duration_s"].dropna()
        out["update_rolling_time_s"] = float(done.sum()) if len(done) == len(ro) else None
    else:
        out["update_rolling_time_s"] = None
    pods = frames["pods"]
    if len(pods):
        waited_until = pods["scheduled_at_s"].fillna(pods["gone_at_s"]).fillna(end_s)
        wait = (waited_until - pods["created_at_s"]).clip(lower=0)
        out["pods_pending_max_s"] = float(wait.max())
        out["pods_unscheduled_at_end"] = int(
            (pods["scheduled_at_s"].isna() & pods["gone_at_s"].isna()).sum()
        )
    else:
        out["pods_pending_max_s"] = 0.0
        out["pods_unscheduled_at_end"] = 0
    out["n_pods_created"] = len(pods)
    out["n_rolesets_created"] = len(frames["rolesets"])
    out["gpus_capacity"] = int(ts["gpus_capacity"].iloc[-1])
    return {k: _plain(v) for k, v in _in_order(out, SUMMARY_KPIS).items()}


NODE_KPIS = tuple(k.name for k in NODES)
"""The node KPIs of ``summary.json`` (with a node autoscaler), in order."""
NODE_SOURCE = "node-autoscaler"


def node_kpis(frames: dict[str, pd.DataFrame], end_s: float) -> dict[str, Any]:
    """Node KPIs from the ``nodes`` frame, the time series and the pods (see the glossary)."""
    nodes = frames["nodes"]
    ts = frames["timeseries"]
    pods = frames["pods"]
    events = frames["events"]
    created = nodes["created_at_s"].to_numpy(dtype=float)
    until = nodes["gone_at_s"].fillna(end_s).clip(upper=end_s).to_numpy(dtype=float)
    life = np.maximum(0.0, until - np.minimum(created, end_s))
    gpus = nodes["gpus"].to_numpy(dtype=float)
    out: dict[str, Any] = {}
    out["node_hours"] = float(life.sum()) / 3600.0
    out["node_gpu_hours"] = float((life * gpus).sum()) / 3600.0
    t = ts["t_s"].to_numpy(dtype=float)
    alloc = Series(t, ts["gpus_allocated"].to_numpy(dtype=float)).integral(0.0, end_s)
    out["node_idle_gpu_hours"] = max(0.0, out["node_gpu_hours"] - alloc / 3600.0)
    state_cols = [c for c in ts.columns if c.startswith("pool.") and ".nodes_" in c]
    out["nodes_peak"] = int(ts[state_cols].sum(axis=1).max()) if state_cols else 0
    added = nodes[nodes["origin"] == NODE_SOURCE]
    out["n_node_scale_ups"] = len(added)
    mine = events[(events["kind"] == "Node") & (events["source"] == NODE_SOURCE)]
    out["n_node_scale_downs"] = int((mine["verb"] == "delete").sum())
    out["n_node_provision_failures"] = int((mine["verb"] == "provision_failed").sum())
    up = (added["gpus_ready_at_s"] - added["created_at_s"]).dropna()
    out["node_provision_mean_s"] = float(up.mean()) if len(up) else None
    bound = pods[pods["node"].isin(set(added["node"])) & pods["scheduled_at_s"].notna()]
    # a node name is used once, so the pod's node identifies the node row
    wait = bound["scheduled_at_s"] - bound["created_at_s"]
    out["node_wait_pods"] = len(wait)
    out["node_wait_mean_s"] = float(wait.mean()) if len(wait) else None
    out["node_wait_max_s"] = float(wait.max()) if len(wait) else None
    return {k: _plain(v) for k, v in _in_order(out, NODE_KPIS).items()}


def node_warnings(frames: dict[str, pd.DataFrame], max_provision_s: float) -> list[str]:
    """A warning per pool whose new nodes were given up (``provision_failed``): how many, when
    the first was, and what to check; none without failures."""
    nodes = frames["nodes"]
    ev = frames["events"]
    failed = ev[(ev["kind"] == "Node") & (ev["verb"] == "provision_failed")]
    if not len(failed):
        return []
    pool_of = dict(zip(nodes["node"], nodes["pool"], strict=True))
    out = []
    for pool in sorted({pool_of[n] for n in failed["name"]}):
        mine = failed[failed["name"].map(pool_of) == pool]
        first = float(mine["t_s"].min())
        out.append(
            f"{len(mine)} new node(s) of pool {pool} were not Ready within "
            f"max_node_provision_time_s ({max_provision_s:g} s) and were given up "
            f"(provision_failed, the first at t={first:g} s); the pods waiting for them stayed "
            f"Pending. Check the pool's provisioning.node_ready_s against "
            f"max_node_provision_time_s"
        )
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
