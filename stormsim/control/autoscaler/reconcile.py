"""One KPA/APA reconcile of a PodAutoscaler end to end, as pure data in and out (AIBrix
``podautoscaler_controller.go``: ``reconcileCustomPA``, ``computeScaleDecision``,
``computeMetricBasedReplicas``; ``autoscaler.go: ComputeDesiredReplicas``).

The caller (the simulated world) supplies the target snapshot, the pods with what they
expose, the external metrics, and the controller's memory (metric windows and
recommendation histories, which survive PodAutoscaler updates but not a controller
restart); it gets the decision, what to write, how long the reconcile took and the new
memory. Times: ``now`` wall clock (schedules), ``now_s`` simulated seconds (windows,
stabilization).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from stormsim.control.autoscaler.algorithms import metric_recommendation
from stormsim.control.autoscaler.bounds import Bounds, resolve_bounds
from stormsim.control.autoscaler.context import ScalingContext, scaling_context
from stormsim.control.autoscaler.decide import Decision, boundary_decision, decide
from stormsim.control.autoscaler.scrape import (
    PodScrapeInput,
    ScrapeCosts,
    ScrapeResult,
    scrape_global,
    scrape_pods,
)
from stormsim.control.autoscaler.stabilize import History
from stormsim.control.autoscaler.target import (
    ScaleWrite,
    TargetError,
    TargetView,
    current_replicas,
    scale_write,
    select_pods,
)
from stormsim.control.autoscaler.window import MetricWindows, snapshot_value
from stormsim.schema.autoscaler import AutoscalingProfile, PodAutoscaler


@dataclass(frozen=True)
class AutoscalerMemory:
    """The controller's in-memory state: metric windows keyed
    ``namespace/name/targetMetric`` and recommendation histories keyed ``namespace/name``."""

    windows: Mapping[str, MetricWindows] = field(default_factory=lambda: MappingProxyType({}))
    history: Mapping[str, History] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class MetricObservation:
    """One metric source in one reconcile: the value recorded (``None``: nothing recorded),
    the window means after it (metric units), the source's clamped recommendation
    (``None``: the source failed) and KPA's panic flag."""

    target_metric: str
    recorded: float | None
    stable: float
    panic: float
    recommendation: int | None
    in_panic: bool = False
    pods: int = 0
    excluded: int = 0


@dataclass(frozen=True)
class ReconcileOutcome:
    """What one reconcile decided and cost. ``current``: replicas read (``None``: the read
    failed, see ``error``). ``write``: what to write when the decision scales and the
    deadline held (``None`` otherwise). ``elapsed_s``: scrape time (s).
    ``deadline_exceeded``: the reconcile ran out of time, so neither the scale write nor the
    status write happens. ``memory``: the controller memory afterwards."""

    current: int | None
    bounds: Bounds
    decision: Decision | None
    metrics: tuple[MetricObservation, ...]
    elapsed_s: float
    deadline_exceeded: bool
    write: ScaleWrite | None
    memory: AutoscalerMemory
    context: ScalingContext | None = None
    error: str | None = None


def window_key(pa: PodAutoscaler, target_metric: str) -> str:
    """``MetricKey.String()``: ``namespace/name/targetMetric``."""
    return f"{pa.key}/{target_metric}"


def reconcile_custom(
    pa: PodAutoscaler,
    *,
    now: datetime,
    now_s: float,
    view: TargetView,
    pods: Sequence[PodScrapeInput],
    external: Mapping[str, float | None],
    memory: AutoscalerMemory,
    profile: AutoscalingProfile,
    costs: ScrapeCosts | None = None,
) -> ReconcileOutcome:
    """A KPA/APA reconcile: bounds at ``now``; current replicas from ``view``; the zero and
    bound checks; per metric source (in order, sharing the deadline): scrape the selected
    ``pods`` (or read ``external[targetMetric]`` for external/domain sources), record the
    snapshot value into the windows, recommend; then the maximum, stabilization and clamp
    (:func:`~stormsim.control.autoscaler.decide.decide`) and the write descriptor."""
    bounds = resolve_bounds(pa.spec, now)
    try:
        current = current_replicas(pa, view)
    except TargetError as e:
        return ReconcileOutcome(None, bounds, None, (), 0.0, False, None, memory, error=str(e))
    early = boundary_decision(current, bounds)
    if early is not None:
        write = (
            scale_write(pa, view, early.desired, profile=profile, max_replicas=bounds.max_replicas)
            if early.should_scale
            else None
        )
        return ReconcileOutcome(current, bounds, early, (), 0.0, False, write, memory)
    ctx = scaling_context(pa, bounds)
    strategy = pa.spec.scaling_strategy
    selected = select_pods(pa, view, pods)
    windows = dict(memory.windows)
    elapsed = 0.0
    exceeded = False
    observations: list[MetricObservation] = []
    recs: list[int | None] = []
    for src in pa.spec.metrics_sources or []:
        key = window_key(pa, src.target_metric)
        w = windows.get(key)
        w = (
            MetricWindows.new(pa.spec.observe_window_s, pa.spec.panic_window_s)
            if w is None
            else w.configured(pa.spec.observe_window_s, pa.spec.panic_window_s)
        )
        res: ScrapeResult
        if src.is_global:
            res = scrape_global(
                external.get(src.target_metric),
                src,
                profile=profile,
                costs=costs,
                elapsed_s=elapsed,
            )
        else:
            res = scrape_pods(selected, src, profile=profile, costs=costs, elapsed_s=elapsed)
        elapsed += res.elapsed_s
        exceeded = exceeded or res.deadline_exceeded
        excluded = sum(1 for o in res.outcomes if o.value is None)
        if res.error:
            windows[key] = w
            observations.append(
                MetricObservation(
                    src.target_metric,
                    None,
                    *w.means(),
                    None,
                    pods=len(res.outcomes),
                    excluded=excluded,
                )
            )
            recs.append(None)
            continue
        value = snapshot_value(res.values, strategy=strategy, profile=profile)
        if value is not None:
            w = w.record(now_s, value)
        windows[key] = w
        stable, panic = w.means()
        rec = metric_recommendation(
            strategy, current, stable, panic, ctx.metric_targets.get(src.target_metric), ctx
        )
        observations.append(
            MetricObservation(
                src.target_metric,
                value,
                stable,
                panic,
                rec.replicas,
                rec.in_panic,
                len(res.outcomes),
                excluded,
            )
        )
        recs.append(rec.replicas)
    history = memory.history.get(pa.key, ())
    decision, history = decide(
        current,
        bounds,
        recs,
        strategy=strategy,
        history=history,
        now_s=now_s,
        up_window_s=ctx.scale_up_cooldown_s,
        down_window_s=ctx.scale_down_cooldown_s,
        profile=profile,
    )
    hist = dict(memory.history)
    hist[pa.key] = history
    new_memory = AutoscalerMemory(MappingProxyType(windows), MappingProxyType(hist))
    write = None
    if decision.should_scale and not exceeded:
        write = scale_write(
            pa, view, decision.desired, profile=profile, max_replicas=bounds.max_replicas
        )
    return ReconcileOutcome(
        current,
        bounds,
        decision,
        tuple(observations),
        elapsed,
        exceeded,
        write,
        new_memory,
        ctx,
    )
