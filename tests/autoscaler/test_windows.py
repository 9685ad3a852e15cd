"""Metric windows: ``types/metrics_test.go`` (TimeWindow) and ``metrics/client_test.go``."""

from __future__ import annotations

import pytest

from stormsim.control.autoscaler.window import MetricWindows, TimeWindow, snapshot_value

T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)


def test_TestTimeWindow_record_sequence() -> None:
    w = TimeWindow(duration_s=120, granularity_s=60)
    steps = [
        (0, 10, [10]),
        (30, 20, [20]),
        (60, 30, [20, 30]),
        (90, 40, [20, 40]),
        (120, 50, [20, 40, 50]),
        (150, 60, [20, 40, 60]),
        (180, 70, [40, 60, 70]),
        (210, 80, [40, 60, 80]),
    ]
    for off, v, expected in steps:
        w = w.record(T0 + off, v)
        assert w.values() == expected, off


def test_TestTimeWindow_stats() -> None:
    w = TimeWindow(duration_s=120, granularity_s=60)
    for m, v in enumerate([20, 30, 40]):
        w = w.record(T0 + 60 * m, v)
    assert len(w.values()) == 3
    assert w.avg() == 30
    assert (min(w.values()), max(w.values())) == (20, 40)


def test_TestUpdateMetrics_records_the_mean_in_both_windows() -> None:
    v = snapshot_value([30, 50], strategy="APA", profile="aibrix-e3e10f9e")
    assert v == 40
    w = MetricWindows.new(180, 60).record(T0, v)
    assert w.stable.values() == [40] and w.panic.values() == [40]


def test_TestGetMetricValue_single_value() -> None:
    assert MetricWindows.new(180, 60).record(T0, 70).means() == (70, 70)


def test_TestGetMetricValue_custom_windows() -> None:
    w = MetricWindows.new(90, 30).record(T0, 10).record(T0 + 60, 70)
    assert w.means() == (40, 70)


def test_empty_window_mean_is_zero() -> None:
    assert TimeWindow(60).avg() == 0.0


def test_last_write_in_a_second_wins_and_exact_duration_is_kept() -> None:
    w = TimeWindow(10).record(100.2, 1).record(100.9, 5)
    assert w.values() == [5]
    w = w.record(110.0, 7)  # bucket 100 is exactly 10 s old: kept
    assert w.values() == [5, 7]
    w = w.record(111.0, 9)
    assert w.values() == [7, 9]


def test_reconfiguring_a_window_drops_its_history() -> None:
    w = MetricWindows.new(180, 60).record(T0, 5)
    assert w.configured(180, 60) is w
    assert w.configured(120, 60).means() == (0.0, 0.0)


@pytest.mark.parametrize(
    ("strategy", "profile", "expected"),
    [
        ("KPA", "aibrix-e3e10f9e", 2.0),
        ("APA", "aibrix-e3e10f9e", 2.0),
        ("KPA", "fixed-math", 6.0),
        ("APA", "fixed-math", 2.0),
    ],
)
def test_snapshot_value_per_profile(strategy: str, profile: str, expected: float) -> None:
    assert snapshot_value([1, 2, 3], strategy=strategy, profile=profile) == expected  # type: ignore[arg-type]
    assert snapshot_value([], strategy=strategy, profile=profile) is None  # type: ignore[arg-type]
