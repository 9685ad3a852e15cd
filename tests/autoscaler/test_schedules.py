"""Scheduled bounds: ``pkg/utils/paschedules/schedules_test.go``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stormsim.control.autoscaler.bounds import Bounds, next_transition, resolve_bounds
from stormsim.schema.autoscaler import schedule_problems
from tests.autoscaler.builders import make_pa


def _sched(**kw: Any) -> dict[str, Any]:
    s = {"name": "work", "startTime": "09:00", "endTime": "10:00", "minReplicas": 4}
    s.update(kw)
    return {k: v for k, v in s.items() if v is not None}


def _spec(*schedules: dict[str, Any], min_replicas: int = 1, max_replicas: int = 10) -> Any:
    return make_pa(
        min_replicas=min_replicas, max_replicas=max_replicas, schedules=list(schedules)
    ).spec


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_TestResolve_timezone_and_days() -> None:
    spec = _spec(
        _sched(
            name="business",
            timezone="Asia/Shanghai",
            daysOfWeek=["Mon", "tue", "WED"],
            startTime="09:00",
            endTime="18:00",
            minReplicas=3,
            maxReplicas=12,
        )
    )
    assert spec.schedules is not None and not schedule_problems(spec)
    # 2026-08-03 is a Monday; 02:00Z is 10:00 in Shanghai
    assert resolve_bounds(spec, _at("2026-08-03T02:00:00")) == Bounds(3, 12, "business", True)
    # 10:00Z is 18:00 local: the end is excluded
    assert resolve_bounds(spec, _at("2026-08-03T10:00:00")) == Bounds(1, 10)


def test_TestResolve_utc_default_every_day() -> None:
    spec = _spec(_sched())
    for day in range(3, 10):
        b = resolve_bounds(spec, _at(f"2026-08-{day:02d}T09:30:00"))
        assert b == Bounds(4, 10, "work", True)


def test_TestResolve_half_open_window() -> None:
    spec = _spec(_sched())
    assert resolve_bounds(spec, _at("2026-08-03T09:00:00")).active_schedule == "work"
    assert resolve_bounds(spec, _at("2026-08-03T09:59:59")).active_schedule == "work"
    assert resolve_bounds(spec, _at("2026-08-03T10:00:00")).active_schedule is None


def test_schedule_max_only_inherits_base_min_and_has_no_min() -> None:
    spec = _spec(_sched(minReplicas=None, maxReplicas=8))
    assert resolve_bounds(spec, _at("2026-08-03T09:30:00")) == Bounds(1, 8, "work", False)


def test_no_min_replicas_means_one() -> None:
    spec = make_pa(min_replicas=None).spec
    assert resolve_bounds(spec, _at("2026-08-03T09:30:00")) == Bounds(1, 10)


@pytest.mark.parametrize(
    ("case", "schedules", "path", "needle"),
    [
        ("empty list", [], ("schedules",), "at least one"),
        ("9:00", [_sched(startTime="9:00")], ("schedules", 0, "startTime"), "HH:MM"),
        ("18:00:00", [_sched(endTime="18:00:00")], ("schedules", 0, "endTime"), "HH:MM"),
        (
            "cross midnight",
            [_sched(startTime="18:00", endTime="09:00")],
            ("schedules", 0, "endTime"),
            "after startTime",
        ),
        ("empty days", [_sched(daysOfWeek=[])], ("schedules", 0, "daysOfWeek"), "not be empty"),
        ("Monday", [_sched(daysOfWeek=["Monday"])], ("schedules", 0, "daysOfWeek", 0), "mon..sun"),
        ("no min or max", [_sched(minReplicas=None)], ("schedules", 0), "at least one of"),
        (
            "duplicate names",
            [_sched(), _sched(startTime="11:00", endTime="12:00")],
            ("schedules", 1, "name"),
            "duplicate",
        ),
        (
            "overlap",
            [
                _sched(name="a", startTime="09:00", endTime="11:00"),
                _sched(name="b", startTime="10:00", endTime="12:00"),
            ],
            ("schedules", 1),
            "overlaps",
        ),
        (
            "mixed timezones",
            [
                _sched(name="a", timezone="UTC"),
                _sched(name="b", timezone="Asia/Shanghai", startTime="11:00", endTime="12:00"),
            ],
            ("schedules", 1, "timezone"),
            "same timezone",
        ),
        ("min above max", [_sched(minReplicas=11)], ("schedules", 0), "cannot be greater"),
        ("Bad_Name", [_sched(name="Bad_Name")], ("schedules", 0, "name"), "DNS label"),
        ("bad zone", [_sched(timezone="Mars/Olympus")], ("schedules", 0, "timezone"), "unknown"),
    ],
)
def test_TestValidate_invalid_schedules(
    case: str, schedules: list[dict[str, Any]], path: tuple[Any, ...], needle: str
) -> None:
    problems = schedule_problems(_spec(*schedules))
    assert any(p == path and needle in m for p, m in problems), (case, problems)


def test_TestValidate_adjacent_windows_are_fine() -> None:
    spec = _spec(
        _sched(name="a", startTime="09:00", endTime="10:00"),
        _sched(name="b", startTime="10:00", endTime="11:00", minReplicas=6),
    )
    assert schedule_problems(spec) == []
    assert resolve_bounds(spec, _at("2026-08-03T10:00:00")).active_schedule == "b"


def test_overlap_on_disjoint_days_is_fine() -> None:
    spec = _spec(
        _sched(name="a", daysOfWeek=["mon"], startTime="09:00", endTime="11:00"),
        _sched(name="b", daysOfWeek=["tue"], startTime="10:00", endTime="12:00"),
    )
    assert schedule_problems(spec) == []


def test_TestNextTransition() -> None:
    spec = _spec(_sched(startTime="09:00", endTime="18:00"))
    assert next_transition(spec, _at("2026-08-03T08:30:00")) == 30 * 60
    assert next_transition(spec, _at("2026-08-03T09:30:00")) == 8 * 3600 + 30 * 60
    # after the end: tomorrow's start
    assert next_transition(spec, _at("2026-08-03T18:00:00")) == 15 * 3600


def test_next_transition_skips_unselected_days_and_none_without_schedules() -> None:
    spec = _spec(_sched(daysOfWeek=["fri"]))
    # Monday 10:00 -> Friday 09:00
    assert next_transition(spec, _at("2026-08-03T10:00:00")) == (4 * 24 - 1) * 3600
    assert next_transition(make_pa().spec, _at("2026-08-03T10:00:00")) is None
