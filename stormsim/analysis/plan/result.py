"""The report model: :class:`PlanResult`, what :func:`stormsim.plan` returns and saves (tables
as parquet, ``plan.json``, and the report artifacts the report layer registers)."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stormsim.analysis.executors import make_executor
from stormsim.analysis.plan.measure import PlanTask, run_plan_task
from stormsim.analysis.plan.recommend import Recommendation
from stormsim.analysis.plan.scenario import Candidate, Config, base_of, scenario_for
from stormsim.analysis.study import atomic_write
from stormsim.errors import InputError, Problem, SimulationError
from stormsim.plugins import PLAN_ARTIFACT_WRITERS
from stormsim.runner import RunResult, __version__
from stormsim.schema.loader import load_scenario
from stormsim.schema.plan import Plan
from stormsim.schema.scenario import Scenario

TABLES = ("candidates", "probes", "runs", "rollout_options", "sensitivity")


@dataclass
class PlanResult:
    """What :func:`plan` found. Tables: ``candidates`` (one row per candidate), ``probes``
    (every evaluation: a configuration at a load over all seeds), ``runs`` (every run, with
    ``status`` and ``error``), ``rollout_options`` (the recommendation under each rollout
    setting), ``sensitivity`` (P:D split at the same pod count). ``recommendation`` is None
    when no candidate meets the SLOs or the plan stopped on a failed run; ``failures`` lists
    every failed evaluation with its errors (the plan stopped at the first unless
    ``keep_going``); ``timeline`` is the run of the recommended rollout (seed
    ``timeline.seed``, the plan's first)."""

    scenario: Scenario
    plan: Plan
    candidates: pd.DataFrame
    probes: pd.DataFrame
    runs: pd.DataFrame
    rollout_options: pd.DataFrame
    sensitivity: pd.DataFrame
    recommendation: Recommendation | None
    timeline: RunResult | None = None
    wall_s: float = 0.0
    n_runs: int = 0
    n_cached: int = 0
    n_failed: int = 0
    failures: list[str] = field(default_factory=list)
    keep_going: bool = False
    out: Path | None = None
    notes: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    """The requirements on summary KPIs besides the SLO (``plan.require``, ``--require``)."""

    @property
    def stopped(self) -> bool:
        """The plan stopped on a failed run (no ``keep_going``): it has no answer."""
        return bool(self.failures) and not self.keep_going

    def failed_runs(self) -> pd.DataFrame:
        """The runs that failed, with their errors."""
        r = self.runs
        if r.empty or "status" not in r:
            return r
        return r[r["status"] != "ok"]

    def curves(self) -> pd.DataFrame:
        """Load vs attainment points per candidate (steady and goodput probes)."""
        p = self.probes
        if p.empty:
            return p
        sel = p[p["phase"].isin(["steady", "goodput"]) & (p["status"] != "failed")]
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
        cfg = r.config
        cand = cfg.cand
        if cand.shape is not None and prefill is not None and decode is not None:
            cand = Candidate(cand.arch, cand.gpu, cand.tp_prefill, cand.tp_decode,
                             (prefill, decode))  # fmt: skip
        return Config(
            cand,
            cfg.prefill if prefill is None else prefill,
            cfg.decode if decode is None else decode,
            cfg.replicas if replicas is None else replicas,
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
        ``meets_slo``. Raises :class:`SimulationError` if a run fails."""
        cfg = cfg or self.config()
        gpn = {g.type: g.gpus_per_node for g in self.plan.gpus}[cfg.cand.gpu]
        data, win = scenario_for(self.plan, base_of(self.scenario), cfg, gpn, factor)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = load_scenario(data)
        tasks = [PlanTask(f"check-{s}", sc, s, None, win, cfg.pods) for s in seeds]
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
        if self.stopped:
            return (
                f"plan failed: {self.n_failed} run(s) failed, no recommendation "
                f"(first: {self.failures[0]}); --keep-going searches the other candidates"
            )
        r = self.recommendation
        if r is None:
            s = "no candidate meets the SLOs within the search bounds"
            if self.requirements:
                s += " and the requirements " + ", ".join(self.requirements)
            if self.failures:
                s += f" ({len(self.failures)} evaluations failed: see the failures)"
            return s
        s = (
            f"recommended: {r.label} — {r.gpus} GPUs, ${r.cost_per_hour:.2f}/h, "
            f"attainment {r.attainment_mean:.3f} (target {self.plan.slo.attainment_frac:g}), "
            f"goodput {_f(r.goodput_rps)} req/s"
        )
        if self.requirements:
            s += f", meets {', '.join(self.requirements)}"
        ch = r.rollout
        if ch is not None:
            s += (
                f"; rollout with {ch.setting}: +{ch.extra_gpus} GPUs kept, "
                f"{_f(ch.surge_gpus)} surge GPUs, peak {ch.peak_gpus} GPUs, "
                f"{duration_text(ch.duration_s)}"
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
        for name in TABLES:
            df: pd.DataFrame = getattr(self, name)
            atomic_write(out / f"{name}.parquet", _parquet_writer(df))
        doc = {
            "scenario": self.scenario.name,
            "recommendation": None
            if self.recommendation is None
            else self.recommendation.to_dict(),
            "summary": self.summary_text(),
            "failures": self.failures,
            "plan": self.plan.model_dump(mode="json"),
            "wall_s": self.wall_s,
            "n_runs": self.n_runs,
            "n_cached": self.n_cached,
            "n_failed": self.n_failed,
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


def duration_text(s: float | None) -> str:
    """Seconds in human units: ``16.2 ms``, ``45 s``, ``12.5 min``, ``3.2 h`` (``-`` for None
    / NaN)."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    s = float(s)
    if 0 < abs(s) < 1:
        return f"{s * 1000:.3g} ms"
    if abs(s) < 100:
        return f"{s:.3g} s"
    if abs(s) < 2 * 3600:
        return f"{s / 60:.3g} min"
    return f"{s / 3600:.3g} h"


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
