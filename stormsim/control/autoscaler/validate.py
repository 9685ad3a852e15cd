"""The controller's own spec check (AIBrix ``podautoscaler_controller.go: validateSpec``),
the fallback when the webhook is bypassed. Unlike the webhook it stops at the first problem
and does not check that ``targetValue`` is a number."""

from __future__ import annotations

from dataclasses import dataclass

from stormsim.schema.autoscaler import PodAutoscaler, schedule_problems


@dataclass(frozen=True)
class SpecInvalid:
    """``ValidSpec=False`` with this reason and message."""

    reason: str
    message: str


def validate_spec(pa: PodAutoscaler) -> SpecInvalid | None:
    """Checks in the controller's order: target ref, bounds, strategy (incl. HPA with a
    role), windows (defaults 180/60), schedules, metric sources. ``None``: valid."""
    spec = pa.spec
    ref = spec.scale_target_ref
    if not ref.kind or not ref.name:
        return SpecInvalid("MissingScaleTargetRef", "scaleTargetRef must specify kind and name.")
    if spec.min_replicas is not None and spec.min_replicas < 0:
        return SpecInvalid("InvalidBounds", "minReplicas must not be negative.")
    if spec.max_replicas <= 0:
        return SpecInvalid("InvalidBounds", "maxReplicas must be positive.")
    if spec.base_min_replicas > spec.max_replicas:
        return SpecInvalid("InvalidBounds", "minReplicas cannot be greater than maxReplicas.")
    if spec.scaling_strategy == "HPA" and spec.role_name:
        return SpecInvalid(
            "InvalidScalingStrategy",
            "subTargetSelector.roleName is not supported with scalingStrategy=HPA; use APA "
            "or KPA for StormService role-level autoscaling.",
        )
    obs, pan = spec.observe_window_s, spec.panic_window_s
    if obs <= 0:
        return SpecInvalid("InvalidSpec", "observeWindowSeconds must be greater than 0.")
    if obs > 3600:
        return SpecInvalid(
            "InvalidSpec", "observeWindowSeconds must be less than or equal to 3600."
        )
    if pan <= 0:
        return SpecInvalid("InvalidSpec", "panicWindowSeconds must be greater than 0.")
    if pan > obs:
        return SpecInvalid(
            "InvalidSpec", "panicWindowSeconds must be less than or equal to observeWindowSeconds."
        )
    sched = schedule_problems(spec)
    if sched:
        _, msg = sched[0]
        return SpecInvalid("InvalidSpec", f"schedules: {msg}")
    sources = spec.metrics_sources or []
    if not sources:
        return SpecInvalid("MetricsConfigError", "at least one metricsSource must be specified")
    for i, src in enumerate(sources):
        if not src.target_metric:
            return SpecInvalid(
                "MetricsConfigError", f"metricsSource[{i}]: targetMetric must be specified"
            )
        if not src.target_value:
            return SpecInvalid(
                "MetricsConfigError", f"metricsSource[{i}]: targetValue must be specified"
            )
    return None
