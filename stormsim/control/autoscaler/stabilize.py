"""Recommendation stabilization ("cooldown windows").

``stabilize_aibrix``: AIBrix e3e10f9e ``ctrl.go: stabilizeRecommendation`` (maximum over the
scale-up window, **minimum** over the scale-down window). ``stabilize_hpa``: the Kubernetes
HPA rule (minimum over the scale-up window, maximum over the scale-down window, i.e. the
safest value), used by the ``fixed-math`` profile and by the HPA strategy. Times in seconds,
recommendations in replicas.
"""

from __future__ import annotations

from dataclasses import dataclass

from stormsim.schema.autoscaler import FIXED_MATH, AutoscalingProfile


@dataclass(frozen=True)
class Recommendation:
    """A raw (pre-stabilization) recommendation and when it was made."""

    replicas: int
    t_s: float


History = tuple[Recommendation, ...]


def stabilize_aibrix(
    history: History,
    now_s: float,
    recommendation: int,
    current: int,
    up_window_s: float,
    down_window_s: float,
) -> tuple[int, History]:
    """AIBrix's stabilization. Appends ``(recommendation, now)``, drops entries with
    ``t <= now - max(windows)``; then ``R == C``: ``C``; ``R > C``: the maximum over entries
    with ``t > now - up_window`` (none: ``R``); ``R < C``: the minimum over entries with
    ``t > now - down_window`` (with both windows 0 the new entry itself is pruned, and
    ``R`` is returned). Returns the result (not yet clamped) and the new history."""
    h = (*history, Recommendation(recommendation, now_s))
    cutoff = now_s - max(up_window_s, down_window_s)
    h = tuple(r for r in h if r.t_s > cutoff)
    if recommendation == current:
        return current, h
    if recommendation > current:
        ups = [r.replicas for r in h if r.t_s > now_s - up_window_s]
        return (max(ups) if ups else recommendation), h
    downs = [r.replicas for r in h if r.t_s > now_s - down_window_s]
    return (min(downs) if downs else recommendation), h


def stabilize_hpa(
    history: History,
    now_s: float,
    recommendation: int,
    current: int,
    up_window_s: float,
    down_window_s: float,
) -> tuple[int, History]:
    """Kubernetes HPA stabilization (``stabilizeRecommendationWithBehaviors``): the up bound
    is the minimum of ``R`` and the recommendations newer than ``now - up_window``, the down
    bound the maximum of ``R`` and those newer than ``now - down_window``; the result is
    ``current`` moved to within ``[up bound .. down bound]``. ``R`` is then stored and
    entries older than the longer window dropped."""
    up = recommendation
    down = recommendation
    for r in history:
        if r.t_s > now_s - up_window_s:
            up = min(up, r.replicas)
        if r.t_s > now_s - down_window_s:
            down = max(down, r.replicas)
    result = current
    if result < up:
        result = up
    if result > down:
        result = down
    cutoff = now_s - max(up_window_s, down_window_s)
    h = (*(r for r in history if r.t_s > cutoff), Recommendation(recommendation, now_s))
    return result, h


def stabilize(
    history: History,
    now_s: float,
    recommendation: int,
    current: int,
    up_window_s: float,
    down_window_s: float,
    *,
    profile: AutoscalingProfile,
) -> tuple[int, History]:
    """KPA/APA stabilization of the given profile (see the module docstring)."""
    fn = stabilize_hpa if profile == FIXED_MATH else stabilize_aibrix
    return fn(history, now_s, recommendation, current, up_window_s, down_window_s)
