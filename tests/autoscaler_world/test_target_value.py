"""The ``autoscaling`` frame's ``target_value``: the per-pod target each metric is compared
with, as the controller read it at that reconcile (an ``apply`` changes it), and the dashed
target line of ``autoscaling.png`` (not under ``fixed-math`` KPA, whose value is a sum)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from stormsim.report.autoscaling import plot_autoscaling

from .helpers import autoscaler, run_constant, scenario, service


def _target_lines(fig: plt.Figure) -> list[plt.Line2D]:
    return [ln for ax in fig.axes for ln in ax.lines if "target per pod" in str(ln.get_label())]


@pytest.mark.parametrize("strategy", ["KPA", "APA", "HPA"])
def test_target_value_follows_the_spec_and_its_apply(strategy: str) -> None:
    first = autoscaler(strategy, "0.5", 1, 8)
    second = autoscaler(strategy, "3", 1, 8)
    sc = scenario(
        service(2),
        [first],
        until_s=120.0,
        events=[{"kind": "apply", "at_s": 60.0, "autoscalers": [second]}],
    )
    _, df = run_constant(sc, 1.0)
    rows = df[df["metric"] != ""]
    before = rows[rows["t_s"] < 60.0]
    after = rows[rows["t_s"] > 61.0]
    assert len(before) and len(after)
    assert set(before["target_value"]) == {0.5}
    assert set(after["target_value"]) == {3.0}
    fig = plot_autoscaling({"autoscaling": df})
    lines = _target_lines(fig)
    assert len(lines) == 1
    assert set(lines[0].get_ydata()) == {0.5, 3.0}
    plt.close(fig)


def test_the_last_source_of_a_metric_sets_its_target() -> None:
    pa = autoscaler("APA", "0.5", 1, 8)
    pa["spec"]["metricsSources"].append(dict(pa["spec"]["metricsSources"][0], targetValue="0.8"))
    _, df = run_constant(scenario(service(2), [pa], until_s=40.0), 1.0)
    assert set(df[df["metric"] != ""]["target_value"]) == {0.8}


def test_no_target_line_for_fixed_math_kpa_whose_value_is_a_sum() -> None:
    sc = scenario(service(2), [autoscaler("KPA", "0.5", 1, 8)], until_s=60.0, profile="fixed-math")
    _, df = run_constant(sc, 1.0)
    assert set(df[df["metric"] != ""]["target_value"]) == {0.5}  # (still in the frame)
    fig = plot_autoscaling({"autoscaling": df})
    assert _target_lines(fig) == []
    assert any("stable mean" in str(ln.get_label()) for ax in fig.axes for ln in ax.lines)
    plt.close(fig)


def test_an_unparsable_target_is_null() -> None:
    pa = autoscaler("APA", "0.5", 1, 8)
    bad = autoscaler("APA", "lots", 1, 8)
    sc = scenario(
        service(2),
        [pa],
        until_s=60.0,
        events=[{"kind": "apply", "at_s": 30.0, "autoscalers": [bad]}],
    )
    _, df = run_constant(sc, 1.0)
    late = df[df["t_s"] > 31.0]
    assert len(late)
    assert all(v is None or math.isnan(v) for v in late["target_value"])
