"""Replica bounds of a PodAutoscaler and its time-of-day schedules (AIBrix
``pkg/utils/paschedules/schedules.go``: ``BaseBounds``, ``Resolve``, ``NextTransition``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from stormsim.schema.autoscaler import (
    PodAutoscalerSchedule,
    PodAutoscalerSpec,
    parse_hhmm,
    schedule_days,
    schedule_zone,
)

TRANSITION_HORIZON_DAYS = 8
"""How far ahead ``NextTransition`` looks for a schedule start or end (days)."""


@dataclass(frozen=True)
class Bounds:
    """Effective replica bounds at one instant.

    ``min_replicas``/``max_replicas``: replicas (pods, PodSets or RoleSets, in the target's
    unit). ``active_schedule``: the name of the active schedule, ``None`` when the base
    bounds apply. ``active_schedule_has_min``: the active schedule sets ``minReplicas``
    itself (this lets a target at 0 be warmed up)."""

    min_replicas: int
    max_replicas: int
    active_schedule: str | None = None
    active_schedule_has_min: bool = False


def base_bounds(spec: PodAutoscalerSpec) -> Bounds:
    """``minReplicas`` (unset: 1) and ``maxReplicas``."""
    return Bounds(spec.base_min_replicas, spec.max_replicas)


def _active(s: PodAutoscalerSchedule, now: datetime) -> bool:
    local = now.astimezone(schedule_zone(s))
    if local.weekday() not in schedule_days(s):
        return False
    minute = local.hour * 60 + local.minute
    return parse_hhmm(s.start_time) <= minute < parse_hhmm(s.end_time)


def resolve_bounds(spec: PodAutoscalerSpec, now: datetime) -> Bounds:
    """The bounds in force at wall-clock ``now`` (timezone-aware): the active schedule's
    (a bound it leaves unset inherits the base one), else the base bounds. Windows are
    half-open ``[startTime, endTime)`` in the schedule's time zone. The spec must have passed
    :func:`stormsim.schema.autoscaler.schedule_problems`."""
    base = base_bounds(spec)
    for s in spec.schedules or []:
        if _active(s, now):
            return Bounds(
                base.min_replicas if s.min_replicas is None else s.min_replicas,
                base.max_replicas if s.max_replicas is None else s.max_replicas,
                s.name,
                s.min_replicas is not None,
            )
    return base


def next_transition(spec: PodAutoscalerSpec, now: datetime) -> float | None:
    """Seconds from ``now`` to the earliest schedule start or end strictly after ``now``
    within the next 8 days; ``None`` without schedules (or none in that horizon). The
    controller requeues the PodAutoscaler after this delay."""
    best: datetime | None = None
    for s in spec.schedules or []:
        zone = schedule_zone(s)
        days = schedule_days(s)
        local_today: date = now.astimezone(zone).date()
        for d in range(-1, TRANSITION_HORIZON_DAYS + 1):
            day = local_today + timedelta(days=d)
            if day.weekday() not in days:
                continue
            for hhmm in (s.start_time, s.end_time):
                minute = parse_hhmm(hhmm)
                at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
                in_horizon = now < at <= now + timedelta(days=TRANSITION_HORIZON_DAYS)
                if in_horizon and (best is None or at < best):
                    best = at
    return None if best is None else (best - now).total_seconds()
