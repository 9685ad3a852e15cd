"""Measuring one planner run, and judging a configuration over its seeds.

The measured fleet is identified by what it is, never by a time cut-off: the pods that exist
before the first event (the simulated fleet is deployed Ready at t = 0), all of the initial
revision. A run whose fleet is not entirely Ready when its measurement window opens, or that
raises, is a *failed run*: an error with its cause, never an SLO miss.

:func:`judge` is the one place where a measured configuration is held against the SLOs.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from stormsim.analysis.executors import Task
from stormsim.analysis.plan.scenario import Config, Setting, Window
from stormsim.analysis.requirements import KNOWN_KPIS, Requirement, applies
from stormsim.analysis.stats import mean_ci95
from stormsim.runner import RunResult, __version__, run

Phase = Literal["steady", "goodput", "sensitivity", "rollout"]


class MeasurementError(Exception):
    """A run that cannot be measured (its fleet never became Ready, no requests, ...)."""


@dataclass(frozen=True)
class PlanTask(Task):
    """A run and what to measure: its window and the size of the fleet being measured."""

    window: Window | None = None
    fleet_pods: int = 0


def window_metrics(
    df: pd.DataFrame, t0: float, t1: float, ttft_slo: float, tpot_slo: float
) -> dict[str, Any]:
    """SLO attainment, goodput and latency quantiles of the requests arriving in
    ``[t0, t1]`` (seconds). A request that did not complete misses its SLO."""
    arr = df["arrived_at_s"].to_numpy()
    sel = (arr >= t0) & (arr <= t1)
    n = int(sel.sum())
    done = (df["outcome"].to_numpy(dtype=object) == "completed")[sel]
    ttft = df["ttft_s"].to_numpy(dtype=float)[sel]
    tpot = df["tpot_s"].to_numpy(dtype=float)[sel]
    out = df["output_tokens"].to_numpy()[sel]
    with np.errstate(invalid="ignore"):
        ttft_ok = done & (ttft <= ttft_slo)
        tpot_ok = done & ((out <= 1) | (tpot <= tpot_slo))
    met = ttft_ok & tpot_ok
    span = max(t1 - t0, 1e-9)

    def pct(x: np.ndarray, q: float) -> float | None:
        x = x[~np.isnan(x)]
        return float(np.percentile(x, q)) if len(x) else None

    return {
        "requests": n,
        "requests_met": int(met.sum()),
        "requests_failed": int((~done).sum()),
        "attainment_frac": float(met.sum()) / n if n else None,
        "ttft_attainment_frac": float(ttft_ok.sum()) / n if n else None,
        "tpot_attainment_frac": float(tpot_ok.sum()) / n if n else None,
        "goodput_rps": float(met.sum()) / span,
        "throughput_rps": float(done.sum()) / span,
        "ttft_p90_s": pct(ttft[done], 90),
        "ttft_p99_s": pct(ttft[done], 99),
        "tpot_p90_s": pct(tpot[done], 90),
        "tpot_p99_s": pct(tpot[done], 99),
    }


ROLLOUT_KEYS = (
    "update_duration_s",
    "update_completed",
    "surge_gpus_peak",
    "gpus_allocated_peak",
    "capacity_availability_frac",
    "full_outage_s",
    "pods_pending_max_s",
)


def fleet_ready_at_s(res: RunResult, n_pods: int) -> tuple[float | None, int]:
    """When the measured fleet was entirely Ready (seconds; None: never), and how many of its
    pods ever were. The fleet: the pods created before the first event (all of them when the
    run has none), of the revision of the first pod created."""
    pods = res.frames.get("pods")
    if pods is None or len(pods) == 0:
        return None, 0
    first_event = min((e.at_s for e in res.scenario.events), default=math.inf)
    p = pods.sort_values("created_at_s", kind="stable")
    initial_rev = p["revision"].iloc[0]
    fleet = p[(p["revision"] == initial_rev) & (p["created_at_s"] < first_event)]
    ready = np.sort(fleet["ready_at_s"].to_numpy(dtype=float))
    ready = ready[~np.isnan(ready)]
    if n_pods <= 0 or len(ready) < n_pods:
        return None, len(ready)
    return float(ready[n_pods - 1]), len(ready)


def measure(res: RunResult, task: PlanTask) -> dict[str, Any]:
    """The planner's metrics of one finished run. Raises :class:`MeasurementError` when the
    run cannot be measured."""
    win = task.window
    assert win is not None
    sc = res.scenario
    assert sc.workload is not None
    slo = sc.workload.slo
    s = res.summary
    ready_at, n_ready = fleet_ready_at_s(res, task.fleet_pods)
    if ready_at is None:
        raise MeasurementError(
            f"the measured fleet never became Ready: {n_ready} of {task.fleet_pods} pods of the "
            "initial revision were Ready"
        )
    if ready_at > win.t0_s:
        raise MeasurementError(
            f"the measured fleet was Ready only at {ready_at:.1f} s, after the measurement "
            f"window opened at {win.t0_s:g} s"
        )
    if win.rollout:
        a, b = s.get("update_started_at_s"), s.get("update_ended_at_s")
        t0 = float(a) if a is not None else win.t0_s
        t1 = float(b) if b is not None else float(s.get("sim_end_s") or win.t1_s)
    else:
        t0, t1 = win.t0_s, win.t1_s
    out: dict[str, Any] = {"t0_s": t0, "t1_s": t1, "fleet_ready_at_s": ready_at}
    df = res.frames.get("requests")
    if df is None or len(df) == 0:
        raise MeasurementError(f"no request arrived in the measurement window [{t0:g}, {t1:g}] s")
    out.update(window_metrics(df, t0, t1, slo.ttft_s, slo.tpot_s))
    if not out["requests"]:
        raise MeasurementError(f"no request arrived in the measurement window [{t0:g}, {t1:g}] s")
    out["kpis"] = {
        k: float(v)
        for k, v in s.items()
        if k in KNOWN_KPIS and isinstance(v, int | float) and not isinstance(v, bool)
    }
    if win.rollout:
        for k in ROLLOUT_KEYS:
            out[k] = s.get(k)
        out["rollout_timeout_s"] = win.timeout_s
    return out


def run_plan_task(task: Task) -> dict[str, Any]:
    """Executor function: run one planner task, return its record (never raises: a failure
    is ``status: failed`` with the error and its cause)."""
    assert isinstance(task, PlanTask)
    t0 = time.perf_counter()
    rec: dict[str, Any] = {
        "key": task.key,
        "seed": task.seed,
        "stormsim_version": __version__,
        "status": "ok",
        "error": None,
        "summary": None,
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run(task.scenario, seed=task.seed, until_s=task.until_s)
        rec["summary"] = measure(res, task)
    except Exception as e:
        rec["status"] = "failed"
        cause = e.__cause__
        rec["error"] = f"{type(e).__name__}: {e}" + (
            f" (caused by {type(cause).__name__}: {cause})" if cause is not None else ""
        )
    rec["wall_s"] = round(time.perf_counter() - t0, 6)
    return rec


# =========================================================================== judging


@dataclass(frozen=True)
class Verdict:
    """Whether a measured configuration meets the SLOs, and why not."""

    ok: bool
    reason: str = ""


@dataclass
class Evaluation:
    """A configuration at one load, over every seed."""

    cfg: Config
    factor: float
    phase: Phase
    rollout: Setting | None
    records: list[dict[str, Any]]
    criterion: str
    target: float
    requirements: tuple[Requirement, ...] = ()
    """Requirements on summary KPIs besides the attainment (``plan.require``, ``--require``):
    met when every seed's run meets them (see :func:`judge`)."""

    @property
    def errors(self) -> list[str]:
        """The errors of the failed runs (seed: error)."""
        return [
            f"seed {r['seed']}: {r.get('error')}" for r in self.records if r.get("status") != "ok"
        ]

    def values(self, key: str) -> list[float]:
        out = []
        for r in self.records:
            v = (r.get("summary") or {}).get(key) if r.get("status") == "ok" else None
            out.append(math.nan if v is None else float(v))
        return out

    def stat(self, key: str = "attainment_frac") -> tuple[float, float, float]:
        """Mean and 95% Student-t interval over the seeds (clipped to [0, 1]; NaN with one
        seed)."""
        m, lo, hi, _ = mean_ci95(self.values(key))  # one seed: NaN interval, kept NaN
        return m, lo if math.isnan(lo) else max(0.0, lo), hi if math.isnan(hi) else min(1.0, hi)

    def passes(self, key: str = "attainment_frac") -> bool:
        return judge(self, key).ok

    def mean(self, key: str) -> float | None:
        v = [x for x in self.values(key) if not math.isnan(x)]
        return float(np.mean(v)) if v else None

    def max(self, key: str) -> float | None:
        v = [x for x in self.values(key) if not math.isnan(x)]
        return float(max(v)) if v else None

    @property
    def rollout_completed(self) -> bool:
        return all((r.get("summary") or {}).get("update_completed") for r in self.records)


def judge(ev: Evaluation, key: str = "attainment_frac") -> Verdict:
    """Hold a measured configuration against the SLOs: its attainment (``key``) over the
    seeds by the plan's criterion (every seed, the mean, or the lower end of the 95%
    interval) at least the target, and (a rollout) every seed's rollout completed in time.

    Only call it on an evaluation without failed runs (the planner raises on those first)."""
    if ev.errors:
        raise ValueError("judge() needs an evaluation without failed runs")
    vals = ev.values(key)
    if not vals or any(math.isnan(v) for v in vals):
        return Verdict(False, f"{key} not measured")
    if ev.phase == "rollout" and not ev.rollout_completed:
        return Verdict(False, "the rollout did not complete within its timeout")
    if ev.criterion == "min":
        got = min(vals)
    else:
        m, lo, _ = ev.stat(key)
        got = m if ev.criterion == "mean" or math.isnan(lo) else lo
    if got < ev.target:
        return Verdict(False, f"{key} {got:.3f} ({ev.criterion}) < {ev.target:g}")
    for req in ev.requirements:
        if not applies(req, ev.phase == "rollout"):
            continue
        for r in ev.records:
            v = ((r.get("summary") or {}).get("kpis") or {}).get(req.kpi)
            if not req.met(v):
                shown = "not measured" if v is None else f"{v:g}"
                return Verdict(False, f"{req.text} not met (seed {r['seed']}: {shown})")
    return Verdict(True)
