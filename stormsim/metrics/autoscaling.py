"""Autoscaling KPIs (the ``autoscaling`` group of :mod:`stormsim.metrics.catalogue`), present
in the summary when the scenario has PodAutoscalers.

Definitions (also the README's KPI glossary, generated from the catalogue):

* GPU-hours: Σ over pods of GPUs × (time bound to a node), from binding to gone (or the run's
  end).
* Idle GPU-hours: the part of those GPU-hours when the pod was not serving: before it became
  routable, and from its deletion (deregistration) to gone; a pod that never became routable
  is idle for all of its bound time.
* Scale events: autoscaler writes that changed the target (``written`` rows of the
  ``autoscaling`` frame whose desired differs from current), per hour of run.
* Direction changes: consecutive scale events of one autoscaler in opposite directions, per
  hour of run (oscillation).
* Attainment restore time: see :func:`attainment_restore_s`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

RESTORE_BIN_S = 60.0
"""Width of the arrival-time bins of :func:`attainment_restore_s` (s)."""
RESTORE_BASELINE_S = 300.0
"""The baseline of :func:`attainment_restore_s`: requests that arrived this long before the
load step (s)."""
RESTORE_TOLERANCE = 0.01
"""A bin's attainment counts as restored within this much below the baseline (fraction)."""


def gpu_hours(pods: pd.DataFrame, end: float) -> tuple[float, float]:
    """``(GPU-hours bound, idle GPU-hours)`` of the pods frame up to ``end`` (s)."""
    if pods.empty:
        return 0.0, 0.0
    gpus = pods["gpus"].to_numpy(dtype=float)
    bound = pods["scheduled_at_s"].to_numpy(dtype=float)
    gone = np.nan_to_num(pods["gone_at_s"].to_numpy(dtype=float), nan=end)
    gone = np.minimum(gone, end)
    routable = pods["routable_at_s"].to_numpy(dtype=float)
    deleted = np.nan_to_num(pods["deleted_at_s"].to_numpy(dtype=float), nan=end)
    ok = ~np.isnan(bound)
    held = np.where(ok, np.maximum(0.0, gone - np.nan_to_num(bound, nan=0.0)), 0.0)
    serve_from = np.where(np.isnan(routable), np.inf, routable)
    serve_to = np.minimum(deleted, gone)
    serving = np.where(ok, np.maximum(0.0, serve_to - np.maximum(serve_from, bound)), 0.0)
    serving = np.where(np.isinf(serve_from), 0.0, serving)
    total = float(np.sum(gpus * held)) / 3600.0
    idle = float(np.sum(gpus * (held - np.minimum(serving, held)))) / 3600.0
    return total, idle


def scale_events(df: pd.DataFrame) -> tuple[int, int]:
    """``(scale events, direction changes)`` of the ``autoscaling`` frame (one row per
    reconcile and metric: a reconcile counts once)."""
    if df.empty:
        return 0, 0
    rows = df[df["written"] & (df["desired"] != df["current"])]
    rows = rows.drop_duplicates(subset=["t_s", "autoscaler"])
    events = len(rows)
    changes = 0
    for _, g in rows.groupby("autoscaler", sort=True):
        sign = np.sign((g["desired"] - g["current"]).to_numpy())
        changes += int(np.sum(sign[1:] != sign[:-1]))
    return events, changes


def attainment_restore_s(requests: pd.DataFrame | None) -> float | None:
    """Time from the load step to restored SLO attainment (s).

    Requests are binned by arrival time into :data:`RESTORE_BIN_S` bins from the first
    arrival. The *load step* is the start ``t0`` of the bin with the largest increase in
    arrivals over the previous bin (the earliest on ties). The *baseline* is the attainment
    (``slo_met`` share) of the requests that arrived in ``[t0 - 300 s, t0)``. The result is
    the start of the first bin at or after ``t0`` whose attainment is at least the baseline
    minus :data:`RESTORE_TOLERANCE`, minus ``t0`` (0: it never dropped). ``None`` without
    requests, with fewer than two bins, without requests before the step, or when it is
    never restored."""
    if requests is None or requests.empty or "slo_met" not in requests.columns:
        return None
    t = requests["arrived_at_s"].to_numpy(dtype=float)
    met = requests["slo_met"].fillna(False).to_numpy(dtype=bool)
    start = float(np.min(t))
    idx = np.floor((t - start) / RESTORE_BIN_S).astype(int)
    n = int(idx.max()) + 1
    if n < 2:
        return None
    counts = np.bincount(idx, minlength=n)
    good = np.bincount(idx, weights=met.astype(float), minlength=n)
    step = int(np.argmax(np.diff(counts))) + 1
    t0 = start + step * RESTORE_BIN_S
    base_mask = (t >= t0 - RESTORE_BASELINE_S) & (t < t0)
    if not base_mask.any():
        return None
    baseline = float(met[base_mask].mean())
    for b in range(step, n):
        if counts[b] == 0:
            continue
        if good[b] / counts[b] >= baseline - RESTORE_TOLERANCE:
            return float((b - step) * RESTORE_BIN_S)
    return None


def add_autoscaling_results(
    frames: dict[str, pd.DataFrame], summary: dict[str, Any], end: float
) -> None:
    """The autoscaling KPIs into ``summary`` (catalogue order)."""
    total, idle = gpu_hours(frames["pods"], end)
    events, changes = scale_events(frames["autoscaling"])
    hours = end / 3600.0 if end > 0 else math.nan
    summary["gpu_hours"] = total
    summary["idle_gpu_hours"] = idle
    summary["scale_events"] = events
    summary["scale_events_per_hour"] = events / hours if hours > 0 else None
    summary["scale_direction_changes_per_hour"] = changes / hours if hours > 0 else None
    summary["attainment_restore_s"] = attainment_restore_s(frames.get("requests"))
