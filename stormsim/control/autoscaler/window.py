"""The controller's metric windows (AIBrix ``pkg/controller/podautoscaler/types/metrics.go``
``TimeWindow``; ``metrics/client.go`` ``UpdateMetrics``, ``GetMetricValue``,
``ConfigureMetricWindows``). Times are simulated seconds; values are metric units."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from stormsim.schema.autoscaler import FIXED_MATH, AutoscalingProfile


@dataclass(frozen=True)
class TimeWindow:
    """Buckets ``second -> value`` over the last ``duration_s`` seconds, ``granularity_s``
    wide (1 s in the controller). Last write in a bucket wins; pruning happens only when a
    value is recorded."""

    duration_s: float
    granularity_s: float = 1.0
    buckets: tuple[tuple[int, float], ...] = ()

    def record(self, t_s: float, value: float) -> TimeWindow:
        """The window after recording ``value`` at ``t_s``: bucket ``floor(t/g)`` set, then
        every bucket older than ``floor((t - duration)/g)`` dropped (a bucket exactly
        ``duration`` old stays)."""
        g = self.granularity_s
        b = math.floor(t_s / g)
        cutoff = math.floor((t_s - self.duration_s) / g)
        kept = {k: v for k, v in self.buckets if k >= cutoff and k != b}
        if b >= cutoff:
            kept[b] = value
        return TimeWindow(self.duration_s, g, tuple(sorted(kept.items())))

    def avg(self) -> float:
        """Unweighted mean of the bucket values; 0 when empty."""
        if not self.buckets:
            return 0.0
        return sum(v for _, v in self.buckets) / len(self.buckets)

    def values(self) -> list[float]:
        return [v for _, v in self.buckets]


@dataclass(frozen=True)
class MetricWindows:
    """The stable and panic windows of one ``namespace/name/targetMetric`` key."""

    stable: TimeWindow
    panic: TimeWindow

    @staticmethod
    def new(stable_s: float, panic_s: float) -> MetricWindows:
        return MetricWindows(TimeWindow(stable_s), TimeWindow(panic_s))

    def configured(self, stable_s: float, panic_s: float) -> MetricWindows:
        """``ConfigureMetricWindows``: unchanged durations keep the data; any change replaces
        both windows with empty ones."""
        if self.stable.duration_s == stable_s and self.panic.duration_s == panic_s:
            return self
        return MetricWindows.new(stable_s, panic_s)

    def record(self, t_s: float, value: float) -> MetricWindows:
        return MetricWindows(self.stable.record(t_s, value), self.panic.record(t_s, value))

    def means(self) -> tuple[float, float]:
        """``(S, P)``: the stable and panic window means."""
        return self.stable.avg(), self.panic.avg()


def snapshot_value(
    values: Sequence[float], *, strategy: str, profile: AutoscalingProfile
) -> float | None:
    """The one value a reconcile records for a metric source from the values its pods
    returned: the mean (AIBrix e3e10f9e, and APA in both profiles); the sum for KPA under
    ``fixed-math``. ``None`` when there are no values (nothing is recorded, nothing pruned)."""
    if not values:
        return None
    total = math.fsum(values)
    if profile == FIXED_MATH and strategy == "KPA":
        return total
    return total / len(values)
