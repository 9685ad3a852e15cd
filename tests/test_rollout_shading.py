"""Rollout windows are shaded once over their union: the many overlapping windows of an
autoscaled pooled role (one per write) must not darken the plots into a grey wall."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from stormsim.report.timeline import rollout_spans, shade_rollouts


def test_overlapping_windows_are_merged_and_shaded_once() -> None:
    r = pd.DataFrame(
        {
            "started_at_s": [10.0, 20.0, 50.0, 100.0, 90.0],
            "ended_at_s": [30.0, 40.0, 60.0, math.nan, 95.0],
        }
    )
    assert rollout_spans(r, 200.0) == [(10.0, 40.0), (50.0, 60.0), (90.0, 95.0), (100.0, 200.0)]
    fig, axes = plt.subplots(2, 1)
    shade_rollouts(axes, r, 200.0)
    assert [len(ax.patches) for ax in axes] == [4, 4]
    plt.close(fig)
    assert rollout_spans(None, 10.0) == [] and rollout_spans(r.iloc[:0], 10.0) == []
