"""``autoscaling.png``: what its labels say (a sum under ``fixed-math`` KPA, no stable mean for
the HPA), replicas left out (gaps) at reconciles that made no decision, the reason in the
title, and legends off the data. Frames from small runs."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import stormsim
from stormsim.report.autoscaling import plot_autoscaling

from .helpers import autoscaler, run_constant, scenario, service
from .test_conflicts import MESSAGE, A, B, data


def labels(fig: Figure) -> list[str]:
    return [str(ln.get_label()) for ax in fig.axes for ln in ax.lines]


def frame(strategy: str, profile: str = "aibrix-e3e10f9e") -> pd.DataFrame:
    sc = scenario(service(2), [autoscaler(strategy, "0.5", 1, 8)], until_s=60.0, profile=profile)
    return run_constant(sc, 1.0)[1]


def panel(fig: Figure, name: str) -> tuple[Axes, Axes]:
    """The metric and replicas axes of PodAutoscaler ``name``."""
    (i,) = [k for k, ax in enumerate(fig.axes) if ax.get_title().startswith(f"{name} (")]
    return fig.axes[i], fig.axes[i + 1]


def test_fixed_math_kpa_says_its_value_is_a_sum() -> None:
    fig = plot_autoscaling({"autoscaling": frame("KPA", "fixed-math")})
    assert labels(fig)[:2] == [
        "gpu_cache_usage_perc (sum over pods)",
        "gpu_cache_usage_perc (stable mean of the sum)",
    ]
    assert not any("(read)" in x or "target per pod" in x for x in labels(fig))
    assert fig.axes[0].get_ylabel() == "metric (sum over pods)"
    plt.close(fig)


def test_faithful_kpa_reads_a_mean_with_its_stable_mean_and_target() -> None:
    fig = plot_autoscaling({"autoscaling": frame("KPA")})
    assert labels(fig)[:3] == [
        "gpu_cache_usage_perc (read)",
        "gpu_cache_usage_perc (stable mean)",
        "gpu_cache_usage_perc (target per pod)",
    ]
    assert fig.axes[0].get_ylabel() == "metric"
    plt.close(fig)


def test_hpa_has_no_stable_mean_line() -> None:
    df = frame("HPA")
    assert df[df["metric"] != ""]["stable"].isna().all()  # (the frame: null for HPA)
    fig = plot_autoscaling({"autoscaling": df})
    metric = [str(ln.get_label()) for ln in fig.axes[0].lines]
    assert metric == ["gpu_cache_usage_perc (read)", "gpu_cache_usage_perc (target per pod)"]
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == metric
    plt.close(fig)


def test_a_podautoscaler_in_conflict_draws_no_replicas_and_says_why() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stormsim.StormsimWarning)
        res = stormsim.run(stormsim.load_scenario(data([A, B])))
    df = res.frames["autoscaling"]
    b = df[df["autoscaler"] == "b"]
    # no decision: null replicas in the frame (not 0s a reader would take for an empty fleet)
    assert b[["desired", "current", "ready"]].isna().all().all()
    fig = plot_autoscaling(res.frames)
    metric_ax, rep_ax = panel(fig, "b")
    n = b["t_s"].nunique()
    assert metric_ax.get_title() == (
        f"b (KPA, aibrix-e3e10f9e) (not acting: MultiPodAutoscalerConflict; {n} of {n} reconciles)"
    )
    assert len(rep_ax.lines) == 0 and len(rep_ax.get_yticks()) == 0  # no 0s drawn
    (note,) = [t.get_text() for t in rep_ax.texts]
    head, body = note.split("\n", 1)
    assert head == "no decision at any reconcile (MultiPodAutoscalerConflict)"
    assert body.replace("\n", " ") == MESSAGE
    assert [t.get_text() for t in metric_ax.texts] == ["no metrics read"]
    _, a_rep = panel(fig, "a")
    assert "not acting" not in panel(fig, "a")[0].get_title()
    desired = np.asarray(a_rep.lines[0].get_ydata(), dtype=float)
    assert np.isfinite(desired).all() and set(desired) == {3.0}
    plt.close(fig)


def test_reconciles_without_a_decision_leave_gaps() -> None:
    """A run's rows from 20 s to 40 s made rows of reconciles without a decision (as the frame
    records them: reason ``InvalidSpec: ...``, an error, null replicas, no metric): gaps in the
    replicas panel there, the values elsewhere."""
    df = frame("APA")
    bad = (df["t_s"] >= 20.0) & (df["t_s"] < 40.0)
    assert 0 < bad.sum() < len(df)
    df.loc[bad, ["desired", "current", "ready"]] = pd.NA
    df.loc[bad, "reason"] = "InvalidSpec: InvalidBounds"
    df.loc[bad, "error"] = "minReplicas cannot be greater than maxReplicas."
    df.loc[bad, "metric"] = ""
    per_t = df.drop_duplicates(subset=["t_s"], keep="last")
    idle = bad[per_t.index].to_numpy()
    fig = plot_autoscaling({"autoscaling": df})
    metric_ax, rep_ax = panel(fig, "pa")
    n = len(per_t)
    assert metric_ax.get_title() == (
        f"pa (APA, aibrix-e3e10f9e) (not acting: InvalidSpec; {int(idle.sum())} of {n} reconciles)"
    )
    for ln in rep_ax.lines:
        y = np.asarray(ln.get_ydata(), dtype=float)
        assert np.isnan(y[idle]).all()
        assert np.isfinite(y[~idle]).all() and (y[~idle] > 0).all()
    assert not rep_ax.texts  # some reconciles decided
    plt.close(fig)


@pytest.mark.parametrize("strategy", ["KPA", "HPA"])
def test_legends_sit_off_the_data(strategy: str) -> None:
    fig = plot_autoscaling({"autoscaling": frame(strategy)})
    fig.canvas.draw()
    for ax in fig.axes:
        leg = ax.get_legend()
        assert leg is not None
        box = leg.get_window_extent()
        assert box.x0 >= ax.get_window_extent().x1
    plt.close(fig)
