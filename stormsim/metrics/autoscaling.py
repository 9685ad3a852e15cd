"""Autoscaling KPIs (the ``autoscaling`` group of :mod:`stormsim.metrics.catalogue`), present
in the summary when the scenario has PodAutoscalers.

Definitions (also the README's KPI glossary, generated from the catalogue):

* GPU-hours: Σ over pods of GPUs × (time bound to a node), from binding to gone (or the run's
  end).
* Idle GPU-hours: the part of those GPU-hours when the pod was not serving: before it became
  routable, and from its deletion (deregistration) to gone; a pod that never became routable
  is idle for all of its bound time.
* Scale events: autoscaler writes that changed the value in force in the field written
  (``written`` rows of the ``autoscaling`` frame whose ``written_replicas`` differs from
  ``target_replicas``), per hour of run.
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
"""Attainment counts as restored within this much below the baseline (fraction)."""
RESTORE_STEP_RISE = 1.5
"""A load step is distinct when its bin has at least this many times the mean arrivals per
bin of the baseline before it."""


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
    reconcile and metric: a reconcile counts once).

    A scale event is a write whose value (``written_replicas``) differs from the value in
    force in the field written (``target_replicas``: ``spec.replicas``, or a pooled role's
    per-RoleSet ``replicas``); rewriting the value in force is no event. Its direction is
    the sign of the difference; a direction change is an event of one autoscaler in the
    direction opposite to its previous event."""
    if df.empty:
        return 0, 0
    rows = df[df["written"]].drop_duplicates(subset=["t_s", "autoscaler"])
    new = rows["written_replicas"].astype("Float64")
    old = rows["target_replicas"].astype("Float64")
    changed = (new != old).fillna(new.notna() & old.isna()).fillna(False)
    rows = rows[changed.to_numpy(dtype=bool)]
    events = len(rows)
    changes = 0
    for _, g in rows.groupby("autoscaler", sort=True):
        diff = g["written_replicas"].astype("Float64") - g["target_replicas"].astype("Float64")
        sign = np.sign(diff.fillna(1.0).to_numpy(dtype=float))
        changes += int(np.sum(sign[1:] != sign[:-1]))
    return events, changes


def attainment_restore_s(requests: pd.DataFrame | None, target: float = 0.99) -> float | None:
    """Time from the load step to restored SLO attainment (s); ``target``: the SLO's
    attainment target (``workload.slo.attainment_frac``).

    Requests are binned by arrival time into :data:`RESTORE_BIN_S` bins from the first
    arrival. The *load step* is the start ``t0`` of the bin with the largest increase in
    arrivals over the previous bin (the earliest on ties); it is *distinct* when that bin has
    at least :data:`RESTORE_STEP_RISE` times the mean arrivals per bin of the
    :data:`RESTORE_BASELINE_S` before ``t0``. The *baseline* is the attainment (``slo_met``
    share) of the requests that arrived in ``[t0 - 300 s, t0)``; the *restore level* is
    ``baseline - RESTORE_TOLERANCE``. The result is the start of the first bin at or after
    ``t0`` whose requests, and those arriving in the 300 s from its start (the rest of the
    run when shorter), meet the restore level, minus ``t0`` (0: it never dropped). ``None``
    without requests, with fewer than two bins, without requests before the step, without
    a distinct load step, when the baseline is below ``target`` (nothing to restore to), or
    when attainment never returns to the restore level: never 0 for a collapse."""
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
    step = int(np.argmax(np.diff(counts))) + 1
    t0 = start + step * RESTORE_BIN_S
    base_mask = (t >= t0 - RESTORE_BASELINE_S) & (t < t0)
    if not base_mask.any():
        return None
    base_bins = max(1, min(step, round(RESTORE_BASELINE_S / RESTORE_BIN_S)))
    if counts[step] < RESTORE_STEP_RISE * float(np.mean(counts[step - base_bins : step])):
        return None  # no distinct load step (a ramp, or noise)
    baseline = float(met[base_mask].mean())
    if baseline < target:
        return None  # already below the target before the step
    level = baseline - RESTORE_TOLERANCE
    order = np.argsort(t, kind="stable")
    ts, cum = t[order], np.concatenate(([0], np.cumsum(met[order])))
    good = np.bincount(idx, weights=met.astype(float), minlength=n)
    for b in range(step, n):
        if counts[b] == 0 or good[b] / counts[b] < level:
            continue
        lo = start + b * RESTORE_BIN_S
        i, j = np.searchsorted(ts, [lo, lo + RESTORE_BASELINE_S], side="left")
        if (cum[j] - cum[i]) / (j - i) >= level:
            return float((b - step) * RESTORE_BIN_S)
    return None


def add_autoscaling_results(
    frames: dict[str, pd.DataFrame], summary: dict[str, Any], end: float, target: float = 0.99
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
    summary["attainment_restore_s"] = attainment_restore_s(frames.get("requests"), target)


HELD_RATIO = 1.5
""":func:`held_above_target_warnings`: a stable mean at least this many times its target."""
HELD_MIN_S = 300.0
""":func:`held_above_target_warnings`: for at least this long in all (s)."""


def held_above_target_warnings(df: pd.DataFrame) -> list[str]:
    """Warnings for faithful-profile KPA autoscalers that read their metric far above its
    target (stable mean ≥ :data:`HELD_RATIO` × ``target_value``) for :data:`HELD_MIN_S`
    seconds or more in all while recommending no more than the current replicas: AIBrix
    e3e10f9e's KPA recommends ``ceil(per-pod mean ÷ target)``, never multiplied by the pod
    count, so a fleet larger than that stays where it is however loaded it is. The time of a
    reconcile counts until the autoscaler's next one."""
    if df.empty or "target_value" not in df.columns:
        return []
    kpa = df[
        (df["strategy"] == "KPA") & (df["profile"] == "aibrix-e3e10f9e") & (df["metric"] != "")
    ]
    out = []
    for (name, metric), g in kpa.groupby(["autoscaler", "metric"], sort=False):
        t = g["t_s"].to_numpy(dtype=float)
        span = np.diff(t, append=t[-1])
        stable = g["stable"].to_numpy(dtype=float)
        target = g["target_value"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = stable / target
        rec = g["recommendation"].astype("float64").to_numpy()
        current = g["current"].to_numpy(dtype=float)
        held = (ratio >= HELD_RATIO) & ~np.isnan(rec) & (rec <= current)
        total = float(span[held].sum())
        if total < HELD_MIN_S:
            continue
        worst = float(np.nanmax(ratio[held]))
        at = int(current[held].max())
        out.append(
            f"autoscaler {name} (KPA, aibrix-e3e10f9e): for {total:,.0f} s in all, the stable "
            f"mean of {metric} was {HELD_RATIO:g} to {worst:.1f} times its per-pod target while "
            f"it recommended no more than the current {at} replicas: AIBrix e3e10f9e's KPA "
            f"recommends ceil(per-pod mean / target) replicas, not that times the pods, so a "
            f"service larger than that does not scale out however loaded; fixed-math "
            f"(autoscaling.profile) scales on the sum; APA and HPA multiply the current "
            f"replicas by the ratio"
        )
    return out
