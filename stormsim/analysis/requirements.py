"""Requirements on summary KPIs, shared by every study (compare, sweep).

A requirement is ``KPI OP NUMBER`` (``window_ttft_p99_s<=2``, ``update_duration_s<1800``,
``capacity_availability_frac>=0.75``) with OP one of ``<=``, ``>=``, ``<``, ``>``. A study's
requirements are, in order: the scenario workload's SLO (``window_slo_attainment_frac >=
workload.slo.attainment_frac``, when the scenario has traffic), the ``require:`` list of its
``compare:`` / ``sweep:`` section, and those given on the command line (``--require``) or to
the API (``require=``). A setting meeting every one is *feasible*.

A run without any rollout has no update window: its ``window_*`` KPIs are judged on their
whole-run counterparts (``window_slo_attainment_frac`` on ``slo_attainment_frac``). Any other
KPI a run did not produce (``None``: e.g. ``update_duration_s`` of a rollout that never
completed) violates the requirement: the setting is not shown to meet what it did not measure.
A run that *failed* is neither feasible nor infeasible: it is an error (``feasible`` is null).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stormsim.errors import InputError, Problem
from stormsim.metrics import catalogue
from stormsim.schema.scenario import Scenario
from stormsim.schema.study import REQUIREMENT_RE

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}

KNOWN_KPIS = frozenset(
    k.name for k in catalogue.CATALOGUE if k.group != "identity" and k.unit != "text"
)
"""Every numeric KPI of ``summary.json`` a requirement may name (the KPI catalogue's)."""

SLO_KPI = "window_slo_attainment_frac"


@dataclass(frozen=True)
class Requirement:
    """``kpi op bound``; ``source`` says where it was stated (``--require``,
    ``sweep.require[0]``, ``workload.slo.attainment_frac``)."""

    kpi: str
    op: str
    bound: float
    source: str

    @property
    def text(self) -> str:
        return f"{self.kpi}{self.op}{self.bound:g}"

    def met(self, value: Any) -> bool:
        """Whether ``value`` meets the requirement; a missing value (None/NaN) does not."""
        if value is None or isinstance(value, str):
            return False
        v = float(value)
        return not math.isnan(v) and OPS[self.op](v, self.bound)


def parse_requirement(text: str, where: str) -> Requirement:
    """Parse ``KPI OP NUMBER``; a malformed text or an unknown KPI is an :class:`InputError`
    naming ``where`` (the option or the YAML path)."""
    m = REQUIREMENT_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise InputError(
            Problem(
                where,
                f"{text!r} is not a requirement: write KPI<=NUMBER (or >=, <, >), "
                "e.g. 'window_ttft_p99_s<=2'",
            )
        )
    kpi = m.group("kpi")
    if kpi not in KNOWN_KPIS and kpi not in catalogue.RENAMED:
        near = sorted(k for k in KNOWN_KPIS if kpi in k or k in kpi)[:4]
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise InputError(
            Problem(where, f"unknown KPI {kpi!r}{hint}; requirements name summary.json KPIs")
        )
    if kpi in catalogue.RENAMED:
        raise InputError(Problem(where, f"KPI {kpi!r} is now called {catalogue.RENAMED[kpi]!r}"))
    return Requirement(kpi, m.group("op"), float(m.group("bound")), where)


def study_requirements(
    scenario: Scenario, section: str, extra: Sequence[str] | None = None, option: str = "require"
) -> list[Requirement]:
    """The requirements of a study of ``scenario``: the workload's SLO, the ``require:`` list
    of its ``section`` (``compare`` or ``sweep``), then ``extra`` (named ``option`` in
    errors). Every problem is reported at once; duplicates (same text) are kept once."""
    out: list[Requirement] = []
    problems: list[Problem] = []
    if scenario.workload is not None:
        target = scenario.workload.slo.attainment_frac
        out.append(Requirement(SLO_KPI, ">=", target, "workload.slo.attainment_frac"))
    spec = getattr(scenario, section, None)
    texts = [(t, f"{section}.require[{i}]") for i, t in enumerate(getattr(spec, "require", []))]
    texts += [(t, f"--{option}" if option == "require" else option) for t in extra or []]
    for text, where in texts:
        try:
            out.append(parse_requirement(text, where))
        except InputError as e:
            problems.extend(e.problems)
    if problems:
        raise InputError(problems)
    seen: set[str] = set()
    unique = []
    for r in out:
        if r.text not in seen:
            seen.add(r.text)
            unique.append(r)
    return unique


def applies(req: Requirement, rollout: bool) -> bool:
    """Whether ``req`` can be judged on a run: update-window KPIs (scope ``window``, no
    whole-run fallback) only on runs with a rollout; every other KPI on every run."""
    k = catalogue.BY_NAME.get(req.kpi)
    return rollout or k is None or k.scope != "window" or k.run_fallback


def plan_requirements(scenario: Scenario, extra: Sequence[str] | None = None) -> list[Requirement]:
    """The requirements of a plan besides its SLO attainment (which the planner judges by
    its own criterion): the ``plan.require`` list, then ``extra`` (``--require``)."""
    return [
        r for r in study_requirements(scenario, "plan", extra)
        if r.source != "workload.slo.attainment_frac"
    ]  # fmt: skip


def judged_value(values: Mapping[str, Any], kpi: str) -> Any:
    """``values[kpi]``; for an update-window KPI of a run without any rollout
    (``n_rollouts == 0``: there is no update window), its whole-run counterpart
    (``window_slo_attainment_frac`` -> ``slo_attainment_frac``), which is what such a run
    measured (an autoscaling study with no template change)."""
    v = values.get(kpi)
    if v is None and kpi.startswith(catalogue.WINDOW_PREFIX) and values.get("n_rollouts") == 0:
        return values.get(kpi[len(catalogue.WINDOW_PREFIX) :])
    return v


def violations(reqs: Sequence[Requirement], values: Mapping[str, Any]) -> list[str]:
    """The texts of the requirements ``values`` (a summary or a table row) does not meet
    (window KPIs of a run without rollouts judged on the whole run: :func:`judged_value`)."""
    return [r.text for r in reqs if not r.met(judged_value(values, r.kpi))]


def mark(
    table: pd.DataFrame,
    reqs: Sequence[Requirement],
    ok: pd.Series | None = None,
) -> pd.DataFrame:
    """Add ``feasible`` (nullable boolean: null where ``ok`` is False, i.e. the run failed)
    and ``violated`` (the unmet requirements joined by ``"; "``, empty when feasible, null
    when failed) to a copy of ``table``, whose columns are summary KPIs."""
    table = table.copy()
    feasible: list[bool | None] = []
    violated: list[str | None] = []
    for i, (_, row) in enumerate(table.iterrows()):
        if ok is not None and not bool(ok.iloc[i]):
            feasible.append(None)
            violated.append(None)
            continue
        bad = violations(reqs, {str(k): v for k, v in row.items()})
        feasible.append(not bad)
        violated.append("; ".join(bad))
    table["feasible"] = pd.array(feasible, dtype="boolean")
    table["violated"] = pd.Series(violated, index=table.index, dtype=object)
    return table


OBJECTIVES = (
    ("fastest feasible rollout", "update_duration_s", "surge_gpus_peak"),
    ("fewest surge GPUs among feasible", "surge_gpus_peak", "update_duration_s"),
)
"""(objective, KPI minimised, tie-break KPI minimised) of :func:`recommend`."""


def recommend(
    table: pd.DataFrame, label: str, column: Callable[[str], str] = lambda k: k
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """For each of :data:`OBJECTIVES`: (objective, the ``label`` of the best feasible row or
    None when no row is feasible, that row's KPI values). Rows that share the best row's run
    (``same_as``) are named with it: ``a = b``. ``column`` maps a KPI to its
    column (``lambda k: f"{k}_mean"`` for sweep cells). Rows whose rollout did not complete
    have no duration and are never recommended."""
    out: list[tuple[str, str | None, dict[str, Any]]] = []
    feasible = table[table["feasible"].fillna(False).astype(bool)] if len(table) else table
    for objective, kpi, tie in OBJECTIVES:
        a, b = column(kpi), column(tie)
        if a not in feasible or b not in feasible:
            out.append((objective, None, {}))
            continue
        cand = feasible.dropna(subset=[a, column("update_duration_s")])
        if cand.empty:
            out.append((objective, None, {}))
            continue
        best = cand.sort_values([a, b], kind="stable").iloc[0]
        values = {k: best[column(k)] for k in ("update_duration_s", "surge_gpus_peak")}
        name = str(best[label])
        if "same_as" in table:  # settings that are the same run are the same answer
            twins = table.loc[table["same_as"] == name, label].astype(str).tolist()
            name = " = ".join([name, *twins])
        out.append((objective, name, values))
    return out
