"""One scale decision of a KPA/APA PodAutoscaler, in AIBrix's order
(``podautoscaler_controller.go: computeScaleDecision``): the zero and bound checks, the
maximum over metric sources, stabilization, the final clamp, the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stormsim.control.autoscaler.algorithms import Strategy, clamp
from stormsim.control.autoscaler.bounds import Bounds
from stormsim.control.autoscaler.stabilize import History, stabilize
from stormsim.schema.autoscaler import AutoscalingProfile

REASON_DISABLED = "scaling disabled: current replicas is 0"
REASON_ABOVE_MAX = "current replicas exceed maximum"
REASON_BELOW_MIN = "current replicas below minimum"
REASON_BELOW_TARGET = "All metrics below target"
REASON_STABLE = "stable"
REASON_FAILED = "FailedComputeScale"


@dataclass(frozen=True)
class Decision:
    """``desired`` replicas, whether to write (``should_scale``), the reason text,
    the algorithm (``boundary-check``, ``kpa``, ``apa``), the raw recommendation ``R``
    (max over sources, ``None`` when the metrics were not consulted) and ``error`` (every
    metric source failed: nothing is written, a failed history record is kept)."""

    desired: int
    should_scale: bool
    reason: str
    algorithm: str
    recommendation: int | None = None
    error: str | None = None


def boundary_decision(current: int, bounds: Bounds) -> Decision | None:
    """Steps 2-4 of ``computeScaleDecision``, which skip metrics and stabilization:
    ``current == 0`` with a non-zero minimum and no active schedule minimum: stay at 0;
    above the maximum: the maximum; below the minimum: the minimum. ``None``: go on with
    the metrics."""
    m, mx = bounds.min_replicas, bounds.max_replicas
    if current == 0 and m != 0 and not bounds.active_schedule_has_min:
        return Decision(0, False, REASON_DISABLED, "boundary-check")
    if current > mx:
        return Decision(mx, True, REASON_ABOVE_MAX, "boundary-check")
    if current < m:
        return Decision(m, True, REASON_BELOW_MIN, "boundary-check")
    return None


def decide(
    current: int,
    bounds: Bounds,
    recommendations: Sequence[int | None],
    *,
    strategy: Strategy,
    history: History,
    now_s: float,
    up_window_s: float,
    down_window_s: float,
    profile: AutoscalingProfile,
) -> tuple[Decision, History]:
    """The whole decision for ``current`` replicas at ``now_s`` (s) given each metric
    source's clamped recommendation (``None``: the source failed). Returns the decision and
    the recommendation history after it (unchanged when the boundary checks decided or
    every source failed). Windows in seconds."""
    b = boundary_decision(current, bounds)
    if b is not None:
        return b, history
    alg = strategy.lower()
    valid = [r for r in recommendations if r is not None]
    if not valid:
        return (
            Decision(current, False, REASON_FAILED, alg, error="all metric sources failed"),
            history,
        )
    rec = max(valid)
    d, h = stabilize(history, now_s, rec, current, up_window_s, down_window_s, profile=profile)
    d = clamp(d, bounds.min_replicas, bounds.max_replicas)
    if d > current:
        reason = f"{alg} above target"
    elif d < current:
        reason = REASON_BELOW_TARGET
    else:
        reason = REASON_STABLE
    return Decision(d, d != current, reason, alg, rec), h
