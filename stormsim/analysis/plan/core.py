"""``plan()``: the search over candidates, then the recommendation (docs/capacity-planning.md)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from stormsim.analysis.cache import RunCache
from stormsim.analysis.executors import Executor, make_executor
from stormsim.analysis.plan.analytic import Analytic, Capacity, guesses, lower_bound_gpus
from stormsim.analysis.plan.recommend import (
    Extras,
    Recommendation,
    rejected,
    rollout_options,
    sensitivity,
    timeline_run,
)
from stormsim.analysis.plan.result import PlanResult, duration_text
from stormsim.analysis.plan.scenario import Candidate, Config, setting_label
from stormsim.analysis.plan.search import Planner, RunFailed
from stormsim.analysis.requirements import plan_requirements
from stormsim.errors import InputError, Problem, SimulationError
from stormsim.perf.catalog import Catalog
from stormsim.schema.loader import load_scenario
from stormsim.schema.plan import Plan
from stormsim.schema.scenario import Scenario
from stormsim.schema.serving import Serving, TraceArrival


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
    keep_going: bool = False,
    require: Sequence[str] | None = None,
) -> PlanResult:
    """Search the scenario's ``plan:`` section (see the package docstring). ``seeds``
    overrides the plan's seeds; with ``out``, runs are cached in ``OUT/runs`` (``fresh``
    ignores them) and the tables and report are written there.

    A failed run stops the plan (``result.stopped``, no recommendation, its error in
    ``result.failures`` and the report) unless ``keep_going``: then the candidate it belongs
    to is reported as *failed* and the search goes on.

    ``require``: requirements on summary KPIs (``'update_duration_s<=1800'``), added to the
    plan's ``require:`` list; a configuration meets them when every seed's run does."""
    t_start = time.perf_counter()
    sc, pl = _inputs(scenario, seeds)
    cache = RunCache(out) if out is not None else None
    if cache is not None and fresh:
        for k in list(cache.keys()):
            cache.path(k).unlink(missing_ok=True)
    reqs = plan_requirements(sc, require)
    pln = Planner(sc, pl, make_executor(executor, jobs, address), cache, progress, reqs)
    failures: list[str] = []
    rows: list[dict[str, Any]] = []
    rec: Recommendation | None = None
    extras = Extras(failures=failures)
    try:
        found = search_candidates(pln, rows, keep_going, failures)
        measure_candidates(pln, rows, found, keep_going, failures)
        rec = recommend(pln, rows, found, extras, keep_going, timeline)
    except RunFailed as e:  # no keep_going: stop, report the failure
        if not failures:  # every raise site records its failure; this is a fallback
            failures.append(str(e))
        pln.say(f"stopped: {e}")
        rec = None
    return PlanResult(
        scenario=sc,
        plan=pl,
        candidates=pd.DataFrame(rows),
        probes=pd.DataFrame(pln.probe_rows),
        runs=pd.DataFrame(pln.run_rows),
        rollout_options=extras.options,
        sensitivity=extras.sensitivity,
        recommendation=rec,
        timeline=extras.timeline,
        wall_s=time.perf_counter() - t_start,
        n_runs=pln.n_runs,
        n_cached=pln.n_cached,
        n_failed=pln.n_failed,
        failures=failures,
        keep_going=keep_going,
        requirements=[r.text for r in reqs],
        notes=[] if rec is not None or failures else ["no candidate met the SLOs"],
    )._saved(out)


def _inputs(
    scenario: Scenario | str | Path | dict[str, Any], seeds: Sequence[int] | None
) -> tuple[Scenario, Plan]:
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
    cat = Catalog(sc.serving if sc.serving is not None else Serving())
    problems = []
    for i, g in enumerate(pl.gpus):
        try:
            cat.gpu(g.type, f"plan.gpus[{i}].type")
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(*problems)
    return sc, pl


def _candidate_row(pln: Planner, cand: Candidate, cap: Capacity, bound: int) -> dict[str, Any]:
    return {
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
        "lower_bound_gpus": bound if cap.feasible else None,
        "lower_bound_cost_per_hour": bound * pln.price[cand.gpu] if cap.feasible else None,
    }


def search_candidates(
    pln: Planner, rows: list[dict[str, Any]], keep_going: bool, failures: list[str]
) -> dict[str, Config]:
    """Every candidate in increasing order of its cost lower bound: infeasible (analytic),
    dominated (bound not below the best found), failed (a run failed), no-fit, or feasible
    with its cheapest configuration. Appends one row per candidate."""
    ana = Analytic(pln.plan, pln.sc)
    cands = pln.candidates()
    caps = {c: ana.capacity(c) for c in cands}
    bound = {c: lower_bound_gpus(pln.plan, c, caps[c]) if caps[c].feasible else 0 for c in cands}
    cost = {c: bound[c] * pln.price[c.gpu] if caps[c].feasible else math.inf for c in cands}
    found: dict[str, Config] = {}
    best = math.inf
    stop: RunFailed | None = None
    for cand in sorted(cands, key=lambda c: (cost[c], c.label)):
        row = _candidate_row(pln, cand, caps[cand], bound[cand])
        rows.append(row)
        if stop is not None:
            row.update(status="not searched", reason="the plan stopped on a failed run")
            continue
        if not caps[cand].feasible:
            row.update(status="infeasible", reason=caps[cand].why)
            pln.say(f"{cand.label}: infeasible ({caps[cand].why})")
            continue
        if cost[cand] >= best:
            row.update(status="dominated", reason=f"cost lower bound ${cost[cand]:.2f}/h >= "
                       f"best found ${best:.2f}/h")  # fmt: skip
            pln.say(f"{cand.label}: pruned ({row['reason']})")
            continue
        pln.say(f"{cand.label}: searching (analytic guess {guesses(pln.plan, cand, caps[cand])})")
        try:
            cfg, whynot = pln.search(cand, caps[cand])
        except RunFailed as e:
            row.update(status="failed", reason=str(e))
            failures.append(f"{cand.label}: {e}")
            if not keep_going:
                stop = e
            continue
        if cfg is None:
            row.update(status="no-fit", reason=whynot)
            continue
        found[cand.label] = cfg
        pln.current[cand.label] = cfg.label
        for r in pln.probe_rows:  # mark the candidate's own configuration in the probes
            if r["candidate"] == cand.label:
                r["candidate_config"] = cfg.label
        ev = pln.evaluate(cfg)
        m, lo, hi = ev.stat()
        c = cfg.gpus * pln.price[cand.gpu]
        best = min(best, c)
        row.update(
            status="feasible", reason="", config=cfg.label, prefill_pods=cfg.prefill,
            decode_pods=cfg.decode, replicas=cfg.replicas, gpus=cfg.gpus, cost_per_hour=c,
            attainment_mean=m, attainment_ci_low=lo, attainment_ci_high=hi,
            ttft_p90_s=ev.mean("ttft_p90_s"), tpot_p90_s=ev.mean("tpot_p90_s"),
        )  # fmt: skip
    if stop is not None:
        raise stop
    return found


def measure_candidates(
    pln: Planner,
    rows: list[dict[str, Any]],
    found: dict[str, Config],
    keep_going: bool,
    failures: list[str],
) -> None:
    """Goodput and one rollout (the plan's first setting) of every feasible candidate."""
    pl = pln.plan
    by_label = {r["candidate"]: r for r in rows}
    for label, cfg in list(found.items()):
        r = by_label[label]
        try:
            if pl.goodput:
                f = pln.goodput(cfg)
                r["goodput_rps"] = f * pl.load.peak_rps
                r["goodput_per_gpu"] = r["goodput_rps"] / cfg.gpus
                r["goodput_capped"] = f >= pl.goodput_max_factor
            if pl.rollout is not None:
                opt = (pl.rollout.max_surge[0], pl.rollout.max_unavailable[0])
                ev = pln.evaluate(cfg, 1.0, "rollout", opt)
                m, lo, hi = ev.stat()
                r.update(
                    rollout_setting=setting_label(opt),
                    rollout_duration_s=ev.max("update_duration_s"),
                    rollout_surge_gpus=ev.max("surge_gpus_peak"),
                    rollout_attainment_mean=m,
                    rollout_attainment_ci_low=lo,
                    rollout_attainment_ci_high=hi,
                    rollout_pass=ev.passes(),
                )
        except RunFailed as e:
            r.update(status="failed", reason=str(e))
            failures.append(f"{label}: {e}")
            del found[label]
            if not keep_going:
                raise


def recommend(
    pln: Planner,
    rows: list[dict[str, Any]],
    found: dict[str, Config],
    extras: Extras,
    keep_going: bool,
    timeline: bool,
) -> Recommendation | None:
    """The cheapest feasible candidate, its rejected cheaper neighbours, its rollout
    settings and timeline, and its P:D sensitivity."""
    pl = pln.plan
    feasible = [r for r in rows if r.get("status") == "feasible" and r["candidate"] in found]
    if not feasible:
        return None
    feasible.sort(key=lambda r: (r["cost_per_hour"], r["gpus"], -(r.get("goodput_rps") or 0)))
    best = feasible[0]
    best["status"] = "recommended"
    cfg = found[best["candidate"]]
    why = [
        f"cheapest configuration meeting {pl.slo.attainment_frac:.0%} of requests within "
        f"TTFT {pl.slo.ttft_s:g} s and TPOT {pl.slo.tpot_s:g} s at "
        f"{pl.load.peak_rps:g} req/s ({pl.criterion} over {len(pl.seeds)} seeds)"
    ]
    if len(feasible) > 1:
        nxt = feasible[1]
        why.append(f"next cheapest: {nxt['config']} at ${nxt['cost_per_hour']:.2f}/h")
    try:
        rej = rejected(pln, cfg, best["cost_per_hour"])
    except RunFailed as e:
        extras.failures.append(f"minimality check: {e}")
        if not keep_going:
            raise
        rej = []
    for rp in rej[:3]:
        why.append(
            f"cheaper {rp.config} (${rp.cost_per_hour:.2f}/h) was rejected: attainment "
            f"{rp.attainment_mean:.3f} (min {rp.attainment_min:.3f}) < {pl.slo.attainment_frac:g}"
        )
    choice = None
    note = ""
    if pl.rollout is not None:
        extras.options, choice = rollout_options(pln, cfg, keep_going, extras.failures)
        if choice is not None:
            why.append(
                f"during a full rollout, {choice.setting} keeps the SLOs with "
                f"{choice.extra_gpus} extra GPUs and {choice.surge_gpus:.0f} surge GPUs (peak "
                f"{choice.peak_gpus} GPUs, {duration_text(choice.duration_s)})"
            )
            if timeline:
                try:
                    extras.timeline = timeline_run(pln, cfg, choice)
                except SimulationError as e:
                    extras.failures.append(f"rollout timeline: {e}")
                    if not keep_going:
                        raise RunFailed(cfg.label, [str(e)]) from e
        else:
            note = (
                "no rollout setting keeps the SLOs within "
                f"{pl.rollout.max_extra} extra units: plan a maintenance window"
            )
            why.append(note)
    if pl.sensitivity and cfg.cand.arch == "pd":
        extras.sensitivity = sensitivity(pln, cfg, keep_going, extras.failures)
    return Recommendation(
        config=cfg,
        gpus=cfg.gpus,
        cost_per_hour=float(best["cost_per_hour"]),
        attainment_mean=float(best["attainment_mean"]),
        attainment_ci_low=float(best["attainment_ci_low"]),
        attainment_ci_high=float(best["attainment_ci_high"]),
        ttft_p90_s=best.get("ttft_p90_s"),
        tpot_p90_s=best.get("tpot_p90_s"),
        goodput_rps=best.get("goodput_rps"),
        goodput_per_gpu=best.get("goodput_per_gpu"),
        goodput_capped=best.get("goodput_capped"),
        why=tuple(why),
        rejected=tuple(rej),
        rollout=choice,
        rollout_note=note,
    )
