"""Compare update strategies on one scenario with common random numbers.

Every strategy runs the same scenario with the same seed, so the pod start-up durations, drawn
from per-role named streams, are the same draws in the same order (identical until the
strategies make the controllers create pods in a different order), as are arrivals once there
is traffic. Strategy syntax (CLI ``--strategy``, or a mapping in the scenario's ``compare:``
section), documented in docs/analysis.md::

    name=surge2,maxSurge=2,maxUnavailable=0,roleset=Parallel,prefill.maxSurge=1

``name`` labels the strategy; ``type``, ``maxSurge``, ``maxUnavailable`` set the StormService's
``spec.updateStrategy``; ``roleset`` its RoleSet strategy
(``spec.template.spec.updateStrategy``); ``ROLE.type|maxSurge|maxUnavailable`` a role's
``updateStrategy``; any other key is a dotted scenario path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stormsim.analysis.budgets import run_key
from stormsim.analysis.executors import Executor, Record, Task, execute_keep, make_executor
from stormsim.analysis.paths import parse_value
from stormsim.analysis.requirements import Requirement, mark, recommend, study_requirements
from stormsim.analysis.study import (
    HEADLINE_KPIS,
    NODE_KPI_COLUMNS,
    RunProgress,
    atomic_write,
    is_request_kpi,
    kpi_items,
)
from stormsim.analysis.variants import as_scenario, make_variants
from stormsim.errors import InputError, Problem
from stormsim.plugins import COMPARE_ARTIFACT_WRITERS
from stormsim.runner import RunResult
from stormsim.schema.scenario import Scenario

SS = "service.manifest.spec"
SHORTHANDS = {
    "type": f"{SS}.updateStrategy.type",
    "maxSurge": f"{SS}.updateStrategy.maxSurge",
    "maxUnavailable": f"{SS}.updateStrategy.maxUnavailable",
    "roleset": f"{SS}.template.spec.updateStrategy",
}
ROLE_KEYS = ("type", "maxSurge", "maxUnavailable")
TOP_LEVEL = tuple(Scenario.model_fields)
COMPARE_COLUMNS = (
    "strategy",
    "settings",
    "seed",
    "status",
    "error",
    "same_as",
    "feasible",
    "violated",
)
"""The first columns of the comparison table; KPI columns follow."""


@dataclass(frozen=True)
class Strategy:
    name: str
    settings: dict[str, Any]
    """Keys as the user wrote them."""
    overrides: dict[str, Any]
    """Dotted scenario paths -> values."""

    @property
    def text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.settings.items()) or "as written"


def parse_strategy(text: str) -> dict[str, Any]:
    """``"name=a,maxSurge=1,roleset=Parallel"`` -> a mapping (values read as YAML scalars).
    A lone word is a name: ``baseline`` is the scenario as written."""
    out: dict[str, Any] = {}
    for i, part in enumerate(p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" not in part:
            if i == 0:
                out["name"] = part
                continue
            raise InputError(Problem("--strategy", f"{part!r} in {text!r} is not KEY=VALUE"))
        k, v = part.split("=", 1)
        k = k.strip()
        if not k:
            raise InputError(Problem("--strategy", f"empty key in {text!r}"))
        if k in out:
            raise InputError(Problem("--strategy", f"{k!r} given twice in {text!r}"))
        out[k] = parse_value(v)
    return out


def resolve_strategy(spec: Mapping[str, Any], roles: Sequence[str], index: int) -> Strategy:
    """Turn a strategy mapping into dotted-path overrides (see the module docstring)."""
    settings = {k: v for k, v in spec.items() if k != "name"}
    name = spec.get("name")
    overrides: dict[str, Any] = {}
    for k, v in settings.items():
        if k in SHORTHANDS:
            overrides[SHORTHANDS[k]] = v
            continue
        head, _, rest = k.partition(".")
        if head in roles and rest in ROLE_KEYS:
            overrides[f"{SS}.template.spec.roles[{head}].updateStrategy.{rest}"] = v
        elif head.split("[")[0] in TOP_LEVEL and rest:
            overrides[k] = v
        else:
            raise InputError(
                Problem(
                    f"compare.strategies[{index}].{k}",
                    "unknown strategy key: use name, type, maxSurge, maxUnavailable, roleset, "
                    f"ROLE.type|maxSurge|maxUnavailable (roles: {', '.join(roles)}) or a "
                    "dotted scenario path",
                )
            )
    if name is None:
        name = ",".join(f"{k}={v}" for k, v in settings.items()) or "as written"
    return Strategy(str(name), settings, overrides)


@dataclass
class CompareResult:
    """``table``: one row per strategy (columns in docs/analysis.md); ``results``: each
    strategy's full RunResult (None when it failed), for timelines."""

    scenario: Scenario
    seed: int
    strategies: list[Strategy]
    table: pd.DataFrame
    results: dict[str, RunResult | None]
    wall_s: float
    requirements: list[Requirement] = field(default_factory=list)
    out: Path | None = None

    def recommendations(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(objective, strategy or None, its KPIs) for the fastest feasible rollout and the
        fewest surge GPUs among feasible strategies; none at all (``[]``) when the scenario
        has no events, so no rollout to recommend for."""
        if not self.scenario.events:
            return []
        return recommend(self.table, "strategy")

    @property
    def kpis(self) -> list[str]:
        return [c for c in self.table.columns if c not in COMPARE_COLUMNS]

    def save(self, out: str | Path, plots: bool = True) -> Path:
        """Write ``compare.parquet``, ``compare.csv`` and (``plots``) ``timelines.png``."""
        out = Path(out)
        atomic_write(out / "compare.parquet", lambda p: self.table.to_parquet(p, index=False))
        atomic_write(out / "compare.csv", lambda p: self.table.to_csv(p, index=False))
        if plots:
            for writer in COMPARE_ARTIFACT_WRITERS:
                writer(self, out)
        self.out = out
        return out


def compare(
    scenario: Scenario | str | Path | dict[str, Any],
    strategies: Sequence[str | Mapping[str, Any]] | None = None,
    *,
    seed: int | None = None,
    until_s: float | None = None,
    out: str | Path | None = None,
    plots: bool = True,
    progress: bool | None = None,
    jobs: int | None = None,
    executor: str | Executor = "local",
    address: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    require: Sequence[str] | None = None,
) -> CompareResult:
    """Run ``scenario`` once per strategy with the same seed and tabulate the KPIs.

    ``strategies`` (strings in the CLI syntax or mappings) replace the scenario's
    ``compare.strategies``. ``seed``: this, else ``compare.seed``, else the scenario's, else 0.
    ``overrides`` (dotted path -> value, as ``--set``) apply to every strategy (a strategy's
    own setting of the same path wins). ``require`` adds requirements to the workload's SLO
    and ``compare.require`` (see :mod:`stormsim.analysis.requirements`): the table's
    ``feasible`` and ``violated`` columns. Strategies run in parallel on ``executor``
    (``local``: ``jobs`` processes, default every core; ``ray``: see :func:`stormsim.sweep`);
    strategies whose StormService budgets resolve to the same numbers are simulated once
    (``same_as`` names the strategy whose run they share). A strategy whose run fails gets
    ``status: failed`` and its error (``feasible`` null: a failure is not a verdict); the
    others still run.
    """
    t0 = time.perf_counter()
    sc = as_scenario(scenario)
    specs: list[Mapping[str, Any]]
    if strategies:
        specs = [parse_strategy(s) if isinstance(s, str) else dict(s) for s in strategies]
    elif sc.compare is not None:
        specs = list(sc.compare.strategies)
    else:
        raise InputError(Problem("compare", "no strategies: give --strategy or a compare: section"))
    roles = sc.all_role_names()
    strats = [resolve_strategy(s, roles, i) for i, s in enumerate(specs)]
    names = [s.name for s in strats]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(Problem("compare.strategies", f"duplicate strategy names: {dup}"))
    reqs = study_requirements(sc, "compare", require)
    common = dict(overrides or {})
    variants = make_variants(sc, [{**common, **s.overrides} for s in strats])
    if seed is None:
        seed = sc.compare.seed if sc.compare is not None else None
    if seed is None:
        seed = sc.seed if sc.seed is not None else 0
    tasks = [Task(run_key(v, seed, until_s), v, seed, until_s) for v in variants]
    first: dict[str, str] = {}
    for st, t in zip(strats, tasks, strict=True):
        first.setdefault(t.key, st.name)
    unique: dict[str, Task] = {}
    for t in tasks:
        unique.setdefault(t.key, t)
    ex = make_executor(executor, jobs=jobs, address=address)
    records: dict[str, Record] = {}
    with RunProgress(len(unique), f"compare {sc.name}", progress) as bar:
        for rec in ex.imap(list(unique.values()), execute_keep):
            records[str(rec["key"])] = rec
            bar.advance(failed=int(rec["status"] != "ok"))
    rows = []
    results: dict[str, RunResult | None] = {}
    for st, t in zip(strats, tasks, strict=True):
        rec = records[t.key]
        row: dict[str, Any] = {
            "strategy": st.name,
            "settings": st.text,
            "seed": seed,
            "status": rec["status"],
            "error": rec.get("error"),
            "same_as": first[t.key] if first[t.key] != st.name else None,
        }
        row.update(kpi_items(rec.get("summary")))
        results[st.name] = rec.get("result")
        rows.append(row)
    base = [c for c in COMPARE_COLUMNS if c not in ("feasible", "violated")]
    table = pd.DataFrame(rows)
    for k in base:
        if k not in table:
            table[k] = None
    table = mark(table, reqs, ok=table["status"] == "ok")
    for c in ("error", "same_as"):
        col = table[c].astype(object)
        table[c] = col.where(col.notna(), None)
    kpis = [k for k in table.columns if k not in COMPARE_COLUMNS]
    ordered = [k for k in HEADLINE_KPIS if k in kpis] + [k for k in kpis if is_request_kpi(k)]
    ordered += [k for k in NODE_KPI_COLUMNS if k in kpis]
    for k in HEADLINE_KPIS:
        if k not in table:
            table[k] = None
    table = table[
        [*COMPARE_COLUMNS, *HEADLINE_KPIS, *[k for k in ordered if k not in HEADLINE_KPIS]]
    ]
    result = CompareResult(sc, seed, strats, table, results, time.perf_counter() - t0, reqs)
    if out is not None:
        result.save(out, plots=plots)
    return result
