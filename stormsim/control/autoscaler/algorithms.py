"""KPA and APA recommendations (AIBrix ``pkg/controller/podautoscaler/algorithm/kpa.go`` and
``apa.go``: ``ComputeRecommendation``, ``computeTargetReplicas``, ``shouldEnterPanicMode``;
``algorithm.go: applyConstraints``).

All replica counts are in the target's unit (pods, PodSets or RoleSets); metric values and
targets are in the metric's own unit (per pod, or per the whole target for KPA under
``fixed-math`` and for external metrics). Arithmetic is IEEE double in AIBrix's operation
order: the tolerance bands' boundaries depend on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from stormsim.control.autoscaler.context import ScalingContext

Strategy = Literal["HPA", "KPA", "APA"]


def clamp(replicas: int, lo: int, hi: int) -> int:
    """``replicas`` limited to ``[lo, hi]`` (``applyConstraints``)."""
    return max(lo, min(hi, replicas))


def kpa_in_panic(stable: float, panic: float, threshold: float) -> bool:
    """Panic mode: the stable mean is not positive, or panic/stable exceeds the threshold
    (strict ``>``). Not sticky: decided afresh every reconcile."""
    return stable <= 0 or panic / stable > threshold


def kpa_target_replicas(
    current: int,
    stable: float,
    panic: float,
    target: float,
    *,
    max_scale_up_rate: float,
    max_scale_down_rate: float,
    up_tolerance: float,
    down_tolerance: float,
    in_panic: bool,
    activation_scale: int = 1,
    max_panic_pods: int = 0,
) -> int:
    """KPA's unclamped recommendation: ``ceil(value/target)`` for the stable (and, in panic,
    the panic) window mean when it is outside the band ``[T(1-dt), T(1+ut)]`` (else
    ``current``), limited to ``[floor(C/rd), max(1, ceil(ru*C))]``. Note: the window holds a
    per-pod mean in AIBrix e3e10f9e and the result is never multiplied by the pod count."""
    c = float(current)
    max_up = max(1.0, math.ceil(max_scale_up_rate * c))
    max_down = math.floor(c / max_scale_down_rate)
    up_t = target * (1 + up_tolerance)
    down_t = target * (1 - down_tolerance)

    def per(value: float) -> float:
        return float(math.ceil(value / target)) if value > up_t or value < down_t else c

    ds = int(min(max(per(stable), max_down), max_up))
    dp = int(min(max(per(panic), max_down), max_up))
    if activation_scale > 1:
        if 0 < ds < activation_scale:
            ds = activation_scale
        if 0 < dp < activation_scale:
            dp = activation_scale
    desired = ds
    if in_panic:
        desired = max(ds, dp)
        desired = max(desired, max_panic_pods)
    return desired


def apa_target_replicas(
    current: int,
    value: float,
    target: float,
    *,
    max_scale_up_rate: float,
    max_scale_down_rate: float,
    up_tolerance: float,
    down_tolerance: float,
) -> int:
    """APA's unclamped recommendation from the stable window mean ``value`` (per pod):
    ratio ``r = value/target``; above ``1+ut``: ``min(ceil(C*r), ceil(ru*C))``; below
    ``1-dt``: ``max(ceil(C*r), floor(C/rd))``; else ``C``. A target <= 0 returns ``C``."""
    if target <= 0:
        return current
    c = float(current)
    r = value / target
    if r > 1 + up_tolerance:
        return int(min(math.ceil(c * r), math.ceil(max_scale_up_rate * c)))
    if r < 1 - down_tolerance:
        return int(max(math.ceil(c * r), math.floor(c / max_scale_down_rate)))
    return current


@dataclass(frozen=True)
class MetricRecommendation:
    """One metric source's recommendation (replicas, clamped to the context's bounds) and
    whether KPA was in panic mode for it."""

    replicas: int
    in_panic: bool = False


def metric_recommendation(
    strategy: Strategy,
    current: int,
    stable: float,
    panic: float,
    target: float | None,
    ctx: ScalingContext,
) -> MetricRecommendation:
    """``ComputeRecommendation`` of KPA or APA for one metric source: window means
    ``stable``/``panic`` (metric units), per-pod ``target`` (``None``: the target failed to
    parse, so ``current`` is recommended), clamped to ``[ctx.min_replicas,
    ctx.max_replicas]``."""
    lo, hi = ctx.min_replicas, ctx.max_replicas
    if target is None:
        return MetricRecommendation(clamp(current, lo, hi))
    if strategy == "KPA":
        panic_mode = kpa_in_panic(stable, panic, ctx.panic_threshold)
        rec = kpa_target_replicas(
            current,
            stable,
            panic,
            target,
            max_scale_up_rate=ctx.max_scale_up_rate,
            max_scale_down_rate=ctx.max_scale_down_rate,
            up_tolerance=ctx.up_tolerance,
            down_tolerance=ctx.down_tolerance,
            in_panic=panic_mode,
            activation_scale=ctx.activation_scale,
            max_panic_pods=ctx.max_panic_pods,
        )
        return MetricRecommendation(clamp(rec, lo, hi), panic_mode)
    if strategy == "APA":
        rec = apa_target_replicas(
            current,
            stable,
            target,
            max_scale_up_rate=ctx.max_scale_up_rate,
            max_scale_down_rate=ctx.max_scale_down_rate,
            up_tolerance=ctx.up_tolerance,
            down_tolerance=ctx.down_tolerance,
        )
        return MetricRecommendation(clamp(rec, lo, hi))
    raise ValueError(f"no in-process algorithm for scalingStrategy {strategy!r}")
