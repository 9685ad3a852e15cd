"""The search: evaluating configurations (all seeds, through the executors and the run cache,
memoised), the candidates, the count search (bracket, then bisect) and the goodput search.

A failed run stops the evaluation that needed it: :meth:`Planner.evaluate` raises
:class:`RunFailed` with every failed run's error, so a failure is never read as an SLO miss.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from stormsim.analysis.cache import RunCache
from stormsim.analysis.claims import coordinated
from stormsim.analysis.executors import Executor
from stormsim.analysis.plan.analytic import Capacity, guesses
from stormsim.analysis.plan.measure import (
    ROLLOUT_KEYS,
    Evaluation,
    Phase,
    PlanTask,
    judge,
    run_plan_task,
)
from stormsim.analysis.plan.scenario import (
    Candidate,
    Config,
    Setting,
    base_of,
    resolved_budgets,
    scenario_for,
    setting_label,
)
from stormsim.analysis.requirements import Requirement
from stormsim.analysis.study import RunProgress
from stormsim.runner import scenario_hash
from stormsim.schema.loader import load_scenario
from stormsim.schema.plan import Plan
from stormsim.schema.scenario import Scenario


class RunFailed(Exception):
    """Runs of an evaluation failed: ``errors`` (seed: error) of configuration ``label``."""

    def __init__(self, label: str, errors: list[str]):
        self.label = label
        self.errors = errors
        super().__init__(f"{label}: {len(errors)} run(s) failed: " + "; ".join(errors))


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


EvalItem = tuple[Config, float, Phase, Setting | None]

PATIENCE = 4.0
"""How many times the estimated rollout timeout a rollout gets when it did not complete
within the estimate."""


class Planner:
    """Runs and remembers evaluations; logs every one (``probe_rows``, ``run_rows``)."""

    def __init__(
        self,
        sc: Scenario,
        plan: Plan,
        executor: Executor,
        cache: RunCache | None,
        progress: Callable[[str], None] | None = None,
        requirements: Sequence[Requirement] = (),
    ):
        self.sc = sc
        self.plan = plan
        self.base = base_of(sc)
        self.executor = executor
        self.cache = cache
        self.progress = progress
        self.requirements = tuple(requirements)
        self.memo: dict[tuple[Any, ...], Evaluation] = {}
        self.probe_rows: list[dict[str, Any]] = []
        self.run_rows: list[dict[str, Any]] = []
        self.n_runs = 0
        self.n_cached = 0
        self.n_failed = 0
        self.gpn = {g.type: g.gpus_per_node for g in plan.gpus}
        self.price = {g.type: g.price_per_hour for g in plan.gpus}
        self.current: dict[str, str] = {}

    def say(self, msg: str) -> None:
        if self.progress is not None:
            self.progress(msg)

    # ------------------------------------------------------------------ running
    def tasks(
        self, cfg: Config, factor: float, rollout: Setting | None, patience: float = 1.0
    ) -> list[PlanTask]:
        data, win = scenario_for(self.plan, self.base, cfg, self.gpn[cfg.cand.gpu], factor,
                                 rollout, patience)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = load_scenario(data)
        tasks = []
        for seed in self.plan.seeds:
            h = scenario_hash(sc, seed)
            extra = json.dumps([win.t0_s, win.t1_s, win.rollout, cfg.pods, "fleet-v3"])
            key = "plan-" + hashlib.sha256(f"{h}:{extra}".encode()).hexdigest()[:16]
            tasks.append(PlanTask(key, sc, seed, None, win, cfg.pods))
        return tasks

    def _key(self, cfg: Config, factor: float, rollout: Setting | None) -> tuple[Any, ...]:
        budgets = resolved_budgets(cfg, rollout) if rollout is not None else None
        return (cfg, round(factor, 6), budgets)

    def evaluate_many(self, items: Sequence[EvalItem]) -> list[Evaluation]:
        """Evaluate several (config, load factor, phase, rollout) at once (their runs in
        parallel); memoised (rollout settings by their resolved budgets). A rollout that did
        not complete within its estimated timeout is run again with :data:`PATIENCE` times
        the timeout before it counts as timed out. Raises :class:`RunFailed` if a run failed
        (after every evaluation is logged)."""
        todo: dict[tuple[Any, ...], EvalItem] = {}
        for item in items:
            key = self._key(item[0], item[1], item[3])
            if key not in self.memo:
                todo.setdefault(key, item)
        evs = self._run([(k, it, 1.0) for k, it in todo.items()])
        estimated = self.plan.rollout is not None and self.plan.rollout.timeout_s is None
        retry = [
            (k, it, PATIENCE)
            for k, it in todo.items()
            if it[3] is not None and estimated and not evs[k].errors
            and not evs[k].rollout_completed
        ]  # fmt: skip
        if retry:
            self.say(f"  {len(retry)} rollout(s) still running at the estimated timeout: "
                     f"again with {PATIENCE:g}x the timeout")  # fmt: skip
            evs.update(self._run(retry))
        self.memo.update(evs)
        out = [self.memo[self._key(c, f, r)] for c, f, _, r in items]
        for ev in out:
            if ev.errors:
                raise RunFailed(ev.cfg.label, ev.errors)
        return out

    def _run(
        self, batch: list[tuple[tuple[Any, ...], EvalItem, float]]
    ) -> dict[tuple[Any, ...], Evaluation]:
        """Run (or take from the cache) every seed of each item, in parallel; log each."""
        todo = [(key, self.tasks(it[0], it[1], it[3], pat), it) for key, it, pat in batch]
        records: dict[str, dict[str, Any]] = {}
        pending: list[PlanTask] = []
        for _, tasks, _item in todo:
            for t in tasks:
                rec = self.cache.get(t.key) if self.cache is not None else None
                if rec is not None and rec.get("status") == "ok":
                    records[t.key] = rec
                    self.n_cached += 1
                else:
                    pending.append(t)
        if pending:
            phases = sorted({str(it[2]) for _, _, it in todo})
            title = f"plan: {'/'.join(phases)}, {len(todo)} configuration(s)"
            unique = list({t.key: t for t in pending}.values())
            with RunProgress(len(unique), title) as bar:  # on when stderr is a terminal
                for rec, here in self._stream(unique, bar):
                    records[rec["key"]] = rec
                    failed = rec.get("status") != "ok"
                    if here:
                        self.n_runs += 1
                        self.n_failed += failed
                    else:
                        self.n_cached += 1
                    bar.advance(failed=int(failed), cached=int(not here))
        out = {}
        for key, tasks, (cfg, factor, phase, rollout) in todo:
            recs = [records[t.key] for t in tasks]
            ev = Evaluation(cfg, factor, phase, rollout, recs, self.plan.criterion,
                            self.plan.slo.attainment_frac, self.requirements)  # fmt: skip
            out[key] = ev
            self._log(ev)
        return out

    def _stream(
        self, tasks: list[PlanTask], bar: RunProgress
    ) -> Iterator[tuple[dict[str, Any], bool]]:
        """(record, run here?) of each task; with a cache, coordinated with other processes
        using it (:mod:`stormsim.analysis.claims`); only successful runs are cached."""
        cache = self.cache
        if cache is None:
            for rec in self.executor.imap(tasks, run_plan_task):
                yield rec, True
            return

        def store(rec: dict[str, Any]) -> bool:
            if rec.get("status") != "ok":
                return False
            cache.put(rec)
            return True

        yield from coordinated(tasks, self.executor, run_plan_task, cache, store=store,
                               say=bar.note)  # fmt: skip

    def evaluate(
        self,
        cfg: Config,
        factor: float = 1.0,
        phase: Phase = "steady",
        rollout: Setting | None = None,
    ) -> Evaluation:
        return self.evaluate_many([(cfg, factor, phase, rollout)])[0]

    def _log(self, ev: Evaluation) -> None:
        cfg = ev.cfg
        failed = bool(ev.errors)
        m, lo, hi = ev.stat()
        att = [v for v in ev.values("attainment_frac") if not math.isnan(v)]
        verdict = None if failed else judge(ev)
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
            "rollout": setting_label(ev.rollout) if ev.rollout is not None else None,
            "attainment_mean": m,
            "attainment_ci_low": lo,
            "attainment_ci_high": hi,
            "attainment_min": float(np.min(att)) if att else math.nan,
            "ttft_attainment_mean": ev.mean("ttft_attainment_frac"),
            "tpot_attainment_mean": ev.mean("tpot_attainment_frac"),
            "ttft_p90_s": ev.mean("ttft_p90_s"),
            "tpot_p90_s": ev.mean("tpot_p90_s"),
            "goodput_rps": ev.mean("goodput_rps"),
            "status": "failed" if failed else ("pass" if verdict and verdict.ok else "fail"),
            "pass": bool(verdict and verdict.ok),
            "verdict": "; ".join(ev.errors) if failed else (verdict.reason if verdict else ""),
            "n_seeds": len(ev.records),
            "failed_runs": len(ev.errors),
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
                    "config": cfg.label,
                    "phase": ev.phase,
                    "key": r["key"],
                    "seed": r["seed"],
                    "status": r["status"],
                    "error": r.get("error"),
                    "wall_s": r.get("wall_s"),
                    **{k: v for k, v in s.items() if isinstance(v, int | float | bool | str)},
                }
            )
        head = f"  [{ev.phase}] {cfg.label} @ {row['rate_rps']:.4g} req/s" + (
            f" rollout {row['rollout']}" if ev.rollout is not None else ""
        )
        if failed:
            self.say(f"{head}: FAILED ({len(ev.errors)} runs): " + "; ".join(ev.errors))
        else:
            self.say(
                f"{head}: attainment mean {m:.3f} min {row['attainment_min']:.3f}"
                f" ({ev.criterion} vs target {ev.target:g}) -> "
                + ("pass" if row["pass"] else f"fail ({row['verdict']})")
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

    def search(self, cand: Candidate, cap: Capacity) -> tuple[Config | None, str]:
        """The smallest configuration of ``cand`` meeting the SLOs at the planned load."""
        mp = self.plan.max_pods
        pg, dg = guesses(self.plan, cand, cap)
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

    def goodput(self, cfg: Config) -> float:
        """Highest load factor meeting the SLOs (bracket by x1.5 steps, then bisection)."""
        p = self.plan
        lo, hi = 1.0, None
        f = 1.0
        while f < p.goodput_max_factor:
            f = min(f * 1.5, p.goodput_max_factor)
            if self.evaluate(cfg, f, "goodput").passes():
                lo = f
            else:
                hi = f
                break
        if hi is None:
            return lo
        while hi / lo - 1.0 > p.goodput_rel_tol:
            mid = math.sqrt(lo * hi)
            if self.evaluate(cfg, mid, "goodput").passes():
                lo = mid
            else:
                hi = mid
        # a point below the planned load completes the curve
        self.evaluate(cfg, 0.5, "goodput")
        return lo
