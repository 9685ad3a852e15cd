"""Capacity planning: the cheapest P/D configuration that meets the SLOs, in steady state and
during a full rollout, and the maximum load each candidate sustains (docs/capacity-planning.md).

The search, per candidate (GPU type x prefill TP x decode TP [x RoleSet shape], or a colocated
engine TP):

1. **Analytic bracket and pruning.** The calibrated roofline of the serving data plane
   (:class:`stormsim.sim.serving.latency.EngineCost`) gives each pod's prefill and decode
   capacity at the planned request lengths. A candidate that cannot meet the SLOs even unloaded
   (the prompt at the target quantile takes longer than the TTFT SLO to prefill, or one
   decode step exceeds the TPOT SLO) is *infeasible*. The capacities at 100% utilisation give
   a lower bound of the GPUs, hence of the cost; candidates are simulated in increasing order
   of that bound and a candidate whose bound is not below the cheapest configuration found so
   far is *dominated* and never simulated. The capacities at a safe utilisation give the
   starting point of the count search.
2. **Bracketing and bisection on counts.** Attainment is monotone in the pod counts, so the
   smallest count meeting the SLOs is found by stepping from the analytic guess with doubling
   steps until the answer is bracketed, then bisecting. Pooled P/D searches the prefill count
   first with plenty of decode pods (TTFT attainment), then the decode count (joint
   attainment); replica mode and colocated engines search one count (RoleSets or engines).
3. **Seeds and confidence intervals.** Every evaluation simulates all the plan's seeds (common
   random numbers: the same arrivals and lengths for every candidate) and decides with the
   plan's ``criterion`` (every seed, the mean, or the lower end of the 95% Student-t interval).
4. **Goodput** (DistServe, Splitwise): the highest request rate at which the configuration
   still meets the attainment target, found by scaling the load (bracket, then bisection to
   ``goodput_rel_tol``), reported per configuration and per GPU.
5. **Rollout.** Each feasible candidate is rolled out (image change of every role) under each
   ``max_surge`` x ``max_unavailable`` of the plan, with traffic; attainment is measured over
   the requests arriving in the update window. For the recommendation, settings whose window
   attainment misses the target get extra RoleSets (replica) or extra pods per role (pooled),
   bisected. The rollout plan is the setting needing the fewest GPUs at peak (steady + extra +
   surge), then the shortest rollout.

Runs go through the analysis executors (local processes or Ray) and, with ``out``, a run
cache (``OUT/runs``), so an interrupted plan resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from stormsim.analysis.cache import RunCache
from stormsim.analysis.executors import Executor, Task, make_executor
from stormsim.analysis.stats import mean_ci95
from stormsim.analysis.study import atomic_write
from stormsim.errors import InputError, Problem, SimulationError
from stormsim.runner import RunResult, __version__, run, scenario_hash
from stormsim.schema.loader import load_scenario
from stormsim.schema.plan import Plan
from stormsim.schema.scenario import Scenario, scenario_dump
from stormsim.schema.serving import Serving, TraceArrival, Workload
from stormsim.sim.serving.catalog import Catalog
from stormsim.sim.serving.latency import EngineCost
from stormsim.sim.serving.workload import draw_lengths

Arch = Literal["pd", "colocated"]
Phase = Literal["steady", "goodput", "sensitivity", "rollout"]

PLAN_ARTIFACT_WRITERS: list[Callable[[PlanResult, Path], None]] = []
"""Called by :meth:`PlanResult.save` with the result and the output directory (the report
layer registers the HTML / Markdown writer)."""

SAFE_UTIL_PREFILL = 0.7
SAFE_UTIL_DECODE = 0.85
SAFE_UTIL_COLOCATED = 0.6


# =========================================================================== configurations


@dataclass(frozen=True)
class Candidate:
    """A point of the search space: hardware and parallelism, without the counts."""

    arch: Arch
    gpu: str
    tp_prefill: int  # colocated: the engine's TP
    tp_decode: int  # colocated: 0
    shape: tuple[int, int] | None = None  # replica mode: prefill, decode pods per RoleSet

    @property
    def label(self) -> str:
        if self.arch == "colocated":
            return f"{self.gpu} colocated TP{self.tp_prefill}"
        s = f"{self.gpu} P-TP{self.tp_prefill} D-TP{self.tp_decode}"
        if self.shape is not None:
            s += f" {self.shape[0]}P{self.shape[1]}D"
        return s


@dataclass(frozen=True)
class Config:
    """A candidate with counts: ``prefill`` and ``decode`` pods per RoleSet (colocated:
    ``prefill`` engines), ``replicas`` RoleSets."""

    cand: Candidate
    prefill: int
    decode: int
    replicas: int = 1

    @property
    def gpus(self) -> int:
        c = self.cand
        return self.replicas * (self.prefill * c.tp_prefill + self.decode * c.tp_decode)

    @property
    def label(self) -> str:
        c = self.cand
        if c.arch == "colocated":
            n = self.prefill * self.replicas
            return f"{n} x colocated TP{c.tp_prefill} on {c.gpu}"
        pd_ = f"{self.prefill}P(TP{c.tp_prefill}) + {self.decode}D(TP{c.tp_decode})"
        if c.shape is not None:
            return f"{self.replicas} x [{pd_}] on {c.gpu}"
        return f"{pd_} on {c.gpu}"


def _resolve(v: int | str, n: int, up: bool) -> int:
    """An int-or-percent budget against ``n`` (ceil for surge, floor for unavailable)."""
    if isinstance(v, int):
        return v
    s = str(v).strip()
    if s.endswith("%"):
        x = float(s[:-1]) / 100.0 * n
        return math.ceil(x - 1e-9) if up else math.floor(x + 1e-9)
    return int(float(s))


# =========================================================================== scenario builder


@dataclass(frozen=True)
class Base:
    """What the planner keeps from the scenario: resolved data of its sections."""

    name: str
    timing: dict[str, Any]
    controller: dict[str, Any]
    serving: dict[str, Any]
    workload: dict[str, Any]
    image: str
    labels: dict[str, str]
    container: str


def base_of(sc: Scenario) -> Base:
    data = scenario_dump(sc)
    man = sc.service.manifest.dump()
    roles = man.get("spec", {}).get("template", {}).get("spec", {}).get("roles", [])
    image = "vllm/vllm-openai:latest"
    labels: dict[str, str] = {}
    container = "engine"
    if roles:
        tmpl = roles[0].get("template", {})
        labels = dict(tmpl.get("metadata", {}).get("labels", {}) or {})
        cs = tmpl.get("spec", {}).get("containers", [])
        if cs:
            image = str(cs[0].get("image", image))
    wl = dict(data.get("workload") or {})
    for k in ("arrival", "start_s", "stop_s", "max_requests", "slo"):
        wl.pop(k, None)
    return Base(
        name=sc.name,
        timing=dict(data.get("timing", {})),
        controller=dict(data.get("controller", {})),
        serving=dict(data.get("serving") or {}),
        workload=wl,
        image=image,
        labels=labels,
        container=container,
    )


def _role(name: str, replicas: int, gpus: int, base: Base, image: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": dict(base.labels)} if base.labels else {}
    return {
        "name": name,
        "replicas": replicas,
        "template": {
            **({"metadata": meta} if meta else {}),
            "spec": {
                "containers": [
                    {
                        "name": base.container,
                        "image": image,
                        "resources": {"limits": {"nvidia.com/gpu": gpus}},
                    }
                ]
            },
        },
    }


def manifest_for(
    cfg: Config, base: Base, name: str, surge: int | str = 1, unavailable: int | str = 0
) -> dict[str, Any]:
    """The StormService of a configuration: pooled (one RoleSet, InPlaceUpdate, per-role
    budgets) or replica (``replicas`` RoleSets, RollingUpdate)."""
    c = cfg.cand
    if c.arch == "colocated":
        roles = [_role("engine", cfg.prefill, c.tp_prefill, base, base.image)]
    else:
        roles = [
            _role("prefill", cfg.prefill, c.tp_prefill, base, base.image),
            _role("decode", cfg.decode, c.tp_decode, base, base.image),
        ]
    if c.shape is None:  # pooled
        for r in roles:
            r["updateStrategy"] = {"maxSurge": surge, "maxUnavailable": unavailable}
        strategy: dict[str, Any] = {"type": "InPlaceUpdate"}
        role_order = "Interleave" if len(roles) > 1 else "Parallel"
    else:
        strategy = {"type": "RollingUpdate", "maxSurge": surge, "maxUnavailable": unavailable}
        role_order = "Parallel"
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": name},
        "spec": {
            "replicas": cfg.replicas,
            "updateStrategy": strategy,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"updateStrategy": role_order, "roles": roles},
            },
        },
    }


def _pack(sizes: list[int], per_node: int) -> int:
    """Nodes needed for pods of these GPU sizes (first-fit decreasing)."""
    bins: list[int] = []
    for s in sorted(sizes, reverse=True):
        for i, free in enumerate(bins):
            if free >= s:
                bins[i] -= s
                break
        else:
            bins.append(per_node - s)
    return max(1, len(bins))


def surge_pods(cfg: Config, surge: int | str) -> list[int]:
    """GPU sizes of the pods a rollout may add on top of the fleet."""
    c = cfg.cand
    if c.shape is not None:
        n = max(0, _resolve(surge, cfg.replicas, True))
        one = [c.tp_prefill] * cfg.prefill + [c.tp_decode] * cfg.decode
        return one * n
    out = [c.tp_prefill] * max(0, _resolve(surge, cfg.prefill, True))
    if c.arch == "pd":
        out += [c.tp_decode] * max(0, _resolve(surge, cfg.decode, True))
    return out


def fleet_pods(cfg: Config) -> list[int]:
    c = cfg.cand
    one = [c.tp_prefill] * cfg.prefill + ([c.tp_decode] * cfg.decode if c.arch == "pd" else [])
    return one * cfg.replicas


def scenario_for(
    plan: Plan,
    base: Base,
    cfg: Config,
    gpus_per_node: int,
    factor: float = 1.0,
    rollout: tuple[int | str, int | str] | None = None,
) -> tuple[dict[str, Any], float, float]:
    """A runnable scenario (plain data) for ``cfg`` at ``factor`` x the planned load, with a
    full image change when ``rollout`` is ``(maxSurge, maxUnavailable)``. Returns the data and
    the measurement window ``(t0, t1)`` of steady-state runs (rollout runs measure the
    update window instead)."""
    surge, unav = rollout if rollout is not None else (1, 0)
    name = "plan-" + cfg.cand.gpu.lower().replace("_", "-").replace(".", "-")
    pods = fleet_pods(cfg) + (surge_pods(cfg, surge) if rollout is not None else [])
    nodes = _pack(pods, gpus_per_node)
    start = plan.warmup_s
    load = plan.load
    if load.rate_rps is not None:
        arrival: dict[str, Any] = {"kind": "poisson", "rate_rps": load.rate_rps * factor}
    else:
        assert load.profile is not None
        arrival = {
            "kind": "piecewise",
            "interpolation": load.interpolation,
            "points": [[start + t, r * factor] for t, r in load.profile],
        }
    if rollout is None:
        stop = start + plan.duration_s
        events: list[dict[str, Any]] = []
    else:
        assert plan.rollout is not None
        at = start + plan.settle_s
        stop = at + plan.rollout.timeout_s
        events = [{"at_s": at, "action": "set_image", "image": plan.rollout.image}]
    wl = dict(base.workload)
    wl.update(
        arrival=arrival,
        slo={"ttft_s": plan.slo.ttft_s, "tpot_s": plan.slo.tpot_s, "ttft_at": plan.slo.ttft_at},
        start_s=start,
        stop_s=stop,
    )
    data: dict[str, Any] = {
        "name": f"{base.name}-plan",
        "cluster": {
            "node_pools": [
                {
                    "name": name,
                    "count": nodes,
                    "gpus_per_node": gpus_per_node,
                    "gpu_type": cfg.cand.gpu,
                    "prepulled_images": [base.image],
                }
            ]
        },
        "timing": base.timing,
        "controller": base.controller,
        "service": {"manifest": manifest_for(cfg, base, name, surge, unav)},
        "events": events,
        "workload": wl,
        "serving": base.serving,
        "until_s": stop + plan.drain_s,
    }
    return data, start + plan.settle_s, stop


# =========================================================================== one run


@dataclass(frozen=True)
class PlanTask(Task):
    """A run and what to measure: requests arriving in ``[t0, t1]`` (steady state), or in the
    update window (``rollout``)."""

    t0: float = 0.0
    t1: float = 0.0
    rollout: bool = False
    warmup_s: float = 0.0


def _window_metrics(
    df: pd.DataFrame, t0: float, t1: float, ttft_slo: float, tpot_slo: float
) -> dict[str, Any]:
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


def measure(res: RunResult, task: PlanTask) -> dict[str, Any]:
    """The planner's metrics of one finished run."""
    sc = res.scenario
    assert sc.workload is not None
    slo = sc.workload.slo
    s = res.summary
    df = res.frames.get("requests")
    if task.rollout:
        t0 = s.get("update_started_at_s")
        t1 = s.get("update_ended_at_s")
        t0 = float(t0) if t0 is not None else task.t0
        t1 = float(t1) if t1 is not None else float(s.get("sim_end_s") or task.t1)
    else:
        t0, t1 = task.t0, task.t1
    out: dict[str, Any] = {"t0_s": t0, "t1_s": t1}
    if df is None or len(df) == 0:
        out.update(requests=0, attainment_frac=None)
    else:
        out.update(_window_metrics(df, t0, t1, slo.ttft_s, slo.tpot_s))
    pods = res.frames.get("pods")
    if pods is not None and len(pods):
        first = pods[pods["created_at_s"] <= 1.0]
        ready = first["ready_at_s"].to_numpy(dtype=float)
        out["fleet_ready_at_s"] = float(np.nanmax(ready)) if len(ready) else None
        out["fleet_ready_late"] = bool(np.isnan(ready).any() or np.nanmax(ready) > task.warmup_s)
    if task.rollout:
        for k in ROLLOUT_KEYS:
            out[k] = s.get(k)
    return out


def run_plan_task(task: Task) -> dict[str, Any]:
    """Executor function: run one planner task, return its record (never raises)."""
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
        rec["error"] = f"{type(e).__name__}: {e}"
    rec["wall_s"] = round(time.perf_counter() - t0, 6)
    return rec


# =========================================================================== evaluations


@dataclass
class Evaluation:
    """A configuration at one load, over every seed."""

    cfg: Config
    factor: float
    phase: Phase
    rollout: tuple[int | str, int | str] | None
    records: list[dict[str, Any]]
    criterion: str
    target: float

    def values(self, key: str) -> list[float]:
        out = []
        for r in self.records:
            v = (r.get("summary") or {}).get(key) if r.get("status") == "ok" else None
            out.append(math.nan if v is None else float(v))
        return out

    def stat(self, key: str = "attainment_frac") -> tuple[float, float, float]:
        """Mean and 95% Student-t interval over the seeds (clipped to [0, 1])."""
        m, lo, hi, _ = mean_ci95(self.values(key))
        return m, max(0.0, lo), min(1.0, hi)

    def passes(self, key: str = "attainment_frac") -> bool:
        vals = self.values(key)
        if not vals or any(math.isnan(v) for v in vals):
            return False
        if self.phase == "rollout" and not all(
            (r.get("summary") or {}).get("update_completed") for r in self.records
        ):
            return False
        if self.criterion == "min":
            return min(vals) >= self.target
        m, lo, _ = self.stat(key)
        if self.criterion == "mean":
            return m >= self.target
        return (lo if not math.isnan(lo) else m) >= self.target

    def mean(self, key: str) -> float | None:
        v = [x for x in self.values(key) if not math.isnan(x)]
        return float(np.mean(v)) if v else None


@dataclass
class PlanResult:
    """What :func:`plan` found. Tables: ``candidates`` (one row per candidate), ``probes``
    (every evaluation: a configuration at a load over all seeds), ``runs`` (every run),
    ``rollout_options`` (the recommendation under each rollout setting), ``sensitivity``
    (P:D split at the same pod count). ``recommendation`` is a flat dict (``None`` when no
    candidate meets the SLOs); ``timeline`` the run of the recommended rollout (first seed)."""

    scenario: Scenario
    plan: Plan
    candidates: pd.DataFrame
    probes: pd.DataFrame
    runs: pd.DataFrame
    rollout_options: pd.DataFrame
    sensitivity: pd.DataFrame
    recommendation: dict[str, Any] | None
    timeline: RunResult | None = None
    wall_s: float = 0.0
    n_runs: int = 0
    n_cached: int = 0
    out: Path | None = None
    notes: list[str] = field(default_factory=list)

    def curves(self) -> pd.DataFrame:
        """Load vs attainment points per candidate (steady and goodput probes)."""
        p = self.probes
        if p.empty:
            return p
        sel = p[p["phase"].isin(["steady", "goodput"])]
        sel = sel[sel["config"] == sel["candidate_config"]]
        cols = ["candidate", "config", "rate_rps", "attainment_mean", "attainment_ci_low",
                "attainment_ci_high", "pass"]  # fmt: skip
        return (
            sel[cols]
            .drop_duplicates(["candidate", "rate_rps"])
            .sort_values(["candidate", "rate_rps"])
        )

    def config(
        self, prefill: int | None = None, decode: int | None = None, replicas: int | None = None
    ) -> Config:
        """The recommended configuration, or the recommended candidate with other counts."""
        r = self.recommendation
        if r is None:
            raise InputError(Problem("plan", "no recommendation to derive a configuration from"))
        shape = r.get("shape_tuple")
        cand = Candidate(
            r["arch"], r["gpu"], int(r["prefill_tp"]), int(r["decode_tp"] or 0),
            tuple(shape) if shape else None,
        )  # fmt: skip
        if shape and prefill is not None and decode is not None:
            cand = replace(cand, shape=(prefill, decode))
        return Config(
            cand,
            int(r["prefill_pods"] if prefill is None else prefill),
            int(r["decode_pods"] if decode is None else decode),
            int(r["replicas"] if replicas is None else replicas),
        )

    def resimulate(
        self,
        cfg: Config | None = None,
        seeds: Sequence[int] = (1001, 1002),
        factor: float = 1.0,
        jobs: int | None = 1,
    ) -> pd.DataFrame:
        """Simulate ``cfg`` (default: the recommendation) in steady state at ``factor`` x the
        planned load with other seeds; one row per seed with the planner's metrics and
        ``meets_slo``."""
        cfg = cfg or self.config()
        gpn = {g.type: g.gpus_per_node for g in self.plan.gpus}[cfg.cand.gpu]
        data, t0, t1 = scenario_for(self.plan, base_of(self.scenario), cfg, gpn, factor)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = load_scenario(data)
        tasks = [
            PlanTask(f"check-{s}", sc, s, None, t0, t1, False, self.plan.warmup_s) for s in seeds
        ]
        rows = []
        for rec in make_executor("local", jobs).imap(tasks, run_plan_task):
            if rec["status"] != "ok":
                raise SimulationError(f"re-simulation failed: {rec['error']}")
            m = dict(rec["summary"])
            m["seed"] = rec["seed"]
            m["config"] = cfg.label
            att = m.get("attainment_frac")
            m["meets_slo"] = att is not None and att >= self.plan.slo.attainment_frac
            rows.append(m)
        return pd.DataFrame(rows).sort_values("seed").reset_index(drop=True)

    def summary_text(self) -> str:
        r = self.recommendation
        if r is None:
            return "no candidate meets the SLOs within the search bounds"
        s = (
            f"recommended: {r['config']} — {r['gpus']} GPUs, ${r['cost_per_hour']:.2f}/h, "
            f"attainment {r['attainment_mean']:.3f} (target {self.plan.slo.attainment_frac:g}), "
            f"goodput {_f(r.get('goodput_rps'))} req/s"
        )
        if r.get("rollout_setting"):
            s += (
                f"; rollout with {r['rollout_setting']}: +{r['rollout_extra_gpus']} GPUs kept, "
                f"{_f(r.get('rollout_surge_gpus'))} surge GPUs, "
                f"peak {r['rollout_peak_gpus']} GPUs, {_f(r.get('rollout_duration_s'))} s"
            )
        return s

    def _saved(self, out: str | Path | None) -> PlanResult:
        if out is not None:
            self.save(out)
        return self

    def save(self, out: str | Path, report: bool = True) -> Path:
        """Write the tables (parquet), ``plan.json`` and, with ``report``, the artifacts of
        :data:`PLAN_ARTIFACT_WRITERS` (``plan.html``, ``plan.md``)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("candidates", "probes", "runs", "rollout_options", "sensitivity"):
            df: pd.DataFrame = getattr(self, name)
            atomic_write(out / f"{name}.parquet", _parquet_writer(df))
        doc = {
            "scenario": self.scenario.name,
            "recommendation": self.recommendation,
            "summary": self.summary_text(),
            "plan": self.plan.model_dump(mode="json"),
            "wall_s": self.wall_s,
            "n_runs": self.n_runs,
            "n_cached": self.n_cached,
            "notes": self.notes,
            "stormsim_version": __version__,
        }
        text = json.dumps(doc, indent=2, default=str) + "\n"

        def write_json(p: Path) -> None:
            p.write_text(text)

        atomic_write(out / "plan.json", write_json)
        if report:
            for w in PLAN_ARTIFACT_WRITERS:
                w(self, out)
        self.out = out
        return out


def _parquet_writer(df: pd.DataFrame) -> Callable[[Path], None]:
    return lambda p: _parquet(df, p)


def _parquet(df: pd.DataFrame, p: Path) -> None:
    d = df.copy()
    for c in d.columns:
        if d[c].dtype == object:
            d[c] = d[c].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    d.to_parquet(p, index=False)


def _f(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


# =========================================================================== analytic model


@dataclass(frozen=True)
class Capacity:
    """Per-pod capacities (req/s) of a candidate from the latency model, and feasibility."""

    prefill_rps: float  # prefill pod (colocated: the engine) at full batches
    decode_rps: float  # decode pod at the largest batch meeting the TPOT SLO
    feasible: bool
    why: str


class Analytic:
    def __init__(self, plan: Plan, sc: Scenario):
        self.plan = plan
        serving = sc.serving if sc.serving is not None else Serving()
        self.serving = serving
        self.catalog = Catalog(serving)
        self.model = self.catalog.model(serving.model)
        wl = sc.workload or Workload.model_validate(
            {"arrival": {"kind": "poisson", "rate_rps": 1.0}}
        )
        g = np.random.default_rng(12345)
        self.prompts = draw_lengths(wl.prompt, g, 20000).astype(float)
        self.outputs = draw_lengths(wl.output, g, 20000).astype(float)
        self.lp = float(self.prompts.mean())
        self.lo = float(self.outputs.mean())

    def cost(self, gpu: str, tp: int, role: str) -> EngineCost:
        over = self.serving.roles.get(role)
        eng = over.engine if over is not None and over.engine is not None else None
        eng = eng or self.serving.engine
        return EngineCost.build(
            self.model,
            self.catalog.gpu(gpu, "plan.gpus[].type"),
            tp,
            eng.efficiency,
            eng.gpu_memory_utilization,
            eng.activation_reserve_gb,
            eng.kv_cache_tokens,
        )

    def capacity(self, cand: Candidate) -> Capacity:
        plan = self.plan
        q = float(np.quantile(self.prompts, min(plan.slo.attainment_frac, 0.999)))
        roles = ("engine", "engine") if cand.arch == "colocated" else ("prefill", "decode")
        cp = self.cost(cand.gpu, cand.tp_prefill, roles[0])
        tp_d = cand.tp_prefill if cand.arch == "colocated" else cand.tp_decode
        cd = self.cost(cand.gpu, tp_d, roles[1])
        for c, what in ((cp, "prefill"), (cd, "decode")):
            if c.kv_capacity_tokens <= 0:
                return Capacity(0, 0, False, f"the model does not fit on {what} TP{c.tp}")
        t_one = cp.prefill_one(int(q))
        if t_one > plan.slo.ttft_s:
            return Capacity(
                0, 0, False, f"prefill of a p{100 * plan.slo.attainment_frac:g} prompt "
                f"({q:.0f} tokens) alone takes {t_one:.3f} s > TTFT SLO {plan.slo.ttft_s:g} s"
            )  # fmt: skip
        eng = self.serving.engine
        lp, lo = self.lp, self.lo
        k = max(1, int(eng.max_num_batched_tokens // max(lp, 1.0)))
        k = min(k, eng.max_num_seqs)
        tp_time = cp.prefill_time(k * lp, k * float(np.mean(self.prompts**2)) / 2.0, k)
        prefill_rps = k / tp_time
        ctx = lp + lo / 2.0
        if cd.decode_time(1, ctx) > plan.slo.tpot_s:
            return Capacity(
                prefill_rps, 0, False,
                f"one decode step takes {cd.decode_time(1, ctx):.3f} s > TPOT SLO "
                f"{plan.slo.tpot_s:g} s",
            )  # fmt: skip
        bmax = min(eng.max_num_seqs, max(1, int(cd.kv_capacity_tokens // max(lp + lo, 1.0))))
        lo_b, hi_b = 1, bmax
        while lo_b < hi_b:  # largest batch with a step within the TPOT SLO
            mid = (lo_b + hi_b + 1) // 2
            if cd.decode_time(mid, mid * ctx) <= plan.slo.tpot_s:
                lo_b = mid
            else:
                hi_b = mid - 1
        b = lo_b
        decode_rps = b / cd.decode_time(b, b * ctx) / max(lo, 1.0)
        if cand.arch == "colocated":
            both = 1.0 / (1.0 / prefill_rps + 1.0 / decode_rps)
            return Capacity(both, both, True, "")
        return Capacity(prefill_rps, decode_rps, True, "")


# =========================================================================== the search


def min_count(ok: Callable[[int], bool], guess: int, cap: int) -> int | None:
    """Smallest ``n`` in ``[1, cap]`` with ``ok(n)`` (``ok`` monotone), or None: from
    ``guess``, step with doubling steps until a failing and a passing count bracket the
    answer, then bisect."""
    n = min(max(1, guess), cap)
    if ok(n):
        hi, lo, step = n, 0, 1
        while True:
            m = hi - step
            if m < 1:
                break
            if ok(m):
                hi, step = m, step * 2
            else:
                lo = m
                break
    else:
        lo, step = n, 1
        hi = -1
        while hi < 0:
            m = min(lo + step, cap)
            if ok(m):
                hi = m
            elif m >= cap:
                return None
            else:
                lo, step = m, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


class Planner:
    def __init__(
        self,
        sc: Scenario,
        plan: Plan,
        executor: Executor,
        cache: RunCache | None,
        progress: Callable[[str], None] | None = None,
    ):
        self.sc = sc
        self.plan = plan
        self.base = base_of(sc)
        self.executor = executor
        self.cache = cache
        self.progress = progress
        self.memo: dict[tuple[Any, ...], Evaluation] = {}
        self.probe_rows: list[dict[str, Any]] = []
        self.run_rows: list[dict[str, Any]] = []
        self.n_runs = 0
        self.n_cached = 0
        self.gpn = {g.type: g.gpus_per_node for g in plan.gpus}
        self.price = {g.type: g.price_per_hour for g in plan.gpus}
        self.current: dict[str, str] = {}

    def say(self, msg: str) -> None:
        if self.progress is not None:
            self.progress(msg)

    # ------------------------------------------------------------------ running
    def _tasks(
        self, cfg: Config, factor: float, rollout: tuple[int | str, int | str] | None
    ) -> list[PlanTask]:
        data, t0, t1 = scenario_for(self.plan, self.base, cfg, self.gpn[cfg.cand.gpu], factor,
                                    rollout)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = load_scenario(data)
        tasks = []
        for seed in self.plan.seeds:
            h = scenario_hash(sc, seed)
            extra = json.dumps([t0, t1, rollout is not None, self.plan.warmup_s])
            key = "plan-" + hashlib.sha256(f"{h}:{extra}".encode()).hexdigest()[:16]
            tasks.append(
                PlanTask(key, sc, seed, None, t0, t1, rollout is not None, self.plan.warmup_s)
            )
        return tasks

    def evaluate_many(
        self,
        items: Sequence[tuple[Config, float, Phase, tuple[int | str, int | str] | None]],
    ) -> list[Evaluation]:
        """Evaluate several (config, load factor, phase, rollout) at once (their runs in
        parallel); memoised."""
        todo: list[tuple[tuple[Any, ...], list[PlanTask], Config, float, Phase, Any]] = []
        seen: set[tuple[Any, ...]] = set()
        for cfg, factor, phase, rollout in items:
            key = (cfg, round(factor, 6), rollout)
            if key in self.memo or key in seen:
                continue
            seen.add(key)
            todo.append((key, self._tasks(cfg, factor, rollout), cfg, factor, phase, rollout))
        records: dict[str, dict[str, Any]] = {}
        pending: list[PlanTask] = []
        for _, tasks, *_ in todo:
            for t in tasks:
                rec = self.cache.get(t.key) if self.cache is not None else None
                if rec is not None and rec.get("status") == "ok":
                    records[t.key] = rec
                    self.n_cached += 1
                else:
                    pending.append(t)
        if pending:
            for rec in self.executor.imap(pending, run_plan_task):
                records[rec["key"]] = rec
                self.n_runs += 1
                if self.cache is not None and rec.get("status") == "ok":
                    self.cache.put(rec)
        for key, tasks, cfg, factor, phase, rollout in todo:
            recs = [records[t.key] for t in tasks]
            ev = Evaluation(cfg, factor, phase, rollout, recs, self.plan.criterion,
                            self.plan.slo.attainment_frac)  # fmt: skip
            self.memo[key] = ev
            self._log(ev)
        out = []
        for cfg, factor, _phase, rollout in items:
            out.append(self.memo[(cfg, round(factor, 6), rollout)])
        return out

    def evaluate(
        self,
        cfg: Config,
        factor: float = 1.0,
        phase: Phase = "steady",
        rollout: tuple[int | str, int | str] | None = None,
    ) -> Evaluation:
        return self.evaluate_many([(cfg, factor, phase, rollout)])[0]

    def _log(self, ev: Evaluation) -> None:
        m, lo, hi = ev.stat()
        cfg = ev.cfg
        row: dict[str, Any] = {
            "probe": len(self.probe_rows),
            "phase": ev.phase,
            "candidate": cfg.cand.label,
            "candidate_config": self.current.get(cfg.cand.label, ""),
            "config": cfg.label,
            "gpu": cfg.cand.gpu,
            "prefill_pods": cfg.prefill,
            "decode_pods": cfg.decode,
            "replicas": cfg.replicas,
            "gpus": cfg.gpus,
            "cost_per_hour": cfg.gpus * self.price[cfg.cand.gpu],
            "load_factor": ev.factor,
            "rate_rps": self.plan.load.peak_rps * ev.factor,
            "rollout": _setting(ev.rollout) if ev.rollout is not None else None,
            "attainment_mean": m,
            "attainment_ci_low": lo,
            "attainment_ci_high": hi,
            "attainment_min": float(np.nanmin(ev.values("attainment_frac")))
            if not all(math.isnan(v) for v in ev.values("attainment_frac"))
            else math.nan,
            "ttft_attainment_mean": ev.mean("ttft_attainment_frac"),
            "tpot_attainment_mean": ev.mean("tpot_attainment_frac"),
            "ttft_p90_s": ev.mean("ttft_p90_s"),
            "tpot_p90_s": ev.mean("tpot_p90_s"),
            "goodput_rps": ev.mean("goodput_rps"),
            "pass": ev.passes(),
            "n_seeds": len(ev.records),
            "failed_runs": sum(r.get("status") != "ok" for r in ev.records),
        }
        if ev.rollout is not None:
            for k in ROLLOUT_KEYS:
                vals = [(r.get("summary") or {}).get(k) for r in ev.records]
                if k == "update_completed":
                    row[k] = all(bool(v) for v in vals)
                else:
                    nums = [float(v) for v in vals if v is not None]
                    row[k] = max(nums) if nums else None
        self.probe_rows.append(row)
        for r in ev.records:
            s = r.get("summary") or {}
            self.run_rows.append(
                {
                    "probe": row["probe"],
                    "key": r["key"],
                    "seed": r["seed"],
                    "status": r["status"],
                    "error": r.get("error"),
                    "wall_s": r.get("wall_s"),
                    **{k: v for k, v in s.items() if isinstance(v, int | float | bool | str)},
                }
            )
        self.say(
            f"  [{ev.phase}] {cfg.label} @ {row['rate_rps']:.3g} req/s"
            + (f" rollout {row['rollout']}" if ev.rollout is not None else "")
            + f": attainment mean {m:.3f} min {row['attainment_min']:.3f}"
            + f" ({ev.criterion} vs target {ev.target:g}) -> {'pass' if row['pass'] else 'fail'}"
        )

    # ------------------------------------------------------------------ candidates
    def candidates(self) -> list[Candidate]:
        p = self.plan
        out: list[Candidate] = []
        for g in p.gpus:
            for tpp in p.prefill_tp:
                for tpd in p.decode_tp:
                    if max(tpp, tpd) > g.gpus_per_node:
                        continue
                    if p.mode == "pooled":
                        out.append(Candidate("pd", g.type, tpp, tpd))
                    else:
                        for x, y in p.shapes:
                            out.append(Candidate("pd", g.type, tpp, tpd, (x, y)))
            if p.colocated:
                for tp in p.colocated_tp:
                    if tp <= g.gpus_per_node:
                        one = (1, 0) if p.mode == "replica" else None
                        out.append(Candidate("colocated", g.type, tp, 0, one))
        return out

    def guesses(self, cand: Candidate, cap: Capacity, util: float = 1.0) -> tuple[int, int]:
        rate = self.plan.load.peak_rps
        if cand.arch == "colocated":
            n = math.ceil(rate / max(cap.prefill_rps * util * SAFE_UTIL_COLOCATED, 1e-9))
            return max(1, n), 0
        p = math.ceil(rate / max(cap.prefill_rps * util * SAFE_UTIL_PREFILL, 1e-9))
        d = math.ceil(rate / max(cap.decode_rps * util * SAFE_UTIL_DECODE, 1e-9))
        return max(1, p), max(1, d)

    def lower_bound(self, cand: Candidate, cap: Capacity) -> tuple[int, float]:
        """GPUs (and $/h) no configuration of ``cand`` can go below: every pod at 100%."""
        rate = self.plan.load.peak_rps
        if cand.arch == "colocated":
            gpus = math.ceil(rate / cap.prefill_rps) * cand.tp_prefill
        else:
            p = math.ceil(rate / cap.prefill_rps)
            d = math.ceil(rate / cap.decode_rps)
            if cand.shape is not None:
                x, y = cand.shape
                r = max(math.ceil(p / x), math.ceil(d / y))
                gpus = r * (x * cand.tp_prefill + y * cand.tp_decode)
            else:
                gpus = p * cand.tp_prefill + d * cand.tp_decode
        return gpus, gpus * self.price[cand.gpu]

    def search(self, cand: Candidate, cap: Capacity) -> tuple[Config | None, str]:
        """The smallest configuration of ``cand`` meeting the SLOs at the planned load."""
        mp = self.plan.max_pods
        pg, dg = self.guesses(cand, cap)
        if cand.arch == "colocated":
            if cand.shape is not None:
                r = min_count(lambda n: self.evaluate(Config(cand, 1, 0, n)).passes(), pg, mp)
                return (Config(cand, 1, 0, r), "") if r else (None, f"> {mp} engines")
            n = min_count(lambda n: self.evaluate(Config(cand, n, 0)).passes(), pg, mp)
            return (Config(cand, n, 0), "") if n else (None, f"> {mp} engines")
        if cand.shape is not None:
            x, y = cand.shape
            rg = max(math.ceil(pg / x), math.ceil(dg / y))
            r = min_count(lambda n: self.evaluate(Config(cand, x, y, n)).passes(), rg, mp)
            return (Config(cand, x, y, r), "") if r else (None, f"> {mp} RoleSets")
        d_big = min(mp, max(2 * dg, dg + 2))
        p_star = min_count(
            lambda n: self.evaluate(Config(cand, n, d_big)).passes("ttft_attainment_frac"),
            pg,
            mp,
        )
        if p_star is None:
            return None, f"TTFT attainment not met with {mp} prefill pods"
        for p in range(p_star, min(mp, p_star + 2) + 1):

            def joint(n: int, p: int = p) -> bool:
                return self.evaluate(Config(cand, p, n)).passes()

            d_star = min_count(joint, dg, mp)
            if d_star is not None:
                return Config(cand, p, d_star), ""
        return None, f"joint attainment not met with {mp} decode pods"

    def goodput(self, cfg: Config) -> tuple[float, int]:
        """Highest load factor meeting the SLOs (bracket by x1.5 steps, then bisection)."""
        p = self.plan
        lo, hi = 1.0, None
        f = 1.0
        n = 0
        while f < p.goodput_max_factor:
            f = min(f * 1.5, p.goodput_max_factor)
            n += 1
            if self.evaluate(cfg, f, "goodput").passes():
                lo = f
            else:
                hi = f
                break
        if hi is None:
            return lo, n
        while hi / lo - 1.0 > p.goodput_rel_tol:
            mid = math.sqrt(lo * hi)
            n += 1
            if self.evaluate(cfg, mid, "goodput").passes():
                lo = mid
            else:
                hi = mid
        # a point below the planned load completes the curve
        self.evaluate(cfg, 0.5, "goodput")
        return lo, n


def _setting(r: tuple[int | str, int | str]) -> str:
    return f"maxSurge={r[0]},maxUnavailable={r[1]}"


def _with_extra(cfg: Config, extra: int) -> Config:
    if cfg.cand.shape is not None:
        return replace(cfg, replicas=cfg.replicas + extra)
    if cfg.cand.arch == "colocated":
        return replace(cfg, prefill=cfg.prefill + extra)
    return replace(cfg, prefill=cfg.prefill + extra, decode=cfg.decode + extra)


def plan(
    scenario: Scenario | str | Path | dict[str, Any],
    out: str | Path | None = None,
    jobs: int | None = None,
    executor: str | Executor = "local",
    address: str | None = None,
    seeds: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
    fresh: bool = False,
    timeline: bool = True,
) -> PlanResult:
    """Search the scenario's ``plan:`` section (see the module docstring). ``seeds``
    overrides the plan's seeds; with ``out``, runs are cached in ``OUT/runs`` (``fresh``
    ignores them) and the tables and report are written there."""
    t_start = time.perf_counter()
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if sc.plan is None:
        raise InputError(Problem("plan", "the scenario has no plan: section"))
    pl = sc.plan
    if seeds is not None:
        pl = pl.model_copy(update={"seeds": list(seeds)})
    if sc.workload is not None and isinstance(sc.workload.arrival, TraceArrival):
        raise InputError(
            Problem(
                "workload.arrival",
                "the planner needs length distributions (prompt_tokens / output_tokens), "
                "not a trace",
            )
        )
    serving = sc.serving if sc.serving is not None else Serving()
    cat = Catalog(serving)
    problems = []
    for i, g in enumerate(pl.gpus):
        try:
            cat.gpu(g.type, f"plan.gpus[{i}].type")
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(*problems)
    ex = make_executor(executor, jobs, address)
    cache = None
    if out is not None:
        cache = RunCache(out)
        if fresh:
            stored = cache.keys()
            for k in stored:
                cache.path(k).unlink(missing_ok=True)
    pln = Planner(sc, pl, ex, cache, progress)
    ana = Analytic(pl, sc)
    rows: list[dict[str, Any]] = []
    found: dict[str, Config] = {}
    best_cost = math.inf
    cands = pln.candidates()
    caps = {c: ana.capacity(c) for c in cands}
    bounds = {c: pln.lower_bound(c, caps[c]) if caps[c].feasible else (0, math.inf)
              for c in cands}  # fmt: skip
    order = sorted(cands, key=lambda c: (bounds[c][1], c.label))
    for cand in order:
        cap = caps[cand]
        row: dict[str, Any] = {
            "candidate": cand.label,
            "arch": cand.arch,
            "gpu": cand.gpu,
            "prefill_tp": cand.tp_prefill,
            "decode_tp": cand.tp_decode if cand.arch == "pd" else None,
            "shape": f"{cand.shape[0]}P{cand.shape[1]}D"
            if cand.shape is not None and cand.arch == "pd"
            else None,
            "price_per_gpu_hour": pln.price[cand.gpu],
            "analytic_prefill_rps_per_pod": cap.prefill_rps,
            "analytic_decode_rps_per_pod": cap.decode_rps,
            "lower_bound_gpus": bounds[cand][0] if cap.feasible else None,
            "lower_bound_cost_per_hour": bounds[cand][1] if cap.feasible else None,
        }
        if not cap.feasible:
            row.update(status="infeasible", reason=cap.why)
            rows.append(row)
            pln.say(f"{cand.label}: infeasible ({cap.why})")
            continue
        if bounds[cand][1] >= best_cost:
            row.update(
                status="dominated",
                reason=f"cost lower bound ${bounds[cand][1]:.2f}/h >= best found "
                f"${best_cost:.2f}/h",
            )
            rows.append(row)
            pln.say(f"{cand.label}: pruned ({row['reason']})")
            continue
        pln.say(f"{cand.label}: searching (analytic guess {pln.guesses(cand, cap)})")
        cfg, whynot = pln.search(cand, cap)
        if cfg is None:
            row.update(status="no-fit", reason=whynot)
            rows.append(row)
            continue
        found[cand.label] = cfg
        pln.current[cand.label] = cfg.label
        for r in pln.probe_rows:  # mark the candidate's own configuration in the probes
            if r["candidate"] == cand.label:
                r["candidate_config"] = cfg.label
        ev = pln.evaluate(cfg)
        m, lo, hi = ev.stat()
        cost = cfg.gpus * pln.price[cand.gpu]
        best_cost = min(best_cost, cost)
        row.update(
            status="feasible",
            reason="",
            config=cfg.label,
            prefill_pods=cfg.prefill,
            decode_pods=cfg.decode,
            replicas=cfg.replicas,
            gpus=cfg.gpus,
            cost_per_hour=cost,
            attainment_mean=m,
            attainment_ci_low=lo,
            attainment_ci_high=hi,
            ttft_p90_s=ev.mean("ttft_p90_s"),
            tpot_p90_s=ev.mean("tpot_p90_s"),
        )
        rows.append(row)
    # ---------------------------------------------------------------- goodput and rollout
    by_label = {r["candidate"]: r for r in rows}
    for label, cfg in found.items():
        r = by_label[label]
        if pl.goodput:
            f, _ = pln.goodput(cfg)
            r["goodput_rps"] = f * pl.load.peak_rps
            r["goodput_per_gpu"] = r["goodput_rps"] / cfg.gpus
            r["goodput_capped"] = f >= pl.goodput_max_factor
        if pl.rollout is not None:
            opt = (pl.rollout.max_surge[0], pl.rollout.max_unavailable[0])
            ev = pln.evaluate(cfg, 1.0, "rollout", opt)
            m, lo, hi = ev.stat()
            r.update(
                rollout_setting=_setting(opt),
                rollout_duration_s=_maxv(ev, "update_duration_s"),
                rollout_surge_gpus=_maxv(ev, "surge_gpus_peak"),
                rollout_attainment_mean=m,
                rollout_attainment_ci_low=lo,
                rollout_attainment_ci_high=hi,
                rollout_pass=ev.passes(),
            )
    feasible = [r for r in rows if r.get("status") == "feasible"]
    feasible.sort(key=lambda r: (r["cost_per_hour"], r["gpus"], -(r.get("goodput_rps") or 0)))
    recommendation: dict[str, Any] | None = None
    options = pd.DataFrame()
    sens = pd.DataFrame()
    tl: RunResult | None = None
    notes: list[str] = []
    if feasible:
        best = feasible[0]
        best["status"] = "recommended"
        cfg = found[best["candidate"]]
        recommendation = {k: best.get(k) for k in best}
        why = [
            f"cheapest configuration meeting {pl.slo.attainment_frac:.0%} of requests within "
            f"TTFT {pl.slo.ttft_s:g} s and TPOT {pl.slo.tpot_s:g} s at "
            f"{pl.load.peak_rps:g} req/s ({pl.criterion} over {len(pl.seeds)} seeds)"
        ]
        if len(feasible) > 1:
            nxt = feasible[1]
            why.append(f"next cheapest: {nxt['config']} at ${nxt['cost_per_hour']:.2f}/h")
        # minimality: one pod (or RoleSet) less of each kind, at the planned load
        nb = []
        if cfg.cand.shape is not None:
            if cfg.replicas > 1:
                nb.append(replace(cfg, replicas=cfg.replicas - 1))
        else:
            if cfg.prefill > 1:
                nb.append(replace(cfg, prefill=cfg.prefill - 1))
            if cfg.decode > 1:
                nb.append(replace(cfg, decode=cfg.decode - 1))
        pln.evaluate_many([(c, 1.0, "steady", None) for c in nb])
        rej = [
            p
            for p in pln.probe_rows
            if p["phase"] == "steady"
            and p["candidate"] == best["candidate"]
            and not p["pass"]
            and p["cost_per_hour"] < best["cost_per_hour"]
        ]
        if rej:
            rej.sort(key=lambda p: (-p["cost_per_hour"], p["probe"]))
            for rp in rej[:3]:
                why.append(
                    f"cheaper {rp['config']} (${rp['cost_per_hour']:.2f}/h) was rejected: "
                    f"attainment {rp['attainment_mean']:.3f} (min {rp['attainment_min']:.3f}) "
                    f"< {pl.slo.attainment_frac:g}"
                )
            rj = rej[0]
            recommendation["rejected"] = [
                {k: rp[k] for k in ("config", "prefill_pods", "decode_pods", "replicas",
                                    "gpus", "cost_per_hour", "attainment_mean")}
                for rp in rej
            ]  # fmt: skip
            recommendation["rejected_config"] = rj["config"]
            recommendation["rejected_prefill_pods"] = rj["prefill_pods"]
            recommendation["rejected_decode_pods"] = rj["decode_pods"]
            recommendation["rejected_replicas"] = rj["replicas"]
            recommendation["rejected_attainment_mean"] = rj["attainment_mean"]
        recommendation["prefill_pods"] = cfg.prefill
        recommendation["decode_pods"] = cfg.decode
        recommendation["replicas"] = cfg.replicas
        recommendation["shape_tuple"] = list(cfg.cand.shape) if cfg.cand.shape else None
        recommendation["arch"] = cfg.cand.arch
        recommendation["gpu"] = cfg.cand.gpu
        recommendation["prefill_tp"] = cfg.cand.tp_prefill
        recommendation["decode_tp"] = cfg.cand.tp_decode
        # rollout options of the recommendation
        if pl.rollout is not None:
            opt_rows = []
            for su in pl.rollout.max_surge:
                for un in pl.rollout.max_unavailable:
                    setting = (su, un)
                    pln.say(f"rollout {_setting(setting)}")
                    base_ev = pln.evaluate(cfg, 1.0, "rollout", setting)
                    extra: int | None = 0
                    if not base_ev.passes():
                        cap_extra = pl.rollout.max_extra

                        def holds(e: int, s: tuple[int | str, int | str] = setting) -> bool:
                            return pln.evaluate(_with_extra(cfg, e), 1.0, "rollout", s).passes()

                        extra = min_count(holds, 1, cap_extra) if cap_extra >= 1 else None
                    if extra is None:
                        opt_rows.append(
                            {"setting": _setting(setting), "max_surge": str(su),
                             "max_unavailable": str(un), "extra": None, "pass": False,
                             "attainment_mean": base_ev.stat()[0],
                             "update_completed": all(
                                 (x.get("summary") or {}).get("update_completed")
                                 for x in base_ev.records)}
                        )  # fmt: skip
                        continue
                    c2 = _with_extra(cfg, extra)
                    ev = pln.evaluate(c2, 1.0, "rollout", setting)
                    m, lo, hi2 = ev.stat()
                    surge = _maxv(ev, "surge_gpus_peak") or 0.0
                    opt_rows.append(
                        {
                            "setting": _setting(setting),
                            "max_surge": str(su),
                            "max_unavailable": str(un),
                            "extra": extra,
                            "config": c2.label,
                            "extra_gpus": c2.gpus - cfg.gpus,
                            "surge_gpus": surge,
                            "peak_gpus": int(c2.gpus + surge),
                            "cost_per_hour": c2.gpus * pln.price[cfg.cand.gpu],
                            "duration_s": _maxv(ev, "update_duration_s"),
                            "attainment_mean": m,
                            "attainment_ci_low": lo,
                            "attainment_ci_high": hi2,
                            "capacity_availability_frac": ev.mean("capacity_availability_frac"),
                            "update_completed": True,
                            "pass": True,
                        }
                    )
            options = pd.DataFrame(opt_rows)
            ok = options[options["pass"]] if len(options) else options
            if len(ok):
                ok = ok.sort_values(["peak_gpus", "duration_s", "extra_gpus"])
                ch = ok.iloc[0]
                recommendation.update(
                    rollout_setting=ch["setting"],
                    rollout_extra_gpus=int(ch["extra_gpus"]),
                    rollout_surge_gpus=float(ch["surge_gpus"]),
                    rollout_peak_gpus=int(ch["peak_gpus"]),
                    rollout_duration_s=float(ch["duration_s"]),
                    rollout_attainment_mean=float(ch["attainment_mean"]),
                    rollout_config=ch["config"],
                    rollout_cost_per_hour=float(ch["cost_per_hour"]),
                )
                options["chosen"] = options["setting"] == ch["setting"]
                why.append(
                    f"during a full rollout, {ch['setting']} keeps the SLOs with "
                    f"{int(ch['extra_gpus'])} extra GPUs and {ch['surge_gpus']:.0f} surge "
                    f"GPUs (peak {int(ch['peak_gpus'])} GPUs, {ch['duration_s']:.0f} s)"
                )
                if timeline:
                    extra_n = int(ch["extra"])
                    c2 = _with_extra(cfg, extra_n)
                    setting = (
                        _parse_budget(ch["max_surge"]),
                        _parse_budget(ch["max_unavailable"]),
                    )
                    data, _, _ = scenario_for(pl, pln.base, c2, pln.gpn[cfg.cand.gpu], 1.0,
                                              setting)  # fmt: skip
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        tl = run(load_scenario(data), seed=pl.seeds[0])
            else:
                recommendation["rollout_setting"] = None
                why.append(
                    "no rollout setting keeps the SLOs within "
                    f"{pl.rollout.max_extra} extra units: plan a maintenance window"
                )
        # P:D sensitivity at the same pod count
        if pl.sensitivity and cfg.cand.arch == "pd":
            items: list[tuple[Config, float, Phase, Any]] = []
            if cfg.cand.shape is None:
                n = cfg.prefill + cfg.decode
                for p in range(max(1, cfg.prefill - 2), min(n - 1, cfg.prefill + 2) + 1):
                    items.append((Config(cfg.cand, p, n - p), 1.0, "sensitivity", None))
            else:
                n = cfg.prefill + cfg.decode
                for p in range(1, n):
                    c3 = Candidate("pd", cfg.cand.gpu, cfg.cand.tp_prefill,
                                   cfg.cand.tp_decode, (p, n - p))  # fmt: skip
                    items.append((Config(c3, p, n - p, cfg.replicas), 1.0, "sensitivity", None))
            evs = pln.evaluate_many(items)
            srows = []
            for ev in evs:
                m, lo, hi = ev.stat()
                srows.append(
                    {
                        "config": ev.cfg.label,
                        "prefill_pods": ev.cfg.prefill,
                        "decode_pods": ev.cfg.decode,
                        "replicas": ev.cfg.replicas,
                        "pd_ratio": f"{ev.cfg.prefill}:{ev.cfg.decode}",
                        "gpus": ev.cfg.gpus,
                        "cost_per_hour": ev.cfg.gpus * pln.price[cfg.cand.gpu],
                        "attainment_mean": m,
                        "attainment_ci_low": lo,
                        "attainment_ci_high": hi,
                        "ttft_attainment_mean": ev.mean("ttft_attainment_frac"),
                        "tpot_attainment_mean": ev.mean("tpot_attainment_frac"),
                        "pass": ev.passes(),
                        "recommended": ev.cfg == cfg,
                    }
                )
            sens = pd.DataFrame(srows)
        recommendation["why"] = why
    else:
        notes.append("no candidate met the SLOs")
    late = [r for r in pln.run_rows if r.get("fleet_ready_late")]
    if late:
        notes.append(
            f"{len(late)} runs had pods not yet ready when traffic started at "
            f"{pl.warmup_s:g} s: raise plan.warmup_s"
        )
    cand_df = pd.DataFrame(rows)
    return PlanResult(
        scenario=sc,
        plan=pl,
        candidates=cand_df,
        probes=pd.DataFrame(pln.probe_rows),
        runs=pd.DataFrame(pln.run_rows),
        rollout_options=options,
        sensitivity=sens,
        recommendation=recommendation,
        timeline=tl,
        wall_s=time.perf_counter() - t_start,
        n_runs=pln.n_runs,
        n_cached=pln.n_cached,
        notes=notes,
    )._saved(out)


def _parse_budget(v: str) -> int | str:
    return int(v) if v.lstrip("-").isdigit() else v


def _maxv(ev: Evaluation, key: str) -> float | None:
    v = [x for x in ev.values(key) if not math.isnan(x)]
    return float(max(v)) if v else None
