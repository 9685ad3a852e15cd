"""int-or-percent resolution and the derived budgets (spec §1.2, §1.3, §1.5, §8.1)."""

from __future__ import annotations

import pytest

from stormsim.control.fenceposts import (
    fenceposts_or_zero,
    is_rolling_update,
    resolve_fenceposts,
    role_budgets,
    stormservice_budgets,
)

from .builders import role, ss_spec


# TestResolveFenceposts (spec §8.1): (maxSurge, maxUnavailable, desired) => (surge, unavailable)
@pytest.mark.parametrize(
    ("surge", "unav", "desired", "expected"),
    [
        (None, None, 10, (0, 1)),  # 1: both-zero fallback
        (3, 2, 10, (3, 2)),  # 2
        ("50%", "30%", 10, (5, 3)),  # 3
        (2, "25%", 8, (2, 2)),  # 4
        (1, 1, 0, (1, 1)),  # 5: resolver itself; callers turn replicas=0 into 0/0
        (0, 0, 5, (0, 1)),  # 7
        ("33%", 1, 10, (4, 1)),  # 8: ceil(3.3)
        (1, "33%", 10, (1, 3)),  # 9: floor(3.3)
    ],
)
def test_resolve_fenceposts_table(surge, unav, desired, expected):
    assert resolve_fenceposts(surge, unav, desired) == expected


def test_resolve_fenceposts_rejects_percent_without_sign():
    # row 6: "50" (no %) is an error
    with pytest.raises(ValueError):
        resolve_fenceposts("50", 1, 10)
    with pytest.raises(ValueError):
        resolve_fenceposts(1, "1", 10)


def test_callers_swallow_parse_error_without_fallback():
    # §1.3 step 5: a malformed value gives (0, 0), *without* the both-zero fallback
    assert fenceposts_or_zero("50", 1, 10) == (0, 0)
    assert fenceposts_or_zero(None, None, 10) == (0, 1)


@pytest.mark.parametrize(
    ("surge", "unav", "desired", "expected"),
    [
        ("25%", "25%", 3, (1, 0)),  # ceil(0.75)=1, floor(0.75)=0 (used by §8.8 tables)
        ("25%", "25%", 1, (1, 0)),
        (None, "50%", 1, (0, 1)),  # floor(0.5)=0 and surge 0 -> fallback 1
        ("1%", None, 100, (1, 0)),
        ("0%", "0%", 4, (0, 1)),
        ("100%", "100%", 7, (7, 7)),
    ],
)
def test_percent_rounding(surge, unav, desired, expected):
    assert resolve_fenceposts(surge, unav, desired) == expected


def test_stormservice_budgets_table_example():
    # TestMaxSurge_MaxUnavailable_MinAvailable_StormService
    assert stormservice_budgets(ss_spec(10, "25%", "20%")) == (3, 2, 8)


@pytest.mark.parametrize(
    ("replicas", "surge", "unav", "expected"),
    [
        (3, None, None, (0, 1, 2)),  # defaults: surge 0, unavailable 1
        (1, None, None, (0, 1, 0)),  # T3: minAvailable 0
        (1, 1, None, (1, 0, 1)),  # T3 with maxSurge 1
        (3, 1, 1, (1, 1, 2)),  # T1
        (2, 0, 5, (0, 2, 0)),  # unavailable capped at replicas
        (0, 1, 1, (1, 0, 0)),  # replicas 0: MaxUnavailable 0, surge not capped
        (3, "2", 1, (0, 0, 3)),  # malformed string: 0/0, no fallback -> MinAvailable = replicas
    ],
)
def test_stormservice_budgets(replicas, surge, unav, expected):
    assert stormservice_budgets(ss_spec(replicas, surge, unav)) == expected


def test_inplace_update_has_no_budgets():
    assert stormservice_budgets(ss_spec(5, 2, 2, type="InPlaceUpdate")) == (0, 0, 0)


@pytest.mark.parametrize(
    ("type_", "rolling"), [("", True), ("RollingUpdate", True), ("InPlaceUpdate", False)]
)
def test_is_rolling_update(type_, rolling):
    # TestIsRollingUpdate
    assert is_rolling_update(ss_spec(3, type=type_)) is rolling


@pytest.mark.parametrize(
    ("replicas", "surge", "unav", "expected"),
    [
        (10, "20%", 3, (2, 3)),  # TestMaxSurgeAndUnavailable
        (3, None, None, (0, 1)),
        (2, 0, 5, (0, 2)),  # capped at replicas
        (0, 3, 3, (0, 0)),  # replicas 0 => 0/0
        (3, "25%", "25%", (1, 0)),
        (4, "x", 1, (0, 0)),  # malformed: 0/0 (role-level stall, §1.3)
    ],
)
def test_role_budgets(replicas, surge, unav, expected):
    assert role_budgets(role("r", replicas, surge, unav)) == expected
