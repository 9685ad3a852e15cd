"""Sweeps: a grid (× optional random samples) over scenario fields by dotted path, × seeds.

``sweep(scenario, out=DIR)`` plans every run (validating every variant first: a bad path or
value is an :class:`InputError` before anything runs), reuses the runs already in ``DIR/runs``
(see :mod:`stormsim.analysis.cache`), runs the rest on an executor, writing each record the
moment it arrives, and returns a :class:`SweepResult` with two tidy tables:

* ``runs``: one row per (parameter combination, seed);
* ``cells``: one row per parameter combination, mean and 95% CI of each numeric KPI.

Columns are documented in docs/analysis.md.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from stormsim.analysis.budgets import run_key
from stormsim.analysis.cache import RunCache
from stormsim.analysis.claims import coordinated
from stormsim.analysis.executors import (
    Executor,
    Record,
    Task,
    TaskFn,
    execute,
    execute_keep,
    make_executor,
)
from stormsim.analysis.paths import short_labels
from stormsim.analysis.requirements import Requirement, recommend, study_requirements, violations
from stormsim.analysis.stats import mean_ci95, pareto_mask
from stormsim.analysis.study import (
    RunProgress,
    atomic_write,
    kpi_items,
    numeric_kpis,
    tidy_column,
)
from stormsim.analysis.variants import as_scenario, make_variants
from stormsim.errors import InputError, Problem
from stormsim.metrics import catalogue
from stormsim.plugins import SWEEP_ARTIFACT_WRITERS
from stormsim.runner import RunResult, __version__
from stormsim.schema.scenario import Scenario
from stormsim.schema.study import RangeSpec, SamplesSpec, SweepSpec

RUN_COLUMNS = ("seed", "cell", "key", "status", "error", "wall_s", "feasible", "violated")
"""Columns of ``runs`` between the parameter columns and the KPI columns."""

CELL_COLUMNS = (
    "cell",
    "cell_label",
    "n_runs",
    "n_ok",
    "n_failed",
    "feasible",
    "violated",
    "same_as",
    "pareto",
)
"""Columns of ``cells`` after the parameter columns and before the KPI statistics."""

PARETO_MINIMIZE = tuple(k for k in catalogue.names("pareto") if catalogue.better(k) == "lower")
PARETO_MAXIMIZE = tuple(k for k in catalogue.names("pareto") if catalogue.better(k) == "higher")


@dataclass
class SweepPlan:
    """Every run of a sweep, validated, before anything runs."""

    scenario: Scenario
    params: list[str]
    combos: list[dict[str, Any]]
    variants: list[Scenario]
    seeds: list[int]
    until_s: float | None
    requirements: list[Requirement] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    """One per (cell, seed), cell-major; ``tasks[i]`` is cell ``i // len(seeds)``."""

    @property
    def n_runs(self) -> int:
        return len(self.tasks)


def _draw(spec: list[Any] | RangeSpec, rng: np.random.Generator) -> Any:
    if isinstance(spec, list):
        return spec[int(rng.integers(len(spec)))]
    if spec.log:
        x = float(np.exp(rng.uniform(np.log(spec.low), np.log(spec.high))))
    else:
        x = float(rng.uniform(spec.low, spec.high))
    return round(x) if spec.integer else x


def plan_sweep(
    scenario: Scenario | str | Path | dict[str, Any],
    grid: Mapping[str, Sequence[Any]] | None = None,
    samples: SamplesSpec | Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] | None = None,
    until_s: float | None = None,
    require: Sequence[str] | None = None,
) -> SweepPlan:
    """Expand and validate a sweep. ``grid`` entries replace or add to the scenario's
    ``sweep.grid`` path by path; ``samples`` and ``seeds`` replace the scenario's;
    ``require`` adds to the workload's SLO and ``sweep.require``. Runs are keyed by
    :func:`stormsim.analysis.budgets.run_key`, so cells whose StormService budgets resolve
    to the same numbers share their runs."""
    sc = as_scenario(scenario)
    spec = sc.sweep or SweepSpec()
    try:
        merged = dict(spec.grid)
        merged.update({k: list(v) for k, v in (grid or {}).items()})
        spec = SweepSpec.model_validate(
            {
                "grid": merged,
                "samples": samples if samples is not None else spec.samples,
                "seeds": (
                    (seeds if isinstance(seeds, int) else list(seeds))
                    if seeds is not None
                    else spec.seeds
                ),
                "require": list(spec.require),
            }
        )
    except ValidationError as e:
        raise InputError(
            [
                Problem(
                    ".".join(["sweep", *(str(x) for x in err["loc"])]),
                    err["msg"].removeprefix("Value error, "),
                )
                for err in e.errors(include_url=False)
            ]
        ) from None
    if isinstance(spec.seeds, int):
        base = sc.seed if sc.seed is not None else 0
        seed_list = [base + i for i in range(spec.seeds)]
    else:
        seed_list = list(spec.seeds)
    points = [
        dict(zip(spec.grid, vals, strict=True)) for vals in itertools.product(*spec.grid.values())
    ]
    params = list(spec.grid)
    if spec.samples is not None:
        rng = np.random.default_rng(spec.samples.seed)
        drawn = [
            {k: _draw(v, rng) for k, v in spec.samples.params.items()}
            for _ in range(spec.samples.n)
        ]
        points = [{**p, **d} for p in points for d in drawn]
        params += list(spec.samples.params)
    reqs = study_requirements(sc, "sweep", require)
    variants = make_variants(sc, points)
    plan = SweepPlan(sc, params, points, variants, seed_list, until_s, reqs)
    for v in variants:
        for s in seed_list:
            plan.tasks.append(Task(run_key(v, s, until_s), v, s, until_s))
    return plan


@dataclass
class SweepResult:
    """The tables of a sweep and how they were obtained."""

    plan: SweepPlan
    runs: pd.DataFrame
    cells: pd.DataFrame
    n_cached: int
    n_executed: int
    n_failed: int
    wall_s: float
    executor: str
    out: Path | None = None
    progress: bool | None = None
    """Progress bars of the phases after the runs (timelines for the plots)."""
    _executor: Executor | None = field(default=None, repr=False)

    def recommendations(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(objective, cell label or None, its mean KPIs) for the fastest feasible rollout and
        the fewest surge GPUs among feasible cells (means over seeds; a cell is feasible
        when every one of its runs meets every requirement); none at all (``[]``) when the
        scenario has no events, so no rollout to recommend for."""
        if not self.plan.scenario.events:
            return []
        return recommend(self.cells, "cell_label", lambda k: f"{k}_mean")

    @property
    def params(self) -> list[str]:
        return self.plan.params

    @property
    def kpis(self) -> list[str]:
        """KPI columns of ``runs``."""
        fixed = set(self.params) | set(RUN_COLUMNS)
        return [c for c in self.runs.columns if c not in fixed]

    def failures(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "ok"]

    def timelines(
        self,
        cells: Sequence[int] | None = None,
        seed: int | None = None,
        max_n: int = 4,
        *,
        executor: str | Executor | None = None,
        jobs: int | None = None,
        progress: bool | None = None,
    ) -> dict[str, RunResult]:
        """Re-run a few cells (deterministic: same scenario and seed) and return their full
        results by cell label; default: up to ``max_n`` cells of the Pareto front, fastest
        first, leaving out cells that share another's run (``same_as``). Runs on ``executor``
        (default: the sweep's, else local processes) with a progress bar; a run that fails
        is left out (its error is in ``runs``)."""
        if cells is None:  # the front, one cell per distinct run
            front = self.cells[self.cells["pareto"] & self.cells["same_as"].isna()]
            if "update_duration_s_mean" in front:
                front = front.sort_values("update_duration_s_mean", kind="stable")
            cells = [int(c) for c in front["cell"].tolist()[:max_n]]
        seed = self.plan.seeds[0] if seed is None else seed
        labels = dict(zip(self.cells["cell"], self.cells["cell_label"], strict=True))
        ex = make_executor(executor or self._executor or "local", jobs=jobs)
        until = self.plan.until_s
        tasks = [
            Task(run_key(self.plan.variants[c], seed, until), self.plan.variants[c], seed, until)
            for c in cells
        ]
        unique = list({t.key: t for t in tasks}.values())
        got: dict[str, RunResult] = {}
        with RunProgress(len(unique), "timelines (re-running cells)", progress) as bar:
            for rec in ex.imap(unique, execute_keep):
                if rec.get("result") is not None:
                    got[str(rec["key"])] = rec["result"]
                bar.advance(failed=int(rec["status"] != "ok"))
        return {
            str(labels[c]): got[t.key] for c, t in zip(cells, tasks, strict=True) if t.key in got
        }

    def save(self, out: str | Path, plots: bool = True) -> Path:
        """Write ``runs.parquet``, ``cells.parquet``, ``sweep.json`` and (``plots``) the PNGs,
        each file atomically."""
        out = Path(out)
        atomic_write(out / "runs.parquet", lambda p: self.runs.to_parquet(p, index=False))
        atomic_write(out / "cells.parquet", lambda p: self.cells.to_parquet(p, index=False))
        params: dict[str, list[Any]] = {}
        for p in self.params:
            seen = dict.fromkeys(json.dumps(c.get(p), default=str) for c in self.plan.combos)
            params[p] = [json.loads(v) for v in seen]
        meta = {
            "scenario": self.plan.scenario.name,
            "stormsim_version": __version__,
            "params": params,
            "seeds": self.plan.seeds,
            "n_cells": len(self.plan.combos),
            "n_runs": self.plan.n_runs,
            "n_cached": self.n_cached,
            "n_executed": self.n_executed,
            "n_failed": self.n_failed,
            "executor": self.executor,
            "wall_s": round(self.wall_s, 3),
        }
        text = json.dumps(meta, indent=2) + "\n"
        atomic_write(out / "sweep.json", lambda p: _write_text(p, text))
        if plots:
            for writer in SWEEP_ARTIFACT_WRITERS:
                writer(self, out)
        self.out = out
        return out


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def run_tasks(
    tasks: Sequence[Task],
    executor: Executor,
    cache: RunCache | None,
    *,
    fresh: bool = False,
    retry_failed: bool = False,
    progress: bool | None = None,
    title: str = "runs",
    fn: TaskFn | None = None,
    extra: Callable[[Task], dict[str, Any]] | None = None,
) -> tuple[dict[str, Record], int, int]:
    """Run the tasks not in the cache; return records by key, and the counts cached and
    executed. Each record is written to the cache as soon as it arrives (crashed runs are not
    cached, so a rerun retries them). With a cache, runs are claimed first, so several
    processes sharing the cache compute each run once (:mod:`stormsim.analysis.claims`): a run
    another process is computing is waited for and counts as cached."""
    fn = fn or execute  # looked up at call time (tests substitute it)
    unique: dict[str, Task] = {}
    for t in tasks:
        unique.setdefault(t.key, t)
    records: dict[str, Record] = {}
    todo: list[Task] = []
    for key, t in unique.items():
        rec = None if (cache is None or fresh) else cache.get(key)
        if rec is not None and rec.get("stormsim_version") != __version__:
            rec = None
        if rec is not None and rec["status"] != "ok" and retry_failed:
            rec = None
        if rec is None:
            todo.append(t)
        else:
            records[key] = rec
    n_cached = len(records)
    n_executed = 0

    def store(rec: Record) -> bool:
        if extra is not None:
            rec.update(extra(unique[str(rec["key"])]))
        if cache is None or rec.get("crashed"):
            return False
        cache.put(rec)
        return True

    with RunProgress(len(unique), title, progress) as bar:
        bar.advance(
            n_cached, cached=n_cached, failed=sum(r["status"] != "ok" for r in records.values())
        )
        stream: Iterator[tuple[Record, bool]]
        if cache is None:
            stream = _uncoordinated(todo, executor, fn, store)
        else:
            stream = coordinated(todo, executor, fn, cache, store=store, say=bar.note)
        for rec, here in stream:
            records[str(rec["key"])] = rec
            n_executed += here
            n_cached += not here
            bar.advance(failed=int(rec["status"] != "ok"), cached=int(not here))
    return records, n_cached, n_executed


def _uncoordinated(
    todo: Sequence[Task], executor: Executor, fn: TaskFn, store: Callable[[Record], bool]
) -> Iterator[tuple[Record, bool]]:
    for rec in executor.imap(todo, fn):
        store(rec)
        yield rec, True


def _violated(per_run: list[str]) -> str:
    """``"a<=1 (3/5 seeds); b>=2 (5/5 seeds)"`` from each run's ``violated`` text."""
    counts: dict[str, int] = {}
    for text in per_run:
        for r in (text or "").split("; "):
            if r:
                counts[r] = counts.get(r, 0) + 1
    n = len(per_run)
    return "; ".join(f"{r} ({k}/{n} seeds)" for r, k in counts.items())


def _label(combo: Mapping[str, Any], short: Mapping[str, str]) -> str:
    return ", ".join(f"{short[k]}={v}" for k, v in combo.items()) or "base"


def build_tables(
    plan: SweepPlan, records: Mapping[str, Record]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs`` and ``cells`` from the plan and the records of its runs."""
    n_seeds = len(plan.seeds)
    rows: list[dict[str, Any]] = []
    kpi_cols: dict[str, None] = {}
    for i, t in enumerate(plan.tasks):
        rec = records[t.key]
        kpis = kpi_items(rec.get("summary"))
        kpi_cols.update(dict.fromkeys(kpis))
        ok = rec["status"] == "ok"
        bad = violations(plan.requirements, rec.get("summary") or {}) if ok else []
        rows.append(
            {
                "seed": t.seed,
                "cell": i // n_seeds,
                "key": t.key,
                "status": rec["status"],
                "error": rec.get("error"),
                "wall_s": rec.get("wall_s"),
                "feasible": (not bad) if ok else None,
                "violated": "; ".join(bad) if ok else None,
                **kpis,
            }
        )
    runs = pd.DataFrame(rows, columns=[*RUN_COLUMNS, *kpi_cols])
    runs["feasible"] = pd.array(runs["feasible"].tolist(), dtype="boolean")
    for p in reversed(plan.params):
        col = tidy_column([plan.combos[i // n_seeds].get(p) for i in range(len(plan.tasks))])
        runs.insert(0, p, pd.Series(col, dtype=object) if col else pd.Series(dtype=object))
    for p in plan.params:
        runs[p] = runs[p].infer_objects()
    numeric = numeric_kpis(runs, list(kpi_cols))
    for c in numeric:
        if runs[c].dtype == object:
            runs[c] = pd.to_numeric(runs[c].map(lambda v: math.nan if v is None else float(v)))
    short = short_labels(plan.params)
    cell_rows = []
    first_with: dict[tuple[str, ...], str] = {}
    for cell, combo in enumerate(plan.combos):
        g = runs.iloc[cell * n_seeds : (cell + 1) * n_seeds]
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = {p: g[p].iloc[0] for p in plan.params}
        label = _label(combo, short)
        keys = tuple(g["key"].tolist())
        same = first_with.setdefault(keys, label)
        failed = len(g) - len(ok)
        row.update(
            cell=cell,
            cell_label=label,
            n_runs=len(g),
            n_ok=len(ok),
            n_failed=failed,
            feasible=None if failed or not len(g) else bool(ok["feasible"].all()),
            violated=None if failed else _violated(ok["violated"].tolist()),
            same_as=same if same != label else None,
            pareto=False,
        )
        for c in numeric:
            m, lo, hi, _ = mean_ci95(ok[c].to_numpy(dtype=float))
            row[f"{c}_mean"], row[f"{c}_ci95_lo"], row[f"{c}_ci95_hi"] = m, lo, hi
        cell_rows.append(row)
    cells = pd.DataFrame(cell_rows)
    if cells.empty:
        cells = pd.DataFrame(columns=[*plan.params, *CELL_COLUMNS])
    cells["feasible"] = pd.array(cells["feasible"].tolist(), dtype="boolean")
    for c in ("same_as", "violated"):
        text = cells[c].astype(object)
        cells[c] = text.where(text.notna(), None)
    for p in plan.params:
        cells[p] = cells[p].infer_objects()
    objectives = [f"{c}_mean" for c in (*PARETO_MINIMIZE, *PARETO_MAXIMIZE)]
    if all(o in cells for o in objectives):
        # only cells whose every run completed the update compete (a mean duration over the
        # few runs that finished would flatter a setting that usually stalls)
        # and only feasible ones: a setting that breaks a requirement is no trade-off
        eligible = (cells["n_failed"] == 0) & cells["feasible"].fillna(False).astype(bool)
        if "update_completed_mean" in cells:
            eligible &= cells["update_completed_mean"] == 1
        mask = pareto_mask(
            cells[eligible],
            minimize=[f"{c}_mean" for c in PARETO_MINIMIZE],
            maximize=[f"{c}_mean" for c in PARETO_MAXIMIZE],
        )
        cells["pareto"] = False
        cells.loc[mask.index, "pareto"] = mask
    return runs, cells


def sweep(
    scenario: Scenario | str | Path | dict[str, Any],
    out: str | Path | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    samples: SamplesSpec | Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] | None = None,
    until_s: float | None = None,
    jobs: int | None = None,
    executor: str | Executor = "local",
    address: str | None = None,
    fresh: bool = False,
    retry_failed: bool = False,
    progress: bool | None = None,
    plots: bool = True,
    require: Sequence[str] | None = None,
) -> SweepResult:
    """Run a sweep and return its tables; with ``out``, cache every run in ``out/runs`` (so a
    rerun resumes) and save the tables and plots in ``out``.

    ``grid`` maps dotted paths to value lists and is merged into the scenario's ``sweep.grid``;
    ``samples`` (``{n, seed, params}``) and ``seeds`` (a count or a list) replace the
    scenario's. ``executor`` is ``local`` (``jobs`` processes, default every core) or ``ray``
    (``address`` of a cluster, default a local instance). Failed runs are recorded with their
    error and reused on a rerun unless ``retry_failed``; ``fresh`` ignores the cache.
    ``require``: requirements added to the workload's SLO and ``sweep.require``; ``cells``
    and ``runs`` get ``feasible`` and ``violated``, and the Pareto front is drawn among
    feasible cells only.
    """
    t0 = time.perf_counter()
    plan = plan_sweep(
        scenario, grid=grid, samples=samples, seeds=seeds, until_s=until_s, require=require
    )
    ex = make_executor(executor, jobs=jobs, address=address)
    cache = RunCache(out) if out is not None else None
    n_seeds = len(plan.seeds)
    cell_of = {t.key: i // n_seeds for i, t in enumerate(plan.tasks)}

    def extra(t: Task) -> dict[str, Any]:
        return {"scenario": plan.scenario.name, "params": plan.combos[cell_of[t.key]]}

    records, n_cached, n_executed = run_tasks(
        plan.tasks,
        ex,
        cache,
        fresh=fresh,
        retry_failed=retry_failed,
        progress=progress,
        title=f"sweep {plan.scenario.name}",
        extra=extra,
    )
    runs, cells = build_tables(plan, records)
    result = SweepResult(
        plan,
        runs,
        cells,
        n_cached=n_cached,
        n_executed=n_executed,
        n_failed=int((runs["status"] != "ok").sum()),
        wall_s=time.perf_counter() - t0,
        executor=ex.name,
        progress=progress,
        _executor=ex,
    )
    if out is not None:
        result.save(out, plots=plots)
    return result
