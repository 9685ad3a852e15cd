"""The HPA strategy: the ``autoscaling/v2`` HorizontalPodAutoscaler AIBrix generates from a
PodAutoscaler (``hpa_resources.go``) and the Kubernetes HPA algorithm that then drives the
target (kube-controller-manager ``podautoscaler/horizontal.go`` and
``replica_calculator.go``): usage ratio with a tolerance, readiness handling, stabilization
windows, rate-limit policies with ``selectPolicy``. Times in seconds, replicas in the
target's unit (RoleSets for a StormService ``/scale``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from stormsim.control.autoscaler.bounds import Bounds
from stormsim.control.autoscaler.context import ScalingContext
from stormsim.control.autoscaler.stabilize import History, Recommendation, stabilize_hpa
from stormsim.schema.autoscaler import PodAutoscaler, parse_target_value

INT32_MAX = 2**31 - 1
HPA_TOLERANCE = 0.1
"""Default ``--horizontal-pod-autoscaler-tolerance`` (fraction of the target)."""
HPA_SYNC_PERIOD_S = 15.0
"""Default ``--horizontal-pod-autoscaler-sync-period`` (s)."""
HPA_CPU_INITIALIZATION_PERIOD_S = 300.0
"""Default ``--horizontal-pod-autoscaler-cpu-initialization-period`` (s)."""
HPA_INITIAL_READINESS_DELAY_S = 30.0
"""Default ``--horizontal-pod-autoscaler-initial-readiness-delay`` (s)."""


@dataclass(frozen=True)
class HpaPolicy:
    """``Pods`` (add/remove ``value`` replicas) or ``Percent`` per ``period_s`` seconds."""

    type: Literal["Pods", "Percent"]
    value: int
    period_s: float


@dataclass(frozen=True)
class HpaRules:
    """One direction's ``behavior``: stabilization window (s), policies, selectPolicy."""

    stabilization_window_s: float
    policies: tuple[HpaPolicy, ...]
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"


@dataclass(frozen=True)
class HpaBehavior:
    scale_up: HpaRules
    scale_down: HpaRules


@dataclass(frozen=True)
class HpaMetric:
    """One generated metric: ``Resource`` cpu (``Utilization`` percent of requests),
    ``Resource`` memory (``AverageValue`` bytes) or ``Pods`` (``AverageValue``, truncated to
    an integer by AIBrix)."""

    type: Literal["Resource", "Pods"]
    name: str
    target_type: Literal["Utilization", "AverageValue"]
    target: float


@dataclass(frozen=True)
class HpaSpec:
    """The generated HPA ``<pa>-hpa``."""

    name: str
    min_replicas: int
    max_replicas: int
    metrics: tuple[HpaMetric, ...]
    behavior: HpaBehavior


def hpa_behavior(ctx: ScalingContext) -> HpaBehavior:
    """``buildHPABehavior``: up: window = up cooldown, ``Max``, ``Percent`` of
    ``int((ru - 1) * 100)`` (negative: 100) per 60 s; down: window = down cooldown, ``Min``,
    ``Percent`` of ``int((1 - 1/rd) * 100)`` per 60 s."""
    up_pct = int((ctx.max_scale_up_rate - 1) * 100)
    if up_pct < 0:
        up_pct = 100
    down_pct = int((1 - 1 / ctx.max_scale_down_rate) * 100) if ctx.max_scale_down_rate else 0
    return HpaBehavior(
        HpaRules(ctx.scale_up_cooldown_s, (HpaPolicy("Percent", up_pct, 60.0),), "Max"),
        HpaRules(ctx.scale_down_cooldown_s, (HpaPolicy("Percent", down_pct, 60.0),), "Min"),
    )


def hpa_spec(pa: PodAutoscaler, bounds: Bounds, ctx: ScalingContext) -> HpaSpec:
    """The HPA AIBrix generates for ``pa`` under ``bounds``: max (0: int32 max), min only
    when > 0 (else Kubernetes' default 1), metrics mapped by ``targetMetric`` name (the
    source type is ignored): ``cpu`` -> Utilization ``ceil(target)`` %, ``memory`` ->
    AverageValue ``int(target)`` MiB, anything else -> Pods AverageValue ``int(target)``."""
    metrics: list[HpaMetric] = []
    for src in pa.spec.metrics_sources or []:
        try:
            t = parse_target_value(src.target_value)
        except ValueError:
            continue
        name = src.target_metric
        if name.lower() == "cpu":
            metrics.append(HpaMetric("Resource", "cpu", "Utilization", float(math.ceil(t))))
        elif name.lower() == "memory":
            metrics.append(HpaMetric("Resource", "memory", "AverageValue", float(int(t)) * 2**20))
        else:
            metrics.append(HpaMetric("Pods", name, "AverageValue", float(int(t))))
    return HpaSpec(
        f"{pa.name}-hpa",
        bounds.min_replicas if bounds.min_replicas > 0 else 1,
        bounds.max_replicas if bounds.max_replicas > 0 else INT32_MAX,
        tuple(metrics),
        hpa_behavior(ctx),
    )


@dataclass(frozen=True)
class HpaPod:
    """A pod as the HPA's replica calculator sees it. ``phase``: Pending, Running, Failed,
    ...; ``deleting``: has a deletion timestamp; ``value``: its metric (``None``: missing);
    ``ready``: Ready condition true; ``started_s``/``ready_changed_s``: start time and last
    Ready transition (s, simulated clock; ``None``: unknown)."""

    name: str
    phase: str
    value: float | None
    deleting: bool = False
    ready: bool = True
    started_s: float | None = 0.0
    ready_changed_s: float | None = 0.0


def hpa_metric_replicas(
    current: int,
    pods: Sequence[HpaPod],
    target: float,
    *,
    tolerance: float = HPA_TOLERANCE,
    cpu: bool = False,
    now_s: float = 0.0,
    cpu_initialization_period_s: float = HPA_CPU_INITIALIZATION_PERIOD_S,
    initial_readiness_delay_s: float = HPA_INITIAL_READINESS_DELAY_S,
    metric_window_s: float = 0.0,
) -> int | None:
    """Replicas for one average-value metric (``calcPlainMetricReplicas``; for ``cpu`` the
    per-pod values are utilisation in the target's unit). Pods deleting or Failed are
    ignored; Pending pods are unready; pods without a value are missing; for cpu, pods not
    yet Ready (or within the initialisation period) are unready. ``None``: no usable metric."""
    ready: list[float] = []
    unready = 0
    missing = 0
    for p in pods:
        if p.deleting or p.phase == "Failed":
            continue
        if p.phase == "Pending":
            unready += 1
            continue
        if p.value is None:
            missing += 1
            continue
        if cpu:
            if p.started_s is None or p.ready_changed_s is None:
                unready += 1
                continue
            if p.started_s + cpu_initialization_period_s > now_s:
                if not p.ready or now_s < p.ready_changed_s + metric_window_s:
                    unready += 1
                    continue
            elif not p.ready and p.started_s + initial_readiness_delay_s > p.ready_changed_s:
                unready += 1
                continue
        ready.append(p.value)
    if not ready:
        return None
    ratio = (sum(ready) / len(ready)) / target
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return current
        return math.ceil(ratio * len(ready))
    values = list(ready)
    if missing:
        values += [target if ratio < 1.0 else 0.0] * missing
    if scale_up_with_unready:
        values += [0.0] * unready
    new_ratio = (sum(values) / len(values)) / target
    if (
        abs(1.0 - new_ratio) <= tolerance
        or (ratio < 1.0 and new_ratio > 1.0)
        or (ratio > 1.0 and new_ratio < 1.0)
    ):
        return current
    new = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
        return current
    return new


@dataclass(frozen=True)
class ScaleEvent:
    """A past rescale: replicas changed by ``change`` (> 0) at ``t_s``."""

    t_s: float
    change: int


@dataclass(frozen=True)
class HpaState:
    """What the HPA controller keeps per HPA: raw recommendations (for stabilization) and
    the scale-up / scale-down events (for the rate limits)."""

    recommendations: History = ()
    up_events: tuple[ScaleEvent, ...] = ()
    down_events: tuple[ScaleEvent, ...] = ()


def _changed(events: Sequence[ScaleEvent], now_s: float, period_s: float) -> int:
    return sum(e.change for e in events if e.t_s > now_s - period_s)


def _period_start(current: int, state: HpaState, now_s: float, period_s: float) -> int:
    """The replicas at the start of a policy's period: ``current`` less the scale-ups and
    plus the scale-downs of the last ``period_s`` seconds."""
    return (
        current
        - _changed(state.up_events, now_s, period_s)
        + _changed(state.down_events, now_s, period_s)
    )


def scale_up_limit(current: int, rules: HpaRules, state: HpaState, now_s: float) -> int:
    """``calculateScaleUpLimitWithScalingRules``: per policy, from the replicas at the start
    of its period: Pods ``start + value``, Percent ``ceil(start * (1 + value/100))``;
    ``Max`` takes the largest, ``Min`` the smallest; ``Disabled`` keeps ``current``."""
    if rules.select_policy == "Disabled":
        return current
    results = []
    for p in rules.policies:
        start = _period_start(current, state, now_s, p.period_s)
        if p.type == "Pods":
            results.append(start + p.value)
        else:
            results.append(math.ceil(start * (1 + p.value / 100)))
    return max(results) if rules.select_policy == "Max" else min(results)


def scale_down_limit(current: int, rules: HpaRules, state: HpaState, now_s: float) -> int:
    """``calculateScaleDownLimitWithBehaviors``: per policy, from the replicas at the start
    of its period: Pods ``start - value``, Percent ``int(start * (1 - value/100))``
    (truncated, where the scale-up limit rounds up);
    ``Min`` (the smallest change) takes the largest floor, ``Max`` the smallest;
    ``Disabled`` keeps ``current``."""
    if rules.select_policy == "Disabled":
        return current
    results = []
    for p in rules.policies:
        start = _period_start(current, state, now_s, p.period_s)
        if p.type == "Pods":
            results.append(start - p.value)
        else:
            results.append(int(start * (1 - p.value / 100)))
    return max(results) if rules.select_policy == "Min" else min(results)


Condition = tuple[str, str, str]
"""An HPA status condition: (type, status, reason)."""
FAILED_GET_PODS_METRIC = "FailedGetPodsMetric"
FAILED_GET_RESOURCE_METRIC = "FailedGetResourceMetric"


@dataclass(frozen=True)
class HpaDecision:
    """One sync's outcome. ``conditions``: the status conditions the sync set, in the order
    the controller sets them (a later one of a type replaces an earlier one). ``reason``: the
    one that explains the outcome: ``ScalingActive`` when False (``ScalingDisabled``,
    ``FailedGetPodsMetric``, ``FailedGetResourceMetric``: no scaling), else ``ScalingLimited``
    when True (``ScaleUpLimit``, ``ScaleDownLimit``, ``TooManyReplicas``,
    ``TooFewReplicas``), else ``AbleToScale`` as the sync leaves it (``SucceededRescale``
    after a write, else ``ScaleUpStabilized`` / ``ScaleDownStabilized`` / ``ReadyForNewScale``)."""

    desired: int
    should_scale: bool
    reason: str
    recommendation: int | None = None
    conditions: tuple[Condition, ...] = ()


def _decision(
    current: int, desired: int, rec: int | None, conditions: list[Condition]
) -> HpaDecision:
    rescale = desired != current
    if rescale:
        conditions.append(("AbleToScale", "True", "SucceededRescale"))
    final = {t: (st, r) for t, st, r in conditions}
    active = final.get("ScalingActive")
    limited = final.get("ScalingLimited")
    if active is not None and active[0] == "False":
        reason = active[1]
    elif limited is not None and limited[0] == "True":
        reason = limited[1]
    else:
        reason = final["AbleToScale"][1]
    return HpaDecision(desired, rescale, reason, rec, tuple(conditions))


def hpa_step(
    current: int,
    spec: HpaSpec,
    metric_replicas: Sequence[int | None],
    state: HpaState,
    now_s: float,
    failed_reasons: Sequence[str] | None = None,
) -> tuple[HpaDecision, HpaState]:
    """One HPA sync (``reconcileAutoscaler``): at 0 with a non-zero minimum: disabled;
    above max / below min: the bound; else the maximum over metrics (``None``: invalid,
    skipped; every metric invalid, or one invalid while the valid ones would scale down: no
    scaling, ``ScalingActive=False`` with the first invalid metric's reason from
    ``failed_reasons``, default ``FailedGetPodsMetric``), stabilized (min over the up window,
    max over the down window), rate-limited by the behavior policies and clamped to
    ``[min, max]``. The returned state records the recommendation and, when the replicas
    change, the scale event. The reason and conditions: :class:`HpaDecision`."""
    lo, hi = spec.min_replicas, spec.max_replicas
    if not state.recommendations:
        # ``recordInitialRecommendation``: the first sync of an HPA seeds its history with the
        # current replicas, so no scale-down happens before the down-stabilization window
        # has passed since the HPA appeared
        state = HpaState((Recommendation(current, now_s),), state.up_events, state.down_events)
    conditions: list[Condition] = [("AbleToScale", "True", "SucceededGetScale")]
    rec: int | None = None
    if current == 0 and lo != 0:
        conditions.append(("ScalingActive", "False", "ScalingDisabled"))
        return _decision(current, current, None, conditions), state
    if current > hi:
        desired = hi
    elif current < lo:
        desired = lo
    else:
        valid = [r for r in metric_replicas if r is not None]
        invalid = [i for i, r in enumerate(metric_replicas) if r is None]
        if not valid or (invalid and max(valid) < current):
            first = invalid[0] if invalid else 0
            why = (
                failed_reasons[first]
                if failed_reasons is not None and first < len(failed_reasons)
                else FAILED_GET_PODS_METRIC
            )
            conditions.append(("ScalingActive", "False", why))
            return _decision(current, current, None, conditions), state
        conditions.append(("ScalingActive", "True", "ValidMetricFound"))
        rec = max(valid)
        b = spec.behavior
        stab, recs = stabilize_hpa(
            state.recommendations,
            now_s,
            rec,
            current,
            b.scale_up.stabilization_window_s,
            b.scale_down.stabilization_window_s,
        )
        state = HpaState(recs, state.up_events, state.down_events)
        if stab != rec:
            why = "ScaleUpStabilized" if rec >= current else "ScaleDownStabilized"
            conditions.append(("AbleToScale", "True", why))
        else:
            conditions.append(("AbleToScale", "True", "ReadyForNewScale"))
        desired, limit_reason = stab, "DesiredWithinRange"
        if stab > current:
            up = max(current, scale_up_limit(current, b.scale_up, state, now_s))
            top = min(hi, up)
            if stab > top:
                desired, limit_reason = top, "ScaleUpLimit" if hi > up else "TooManyReplicas"
        elif stab < current:
            down = min(current, scale_down_limit(current, b.scale_down, state, now_s))
            bottom = max(lo, down)
            if stab < bottom:
                desired, limit_reason = bottom, "ScaleDownLimit" if lo < down else "TooFewReplicas"
        limited = "True" if desired != stab else "False"
        conditions.append(("ScalingLimited", limited, limit_reason))
    if desired != current:
        longest_up = max((p.period_s for p in spec.behavior.scale_up.policies), default=0.0)
        longest_down = max((p.period_s for p in spec.behavior.scale_down.policies), default=0.0)
        ups = tuple(e for e in state.up_events if e.t_s > now_s - longest_up)
        downs = tuple(e for e in state.down_events if e.t_s > now_s - longest_down)
        if desired > current:
            ups += (ScaleEvent(now_s, desired - current),)
        else:
            downs += (ScaleEvent(now_s, current - desired),)
        state = HpaState(state.recommendations, ups, downs)
    return _decision(current, desired, rec, conditions), state
