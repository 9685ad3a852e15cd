"""The KPI catalogue: every key of ``summary.json`` defined once.

Each :class:`Kpi` has its name, unit, definition (Markdown, the text of the README's KPI
glossary), scope (the whole run, or the update window) and the tables it appears in. The
summary (:mod:`stormsim.metrics.kpis`, :mod:`stormsim.metrics.requests`), the ``rollouts``
frame, the CLI tables, the study columns (compare, sweep heatmaps and Pareto front) and the
README glossary (``python -m stormsim.metrics.glossary``) all derive from it, in catalogue
order; ``tests/test_kpi_catalogue.py`` fails when any of them disagrees.

Plain data: importing this module imports nothing else of stormsim and no pandas.

Adding a KPI: add one :class:`Kpi` here (in the order tables should show it), compute it in
``metrics/kpis.py`` (rollout KPIs) or ``metrics/requests.py`` (request KPIs), and regenerate
the README glossary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["run", "window"]
"""``run``: the whole run. ``window``: the update window ``[a, b]`` (the README's glossary)."""

TABLES = {
    "summary": "`summary.json` (and `RunResult.summary`)",
    "rollouts": "the `rollouts` frame: each rollout's own window",
    "run": "the table `stormsim run` prints",
    "run-multi": "the `stormsim run` table, with several rollouts",
    "run-traffic": "the `stormsim run` table, with traffic",
    "run-nodes": "the `stormsim run` table, with a node autoscaler",
    "run-autoscaling": "the `stormsim run` table, with PodAutoscalers",
    "compare": "the columns of `stormsim compare` (`compare.parquet`)",
    "heatmap": "the heatmaps `stormsim sweep` draws",
    "pareto": "the objectives of the sweep's Pareto front",
}
"""Every table a KPI can appear in -> what it is."""


@dataclass(frozen=True)
class Kpi:
    """One summary key.

    ``unit``: ``s`` (simulated seconds), ``fraction`` (0..1), ``GPUs``, ``GPU-hours``,
    ``RoleSets``, ``pods``, ``requests``, ``req/s``, ``node-hours``, ``nodes``, ``bool``,
    ``count`` or ``text``.
    ``scope``: ``run`` or ``window`` (null without an update, unless ``run_fallback``: then
    it covers the whole run). ``label``: the row label of the CLI tables. ``better``:
    ``higher`` / ``lower`` when a study ranks by it, else None.
    """

    name: str
    unit: str
    scope: Scope
    definition: str
    tables: tuple[str, ...] = ("summary",)
    label: str | None = None
    better: Literal["higher", "lower"] | None = None
    run_fallback: bool = False
    group: Literal["identity", "rollout", "requests", "nodes", "autoscaling"] = "rollout"

    def __post_init__(self) -> None:
        for t in self.tables:
            if t not in TABLES:
                raise ValueError(f"KPI {self.name}: unknown table {t!r}")


def _k(name: str, unit: str, scope: Scope, definition: str, *tables: str, **kw: object) -> Kpi:
    return Kpi(name, unit, scope, definition, ("summary", *tables), **kw)  # type: ignore[arg-type]


IDENTITY = (
    _k("scenario", "text", "run", "scenario name", group="identity"),
    _k("seed", "count", "run", "root seed of the run", group="identity"),
    _k("stormsim_version", "text", "run", "version of stormsim", group="identity"),
    _k(
        "warnings",
        "text",
        "run",
        "every warning of loading and running the scenario, as text (a list; `[]` when none): "
        "e.g. a rollout still in progress when the run ended, a stalled rollout",
        group="identity",
    ),
)
"""Summary keys that identify the run; not KPIs (no column of their own in studies)."""

ROLLOUT = (
    _k("sim_end_s", "s", "run", "simulated time at which the run stopped"),
    _k(
        "n_rollouts",
        "count",
        "run",
        "rows of `rollouts` (template changes)",
        "run-multi",
        label="rollouts",
    ),
    _k("update_started_at_s", "s", "window", "`a`; null without rollouts"),
    _k("update_ended_at_s", "s", "window", "`b` if the last rollout completed, else null"),
    _k(
        "update_duration_s",
        "s",
        "window",
        "`b − a` if the last rollout completed, else null",
        "run",
        "compare",
        "heatmap",
        "pareto",
        label="update duration (s)",
        better="lower",
    ),
    _k(
        "update_completed",
        "bool",
        "window",
        "whether the last rollout completed; null without rollouts",
        "run",
        "compare",
        "heatmap",
        label="update completed",
        better="higher",
    ),
    _k(
        "rolesets_max",
        "RoleSets",
        "window",
        "max of `rolesets_total` (terminating included) over the window",
        "rollouts",
        "run",
        "compare",
        label="RoleSets max (incl. terminating)",
        run_fallback=True,
    ),
    _k(
        "rolesets_ready_min",
        "RoleSets",
        "window",
        "min of `rolesets_ready` over the window. A RoleSet is Ready only when every role has "
        "all its replicas Ready (AIBrix's condition), so a pooled service (one RoleSet) shows 0 "
        "during any in-place update while it still serves: read `capacity_availability_frac` "
        "and `full_outage_s` for serving capacity",
        "rollouts",
        "run",
        "compare",
        label="RoleSets ready min",
        better="higher",
    ),
    _k(
        "capacity_availability_frac",
        "fraction",
        "window",
        "`(1/(b−a)) ∫ₐᵇ min(1, capacity_frac) dt`: serving capacity as a fraction of desired, "
        "time-weighted (`capacity_frac` at `a` for a window of zero length)",
        "rollouts",
        "run",
        "compare",
        "heatmap",
        "pareto",
        label="capacity availability",
        better="higher",
    ),
    _k(
        "full_outage_s",
        "s",
        "window",
        "`∫ₐᵇ [capacity_frac = 0] dt`: time with some role having no ready pod",
        "rollouts",
        "run",
        "compare",
        "heatmap",
        label="full outage (s)",
        better="lower",
    ),
    _k(
        "surge_gpu_hours",
        "GPU-hours",
        "window",
        "`∫ₐᵇ max(0, gpus_allocated − gpus_allocated_before_update) dt / 3600` (0 for a window "
        "of zero length)",
        "rollouts",
        "run",
        "compare",
        "heatmap",
        "pareto",
        label="surge GPU-hours",
        better="lower",
    ),
    _k(
        "gpus_allocated_peak",
        "GPUs",
        "window",
        "max of `gpus_allocated` over the window",
        "rollouts",
        "run",
        "compare",
        label="GPUs allocated peak",
        run_fallback=True,
    ),
    _k(
        "gpus_allocated_before_update",
        "GPUs",
        "window",
        "`gpus_allocated` just before `a`",
        "rollouts",
    ),
    _k(
        "gpus_allocated_after_update",
        "GPUs",
        "window",
        "`gpus_live` at `b` (GPUs of the pods that stay; pods still terminating at `b` are left "
        "out) when the last rollout completed, else null",
        "rollouts",
    ),
    _k(
        "surge_gpus_peak",
        "GPUs",
        "window",
        "`gpus_allocated_peak − gpus_allocated_before_update`, at least 0",
        "rollouts",
        "run",
        "compare",
        label="surge GPUs peak",
    ),
    _k(
        "update_transient_surge_gpus_peak",
        "GPUs",
        "window",
        "`gpus_allocated_peak − max(gpus_allocated_before_update, gpus_allocated_after_update)`, "
        "at least 0: surge beyond both steady states. Differs from `surge_gpus_peak` when the "
        "template change itself changes the fleet's size (a role `scale`): e.g. decode 2 → 3 "
        "adds a pod for good, which `surge_gpus_peak` counts and this does not",
        "rollouts",
    ),
    _k(
        "gpus_demand_peak",
        "GPUs",
        "window",
        "max over the window of `gpus_allocated + gpus_pending` (GPUs bound or asked for)",
        "rollouts",
        run_fallback=True,
    ),
    _k(
        "surge_gpus_demand_peak",
        "GPUs",
        "window",
        "`gpus_demand_peak − gpus_allocated_before_update`, at least 0: the extra GPUs the "
        "rollout asked for, placed or not. When a surge does not fit, `surge_gpus_peak` stays "
        "low while this shows what it needed",
        "rollouts",
        "run",
        "compare",
        label="surge GPUs requested peak (incl. unplaced)",
    ),
    _k(
        "update_rolling_time_s",
        "s",
        "window",
        "sum of the rollouts' own durations (`rollouts.duration_s`); null unless every rollout "
        "completed. With several rollouts it excludes the quiet time between them, which "
        "`update_duration_s` includes",
        "run-multi",
        "compare",
        label="time rolling (s, sum)",
        better="lower",
    ),
    _k(
        "pods_pending_max_s",
        "s",
        "run",
        "over all pods of the run: max of (`scheduled_at_s`, else `gone_at_s`, else "
        "`sim_end_s`) − `created_at_s`",
        "run",
        "compare",
        "heatmap",
        label="longest pod pending (s)",
        better="lower",
    ),
    _k(
        "pods_unscheduled_at_end",
        "pods",
        "run",
        "pods never bound and not gone when the run ended",
        "run",
        label="pods unscheduled at end",
    ),
    _k("n_pods_created", "pods", "run", "rows of `pods`"),
    _k("n_rolesets_created", "RoleSets", "run", "rows of `rolesets`"),
    _k("gpus_capacity", "GPUs", "run", "GPUs of the cluster at the end of the run"),
)
"""The rollout KPIs, in summary and table order."""

_REQ = "requests"
REQUEST_BASE = (
    _k(
        "requests_arrived",
        _REQ,
        "run",
        "requests that arrived in the scope",
        "run-traffic",
        label="requests arrived",
        group=_REQ,
    ),
    _k("requests_completed", _REQ, "run", "… of which completed by the end of the run", group=_REQ),
    _k(
        "requests_failed",
        _REQ,
        "run",
        "… of which failed",
        "run-traffic",
        label="requests failed",
        group=_REQ,
    ),
    _k("requests_in_flight", _REQ, "run", "… still in flight at the end of the run", group=_REQ),
    _k("requests_retried", _REQ, "run", "… retried at least once by the gateway", group=_REQ),
    _k(
        "ttft_p50_s",
        "s",
        "run",
        "median of `ttft_s` over the completed ones",
        "compare",
        group=_REQ,
    ),
    _k(
        "ttft_p90_s",
        "s",
        "run",
        "90th percentile of `ttft_s` over the completed ones",
        "compare",
        "run-traffic",
        label="TTFT p90 (s)",
        group=_REQ,
    ),
    _k(
        "ttft_p99_s",
        "s",
        "run",
        "99th percentile of `ttft_s` over the completed ones",
        "compare",
        better="lower",
        group=_REQ,
    ),
    _k(
        "tpot_p50_s",
        "s",
        "run",
        "median of `tpot_s` over the completed ones (output > 1)",
        "compare",
        group=_REQ,
    ),
    _k(
        "tpot_p90_s",
        "s",
        "run",
        "90th percentile of `tpot_s` (completed, output > 1)",
        "compare",
        "run-traffic",
        label="TPOT p90 (s)",
        group=_REQ,
    ),
    _k(
        "tpot_p99_s",
        "s",
        "run",
        "99th percentile of `tpot_s` (completed, output > 1)",
        "compare",
        better="lower",
        group=_REQ,
    ),
    _k("e2e_p50_s", "s", "run", "median of `e2e_s` over the completed ones", "compare", group=_REQ),
    _k(
        "e2e_p99_s",
        "s",
        "run",
        "99th percentile of `e2e_s` over the completed ones",
        "compare",
        group=_REQ,
    ),
    _k(
        "slo_attainment_frac",
        "fraction",
        "run",
        "SLO met ÷ (completed + failed)",
        "compare",
        "run-traffic",
        label="SLO attainment",
        better="higher",
        group=_REQ,
    ),
    _k(
        "goodput_rps",
        "req/s",
        "run",
        "SLO met ÷ scope length (whole run: from the first "
        "arrival to `sim_end_s`; window: the update window)",
        "compare",
        better="higher",
        group=_REQ,
    ),
    _k(
        "mixed_version_requests",
        _REQ,
        "run",
        "requests routed to a prefill/decode pair of different revisions",
        group=_REQ,
    ),
)
"""Request KPIs over the requests that arrived in the whole run (from the first arrival); each
has a ``window_`` twin over the requests that arrived in the update window."""

WINDOW_PREFIX = "window_"
_WINDOW_TABLES = {"slo_attainment_frac": ("compare", "run-traffic", "heatmap")}
_WINDOW_HEATMAPS = ("ttft_p99_s", "tpot_p99_s")
"""Request heatmaps show the update window: whole-run figures dilute the rollout."""
_WINDOW_LABELS = {"slo_attainment_frac": "SLO attainment in update window"}


def _window(k: Kpi) -> Kpi:
    return Kpi(
        WINDOW_PREFIX + k.name,
        k.unit,
        "window",
        k.definition,
        (
            "summary",
            *_WINDOW_TABLES.get(
                k.name, ("compare", "heatmap") if k.name in _WINDOW_HEATMAPS else ("compare",)
            ),
        ),
        label=_WINDOW_LABELS.get(k.name),
        better=k.better,
        group="requests",
    )


REQUEST = (
    *REQUEST_BASE,
    *(_window(k) for k in REQUEST_BASE),
    _k(
        "request_availability_frac",
        "fraction",
        "window",
        "SLO met ÷ arrived in the update "
        "window (a request still queued or in flight at the end counts as a miss)",
        "compare",
        "heatmap",
        better="higher",
        group=_REQ,
    ),
)
"""Request KPIs (present with a ``workload``), in summary order."""

_N = "nodes"
NODES = (
    _k(
        "node_hours",
        "node-hours",
        "run",
        "`Σ over nodes of (gone_at_s, else sim_end_s) − created_at_s`, ÷ 3600: nodes paid for, "
        "from creation (launching included) to gone",
        "run-nodes",
        "compare",
        label="node-hours",
        better="lower",
        group=_N,
    ),
    _k(
        "node_gpu_hours",
        "GPU-hours",
        "run",
        "the same sum weighted by each node's GPUs: GPU capacity paid for",
        "run-nodes",
        "compare",
        label="GPU-hours (capacity)",
        better="lower",
        group=_N,
    ),
    _k(
        "node_idle_gpu_hours",
        "GPU-hours",
        "run",
        "`node_gpu_hours − ∫₀ᵉⁿᵈ gpus_allocated dt ÷ 3600`: capacity paid for and not requested "
        "by any pod (nodes still coming up or draining included)",
        "run-nodes",
        "compare",
        label="idle GPU-hours (capacity)",
        better="lower",
        group=_N,
    ),
    _k(
        "nodes_peak",
        "nodes",
        "run",
        "max over the run of the nodes not gone (every state)",
        "run-nodes",
        "compare",
        label="nodes peak",
        group=_N,
    ),
    _k(
        "n_node_scale_ups",
        "count",
        "run",
        "nodes the node autoscaler created",
        "run-nodes",
        "compare",
        label="nodes added",
        group=_N,
    ),
    _k(
        "n_node_scale_downs",
        "count",
        "run",
        "nodes the node autoscaler removed (provisioning failures not counted)",
        "run-nodes",
        "compare",
        label="nodes removed",
        group=_N,
    ),
    _k(
        "n_node_provision_failures",
        "count",
        "run",
        "nodes given up because they were not Ready within `max_node_provision_time_s`",
        "run-nodes",
        label="nodes given up (provisioning)",
        group=_N,
    ),
    _k(
        "node_provision_mean_s",
        "s",
        "run",
        "mean of `gpus_ready_at_s − created_at_s` over the nodes the autoscaler created that "
        "became schedulable; null if none",
        "run-nodes",
        label="node creation to GPUs ready, mean (s)",
        group=_N,
    ),
    _k(
        "node_wait_pods",
        "pods",
        "run",
        "pods bound to a node the node autoscaler created",
        group=_N,
    ),
    _k(
        "node_wait_mean_s",
        "s",
        "run",
        "mean of `scheduled_at_s − created_at_s` over those pods (time Pending waiting for a "
        "node); null if none",
        "run-nodes",
        "compare",
        label="pending for a new node, mean (s)",
        better="lower",
        group=_N,
    ),
    _k(
        "node_wait_max_s",
        "s",
        "run",
        "max of the same; null if none",
        "run-nodes",
        label="pending for a new node, max (s)",
        group=_N,
    ),
)
"""Node KPIs (present with a ``cluster.node_autoscaler``), in summary order."""


_AS = "autoscaling"
AUTOSCALING = (
    _k(
        "gpu_hours",
        "GPU-hours",
        "run",
        "Σ over pods of GPUs × time bound to a node (binding to gone, or the end of the run)",
        "run-autoscaling",
        "compare",
        "heatmap",
        better="lower",
        label="GPU-hours (pods)",
        group=_AS,
    ),
    _k(
        "idle_gpu_hours",
        "GPU-hours",
        "run",
        "the part of `gpu_hours` when the pod was not serving: bound but not yet routable "
        "(image pull, model load, readiness, router registration), and from its deletion to "
        "gone",
        "run-autoscaling",
        "compare",
        "heatmap",
        better="lower",
        label="GPU-hours not serving (pods)",
        group=_AS,
    ),
    _k(
        "scale_events",
        "count",
        "run",
        "autoscaler writes that changed the value in force in the field written (rows of "
        "`autoscaling` with `written` and `written_replicas ≠ target_replicas`, one per "
        "reconcile): `spec.replicas`, or a pooled role's per-RoleSet `replicas`; rewriting "
        "the value in force is no event",
        "run-autoscaling",
        label="scale events",
        group=_AS,
    ),
    _k(
        "scale_events_per_hour",
        "count",
        "run",
        "`scale_events` ÷ `sim_end_s` in hours",
        "compare",
        better="lower",
        group=_AS,
    ),
    _k(
        "scale_direction_changes_per_hour",
        "count",
        "run",
        "consecutive scale events of one autoscaler in opposite directions (up then down, or "
        "down then up: the sign of `written_replicas − target_replicas`), summed over "
        "autoscalers, ÷ `sim_end_s` in hours: oscillation",
        "run-autoscaling",
        "compare",
        "heatmap",
        better="lower",
        label="direction changes per hour",
        group=_AS,
    ),
    _k(
        "attainment_restore_s",
        "s",
        "run",
        "time from the load step to restored SLO attainment: requests binned by arrival "
        "time in 60 s bins from the first arrival; the load step `t0` is the start of the bin "
        "with the largest increase in arrivals over the previous bin (earliest on ties), "
        "distinct when that bin has at least 1.5 × the mean arrivals per bin of the 300 s "
        "before it; the baseline is the attainment of the requests that arrived in "
        "`[t0 − 300 s, t0)`; the value is the start of the first bin at or after `t0` whose "
        "requests, and those arriving in the 300 s from its start, have an attainment of at "
        "least the baseline − 0.01, minus `t0` (0: it never dropped); null without traffic, "
        "without requests before the step, without a distinct load step (a smooth ramp), when "
        "the baseline is below `workload.slo.attainment_frac` (already missing the SLO before "
        "the step), or when attainment never returns (a collapse is never 0)",
        "run-autoscaling",
        "compare",
        better="lower",
        label="load step to restored attainment (s)",
        group=_AS,
    ),
)
"""Autoscaling KPIs (present when the scenario has PodAutoscalers), in summary order."""


CATALOGUE: tuple[Kpi, ...] = (*IDENTITY, *ROLLOUT, *REQUEST, *NODES, *AUTOSCALING)
BY_NAME = {k.name: k for k in CATALOGUE}
assert len(BY_NAME) == len(CATALOGUE), "duplicate KPI names"

RENAMED = {
    "rollout_surge_gpus_peak": "update_transient_surge_gpus_peak",
    "rollout_time_s": "update_rolling_time_s",
}
"""Old KPI names -> new ones: update-window KPIs with a scope prefix use ``update_``."""


def names(table: str, group: str | None = None) -> tuple[str, ...]:
    """The KPIs of ``table`` (optionally of one group), in catalogue order."""
    if table not in TABLES:
        raise KeyError(f"no KPI table {table!r} (tables: {', '.join(TABLES)})")
    return tuple(
        k.name for k in CATALOGUE if table in k.tables and (group is None or k.group == group)
    )


def labels(table: str) -> list[tuple[str, str]]:
    """``(name, label)`` rows of a CLI table, in catalogue order."""
    return [(n, BY_NAME[n].label or n) for n in names(table)]


def better(name: str) -> str | None:
    """``higher`` / ``lower`` for KPIs a study ranks by, None otherwise (and for unknowns)."""
    k = BY_NAME.get(name)
    return k.better if k is not None else None
