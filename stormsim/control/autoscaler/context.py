"""The per-reconcile scaling context: rates, tolerances, cooldowns and metric targets read
from a PodAutoscaler's annotations and metric sources (AIBrix
``pkg/controller/podautoscaler/context/context.go``: ``NewBaseScalingContext``,
``UpdateByPaTypes``; ``types/annotations.go``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from stormsim.control.autoscaler.bounds import Bounds
from stormsim.schema.autoscaler import (
    ANN_MAX_SCALE_DOWN_RATE,
    ANN_MAX_SCALE_UP_RATE,
    ANN_PANIC_THRESHOLD,
    ANN_SCALE_DOWN_COOLDOWN,
    ANN_SCALE_DOWN_TOLERANCE,
    ANN_SCALE_TO_ZERO,
    ANN_SCALE_UP_COOLDOWN,
    ANN_SCALE_UP_TOLERANCE,
    PodAutoscaler,
    parse_go_bool,
    parse_go_duration,
    parse_go_float,
    parse_target_value,
)


@dataclass(frozen=True)
class ScalingContext:
    """Settings of one reconcile. Rates are factors per decision (2.0: at most double /
    halve), tolerances fractions of the target (0.1 = ±10 %), cooldowns seconds,
    ``metric_targets`` per-pod targets by ``targetMetric``, bounds in replicas.
    ``activation_scale`` and ``max_panic_pods`` are fixed at 1 and 0 in AIBrix (exposed for
    its unit tests). ``errors``: the parse failures met (parsing stops at the first)."""

    max_scale_up_rate: float = 2.0
    max_scale_down_rate: float = 2.0
    up_tolerance: float = 0.1
    down_tolerance: float = 0.1
    panic_threshold: float = 2.0
    scale_up_cooldown_s: float = 0.0
    scale_down_cooldown_s: float = 300.0
    scale_to_zero: bool = False
    metric_targets: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    min_replicas: int = 1
    max_replicas: int = 1
    activation_scale: int = 1
    max_panic_pods: int = 0
    errors: tuple[str, ...] = ()


_FLOAT_FIELDS = {
    ANN_MAX_SCALE_UP_RATE: "max_scale_up_rate",
    ANN_MAX_SCALE_DOWN_RATE: "max_scale_down_rate",
    ANN_SCALE_UP_TOLERANCE: "up_tolerance",
    ANN_SCALE_DOWN_TOLERANCE: "down_tolerance",
    ANN_PANIC_THRESHOLD: "panic_threshold",
}
_DURATION_FIELDS = {
    ANN_SCALE_UP_COOLDOWN: "scale_up_cooldown_s",
    ANN_SCALE_DOWN_COOLDOWN: "scale_down_cooldown_s",
}


def scaling_context(pa: PodAutoscaler, bounds: Bounds) -> ScalingContext:
    """Build the context as AIBrix does on every reconcile: defaults, then the metric targets
    (in source order; a later source with the same ``targetMetric`` wins), then the
    annotations, then the bounds. The first value that fails to parse stops the parsing:
    targets after a bad ``targetValue`` are missing and no annotation is read; annotations
    after a bad one keep their defaults. AIBrix walks annotations in Go map order (random);
    stormsim walks them in sorted key order so runs are deterministic."""
    targets: dict[str, float] = {}
    errors: list[str] = []
    for i, src in enumerate(pa.spec.metrics_sources or []):
        try:
            targets[src.target_metric] = parse_target_value(src.target_value)
        except ValueError as e:
            errors.append(f"metricsSources[{i}].targetValue: {e}")
            break
    changes: dict[str, object] = {}
    if not errors:
        for key in sorted(pa.annotations):
            value = pa.annotations[key]
            try:
                if key in _FLOAT_FIELDS:
                    changes[_FLOAT_FIELDS[key]] = parse_go_float(value)
                elif key in _DURATION_FIELDS:
                    changes[_DURATION_FIELDS[key]] = parse_go_duration(value)
                elif key == ANN_SCALE_TO_ZERO:
                    changes["scale_to_zero"] = parse_go_bool(value)
            except ValueError as e:
                errors.append(f"annotation {key}: {e}")
                break
    return ScalingContext(
        min_replicas=bounds.min_replicas,
        max_replicas=bounds.max_replicas,
        metric_targets=MappingProxyType(targets),
        errors=tuple(errors),
        **changes,  # type: ignore[arg-type]
    )
